/*
 * bmc_names.c — the words of bmc.h: workaround flag names, drivers,
 * privileges, units. Uses FreeIPMI's headers for the flag values only, so
 * the sensor map parser (and its fuzzer) link without libfreeipmi.
 */
#include "ipmi/bmc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <freeipmi/api/ipmi-api.h>
#include <freeipmi/sdr/ipmi-sdr.h>
#include <freeipmi/sensor-read/ipmi-sensor-read.h>
#include <freeipmi/spec/ipmi-sensor-units-spec.h>

struct workaround_name {
	const char *name;
	struct bmc_workarounds flags;
};

/* The names and meanings of FreeIPMI's -W option (ipmi-sensors(8), WORKAROUNDS). */
static const struct workaround_name workaround_names[] = {
	{ "authcap", { .lan15 = IPMI_WORKAROUND_FLAGS_OUTOFBAND_AUTHENTICATION_CAPABILITIES,
		       .lan20 = IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_AUTHENTICATION_CAPABILITIES } },
	{ "idzero", { .lan15 = IPMI_WORKAROUND_FLAGS_OUTOFBAND_ACCEPT_SESSION_ID_ZERO } },
	{ "unexpectedauth", { .lan15 = IPMI_WORKAROUND_FLAGS_OUTOFBAND_CHECK_UNEXPECTED_AUTHCODE } },
	{ "forcepermsg", { .lan15 = IPMI_WORKAROUND_FLAGS_OUTOFBAND_FORCE_PERMSG_AUTHENTICATION } },
	{ "endianseq", { .lan15 = IPMI_WORKAROUND_FLAGS_OUTOFBAND_BIG_ENDIAN_SEQUENCE_NUMBER } },
	{ "noauthcodecheck", { .lan15 = IPMI_WORKAROUND_FLAGS_OUTOFBAND_NO_AUTH_CODE_CHECK } },
	{ "nochecksumcheck", { .lan15 = IPMI_WORKAROUND_FLAGS_OUTOFBAND_NO_CHECKSUM_CHECK,
			       .lan20 = IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_NO_CHECKSUM_CHECK } },
	{ "intel20", { .lan20 = IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_INTEL_2_0_SESSION } },
	{ "supermicro20", { .lan20 = IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_SUPERMICRO_2_0_SESSION } },
	{ "sun20", { .lan20 = IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_SUN_2_0_SESSION } },
	{ "opensesspriv", { .lan20 = IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_OPEN_SESSION_PRIVILEGE } },
	{ "integritycheckvalue",
	  { .lan20 = IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_NON_EMPTY_INTEGRITY_CHECK_VALUE } },
	{ "assumeio", { .inband = IPMI_WORKAROUND_FLAGS_INBAND_ASSUME_IO_BASE_ADDRESS } },
	{ "spinpoll", { .inband = IPMI_WORKAROUND_FLAGS_INBAND_SPIN_POLL } },
	{ "assumemaxsdrrecordcount",
	  { .sdr = IPMI_SDR_CACHE_CREATE_FLAGS_ASSUME_MAX_SDR_RECORD_COUNT } },
	{ "discretereading", { .sensor = IPMI_SENSOR_READ_FLAGS_DISCRETE_READING } },
	{ "ignorescanningdisabled", { .sensor = IPMI_SENSOR_READ_FLAGS_IGNORE_SCANNING_DISABLED } },
	{ "assumebmcowner", { .sensor = IPMI_SENSOR_READ_FLAGS_ASSUME_BMC_OWNER } },
	{ "ignoreauthcode", { .ctx = IPMI_FLAGS_IGNORE_AUTHENTICATION_CODE } },
};

#define N_WORKAROUNDS (sizeof(workaround_names) / sizeof(workaround_names[0]))

void bmc_workarounds_merge(struct bmc_workarounds *a, const struct bmc_workarounds *b)
{
	if (!b)
		return;
	a->lan15 |= b->lan15;
	a->lan20 |= b->lan20;
	a->inband |= b->inband;
	a->sensor |= b->sensor;
	a->sdr |= b->sdr;
	a->ctx |= b->ctx;
}

bool bmc_workarounds_subset(const struct bmc_workarounds *sub, const struct bmc_workarounds *set)
{
	return (sub->lan15 & ~set->lan15) == 0 && (sub->lan20 & ~set->lan20) == 0 &&
	       (sub->inband & ~set->inband) == 0 && (sub->sensor & ~set->sensor) == 0 &&
	       (sub->sdr & ~set->sdr) == 0 && (sub->ctx & ~set->ctx) == 0;
}

