#include "daemon/agent.h"
#include "daemon/cpu_bpf.h"
#include "daemon/disk_bpf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Mount point of the first mount whose fstype is @fstype and, if given, whose
 * super options contain @opt (cgroup v1 controllers are named there). */
static int mount_find(const char *fstype, const char *opt, char *out, size_t len)
{
	FILE *fp = fopen("/proc/self/mountinfo", "re");
	char line[1024];
	int err = -ENOENT;

	if (!fp)
		return -errno;
	while (fgets(line, sizeof(line), fp)) {
		char mnt[512], type[64], super[512];
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %511s", mnt) != 1)
			continue;
		if (sscanf(sep + 3, "%63s %*s %511s", type, super) != 2)
			continue;
		if (strcmp(type, fstype))
			continue;
		if (opt) {
			char *tok, *save = NULL;
			bool hit = false;

			for (tok = strtok_r(super, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
				hit |= strcmp(tok, opt) == 0;
			if (!hit)
				continue;
		}
		snprintf(out, len, "%s", mnt);
		err = 0;
		break;
	}
	fclose(fp);
	return err;
}

int cgroup_v2_mount(char *out, size_t len)
{
	return mount_find("cgroup2", NULL, out, len);
}

/* Joins @a and @b into @out; -ENAMETOOLONG instead of a silently cut path. */
static int path_cat(char *out, size_t len, const char *a, const char *b, const char *c)
{
	int n = snprintf(out, len, "%s%s%s", a, b, c);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int qemu_pid_of(const char *name, int *pid)
{
	char path[HV_PATH_MAX];
	FILE *fp;
	int p = 0;

	*pid = 0;
	if (path_cat(path, sizeof(path), "/run/libvirt/qemu/", name, ".pid"))
		return -ENAMETOOLONG;
	fp = fopen(path, "re");
	if (!fp)
		return -errno;
	if (fscanf(fp, "%d", &p) != 1 || p <= 0) {
		fclose(fp);
		return -EINVAL;
	}
	fclose(fp);
	*pid = p;
	return 0;
}

int pid_start_realtime(int pid, int64_t *ns)
{
	char path[64], buf[1024], *p;
	unsigned long long start_ticks;
	struct timespec rt, bt;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fp = fopen(path, "re");
	if (!fp)
		return -errno;
	if (!fgets(buf, sizeof(buf), fp)) {
		fclose(fp);
		return -EIO;
	}
	fclose(fp);
	/* the command name may hold spaces: fields restart after the last ')' */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
				"%*d %*d %llu", &start_ticks) != 1)
		return -EINVAL;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	*ns = (int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec -
	      ((int64_t)bt.tv_sec * 1000000000 + bt.tv_nsec) +
	      (int64_t)(start_ticks * (1000000000ull / (unsigned long long)hz));
	return 0;
}

/* The cgroup path of @pid for hierarchy @want ("" for v2, else a v1 controller),
 * with a trailing "/emulator" removed: QEMU's main thread lives there. */
static int pid_cgroup_path(int pid, const char *want, char *out, size_t len)
{
	char path[64], line[1024];
	FILE *fp;
	int err = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	fp = fopen(path, "re");
	if (!fp)
		return -errno;
	while (fgets(line, sizeof(line), fp)) {
		char *ctrl = strchr(line, ':'), *cg, *tok, *save = NULL;
		bool hit = false;

		if (!ctrl || !(cg = strchr(ctrl + 1, ':')))
			continue;
		*cg++ = '\0';
		*ctrl++ = '\0'; /* "ID:CONTROLLERS:PATH": line now holds just ID */
		cg[strcspn(cg, "\n")] = '\0';
		if (!want[0]) {
			hit = strcmp(line, "0") == 0 && !ctrl[0];
		} else {
			for (tok = strtok_r(ctrl, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
				hit |= strcmp(tok, want) == 0;
		}
		if (!hit)
			continue;
		{
			size_t n = strlen(cg);

			if (n >= 9 && strcmp(cg + n - 9, "/emulator") == 0)
				cg[n - 9] = '\0';
		}
		snprintf(out, len, "%s", cg);
		err = 0;
		break;
	}
	fclose(fp);
	return err;
}

static void vm_cgroup_add(struct vm *vm, uint64_t id, enum vm_cgroup_role role)
{
	for (size_t i = 0; i < vm->n_cgroups; i++)
		if (vm->cgroups[i].id == id)
			return;
	if (vm->n_cgroups < VM_CGROUPS_MAX) {
		vm->cgroups[vm->n_cgroups].id = id;
		vm->cgroups[vm->n_cgroups].role = role;
		vm->n_cgroups++;
	}
}

static enum vm_cgroup_role role_of(const char *name)
{
	if (strcmp(name, "emulator") == 0)
		return CG_EMULATOR;
	if (strncmp(name, "vcpu", 4) == 0)
		return CG_VCPU;
	if (strncmp(name, "iothread", 8) == 0)
		return CG_IOTHREAD;
	return CG_OTHER;
}

int vm_cgroups_scan(struct vm *vm, const char *v2_mount)
{
	char rel[HV_PATH_MAX], dir[HV_PATH_MAX + 64];
	uint64_t id = 0;
	DIR *d;
	struct dirent *de;
	int err;

	if (!vm->pid)
		return -ENOENT;
	if (!vm->cgroup_dir[0]) {
		if ((err = pid_cgroup_path(vm->pid, "", rel, sizeof(rel))))
			return err;
		if ((err = path_cat(vm->cgroup_dir, sizeof(vm->cgroup_dir), v2_mount, rel, "")))
			return err;
	}
	if ((err = cgroup_id_of_path(vm->cgroup_dir, &id)))
		return err;
	if (vm->run_epoch != id) { /* a new run: a new cgroup tree */
		vm->run_epoch = id;
		vm->n_cgroups = 0;
	}
	vm_cgroup_add(vm, id, CG_DOMAIN);
	d = opendir(vm->cgroup_dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (path_cat(dir, sizeof(dir), vm->cgroup_dir, "/", de->d_name) == 0 &&
		    cgroup_id_of_path(dir, &id) == 0)
			vm_cgroup_add(vm, id, role_of(de->d_name));
	}
	closedir(d);

	if (!vm->blkcg_id) {
		/* QEMU's bios are charged to its blkio cgroup (v1 on hybrid hosts) */
		if (disk_blkcg_dir_of_pid(vm->pid, rel, sizeof(rel)) == 0)
			disk_blkcg_id(rel, &vm->blkcg_id);
	}
	if (!vm->memcg_dir[0]) {
		char v1[HV_PATH_MAX];

		/* hybrid hosts account memory in v1; pure v2 hosts in the same dir */
		if (mount_find("cgroup", "memory", v1, sizeof(v1)) == 0 &&
		    pid_cgroup_path(vm->pid, "memory", rel, sizeof(rel)) == 0 &&
		    path_cat(vm->memcg_dir, sizeof(vm->memcg_dir), v1, rel, "") == 0)
			;
		else
			memcpy(vm->memcg_dir, vm->cgroup_dir, sizeof(vm->memcg_dir));
	}
	return 0;
}

int vm_memory_resident(const struct vm *vm, uint64_t *bytes)
{
	char path[HV_PATH_MAX + 32], key[64];
	unsigned long long v;
	FILE *fp;
	int err = -ENOENT;

	if ((err = path_cat(path, sizeof(path), vm->memcg_dir, "/memory.stat", "")))
		return err;
	fp = fopen(path, "re");
	if (!fp)
		return -errno;
	/* v1: total_rss (anonymous incl. THP, hierarchical); v2: anon */
	while (fscanf(fp, "%63s %llu", key, &v) == 2) {
		if (strcmp(key, "total_rss") == 0 || strcmp(key, "anon") == 0) {
			*bytes = v;
			err = 0;
			break;
		}
	}
	fclose(fp);
	return err;
}

int64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
