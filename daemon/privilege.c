/*
 * privilege.c — give up what hvmeterd no longer needs once its BPF programs
 * are loaded and pinned.
 *
 * The process stays uid 0: libvirtd authorises its unix socket by the peer's
 * uid, and the store and pid files it reads are root's. It keeps only the
 * capabilities listed by the caller (CAP_NET_ADMIN, to attach tc filters to
 * taps that appear later), drops the rest from the effective, permitted,
 * inheritable, ambient and bounding sets, and sets no_new_privs so nothing
 * it might exec can regain them.
 */
#include "daemon/privilege.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

static int cap_last(void)
{
	FILE *fp = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int last = 40; /* CAP_CHECKPOINT_RESTORE on 5.9+: a safe floor */

	if (fp) {
		if (fscanf(fp, "%d", &last) != 1)
			last = 40;
		fclose(fp);
	}
	return last;
}

static bool kept(int cap, const int *keep, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (keep[i] == cap)
			return true;
	return false;
}

int privilege_drop(const int *keep, size_t n_keep)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	int last = cap_last();

	/* the bounding set first: dropping from it needs CAP_SETPCAP, still held */
	for (int cap = 0; cap <= last; cap++) {
		if (kept(cap, keep, n_keep))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	memset(data, 0, sizeof(data));
	for (size_t i = 0; i < n_keep; i++) {
		int cap = keep[i];

		if (cap < 0 || cap > 63)
			return -EINVAL;
		data[cap / 32].effective |= 1u << (cap % 32);
		data[cap / 32].permitted |= 1u << (cap % 32);
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}
