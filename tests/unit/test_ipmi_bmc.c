/*
 * test_ipmi_bmc.c — ipmi/bmc.c without a BMC: in-band with no /dev/ipmi0
 * is one clear -ENODEV and the reader goes on without power; a silent LAN
 * peer times out within the configured bound and leaks no descriptor;
 * configuration and secret files are checked before any I/O.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipmi/bmc.h"
#include "ipmi/energy.h"
#include "ipmi/power_reader.h"
#include "ipmi/power_source.h"
#include "ipmi/sensor_map.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void test_inband_without_device(void **state)
{
	struct bmc_config c;
	struct bmc *b = (struct bmc *)1;
	char err[BMC_ERR_MAX];

	bmc_config_init(&c);
	snprintf(c.device, sizeof(c.device), "/nonexistent/ipmi0");
	assert_int_equal(bmc_open(&c, NULL, &b, err, sizeof(err)), -ENODEV);
	assert_null(b);
	print_message("in-band error: %s\n", err);
	assert_non_null(strstr(err, "/nonexistent/ipmi0 does not exist"));
	assert_non_null(strstr(err, "ipmi_devintf"));

	/* the default device on this machine */
	if (access("/dev/ipmi0", F_OK) == 0)
		skip();
	c.device[0] = '\0';
	assert_int_equal(bmc_open(&c, NULL, &b, err, sizeof(err)), -ENODEV);
	assert_non_null(strstr(err, "/dev/ipmi0"));
}

struct events {
	pthread_mutex_t lock;
	unsigned up, down, recovered;
	char msg[1024];
};

static void on_event(void *arg, enum power_reader_event ev, const char *msg)
{
	struct events *e = arg;

	pthread_mutex_lock(&e->lock);
	e->up += ev == POWER_READER_UP;
	e->down += ev == POWER_READER_DOWN;
	e->recovered += ev == POWER_READER_RECOVERED;
	snprintf(e->msg, sizeof(e->msg), "%s", msg);
	pthread_mutex_unlock(&e->lock);
}

static void test_reader_goes_on_without_inband_device(void **state)
{
	struct events ev = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct power_reader_config rc = { .interval_ms = 20, .notify = on_event, .notify_arg = &ev };
	struct sensor_map_set set = { 0 };
	struct power_sample s[256];
	struct power_reader_status st;
	struct energy_integrator it;
	struct energy_result res;
	struct power_source *src = NULL;
	struct power_reader *r = NULL;
	struct bmc_config c;
	struct sensor_map m;
	int64_t t0;
	size_t n;

	assert_int_equal(sensor_map_parse("map g\nmatch any\npower dcmi\n", 27, &m, NULL), 0);
	assert_int_equal(sensor_map_set_add(&set, &m), 0);
	bmc_config_init(&c);
	snprintf(c.device, sizeof(c.device), "/nonexistent/ipmi0");
	assert_int_equal(power_source_bmc_new(&c, &set, NULL, &src), 0);
	sensor_map_set_free(&set);
	t0 = now_ms();
	assert_int_equal(power_reader_start(src, &rc, &r), 0);
	/* start does not touch the BMC (a loose bound: valgrind is slow) */
	assert_true(now_ms() - t0 < 1000);
	usleep(300000);
	n = power_reader_take(r, s, 256);
	power_reader_get_status(r, &st);
	power_reader_stop(r);

	assert_int_equal(ev.down, 1); /* one clear error, not one per attempt */
	assert_int_equal(ev.up, 0);
	print_message("reader says: %s\n", ev.msg);
	assert_non_null(strstr(ev.msg, "/nonexistent/ipmi0 does not exist"));
	assert_int_equal(st.state, POWER_READER_FAILING);
	assert_true(st.failures >= 5);
	/* no power: only gap markers, which integrate to nothing */
	assert_true(n >= 5);
	energy_integrator_init(&it, 1000000000);
	assert_int_equal(energy_integrate(&it, s, n, &res), 0);
	assert_int_equal(res.energy_mj, 0);
	assert_int_equal(res.covered_ns, 0);
}

