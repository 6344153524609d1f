/*
 * netclass.h — traffic classes for network metering: a class file maps
 * address prefixes to class names; the tc program (bpf/net.bpf.c) counts
 * each packet under the class of its remote address (longest prefix wins;
 * no match: class "default").
 *
 * File format (see daemon/netclass.sample), one rule a line:
 *     CIDR  CLASS-NAME        # comment
 *   - CIDR is IPv4 (a.b.c.d/n, n 0..32) or IPv6 (x:x::x/n, n 0..128), with
 *     the prefix length always given and no host bits set;
 *   - CLASS-NAME is [a-z0-9_-]{1,32}; "default" (id 0) is reserved for
 *     unmatched traffic but may be named to carve an exception out of a
 *     wider prefix;
 *   - '#' starts a comment, blank lines are ignored, fields are separated by
 *     spaces or tabs, lines may end in CRLF;
 *   - a prefix may appear once (the same network and length twice is an
 *     error naming both lines); IPv4 and IPv6 prefixes are separate (an IPv6
 *     rule never matches IPv4 traffic, ::/0 included);
 *   - at most NETCLASS_CLASSES_MAX class names besides "default", and
 *     NETCLASS_PREFIXES_MAX rules.
 * The whole file is validated before anything is used: a file with any
 * error is refused, with "FILE:LINE: what" in the message, and the caller
 * keeps the classes it had.
 *
 * Class ids are what the kernel counts under, so they must not move while
 * counters exist: the parser is given the id table in force (struct
 * netclass_ids: of the previous netclass, or read back from the kernel with
 * net_bpf_class_ids() at start) and gives a name the id it had; a new name
 * takes the lowest id never used in that table. A name dropped from the file
 * keeps its id in the table (its counters still exist and may still have a
 * last delta to bill), so ids are never given to another name while the
 * counters last; when all NETCLASS_CLASSES_MAX are used, a new name is
 * refused until the counters restart (a new epoch).
 *
 * Library code: logs nothing. Not thread-safe per object; no global state.
 */
#ifndef HV_DAEMON_NETCLASS_H
#define HV_DAEMON_NETCLASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NETCLASS_NAME_MAX 32
#define NETCLASS_IDS 256           /* ids 0..255 */
#define NETCLASS_ID_DEFAULT 0      /* unmatched traffic, non-IP frames */
#define NETCLASS_ID_LOST 255       /* never a class: see net_bpf_lost() */
#define NETCLASS_CLASSES_MAX 254   /* ids 1..254 */
#define NETCLASS_PREFIXES_MAX 65536
#define NETCLASS_FILE_MAX (16 * 1024 * 1024)
#define NETCLASS_SHA256_LEN 32

/* Which name has which id; "" is an unused id. name[0] is "default". */
struct netclass_ids {
	char name[NETCLASS_IDS][NETCLASS_NAME_MAX + 1];
};

struct netclass_prefix {
	uint8_t family;    /* 4 or 6 */
	uint8_t len;       /* 0..32 or 0..128 */
	uint8_t class_id;  /* 0..254 */
	uint8_t pad;
	uint32_t line;     /* where it was defined */
	uint8_t addr[16];  /* network address, first 4 bytes for IPv4 */
};

struct netclass {
	struct netclass_ids ids;          /* carried over + new names */
	bool in_file[NETCLASS_IDS];       /* named by this file (0 always) */
	size_t n_prefixes;
	struct netclass_prefix *prefixes; /* sorted by family, addr, len */
	uint8_t sha256[NETCLASS_SHA256_LEN]; /* of the file's bytes */
};

/*
 * Parses the class file text @buf (@len bytes, need not be NUL-terminated;
 * NUL bytes are an error) named @fname in messages. @prev: the ids in force
 * (NULL: none, all names are new). On success *@out is a new netclass to
 * free with netclass_free(). On error *@out is NULL and @err (if @errlen)
 * holds "FNAME:LINE: what" (or "FNAME: what" for whole-file errors).
 * Returns 0, -EINVAL (a malformed file), -ENOSPC (no class id left), -E2BIG
 * (too many rules or bytes) or -ENOMEM.
 */
int netclass_parse(const char *buf, size_t len, const char *fname,
		   const struct netclass_ids *prev, struct netclass **out,
		   char *err, size_t errlen);

/* netclass_parse() of the file at @path; -errno if it cannot be read (the
 * message then says so too). */
int netclass_load(const char *path, const struct netclass_ids *prev,
		  struct netclass **out, char *err, size_t errlen);

/* A netclass with no rules: everything is "default". SHA-256 of "". */
int netclass_empty(const struct netclass_ids *prev, struct netclass **out);

void netclass_free(struct netclass *nc);

/* Name of class @id ("default" for 0), also of names dropped from the file
 * that keep their id; NULL if @id was never given out. */
const char *netclass_name(const struct netclass *nc, unsigned int id);

/* Id of class @name, or -ENOENT. */
int netclass_id(const struct netclass *nc, const char *name);

/* The file's SHA-256 as 64 lowercase hex digits and a NUL. */
void netclass_sha256_hex(const struct netclass *nc, char out[2 * NETCLASS_SHA256_LEN + 1]);

/* "10.0.0.0/8", "2001:db8::/32"; returns 0 or -ENAMETOOLONG. */
int netclass_prefix_format(const struct netclass_prefix *p, char *buf, size_t len);

#endif
