/*
 * privdrop.h — the rater gives up root once it holds what needs it.
 *
 * `hvrater serve` started as root opens its store, reads its certificate
 * and key and binds its socket, then switches for good to the configured
 * user: uid and gid (real, effective, saved) of that account, its primary
 * group as the only group, an empty bounding set, no capabilities, and
 * no_new_privs so nothing it could exec regains any. Started as another
 * user it keeps its identity and only sheds capabilities and sets
 * no_new_privs. Irreversible; nothing here logs.
 */
#ifndef HV_RATER_PRIVDROP_H
#define HV_RATER_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct privdrop_user {
	char name[64];
	uid_t uid;
	gid_t gid;  /* the account's primary group */
};

/* Looks @name up in the user database. Returns 0, -ENOENT (no such user) or -errno. */
int privdrop_lookup(const char *name, struct privdrop_user *u);

/*
 * Switches the process (a single thread) to @u as above and checks that
 * it worked (ids, capabilities, setuid(0) refused). Needs root. Returns 0
 * or -errno (-EPERM when a check fails).
 */
int privdrop_switch(const struct privdrop_user *u);

/* Drops every capability (bounding set as far as allowed) and sets no_new_privs. */
int privdrop_caps(void);

/* Whether the process holds any effective or permitted capability. */
bool privdrop_has_caps(void);

#endif
