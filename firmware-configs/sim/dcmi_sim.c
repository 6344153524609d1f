/*
 * dcmi_sim.c — an ipmi_sim module that answers DCMI power commands, so a
 * simulated BMC can offer DCMI the way real ones do (stock ipmi_sim answers
 * no DCMI at all).
 *
 * Loaded from a lan.conf line:
 *     loadlib "BUILD/sim/dcmi_sim.so" "WATTS_FILE"
 * It registers a handler for group extension 0xDC (netfn 0x2C) and answers
 *   0x01 Get DCMI Capability Info, parameter 1: DCMI 1.5 with power management;
 *   0x02 Get Power Reading: current = the number in WATTS_FILE, read on every
 *        request (a test rewrites the file, temp + rename). A missing or bad
 *        file answers "power measurement not active".
 * Everything else in the group answers "invalid command".
 *
 * Built by firmware-configs/sim/build.sh into the build folder; test only.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <OpenIPMI/serv.h>
#include <OpenIPMI/mcserv.h>

#define DCMI_GROUP 0xdc
#define DCMI_CMD_CAPABILITY_INFO 0x01
#define DCMI_CMD_GET_POWER_READING 0x02

int ipmi_sim_module_init(sys_data_t *sys, const char *initstr);
int ipmi_sim_module_print_version(sys_data_t *sys, char *initstr);

static char watts_file[4096];

static int read_watts(unsigned *w)
{
	char buf[64];
	FILE *f = fopen(watts_file, "re");
	char *end;
	unsigned long v;

	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	v = strtoul(buf, &end, 0);
	if (end == buf || v > 0xffff)
		return -1;
	*w = (unsigned)v;
	return 0;
}

static void put16(unsigned char *p, unsigned v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (v >> (8 * i)) & 0xff;
}

static void dcmi_handler(lmc_data_t *mc, msg_t *msg, unsigned char *rdata, unsigned int *rdata_len,
			 void *cb_data)
{
	unsigned w = 0;
	int active;

	switch (msg->cmd) {
	case DCMI_CMD_CAPABILITY_INFO:
		if (check_msg_length(msg, 2, rdata, rdata_len))
			return;
		if (msg->data[1] != 1) {
			rdata[0] = 0xc9; /* parameter out of range: only "supported capabilities" here */
			*rdata_len = 1;
			return;
		}
		rdata[0] = 0;
		rdata[1] = DCMI_GROUP;
		rdata[2] = 1;    /* DCMI 1.5 */
		rdata[3] = 5;
		rdata[4] = 2;    /* parameter revision */
		rdata[5] = 0x0f; /* identification, SEL, chassis power, temperature */
		rdata[6] = 0x01; /* optional: power management */
		rdata[7] = 0x08; /* primary LAN channel */
		*rdata_len = 8;
		return;
	case DCMI_CMD_GET_POWER_READING:
		if (check_msg_length(msg, 4, rdata, rdata_len))
			return;
		active = read_watts(&w) == 0;
		rdata[0] = 0;
		rdata[1] = DCMI_GROUP;
		put16(rdata + 2, w);  /* current */
		put16(rdata + 4, w);  /* minimum over the period */
		put16(rdata + 6, w);  /* maximum */
		put16(rdata + 8, w);  /* average */
		put32(rdata + 10, (uint32_t)time(NULL));
		put32(rdata + 14, 1000); /* statistics period, ms */
		rdata[18] = active ? 0x40 : 0x00; /* bit 6: power measurement active */
		*rdata_len = 19;
		return;
	default:
		handle_invalid_cmd(mc, rdata, rdata_len);
		return;
	}
}

int ipmi_sim_module_init(sys_data_t *sys, const char *initstr)
{
	if (!initstr || !initstr[0] || strlen(initstr) >= sizeof(watts_file)) {
		fprintf(stderr, "dcmi_sim: give the watts file as the init string\n");
		return 22; /* EINVAL */
	}
	strcpy(watts_file, initstr);
	ipmi_emu_register_group_extension_handler(DCMI_GROUP, dcmi_handler, NULL);
	return 0;
}

int ipmi_sim_module_print_version(sys_data_t *sys, char *initstr)
{
	printf("hvmeter dcmi_sim 1\n");
	return 0;
}
