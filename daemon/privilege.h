/* privilege.h — keep only the capabilities still needed; no_new_privs. */
#ifndef HV_DAEMON_PRIVILEGE_H
#define HV_DAEMON_PRIVILEGE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Keeps the @n_keep capabilities in @keep (CAP_* numbers) in the effective
 * and permitted sets and the bounding set, drops every other one everywhere,
 * and sets no_new_privs. Irreversible. Returns 0 or -errno.
 */
int privilege_drop(const int *keep, size_t n_keep);

#endif
