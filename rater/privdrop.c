#include "rater/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

int privdrop_lookup(const char *name, struct privdrop_user *u)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int rc;

	rc = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
	if (rc)
		return -rc;
	if (!res)
		return -ENOENT;
	snprintf(u->name, sizeof(u->name), "%s", name);
	u->uid = pw.pw_uid;
	u->gid = pw.pw_gid;
	return 0;
}

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

static int caps_clear(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	return 0;
}

bool privdrop_has_caps(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) < 0)
		return true; /* cannot tell: assume the worst */
	return data[0].effective || data[1].effective || data[0].permitted || data[1].permitted;
}

/* The bounding set bounds what an exec could gain; emptying it needs CAP_SETPCAP. */
static int bounding_clear(bool must)
{
	int last = cap_last();

	for (int cap = 0; cap <= last; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL && must)
			return -errno;
	return 0;
}

int privdrop_caps(void)
{
	int err;

	bounding_clear(false);
	if ((err = caps_clear()))
		return err;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

int privdrop_switch(const struct privdrop_user *u)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;
	int err;

	if (u->uid == 0)
		return -EINVAL;
	/* groups first: after the uid changes there is no right to change them */
	if (setgroups(1, &u->gid) < 0 || setresgid(u->gid, u->gid, u->gid) < 0)
		return -errno;
	if ((err = bounding_clear(true)))
		return err;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return -errno;
	/* leaving uid 0 for good clears the permitted and effective sets */
	if (setresuid(u->uid, u->uid, u->uid) < 0)
		return -errno;
	if ((err = caps_clear()))
		return err;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/* trust, but verify: a half-done switch must not go on serving */
	if (getresuid(&r, &e, &s) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return -errno;
	if (r != u->uid || e != u->uid || s != u->uid || rg != u->gid || eg != u->gid ||
	    sg != u->gid || privdrop_has_caps() || setuid(0) == 0)
		return -EPERM;
	return 0;
}
