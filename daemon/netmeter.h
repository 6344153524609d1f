/*
 * netmeter.h — per-VM network metering: the tc programs on every tap, the
 * traffic classes in force, and what each tap carried before our filter
 * was on it. The sampler bills from here; discovery says whose tap is whose.
 */
#ifndef HV_DAEMON_NETMETER_H
#define HV_DAEMON_NETMETER_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/taps.h"

struct netmeter;

/*
 * Opens the pinned net counters in @pin_dir, loads the class file @classes
 * ("" = everything is class "default") keeping ids stable with the pinned
 * ones, watches link events and attaches to every tun/tap that exists.
 * Returns 0, -EINVAL with @err = "FILE:LINE: what" for a bad class file,
 * or -errno when BPF or netlink cannot be used (@err says which).
 */
int netmeter_open(struct netmeter **out, const char *pin_dir, const char *classes, char *err,
		  size_t errlen);
void netmeter_close(struct netmeter *m);

/* The link-event fd for the event loop, and its handler. */
int netmeter_fd(const struct netmeter *m);
void netmeter_process(struct netmeter *m);

/*
 * Reloads the class file (SIGHUP). On error the previous classes stay in
 * force and @err names file and line. Counting never stops.
 */
int netmeter_reload(struct netmeter *m, char *err, size_t errlen);

/* Starts a new set of wanted taps (each tick, before netmeter_ensure()). */
void netmeter_want_reset(struct netmeter *m);

/* Wants tap @name (a VM's, from its XML) and makes sure our filters are on
 * it; sets *ifindex. 0 or -ENODEV. Taps nobody wants are never touched. */
int netmeter_ensure(struct netmeter *m, const char *name, int *ifindex);

/* Counters per (ifindex, direction, class), from one map walk. */
typedef int (*netmeter_cb)(void *arg, uint32_t ifindex, uint8_t dir, const char *class_name,
			   uint64_t bytes, uint64_t packets);
int netmeter_foreach(struct netmeter *m, netmeter_cb cb, void *arg);

/* One counter, for a tap whose run is over (orphan path): 0 or -ENOENT. */
int netmeter_read(struct netmeter *m, uint32_t ifindex, uint8_t dir, const char *class_name,
		  uint64_t *bytes, uint64_t *packets);

/* What tap @ifindex carried before our filter: 0, or -ENOENT if unknown. */
int netmeter_pre_attach(const struct netmeter *m, int ifindex, struct link_stats *pre);

/* Forgets a tap that is gone (after its final reading was committed). */
void netmeter_forget(struct netmeter *m, uint32_t ifindex);

uint64_t netmeter_epoch(const struct netmeter *m);
/* "sha256:<hex>" of the class file in force ("" file for no file). */
const char *netmeter_classes_id(const struct netmeter *m);
/* The tap's kernel counters (for the cross-check in status). */
int netmeter_link_stats(struct netmeter *m, int ifindex, struct link_stats *out);

#endif
