/*
 * test_netclass.c — the class file parser: rules, comments, IPv4 and IPv6,
 * errors with their line numbers, duplicates naming both lines, class ids
 * that stay put across reloads, and the file's SHA-256.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/netclass.h"

#define SAMPLE "daemon/netclass.sample"

static struct netclass *parse_ok(const char *text, const struct netclass_ids *prev)
{
	struct netclass *nc = NULL;
	char err[512] = "";
	int ret = netclass_parse(text, strlen(text), "t.conf", prev, &nc, err, sizeof(err));

	if (ret)
		print_message("unexpected error %d: %s\n", ret, err);
	assert_int_equal(ret, 0);
	assert_non_null(nc);
	assert_string_equal(err, "");
	return nc;
}

/* Parses @text expecting @code and a message that starts with @msg. */
static void parse_err(const char *text, int code, const char *msg)
{
	struct netclass *nc = (struct netclass *)1;
	char err[512] = "";
	int ret = netclass_parse(text, strlen(text), "t.conf", NULL, &nc, err, sizeof(err));

	print_message("%s\n", err);
	assert_int_equal(ret, code);
	assert_null(nc);
	if (strncmp(err, msg, strlen(msg)) != 0)
		fail_msg("message \"%s\" does not start with \"%s\"", err, msg);
}

static const struct netclass_prefix *find(const struct netclass *nc, const char *cidr)
{
	char buf[64];

	for (size_t i = 0; i < nc->n_prefixes; i++) {
		assert_int_equal(netclass_prefix_format(&nc->prefixes[i], buf, sizeof(buf)), 0);
		if (strcmp(buf, cidr) == 0)
			return &nc->prefixes[i];
	}
	fail_msg("%s not found", cidr);
	return NULL;
}

static void test_rules(void **state)
{
	struct netclass *nc = parse_ok(
		"# classes\n"
		"\n"
		"10.0.0.0/8 internal\n"
		"   192.168.0.0/16\tinternal   # trailing comment\r\n"
		"2001:db8::/32 public-v6\n"
		"0.0.0.0/0 public\n"
		"::/0 public\n"
		"10.1.2.3/32 default\n"
		"fe80::/10 link_local\n"
		"2001:db8::1/128 host", NULL);
	const struct netclass_prefix *p;

	assert_int_equal(nc->n_prefixes, 8);
	assert_string_equal(netclass_name(nc, 0), "default");
	assert_int_equal(netclass_id(nc, "internal"), 1);
	assert_int_equal(netclass_id(nc, "public-v6"), 2);
	assert_int_equal(netclass_id(nc, "public"), 3);
	assert_int_equal(netclass_id(nc, "link_local"), 4);
	assert_int_equal(netclass_id(nc, "host"), 5);
	assert_int_equal(netclass_id(nc, "default"), 0);
	assert_int_equal(netclass_id(nc, "nope"), -ENOENT);
	assert_null(netclass_name(nc, 6));
	assert_null(netclass_name(nc, 255));
	assert_null(netclass_name(nc, 1000));
	assert_true(nc->in_file[0] && nc->in_file[1] && nc->in_file[5] && !nc->in_file[6]);

	p = find(nc, "192.168.0.0/16");
	assert_int_equal(p->family, 4);
	assert_int_equal(p->len, 16);
	assert_int_equal(p->class_id, 1);
	assert_int_equal(p->line, 4);
	assert_memory_equal(p->addr, "\xc0\xa8\0\0", 4);
	p = find(nc, "0.0.0.0/0"); /* and ::/0 too: families are separate */
	assert_int_equal(p->len, 0);
	assert_int_equal(find(nc, "::/0")->family, 6);
	p = find(nc, "10.1.2.3/32");
	assert_int_equal(p->class_id, 0); /* an exception back to default */
	p = find(nc, "2001:db8::1/128");
	assert_int_equal(p->family, 6);
	assert_int_equal(p->addr[15], 1);
	assert_int_equal(find(nc, "fe80::/10")->line, 9);
	/* Sorted: IPv4 first, by address. */
	for (size_t i = 1; i < nc->n_prefixes; i++)
		assert_true(nc->prefixes[i - 1].family < nc->prefixes[i].family ||
			    (nc->prefixes[i - 1].family == nc->prefixes[i].family &&
			     memcmp(nc->prefixes[i - 1].addr, nc->prefixes[i].addr, 16) <= 0));
	netclass_free(nc);
}