int bmc_workarounds_parse(const char *list, struct bmc_workarounds *out, char *err, size_t errlen)
{
	const char *p = list;

	memset(out, 0, sizeof(*out));
	if (!list)
		return 0;
	while (*p) {
		size_t len, i;

		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		len = strcspn(p, ", \t");
		for (i = 0; i < N_WORKAROUNDS; i++)
			if (strlen(workaround_names[i].name) == len &&
			    strncasecmp(workaround_names[i].name, p, len) == 0)
				break;
		if (i == N_WORKAROUNDS) {
			if (err && errlen)
				snprintf(err, errlen, "unknown FreeIPMI workaround \"%.*s\"",
					 (int)(len > 64 ? 64 : len), p);
			return -EINVAL;
		}
		bmc_workarounds_merge(out, &workaround_names[i].flags);
		p += len;
	}
	return 0;
}

const char *bmc_driver_name(enum bmc_driver d)
{
	switch (d) {
	case BMC_DRIVER_INBAND: return "inband";
	case BMC_DRIVER_LAN20: return "lan20";
	case BMC_DRIVER_LAN15: return "lan15";
	}
	return "?";
}

int bmc_driver_parse(const char *s, enum bmc_driver *out)
{
	if (!strcasecmp(s, "inband") || !strcasecmp(s, "openipmi"))
		*out = BMC_DRIVER_INBAND;
	else if (!strcasecmp(s, "lan20") || !strcasecmp(s, "lan_2_0") || !strcasecmp(s, "lanplus"))
		*out = BMC_DRIVER_LAN20;
	else if (!strcasecmp(s, "lan15") || !strcasecmp(s, "lan"))
		*out = BMC_DRIVER_LAN15;
	else
		return -EINVAL;
	return 0;
}

int bmc_privilege_parse(const char *s, enum bmc_privilege *out)
{
	if (!strcasecmp(s, "user"))
		*out = BMC_PRIV_USER;
	else if (!strcasecmp(s, "operator"))
		*out = BMC_PRIV_OPERATOR;
	else if (!strcasecmp(s, "admin"))
		*out = BMC_PRIV_ADMIN;
	else
		return -EINVAL;
	return 0;
}

const char *bmc_sensor_state_name(enum bmc_sensor_state s)
{
	switch (s) {
	case BMC_SENSOR_OK: return "ok";
	case BMC_SENSOR_WARNING: return "warning";
	case BMC_SENSOR_CRITICAL: return "critical";
	case BMC_SENSOR_UNKNOWN: break;
	}
	return "n/a";
}

static const struct {
	const char *name;
	uint16_t code;
} unit_names[] = {
	{ "W", IPMI_SENSOR_UNIT_WATTS },
	{ "C", IPMI_SENSOR_UNIT_DEGREES_C },
	{ "F", IPMI_SENSOR_UNIT_DEGREES_F },
	{ "K", IPMI_SENSOR_UNIT_DEGREES_K },
	{ "V", IPMI_SENSOR_UNIT_VOLTS },
	{ "A", IPMI_SENSOR_UNIT_AMPS },
	{ "J", IPMI_SENSOR_UNIT_JOULES },
	{ "VA", IPMI_SENSOR_UNIT_VA },
	{ "RPM", IPMI_SENSOR_UNIT_RPM },
	{ "CFM", IPMI_SENSOR_UNIT_CFM },
	{ "%", BMC_UNIT_PERCENT },
};

#define N_UNITS (sizeof(unit_names) / sizeof(unit_names[0]))

int bmc_unit_parse(const char *s, uint16_t *out)
{
	if (!strcasecmp(s, "percent")) {
		*out = BMC_UNIT_PERCENT;
		return 0;
	}
	for (size_t i = 0; i < N_UNITS; i++)
		if (!strcasecmp(s, unit_names[i].name)) {
			*out = unit_names[i].code;
			return 0;
		}
	return -EINVAL;
}

const char *bmc_unit_name(uint16_t unit)
{
	for (size_t i = 0; i < N_UNITS; i++)
		if (unit_names[i].code == unit)
			return unit_names[i].name;
	return "";
}
