/*
 * rapl.h — CPU energy from the kernel's RAPL counters (powercap), as an
 * extra energy source beside the BMC where the machine has it.
 *
 * Reads the top-level zones of /sys/class/powercap (intel-rapl:N, which
 * the kernel also uses for AMD): the "psys" platform zone alone when there
 * is one (it already contains the packages), otherwise every "package-N".
 * Sub-zones (core, uncore, dram) are never added: they are inside their
 * package. Counters wrap at max_energy_range_uj; a wrap between two reads
 * is handled, two wraps are not, so read at least once per wrap period
 * (minutes at full load on current parts).
 *
 * Most machines without RAPL (VMs, this test host) have no such zones:
 * rapl_open() then returns -ENOENT and the caller goes on without.
 * energy_uj is readable by root only.
 */
#ifndef HV_IPMI_RAPL_H
#define HV_IPMI_RAPL_H

#include <stddef.h>
#include <stdint.h>

struct rapl;

/*
 * Finds the zones under @root (NULL = /sys/class/powercap) and reads their
 * first values as the baseline. -ENOENT if there is none, -EACCES if a
 * counter is not readable, -ENOMEM.
 */
int rapl_open(const char *root, struct rapl **out);

/*
 * Energy used since the previous call (or since rapl_open) summed over the
 * zones, in microjoules, into *delta_uj. -EIO if a counter cannot be read
 * (the baseline is kept, so the next good read covers the whole time).
 */
int rapl_read(struct rapl *r, uint64_t *delta_uj);

/* Number of zones summed, and the name of zone @i ("package-0", "psys"). */
size_t rapl_zone_count(const struct rapl *r);
const char *rapl_zone_name(const struct rapl *r, size_t i);

/* Closes the counters. NULL is fine. */
void rapl_close(struct rapl *r);

#endif