static void test_errors_with_line(void **state)
{
	parse_err("10.0.0.0/8 a\n10.0.0.300/8 b\n", -EINVAL, "t.conf:2: \"10.0.0.300/8\" is not a valid IPv4");
	parse_err("# c\n\n10.0.0.1/8 a\n", -EINVAL, "t.conf:3: \"10.0.0.1/8\" has host bits set");
	parse_err("2001:db8::1/64 a\n", -EINVAL, "t.conf:1: \"2001:db8::1/64\" has host bits set");
	parse_err("10.0.0.0 a\n", -EINVAL, "t.conf:1: \"10.0.0.0\" has no /prefix-length");
	parse_err("10.0.0.0/33 a\n", -EINVAL, "t.conf:1: \"10.0.0.0/33\" has a prefix length above 32");
	parse_err("::/129 a\n", -EINVAL, "t.conf:1: \"::/129\" has a prefix length above 128");
	parse_err("10.0.0.0/ a\n", -EINVAL, "t.conf:1: \"10.0.0.0/\" has a malformed prefix length");
	parse_err("10.0.0.0/-8 a\n", -EINVAL, "t.conf:1: \"10.0.0.0/-8\" has a malformed");
	parse_err("10.0.0.0/8x a\n", -EINVAL, "t.conf:1: \"10.0.0.0/8x\" has a malformed");
	parse_err("10.0/8 a\n", -EINVAL, "t.conf:1: \"10.0/8\" is not a valid IPv4");
	parse_err("2001:db8:::/48 a\n", -EINVAL, "t.conf:1: \"2001:db8:::/48\" is not a valid IPv6");
	parse_err("\n\n\n\n10.0.0.0/8\n", -EINVAL, "t.conf:5: expected \"CIDR CLASS-NAME\", found 1 field");
	parse_err("10.0.0.0/8 a b\n", -EINVAL, "t.conf:1: expected \"CIDR CLASS-NAME\", found 3 fields");
	parse_err("10.0.0.0/8 a b c d\n", -EINVAL, "t.conf:1: expected \"CIDR CLASS-NAME\", found more than 3");
	parse_err("10.0.0.0/8 Internal\n", -EINVAL, "t.conf:1: class name \"Internal\" is not");
	parse_err("10.0.0.0/8 a.b\n", -EINVAL, "t.conf:1: class name \"a.b\" is not");
	parse_err("10.0.0.0/8 abcdefghijabcdefghijabcdefghijabc\n", -EINVAL, "t.conf:1: class name");
	parse_err("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/8 a\n",
		  -EINVAL, "t.conf:1: \"xxxx");
	/* 32 characters is the longest name. */
	netclass_free(parse_ok("10.0.0.0/8 abcdefghijabcdefghijabcdefghijab\n", NULL));
}

