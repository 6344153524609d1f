#include "wire/metric.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const struct metric_def metrics[] = {
	{ "cpu.time", "ns", METRIC_COUNTER, 0,
	  "on-CPU time of every thread of the VM (vCPUs, emulator, I/O threads)" },
	{ "cpu.time.vcpu", "ns", METRIC_COUNTER, 0,
	  "on-CPU time of the VM's vCPU threads only" },
	{ "vcpu.alloc", "vCPU.s", METRIC_COUNTER, 3,
	  "allocated vCPUs integrated over running time" },
	{ "memory.alloc", "MiB.s", METRIC_COUNTER, 3,
	  "allocated memory integrated over running time" },
	{ "memory.resident", "MiB", METRIC_GAUGE_MAX, 0,
	  "resident memory of the VM's cgroup, max over the frame" },
	{ "disk.read.bytes", "B", METRIC_COUNTER, 0, "bytes read by the guest (QEMU block stats)" },
	{ "disk.write.bytes", "B", METRIC_COUNTER, 0, "bytes written by the guest (QEMU block stats)" },
	{ "disk.read.requests", "requests", METRIC_COUNTER, 0, "read requests issued by the guest" },
	{ "disk.write.requests", "requests", METRIC_COUNTER, 0, "write requests issued by the guest" },
	{ "disk.host.read.bytes", "B", METRIC_COUNTER, 0, "bytes read at the host block layer for the VM" },
	{ "disk.host.write.bytes", "B", METRIC_COUNTER, 0, "bytes written at the host block layer for the VM" },
	{ "disk.host.read.requests", "requests", METRIC_COUNTER, 0, "host block-layer read bios for the VM" },
	{ "disk.host.write.requests", "requests", METRIC_COUNTER, 0, "host block-layer write bios for the VM" },
	{ "net.tx.bytes", "B", METRIC_COUNTER, 0, "L2 bytes sent by the VM (tap ingress)" },
	{ "net.rx.bytes", "B", METRIC_COUNTER, 0, "L2 bytes received by the VM (tap egress)" },
	{ "net.tx.packets", "packets", METRIC_COUNTER, 0, "packets sent by the VM" },
	{ "net.rx.packets", "packets", METRIC_COUNTER, 0, "packets received by the VM" },
	{ "energy", "J", METRIC_COUNTER, 3, "energy, integrated from BMC power" },
	{ "power", "W", METRIC_GAUGE_MEAN, 3, "host power, mean over the frame" },
	{ "power.gap", "s", METRIC_COUNTER, 3, "time without a power reading (BMC away): not 0 W" },
	{ "temperature.inlet", "C", METRIC_GAUGE_MAX, 1, "inlet temperature, max over the frame" },
};

#define N_METRICS (sizeof(metrics) / sizeof(metrics[0]))

const struct metric_def *metric_lookup(const char *name)
{
	for (size_t i = 0; i < N_METRICS; i++)
		if (strcmp(metrics[i].name, name) == 0)
			return &metrics[i];
	return NULL;
}

const struct metric_def *metric_all(size_t *n)
{
	*n = N_METRICS;
	return metrics;
}

int scaled_format(int64_t value, unsigned scale, char *buf, size_t len)
{
	int n;

	if (scale == 0) {
		n = snprintf(buf, len, "%" PRId64, value);
	} else {
		uint64_t div = 1, mag;

		for (unsigned i = 0; i < scale; i++)
			div *= 10;
		/* magnitude computed unsigned so INT64_MIN does not overflow */
		mag = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
		n = snprintf(buf, len, "%s%" PRIu64 ".%0*" PRIu64, value < 0 ? "-" : "",
			     mag / div, (int)scale, mag % div);
	}
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

int metric_value_format(const struct metric_def *m, int64_t value, char *buf, size_t len)
{
	return scaled_format(value, m ? m->scale : 0, buf, len);
}