/* A UDP socket nobody reads: a BMC that never answers. */
static int silent_peer(unsigned *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void test_lan_timeout_is_bounded(void **state)
{
	struct bmc_config c;
	struct bmc *b = NULL;
	char err[BMC_ERR_MAX];
	int64_t t0, took;
	int peer, fds;

	bmc_config_init(&c);
	c.driver = BMC_DRIVER_LAN20;
	snprintf(c.host, sizeof(c.host), "127.0.0.1");
	snprintf(c.user, sizeof(c.user), "u");
	snprintf(c.password, sizeof(c.password), "p");
	c.timeout_ms = 400;
	peer = silent_peer(&c.port);
	fds = count_fds();
	t0 = now_ms();
	assert_int_equal(bmc_open(&c, NULL, &b, err, sizeof(err)), -ETIMEDOUT);
	took = now_ms() - t0;
	print_message("silent BMC: \"%s\" after %lld ms (timeout 400 ms)\n", err, (long long)took);
	assert_null(b);
	assert_true(took >= 300 && took < 1200);
	assert_non_null(strstr(err, "127.0.0.1"));
	assert_int_equal(count_fds(), fds); /* nothing left open */

	c.driver = BMC_DRIVER_LAN15;
	t0 = now_ms();
	assert_int_equal(bmc_open(&c, NULL, &b, err, sizeof(err)), -ETIMEDOUT);
	assert_true(now_ms() - t0 < 1200);
	assert_int_equal(count_fds(), fds);
	close(peer);
}

static void test_config_checked_first(void **state)
{
	struct bmc_config c;
	struct bmc *b = NULL;
	char err[BMC_ERR_MAX], dir[] = "/tmp/hv-bmc-XXXXXX", path[256];
	FILE *f;

	bmc_config_init(&c);
	c.driver = BMC_DRIVER_LAN20;
	assert_int_equal(bmc_open(&c, NULL, &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no BMC host"));
	snprintf(c.host, sizeof(c.host), "127.0.0.1");
	c.timeout_ms = 50;
	assert_int_equal(bmc_open(&c, NULL, &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "timeout"));
	c.timeout_ms = 0;
	c.cipher_suite = 18;
	assert_int_equal(bmc_open(&c, NULL, &b, err, sizeof(err)), -EINVAL);
	c.cipher_suite = -1;
	c.port = 70000;
	assert_int_equal(bmc_open(&c, NULL, &b, err, sizeof(err)), -EINVAL);
	c.port = 623;
	snprintf(c.password, sizeof(c.password), "x");
	snprintf(c.password_file, sizeof(c.password_file), "/etc/hostname");
	assert_int_equal(bmc_open(&c, NULL, &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not both"));
	c.password[0] = '\0';
	snprintf(c.password_file, sizeof(c.password_file), "/nonexistent/pw");
	assert_int_equal(bmc_open(&c, NULL, &b, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/pw"));
	snprintf(c.workarounds, sizeof(c.workarounds), "opensesspriv,bogus");
	c.password_file[0] = '\0';
	assert_int_equal(bmc_open(&c, NULL, &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bogus"));
	c.workarounds[0] = '\0';

	/* K_g files: hex needs 0x and whole bytes; raw at most 20 bytes */
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/kg", dir);
	snprintf(c.kg_file, sizeof(c.kg_file), "%s", path);
	f = fopen(path, "we");
	fputs("0x12345\n", f);
	fclose(f);
	assert_int_equal(bmc_open(&c, NULL, &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "K_g"));
	f = fopen(path, "we");
	fputs("this key is far too long for IPMI\n", f);
	fclose(f);
	assert_int_equal(bmc_open(&c, NULL, &b, err, sizeof(err)), -EINVAL);
	unlink(path);
	rmdir(dir);
	assert_null(b);
	bmc_close(NULL);
	assert_string_equal(bmc_last_error(NULL), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inband_without_device),
		cmocka_unit_test(test_reader_goes_on_without_inband_device),
		cmocka_unit_test(test_lan_timeout_is_bounded),
		cmocka_unit_test(test_config_checked_first),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
