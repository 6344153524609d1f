/*
 * sensor_map.h — per-BMC-family sensor maps (the .map files in firmware-configs/).
 *
 * A map says, for one family of BMCs, which Get Device ID values it
 * matches, which FreeIPMI workarounds the family needs, where system power
 * comes from (DCMI, or a sensor chosen by name, glob, number, type, unit) in
 * order of preference, and which sensors to export under which hvmeter names.
 * The line format is documented in firmware-configs/README.md.
 *
 * Maps are flat structs: no pointers inside, copy them by value. Parsing
 * needs no FreeIPMI library (fuzz it with sensor_map_parse alone).
 */
#ifndef HV_IPMI_SENSOR_MAP_H
#define HV_IPMI_SENSOR_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipmi/bmc.h"

#define SENSOR_MAP_NAME_MAX 48      /* map names and export names, with NUL */
#define SENSOR_MAP_DESC_MAX 128
#define SENSOR_MAP_MAX_MATCH 16
#define SENSOR_MAP_MAX_POWER 8
#define SENSOR_MAP_MAX_EXPORT 64
#define SENSOR_MAP_MAX_BYTES (64 * 1024) /* a bigger .map file is refused */
#define SENSOR_MAP_LINE_MAX 512

/* Which criteria of a selector are set. */
#define SENSOR_SEL_NAME 0x01   /* exact id string, case-insensitive, trailing blanks ignored */
#define SENSOR_SEL_GLOB 0x02   /* fnmatch pattern on the id string, case-insensitive */
#define SENSOR_SEL_NUMBER 0x04 /* sensor number */
#define SENSOR_SEL_TYPE 0x08   /* IPMI sensor type code */
#define SENSOR_SEL_UNIT 0x10   /* unit code (bmc.h) */

/* Picks SDR sensors: every criterion that is set must hold. */
struct sensor_selector {
	unsigned has;
	char name[BMC_SENSOR_NAME_MAX]; /* for SENSOR_SEL_NAME or SENSOR_SEL_GLOB */
	uint8_t number;
	uint8_t type;
	uint16_t unit;
};

enum sensor_map_power_kind {
	SENSOR_MAP_POWER_DCMI = 0,   /* DCMI Get Power Reading */
	SENSOR_MAP_POWER_SENSOR,     /* an SDR sensor in watts */
};

struct sensor_map_power {
	enum sensor_map_power_kind kind;
	struct sensor_selector sel; /* SENSOR_MAP_POWER_SENSOR: always has unit W */
};

struct sensor_map_match {
	bool any;                 /* matches every BMC (the generic map) */
	uint32_t manufacturer_id; /* IANA enterprise number */
	bool has_product;
	uint16_t product_id;
};

/* Several exports with one name are alternatives: the first whose sensor exists is used. */
struct sensor_map_export {
	char name[SENSOR_MAP_NAME_MAX]; /* hvmeter name, e.g. "temperature.inlet" */
	struct sensor_selector sel;
};

struct sensor_map {
	char name[SENSOR_MAP_NAME_MAX];        /* "dell-idrac" */
	char description[SENSOR_MAP_DESC_MAX];
	char workarounds_str[BMC_WORKAROUNDS_MAX]; /* as written, for messages */
	struct bmc_workarounds workarounds;
	size_t n_match;
	struct sensor_map_match match[SENSOR_MAP_MAX_MATCH];
	size_t n_power;
	struct sensor_map_power power[SENSOR_MAP_MAX_POWER];
	size_t n_export;
	struct sensor_map_export exports[SENSOR_MAP_MAX_EXPORT];
};

/* Where and why parsing failed. line is 1-based, 0 when not about a line. */
struct sensor_map_error {
	char file[BMC_PATH_MAX];
	unsigned line;
	char msg[192];
};

/* "FILE:LINE: MSG" (or shorter forms when file or line are unknown) into @buf. */
void sensor_map_error_format(const struct sensor_map_error *e, char *buf, size_t len);

/*
 * Parses one map from @buf (@len bytes, need not be NUL-terminated; a NUL
 * byte is an error) into @out. Returns 0, or -EINVAL with @err (may be NULL)
 * saying which line and why. Never reads past buf + len; @out is only
 * meaningful on success.
 */
int sensor_map_parse(const char *buf, size_t len, struct sensor_map *out, struct sensor_map_error *err);

/* Reads and parses a .map file (at most SENSOR_MAP_MAX_BYTES). err->file is set on failure. */
int sensor_map_load_file(const char *path, struct sensor_map *out, struct sensor_map_error *err);

/* True when @sel picks @s. */
bool sensor_selector_match(const struct sensor_selector *sel, const struct bmc_sensor *s);

/* Index of the first sensor of @list that @sel picks, or -1. */
long sensor_selector_find(const struct sensor_selector *sel, const struct bmc_sensor *list, size_t n);

/* "name \"Pwr Consumption\" number 0x77" — for messages. */
void sensor_selector_format(const struct sensor_selector *sel, char *buf, size_t len);

/*
 * How well @m matches a BMC: 3 manufacturer and product, 2 manufacturer
 * only, 1 "match any", 0 not at all.
 */
int sensor_map_match_score(const struct sensor_map *m, uint32_t manufacturer_id, uint16_t product_id);

/* A set of maps, sorted by name. Zero-initialise, then add or load. */
struct sensor_map_set {
	size_t n;
	struct sensor_map *maps;
};

/* Adds a copy of @m, replacing a map of the same name. 0 or -ENOMEM. */
int sensor_map_set_add(struct sensor_map_set *set, const struct sensor_map *m);

/*
 * Loads every "*.map" of @dir (in name order) into @set; a map named like
 * one already in the set replaces it, so loading the shipped directory and
 * then a local one lets the local maps override. Stops at the first bad
 * file: -EINVAL with @err naming file and line; -errno if @dir cannot be read.
 */
int sensor_map_set_load_dir(struct sensor_map_set *set, const char *dir, struct sensor_map_error *err);

/* The map named @name, or NULL. */
const struct sensor_map *sensor_map_set_find(const struct sensor_map_set *set, const char *name);

/*
 * The best match for a BMC (highest sensor_map_match_score; among equals,
 * the first by name), or NULL when none matches.
 */
const struct sensor_map *sensor_map_set_match(const struct sensor_map_set *set, uint32_t manufacturer_id,
					      uint16_t product_id);

void sensor_map_set_free(struct sensor_map_set *set);

/*
 * hvmeter's scale for a reading in @unit (10^-scale units, as wire/metric.h):
 * W, V, A, J: 3 (milli); degrees and %: 1 (tenths); RPM and the rest: 0.
 */
unsigned sensor_unit_scale(uint16_t unit);

/* @v in 10^-@scale units, rounded to nearest; saturates at INT64 limits. */
int64_t sensor_value_scaled(double v, unsigned scale);

#endif
