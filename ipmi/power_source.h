/*
 * power_source.h — where the power reader gets watts from.
 *
 * A small ops struct with two implementations: the BMC (power_source.c:
 * Get Device ID picks the sensor map, the map's power list picks DCMI or an
 * SDR sensor, its export list the other sensors) and a scriptable fake for
 * tests (power_source_fake.c). The power reader thread is the only caller;
 * nothing here is thread-safe unless it says so.
 */
#ifndef HV_IPMI_POWER_SOURCE_H
#define HV_IPMI_POWER_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipmi/bmc.h"
#include "ipmi/sensor_map.h"

#define POWER_SOURCE_DESC_MAX 160

enum power_source_kind {
	POWER_SOURCE_NONE = 0,
	POWER_SOURCE_DCMI,
	POWER_SOURCE_SENSOR,
};

/* What connect() found; shown by `hvmeter status` and in the reader's messages. */
struct power_source_info {
	char bmc[BMC_PATH_MAX + BMC_HOST_MAX + 16]; /* "lan20 10.0.0.5:623" */
	struct bmc_device_id id;
	char manufacturer[64];                  /* IANA name when libfreeipmi knows it */
	char map[SENSOR_MAP_NAME_MAX];          /* sensor map in use */
	bool map_by_id;                         /* false: named in the configuration */
	enum power_source_kind kind;
	char source[POWER_SOURCE_DESC_MAX];     /* "dcmi" or "sensor \"Pwr Consumption\" #0x77" */
	char workarounds[BMC_WORKAROUNDS_MAX];  /* the map's workaround flags in use */
};

/* One exported sensor, in hvmeter units (value x 10^-scale unit). */
struct sensor_export_reading {
	char name[SENSOR_MAP_NAME_MAX];    /* hvmeter name: "temperature.inlet" */
	char sensor[BMC_SENSOR_NAME_MAX];  /* SDR id string: "Inlet Temp" */
	const char *unit;                  /* static: "C", "W", "RPM", "%" */
	unsigned scale;                    /* sensor_unit_scale(unit) */
	bool has_value;
	int64_t value;
	enum bmc_sensor_state state;
};

struct power_source;

struct power_source_ops {
	/* Connects and chooses the power source; fills @info. 0 or -errno (reason in src->err). */
	int (*connect)(struct power_source *src, struct power_source_info *info);
	/* One power reading in milliwatts. On -errno the caller disconnects. */
	int (*read_power)(struct power_source *src, int64_t *mw);
	/* The map's exported sensors into @out (at most @cap), count in *n. */
	int (*read_exports)(struct power_source *src, struct sensor_export_reading *out, size_t cap, size_t *n);
	/* Drops the connection (connect may follow). */
	void (*disconnect)(struct power_source *src);
	/* Frees everything. */
	void (*destroy)(struct power_source *src);
};

/* The common head of every implementation. */
struct power_source {
	const struct power_source_ops *ops;
	char err[BMC_ERR_MAX]; /* reason for the last failure */
};

/*
 * A BMC-backed source. @bmc is copied; @maps is copied (the caller may free
 * it after); @map_name (NULL or "" = choose by Get Device ID) forces a map.
 * Nothing is opened until connect. 0, -ENOMEM, or -ENOENT when map_name is
 * not in @maps.
 *
 * connect: opens the BMC with the configured workarounds, reads the device
 * id, picks the map, reopens once if the map adds workaround flags, then
 * tries the map's power lines in order — DCMI when the BMC declares power
 * management and answers a reading with an active measurement, a sensor when
 * the SDR has one matching the selector (in W) that gives a value — and
 * uses the first that works. -ENODATA names what each line answered.
 */
int power_source_bmc_new(const struct bmc_config *bmc, const struct sensor_map_set *maps, const char *map_name,
			 struct power_source **out);

/*
 * The fake: every call behaves as the last power_source_fake_set() said.
 * connect_rc/read_rc are 0 or -errno; reads give @mw; each call first
 * sleeps @delay_ms (a slow BMC). Thread-safe: tests change it while a
 * reader thread polls.
 */
int power_source_fake_new(struct power_source **out);
void power_source_fake_set(struct power_source *src, int connect_rc, int read_rc, int64_t mw, unsigned delay_ms);
/* Calls so far. */
void power_source_fake_counts(struct power_source *src, unsigned *connects, unsigned *reads);

/* Destroys any source. NULL is fine. */
void power_source_destroy(struct power_source *src);

#endif
