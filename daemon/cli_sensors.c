/*
 * hvmeter sensors — the BMC's current readings with the sensor map that
 * matched: the first thing to run when power looks wrong. Uses the agent's
 * own configuration ([bmc]), so it tests exactly what hvmeterd will use.
 */
#include "daemon/cli.h"
#include "daemon/config.h"
#include "daemon/energy_meter.h"
#include "ipmi/bmc.h"
#include "ipmi/sensor_map.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_sensors(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
					      { "format", required_argument, NULL, 'F' }, { 0 } };
	const char *path = "/etc/hvmeter/hvmeterd.conf";
	struct config cfg;
	struct bmc_config bc;
	struct bmc *b = NULL;
	struct bmc_device_id id;
	struct sensor_map_set maps = { 0 };
	struct sensor_map_error merr;
	const struct sensor_map *map = NULL;
	struct bmc_sensor *s = NULL;
	size_t n = 0;
	char err[CONFIG_ERR_MAX];
	bool csv = false;
	unsigned watts;
	int opt, rc = 1, e;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		if (opt == 'c')
			path = optarg;
		else if (opt == 'F' && (!strcmp(optarg, "csv") || !strcmp(optarg, "table")))
			csv = !strcmp(optarg, "csv");
		else {
			fprintf(stderr, "usage: hvmeter sensors [-c hvmeterd.conf] [--format table|csv]\n");
			return 2;
		}
	}
	if (config_load(&cfg, path, err)) {
		fprintf(stderr, "hvmeter sensors: %s\n", err);
		return 1;
	}
	if (energy_meter_bmc_config(&cfg, cfg.store, &bc, err, sizeof(err))) {
		fprintf(stderr, "hvmeter sensors: %s\n", err);
		return 1;
	}
	if ((e = sensor_map_set_load_dir(&maps, cfg.bmc_maps_dir, &merr)))
		fprintf(stderr, "hvmeter sensors: no sensor maps from %s: %s\n", cfg.bmc_maps_dir,
			strerror(-e));
	if (bmc_open(&bc, NULL, &b, err, sizeof(err))) {
		fprintf(stderr, "hvmeter sensors: %s\n", err);
		goto out;
	}
	if (bmc_device_id(b, &id) == 0) {
		map = cfg.bmc_map[0] ? sensor_map_set_find(&maps, cfg.bmc_map)
				     : sensor_map_set_match(&maps, id.manufacturer_id, id.product_id);
		if (!csv)
			printf("BMC %s: manufacturer %u, product %u, firmware %s; map: %s%s\n",
			       bc.host[0] ? bc.host : "in-band", id.manufacturer_id, id.product_id,
			       id.firmware, map ? map->name : "none matched",
			       cfg.bmc_map[0] ? " (from the config)" : "");
	}
	if (!csv && bmc_dcmi_power_read(b, &watts) == 0)
		printf("DCMI power reading: %u W\n", watts);
	if (bmc_sensors_read(b, 0, &s, &n)) {
		fprintf(stderr, "hvmeter sensors: cannot read sensors: %s\n", bmc_last_error(b));
		goto out;
	}
	printf(csv ? "name,type,value,unit,state,map\n" : "%-20s %-16s %12s %-5s %s\n",
	       "name", "type", "value", "unit", "state");
	for (size_t i = 0; i < n; i++) {
		char v[32] = "";

		if (s[i].has_value)
			snprintf(v, sizeof(v), "%.2f", s[i].value);
		if (csv)
			printf("%s,%s,%s,%s,%s,%s\n", s[i].name, s[i].type_str, v, s[i].unit_str,
			       bmc_sensor_state_name(s[i].state), map ? map->name : "");
		else
			printf("%-20s %-16s %12s %-5s %s\n", s[i].name, s[i].type_str, v[0] ? v : "n/a",
			       s[i].unit_str, bmc_sensor_state_name(s[i].state));
	}
	rc = 0;
out:
	free(s);
	bmc_close(b);
	sensor_map_set_free(&maps);
	return rc;
}
