/*
 * rapl.c — powercap energy counters, wrap-safe. Each counter file stays
 * open and is re-read with pread at offset 0 (sysfs regenerates the value).
 */
#include "ipmi/rapl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RAPL_MAX_ZONES 16
#define RAPL_ROOT "/sys/class/powercap"

struct rapl_zone {
	char name[32];
	int fd;
	uint64_t max_uj;  /* max_energy_range_uj */
	uint64_t last_uj;
};

struct rapl {
	size_t n;
	struct rapl_zone zone[RAPL_MAX_ZONES];
};

static int read_u64_fd(int fd, uint64_t *out)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	char *end;

	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	errno = 0;
	*out = strtoull(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n'))
		return -EIO;
	return 0;
}

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* "intel-rapl:3" is a top-level zone; "intel-rapl:3:0" is a sub-zone. */
static bool top_level(const char *d)
{
	const char *c = strchr(d, ':');

	return !strncmp(d, "intel-rapl:", 11) && c && !strchr(c + 1, ':') && c[1];
}

static int path_join(char *buf, size_t len, const char *root, const char *dir, const char *file)
{
	int n = snprintf(buf, len, "%s/%s/%s", root, dir, file);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int zone_open(struct rapl_zone *z, const char *root, const char *dir, const char *name)
{
	char path[1024], buf[32];
	size_t l = strnlen(name, sizeof(z->name) - 1);
	int fd, rc;

	memcpy(z->name, name, l);
	z->name[l] = '\0';
	rc = path_join(path, sizeof(path), root, dir, "max_energy_range_uj");
	if (!rc)
		rc = read_file(path, buf, sizeof(buf));
	if (rc)
		return rc;
	z->max_uj = strtoull(buf, NULL, 10);
	rc = path_join(path, sizeof(path), root, dir, "energy_uj");
	if (rc)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	z->fd = fd;
	return read_u64_fd(fd, &z->last_uj);
}

int rapl_open(const char *root, struct rapl **out)
{
	char names[RAPL_MAX_ZONES][32], dirs[RAPL_MAX_ZONES][64];
	size_t found = 0;
	bool psys = false;
	struct rapl *r = NULL;
	struct dirent *de;
	DIR *d;
	int rc = 0;

	*out = NULL;
	if (!root)
		root = RAPL_ROOT;
	d = opendir(root);
	if (!d)
		return errno == ENOENT ? -ENOENT : -errno;
	while ((de = readdir(d)) && found < RAPL_MAX_ZONES) {
		char path[1024];

		if (!top_level(de->d_name) || strlen(de->d_name) >= sizeof(dirs[0]))
			continue;
		if (path_join(path, sizeof(path), root, de->d_name, "name") ||
		    read_file(path, names[found], sizeof(names[0])))
			continue;
		memcpy(dirs[found], de->d_name, strlen(de->d_name) + 1);
		if (!strcmp(names[found], "psys"))
			psys = true;
		found++;
	}
	closedir(d);

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < RAPL_MAX_ZONES; i++)
		r->zone[i].fd = -1;
	for (size_t i = 0; i < found; i++) {
		/* psys contains the packages: counting both would count them twice */
		if (psys ? strcmp(names[i], "psys") != 0 : strncmp(names[i], "package-", 8) != 0)
			continue;
		rc = zone_open(&r->zone[r->n], root, dirs[i], names[i]);
		r->n++;
		if (rc)
			goto cleanup;
	}
	if (!r->n) {
		rc = -ENOENT;
		goto cleanup;
	}
	*out = r;
	r = NULL;
cleanup:
	rapl_close(r);
	return rc;
}

int rapl_read(struct rapl *r, uint64_t *delta_uj)
{
	uint64_t now[RAPL_MAX_ZONES], sum = 0;

	*delta_uj = 0;
	for (size_t i = 0; i < r->n; i++)
		if (read_u64_fd(r->zone[i].fd, &now[i]))
			return -EIO;
	for (size_t i = 0; i < r->n; i++) {
		struct rapl_zone *z = &r->zone[i];

		if (now[i] >= z->last_uj)
			sum += now[i] - z->last_uj;
		else if (z->max_uj >= z->last_uj)
			sum += (z->max_uj - z->last_uj) + now[i]; /* wrapped once */
		else
			sum += now[i]; /* the range shrank: count from zero */
		z->last_uj = now[i];
	}
	*delta_uj = sum;
	return 0;
}

size_t rapl_zone_count(const struct rapl *r)
{
	return r ? r->n : 0;
}

const char *rapl_zone_name(const struct rapl *r, size_t i)
{
	return r && i < r->n ? r->zone[i].name : "";
}

void rapl_close(struct rapl *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < RAPL_MAX_ZONES; i++)
		if (r->zone[i].fd >= 0)
			close(r->zone[i].fd);
	free(r);
}