static void test_nul_inside_buffer(void **state)
{
	static const char text[] = "10.0.0.0/8 a\n\0x\n";
	struct netclass *nc = NULL;
	char err[256];

	/* The length is the buffer's, not strlen's. */
	assert_int_equal(netclass_parse(text, sizeof(text) - 1, "t.conf", NULL, &nc, err,
					sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.conf:2: NUL byte in the line");
	assert_null(nc);
}

static void test_duplicates(void **state)
{
	parse_err("10.0.0.0/8 a\n\n192.168.0.0/16 b\n10.0.0.0/8 b\n", -EINVAL,
		  "t.conf:4: duplicate prefix 10.0.0.0/8 (first on line 1)");
	/* The same network in another spelling is still the same prefix. */
	parse_err("2001:db8::/32 a\n2001:0db8:0000::/32 b\n", -EINVAL,
		  "t.conf:2: duplicate prefix 2001:db8::/32 (first on line 1)");
	/* The first repeat in the file is reported, with its own first line. */
	parse_err("10.9.0.0/16 x\n10.0.0.0/8 y\n10.0.0.0/8 z\n10.9.0.0/16 w\n10.0.0.0/8 v\n", -EINVAL,
		  "t.conf:3: duplicate prefix 10.0.0.0/8 (first on line 2)");
	/* Same address, other length; and v4 vs v6: not duplicates. */
	netclass_free(parse_ok("10.0.0.0/8 a\n10.0.0.0/16 b\n::/0 c\n0.0.0.0/0 d\n::/96 e\n", NULL));
}

static void test_stable_ids(void **state)
{
	struct netclass *a, *b, *c, *d;

	a = parse_ok("10.0.0.0/8 internal\n0.0.0.0/0 public\n192.168.0.0/16 lab\n", NULL);
	assert_int_equal(netclass_id(a, "internal"), 1);
	assert_int_equal(netclass_id(a, "public"), 2);
	assert_int_equal(netclass_id(a, "lab"), 3);

	/* Reordered, "lab" dropped, "storage" new: old ids stay, "lab" keeps
	 * its id (its counters still exist), "storage" takes a fresh one. */
	b = parse_ok("0.0.0.0/0 public\n10.9.0.0/16 storage\n10.0.0.0/8 internal\n", &a->ids);
	assert_int_equal(netclass_id(b, "public"), 2);
	assert_int_equal(netclass_id(b, "internal"), 1);
	assert_int_equal(netclass_id(b, "storage"), 4);
	assert_int_equal(netclass_id(b, "lab"), 3);
	assert_string_equal(netclass_name(b, 3), "lab");
	assert_false(b->in_file[3]);
	assert_true(b->in_file[4]);
	assert_int_equal(find(b, "10.9.0.0/16")->class_id, 4);

	/* "lab" comes back: same id. */
	c = parse_ok("192.168.0.0/16 lab\n", &b->ids);
	assert_int_equal(netclass_id(c, "lab"), 3);
	assert_int_equal(netclass_id(c, "storage"), 4);

	/* Without the previous table the numbering starts over. */
	d = parse_ok("192.168.0.0/16 lab\n", NULL);
	assert_int_equal(netclass_id(d, "lab"), 1);
	netclass_free(a);
	netclass_free(b);
	netclass_free(c);
	netclass_free(d);
}

static void test_class_limit(void **state)
{
	size_t cap = 300 * 40, n = 0;
	char *text = malloc(cap), err[512];
	struct netclass *nc = NULL, *next = NULL;

	assert_non_null(text);
	for (int i = 0; i < NETCLASS_CLASSES_MAX; i++)
		n += (size_t)snprintf(text + n, cap - n, "10.%d.0.0/16 c%d\n", i, i);
	nc = parse_ok(text, NULL);
	assert_int_equal(netclass_id(nc, "c253"), 254);
	/* A 255th name: no id left, in the same file... */
	snprintf(text + n, cap - n, "10.254.0.0/16 c254\n");
	assert_int_equal(netclass_parse(text, strlen(text), "t.conf", NULL, &next, err,
					sizeof(err)), -ENOSPC);
	print_message("%s\n", err);
	assert_int_equal(strncmp(err, "t.conf:255: no class id left for \"c254\"", 38), 0);
	/* ...or in a reload that drops the others: their ids stay taken. */
	assert_int_equal(netclass_parse("0.0.0.0/0 fresh\n", 16, "t.conf", &nc->ids, &next,
					err, sizeof(err)), -ENOSPC);
	assert_null(next);
	/* Known names are fine. */
	next = parse_ok("0.0.0.0/0 c7\n", &nc->ids);
	assert_int_equal(netclass_id(next, "c7"), 8);
	netclass_free(next);
	netclass_free(nc);
	free(text);
}

static void test_sha256(void **state)
{
	struct netclass *nc;
	char hex[65];

	assert_int_equal(netclass_empty(NULL, &nc), 0);
	netclass_sha256_hex(nc, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(nc->n_prefixes, 0);
	assert_string_equal(netclass_name(nc, 0), "default");
	netclass_free(nc);

	nc = parse_ok("10.0.0.0/8 internal\n", NULL);
	netclass_sha256_hex(nc, hex);
	/* printf '10.0.0.0/8 internal\n' | sha256sum */
	assert_string_equal(hex, "22df6aeef4cdf686210ee27a3512b0b9ba6233c01ef099fb094b4c81134265e9");
	netclass_free(nc);
}

static void test_load_file(void **state)
{
	char path[] = "/tmp/hvmeter-netclass-XXXXXX", err[512];
	struct netclass *nc = NULL, *buf_nc;
	const char text[] = "# t\n10.0.0.0/8 internal\n::/0 v6\n";
	int fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);
	assert_int_equal(netclass_load(path, NULL, &nc, err, sizeof(err)), 0);
	buf_nc = parse_ok(text, NULL);
	assert_memory_equal(nc->sha256, buf_nc->sha256, NETCLASS_SHA256_LEN);
	assert_int_equal(nc->n_prefixes, 2);
	netclass_free(nc);
	netclass_free(buf_nc);

	/* Errors carry the file's path. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "\n10.0.0.0/8 internal\n10.0.0.0/8 again\n", 38), 38);
	close(fd);
	assert_int_equal(netclass_load(path, NULL, &nc, err, sizeof(err)), -EINVAL);
	print_message("%s\n", err);
	assert_non_null(strstr(err, ":3: duplicate prefix 10.0.0.0/8 (first on line 2)"));
	assert_int_equal(strncmp(err, path, strlen(path)), 0);
	assert_int_equal(unlink(path), 0);

	assert_int_equal(netclass_load(path, NULL, &nc, err, sizeof(err)), -ENOENT);
	print_message("%s\n", err);
	assert_null(nc);
	assert_int_equal(netclass_load("/tmp", NULL, &nc, err, sizeof(err)), -EINVAL);
}

/* The documented sample is itself a valid file. */
static void test_sample(void **state)
{
	struct netclass *nc = NULL;
	char err[512];

	if (access(SAMPLE, R_OK) != 0) {
		print_message("skipping: %s not found (run from the repository root)\n", SAMPLE);
		skip();
	}
	assert_int_equal(netclass_load(SAMPLE, NULL, &nc, err, sizeof(err)), 0);
	assert_true(nc->n_prefixes >= 10);
	assert_true(netclass_id(nc, "internal") > 0);
	assert_int_equal(find(nc, "10.250.0.0/16")->class_id, 0);
	netclass_free(nc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_errors_with_line),
		cmocka_unit_test(test_nul_inside_buffer),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_stable_ids),
		cmocka_unit_test(test_class_limit),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
