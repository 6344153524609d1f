/*
 * power_source.c — the BMC-backed power source: device id -> sensor map ->
 * DCMI or SDR sensor, plus the map's exported sensors.
 */
#include "ipmi/power_source.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <freeipmi/util/ipmi-iana-enterprise-numbers-util.h>

struct export_slot {
	bool found;
	struct bmc_sensor sensor;
};

struct bmc_source {
	struct power_source base; /* first: the reader sees only this */
	struct bmc_config cfg;
	struct sensor_map_set maps;
	char map_name[SENSOR_MAP_NAME_MAX];
	struct bmc *bmc;
	struct sensor_map map;              /* the one in use */
	enum power_source_kind kind;
	struct bmc_sensor power_sensor;     /* kind == POWER_SOURCE_SENSOR */
	struct export_slot exports[SENSOR_MAP_MAX_EXPORT];
};

static void src_err(struct power_source *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void src_err(struct power_source *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
}

void power_source_destroy(struct power_source *src)
{
	if (src)
		src->ops->destroy(src);
}

static void bs_disconnect(struct power_source *src)
{
	struct bmc_source *bs = (struct bmc_source *)src;

	bmc_close(bs->bmc);
	bs->bmc = NULL;
	bs->kind = POWER_SOURCE_NONE;
	memset(bs->exports, 0, sizeof(bs->exports));
}

static void bs_destroy(struct power_source *src)
{
	struct bmc_source *bs = (struct bmc_source *)src;

	bs_disconnect(src);
	sensor_map_set_free(&bs->maps);
	explicit_bzero(bs->cfg.password, sizeof(bs->cfg.password));
	free(bs);
}

/* Appends "; what" to @buf (bounded) — the list of power lines tried. */
static void tried_add(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void tried_add(char *buf, size_t len, const char *fmt, ...)
{
	size_t o = strlen(buf);
	va_list ap;

	if (o && o + 2 < len) {
		memcpy(buf + o, "; ", 3);
		o += 2;
	}
	if (o >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + o, len - o, fmt, ap);
	va_end(ap);
}

static int sensor_mw(const struct bmc_sensor *s, int64_t *mw)
{
	if (!s->has_value || !isfinite(s->value) || s->value < 0 || s->value > 1e7)
		return -ERANGE;
	*mw = llround(s->value * 1000.0);
	return 0;
}

/* Tries the map's power lines in order; the first that gives a reading wins. */
static int choose_power(struct bmc_source *bs, struct power_source_info *info, const struct bmc_sensor *list,
			size_t n, const char *sdr_err)
{
	char tried[BMC_ERR_MAX] = "";
	char sel[128];

	for (size_t i = 0; i < bs->map.n_power; i++) {
		const struct sensor_map_power *pw = &bs->map.power[i];
		unsigned watts;
		int64_t mw;
		long idx;
		int rc;

		if (pw->kind == SENSOR_MAP_POWER_DCMI) {
			rc = bmc_dcmi_supported(bs->bmc);
			if (rc == -ETIMEDOUT)
				return rc;
			if (rc != 1) {
				tried_add(tried, sizeof(tried), "dcmi: %s", rc == 0 ? "not offered" : strerror(-rc));
				continue;
			}
			rc = bmc_dcmi_power_read(bs->bmc, &watts);
			if (rc == -ETIMEDOUT)
				return rc;
			if (rc) {
				tried_add(tried, sizeof(tried), "dcmi: %s", strerror(-rc));
				continue;
			}
			bs->kind = POWER_SOURCE_DCMI;
			snprintf(info->source, sizeof(info->source), "dcmi");
			return 0;
		}
		sensor_selector_format(&pw->sel, sel, sizeof(sel));
		if (!list) {
			tried_add(tried, sizeof(tried), "sensor %s: no SDR (%s)", sel, sdr_err);
			continue;
		}
		idx = sensor_selector_find(&pw->sel, list, n);
		if (idx < 0) {
			tried_add(tried, sizeof(tried), "sensor %s: not in SDR", sel);
			continue;
		}
		bs->power_sensor = list[idx];
		rc = bmc_sensor_read(bs->bmc, &bs->power_sensor);
		if (rc == -ETIMEDOUT)
			return rc;
		if (rc || sensor_mw(&bs->power_sensor, &mw)) {
			tried_add(tried, sizeof(tried), "sensor \"%s\": no reading", bs->power_sensor.name);
			continue;
		}
		bs->kind = POWER_SOURCE_SENSOR;
		snprintf(info->source, sizeof(info->source), "sensor \"%s\" #0x%02x", bs->power_sensor.name,
			 bs->power_sensor.number);
		return 0;
	}
	src_err(&bs->base, "%s: map %s: no power source answered: %s", bmc_describe(bs->bmc), bs->map.name,
		tried[0] ? tried : "no power lines");
	return -ENODATA;
}

static bool map_wants_sdr(const struct sensor_map *m)
{
	if (m->n_export)
		return true;
	for (size_t i = 0; i < m->n_power; i++)
		if (m->power[i].kind == SENSOR_MAP_POWER_SENSOR)
			return true;
	return false;
}

static int bs_connect(struct power_source *src, struct power_source_info *info)
{
	struct bmc_source *bs = (struct bmc_source *)src;
	struct bmc_workarounds have;
	const struct sensor_map *m;
	struct bmc_sensor *list = NULL;
	char sdr_err[BMC_ERR_MAX] = "not read";
	size_t n = 0;
	int rc;

	bs_disconnect(src);
	memset(info, 0, sizeof(*info));
	rc = bmc_open(&bs->cfg, NULL, &bs->bmc, src->err, sizeof(src->err));
	if (rc)
		return rc;
	rc = bmc_device_id(bs->bmc, &info->id);
	if (rc) {
		src_err(src, "%s", bmc_last_error(bs->bmc));
		goto cleanup;
	}
	if (ipmi_iana_enterprise_numbers_string(info->id.manufacturer_id, info->manufacturer,
						sizeof(info->manufacturer)) < 0)
		info->manufacturer[0] = '\0';
	if (bs->map_name[0]) {
		m = sensor_map_set_find(&bs->maps, bs->map_name);
	} else {
		m = sensor_map_set_match(&bs->maps, info->id.manufacturer_id, info->id.product_id);
		info->map_by_id = true;
	}
	if (!m) {
		rc = -ENOENT;
		src_err(src, "%s: no sensor map for manufacturer %u product 0x%04x (and no generic map)",
			bmc_describe(bs->bmc), info->id.manufacturer_id, info->id.product_id);
		goto cleanup;
	}
	bs->map = *m;
	snprintf(info->map, sizeof(info->map), "%s", m->name);
	snprintf(info->workarounds, sizeof(info->workarounds), "%s", m->workarounds_str);

	/* Session flags must be known before the session: open again with the family's. */
	if (bmc_workarounds_parse(bs->cfg.workarounds, &have, NULL, 0) ||
	    !bmc_workarounds_subset(&bs->map.workarounds, &have)) {
		bmc_close(bs->bmc);
		bs->bmc = NULL;
		rc = bmc_open(&bs->cfg, &bs->map.workarounds, &bs->bmc, src->err, sizeof(src->err));
		if (rc)
			goto cleanup;
	}
	snprintf(info->bmc, sizeof(info->bmc), "%s", bmc_describe(bs->bmc));

	if (map_wants_sdr(&bs->map)) {
		rc = bmc_sensors_read(bs->bmc, BMC_SENSORS_NO_VALUES, &list, &n);
		if (rc == -ETIMEDOUT) {
			src_err(src, "%s", bmc_last_error(bs->bmc));
			goto cleanup;
		}
		if (rc) {
			/* DCMI may still do: note why the SDR is missing and go on */
			snprintf(sdr_err, sizeof(sdr_err), "%s", bmc_last_error(bs->bmc));
			list = NULL;
			n = 0;
		}
	}
	rc = choose_power(bs, info, list, n, sdr_err);
	if (rc) {
		if (rc == -ETIMEDOUT)
			src_err(src, "%s", bmc_last_error(bs->bmc));
		goto cleanup;
	}
	info->kind = bs->kind;
	for (size_t i = 0; i < bs->map.n_export && list; i++) {
		long idx = sensor_selector_find(&bs->map.exports[i].sel, list, n);
		bool taken = false;

		/* lines sharing a name are alternatives: the first one found wins */
		for (size_t j = 0; j < i; j++)
			if (bs->exports[j].found && !strcmp(bs->map.exports[j].name, bs->map.exports[i].name))
				taken = true;
		if (idx >= 0 && !taken) {
			bs->exports[i].found = true;
			bs->exports[i].sensor = list[idx];
		}
	}
cleanup:
	free(list);
	if (rc) {
		bmc_close(bs->bmc);
		bs->bmc = NULL;
		bs->kind = POWER_SOURCE_NONE;
	}
	return rc;
}

static int bs_read_power(struct power_source *src, int64_t *mw)
{
	struct bmc_source *bs = (struct bmc_source *)src;
	unsigned watts;
	int rc;

	if (!bs->bmc || bs->kind == POWER_SOURCE_NONE) {
		src_err(src, "not connected");
		return -ENOTCONN;
	}
	if (bs->kind == POWER_SOURCE_DCMI) {
		rc = bmc_dcmi_power_read(bs->bmc, &watts);
		if (!rc)
			*mw = (int64_t)watts * 1000;
	} else {
		rc = bmc_sensor_read(bs->bmc, &bs->power_sensor);
		if (!rc && sensor_mw(&bs->power_sensor, mw)) {
			src_err(src, "%s: sensor \"%s\": reading out of range", bmc_describe(bs->bmc),
				bs->power_sensor.name);
			return -ERANGE;
		}
	}
	if (rc)
		src_err(src, "%s", bmc_last_error(bs->bmc));
	return rc;
}

static int bs_read_exports(struct power_source *src, struct sensor_export_reading *out, size_t cap, size_t *n)
{
	struct bmc_source *bs = (struct bmc_source *)src;

	*n = 0;
	if (!bs->bmc) {
		src_err(src, "not connected");
		return -ENOTCONN;
	}
	for (size_t i = 0; i < bs->map.n_export && *n < cap; i++) {
		struct export_slot *e = &bs->exports[i];
		struct sensor_export_reading *r;
		int rc;

		if (!e->found)
			continue;
		rc = bmc_sensor_read(bs->bmc, &e->sensor);
		if (rc && rc != -ENODATA) {
			src_err(src, "%s", bmc_last_error(bs->bmc));
			return rc;
		}
		r = &out[(*n)++];
		memset(r, 0, sizeof(*r));
		snprintf(r->name, sizeof(r->name), "%s", bs->map.exports[i].name);
		snprintf(r->sensor, sizeof(r->sensor), "%s", e->sensor.name);
		r->unit = bmc_unit_name(e->sensor.unit);
		r->scale = sensor_unit_scale(e->sensor.unit);
		r->has_value = e->sensor.has_value;
		r->value = r->has_value ? sensor_value_scaled(e->sensor.value, r->scale) : 0;
		r->state = e->sensor.state;
	}
	return 0;
}

static const struct power_source_ops bmc_source_ops = {
	.connect = bs_connect,
	.read_power = bs_read_power,
	.read_exports = bs_read_exports,
	.disconnect = bs_disconnect,
	.destroy = bs_destroy,
};

int power_source_bmc_new(const struct bmc_config *bmc, const struct sensor_map_set *maps, const char *map_name,
			 struct power_source **out)
{
	struct bmc_source *bs;
	int rc = 0;

	*out = NULL;
	bs = calloc(1, sizeof(*bs));
	if (!bs)
		return -ENOMEM;
	bs->base.ops = &bmc_source_ops;
	bs->cfg = *bmc;
	for (size_t i = 0; maps && i < maps->n; i++) {
		rc = sensor_map_set_add(&bs->maps, &maps->maps[i]);
		if (rc)
			goto cleanup;
	}
	if (map_name && map_name[0]) {
		if (!sensor_map_set_find(&bs->maps, map_name)) {
			rc = -ENOENT;
			goto cleanup;
		}
		snprintf(bs->map_name, sizeof(bs->map_name), "%s", map_name);
	}
	*out = &bs->base;
	bs = NULL;
cleanup:
	if (bs)
		bs_destroy(&bs->base);
	return rc;
}
