/* Prometheus exposition: per-VM counters are the sums of committed frames'
 * deltas (exact decimals, monotonic), gauges hold the last frame's value,
 * series carry the libvirt/Nova labels, every family has HELP and TYPE,
 * label values are escaped, a VM that left the table goes, and the
 * uplink's status lines are read right. Real frames and real VM structs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "daemon/agent.h"
#include "daemon/prom_metrics.h"
#include "store/store.h"

#define UUID_A "0c6e1c02-3c52-4bb8-9b0b-6f5f3e4c9d01"
#define UUID_B "9a1e1c02-3c52-4bb8-9b0b-6f5f3e4c9d02"

static void vm_init(struct vm *vm, const char *uuid, const char *name, const char *project)
{
	memset(vm, 0, sizeof(*vm));
	snprintf(vm->uuid, sizeof(vm->uuid), "%s", uuid);
	snprintf(vm->name, sizeof(vm->name), "%s", name);
	vm->running = true;
	vm->vcpus = 2;
	vm->memory_kib = 262144;
	snprintf(vm->meta.resource, sizeof(vm->meta.resource), "%s", uuid);
	assert_int_equal(frame_attr_set(&vm->meta, "domain", name), 0);
	assert_int_equal(frame_attr_set(&vm->meta, "name", "web-1"), 0);
	assert_int_equal(frame_attr_set(&vm->meta, "project", project), 0);
	assert_int_equal(frame_attr_set(&vm->meta, "project_name", "acme \"prod\"\\x"), 0);
	assert_int_equal(frame_attr_set(&vm->meta, "flavor", "m1.tiny"), 0);
	assert_int_equal(frame_attr_set(&vm->meta, "user", "u1"), 0);
	assert_int_equal(frame_attr_set(&vm->meta, "image", "img-1"), 0);
}

static void frame_make(struct frame *f, uint64_t seq, int64_t cpu_a, int64_t rss_mib)
{
	frame_init(f);
	f->seq = seq;
	f->start_ns = 1700000000000000000 + (int64_t)(seq - 1) * 10000000000;
	f->end_ns = f->start_ns + 10000000000;
	assert_int_equal(frame_delta_add(f, UUID_A, "cpu.time", "", cpu_a), 0);
	assert_int_equal(frame_delta_add(f, UUID_A, "disk.read.bytes", "device=vda", 4096), 0);
	assert_int_equal(frame_delta_add(f, UUID_A, "net.tx.bytes", "class=public;device=tap0", 1000), 0);
	assert_int_equal(frame_delta_add(f, UUID_A, "vcpu.alloc", "", 20000), 0);
	assert_int_equal(frame_delta_add(f, UUID_A, "memory.resident", "", rss_mib), 0);
	assert_int_equal(frame_delta_add(f, "host", "energy", "", 2500500), 0);
	assert_int_equal(frame_delta_add(f, "host", "energy", "part=remainder", 500), 0);
	assert_int_equal(frame_delta_add(f, "host", "power", "", 250050), 0);
	frame_canonicalize(f);
}

static char *text_of(struct prom_metrics *pm)
{
	char *t = NULL;
	size_t len = 0;

	assert_int_equal(prom_metrics_snapshot(pm, &t, &len), 0);
	assert_int_equal(strlen(t), len);
	return t;
}

/* The one line of @t that starts with @prefix, or NULL. */
static const char *line_of(const char *t, const char *prefix)
{
	size_t n = strlen(prefix);

	for (const char *l = t; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (strncmp(l, prefix, n) == 0)
			return l;
	return NULL;
}

static void expect_line(const char *t, const char *want)
{
	const char *l = line_of(t, want);

	if (!l || (l[strlen(want)] != '\n' && l[strlen(want)] != '\0'))
		fail_msg("no line '%s' in:\n%s", want, t);
}

#define LABELS_A "domain=\"hvt-a\",uuid=\"" UUID_A "\",instance_name=\"web-1\",project_uuid=\"p1\"," \
		 "project_name=\"acme \\\"prod\\\"\\\\x\",flavor=\"m1.tiny\""

static void test_totals_accumulate_exactly(void **state)
{
	struct prom_metrics *pm;
	struct vm a, *vms[1] = { &a };
	struct sampler_health src = { .libvirt_connected = true, .cpu_bpf = true, .cpu_pinned = true,
				      .taps_wanted = 1, .taps_attached = 1 };
	struct prom_health h = { .src = &src, .uplink = 1, .have_ack = true, .ack_seq = 1,
				 .have_ledger = true, .frames_kept = 2, .bmc = true, .bmc_ok = true,
				 .bmc_last_read_ns = 1700000019500000000, .bmc_latency_us = 31250,
				 .bmc_reads = 40 };
	struct frame f1, f2;
	char *t;

	vm_init(&a, UUID_A, "hvt-a", "p1");
	assert_int_equal(prom_metrics_new(&pm, "1.2.3"), 0);
	t = text_of(pm);
	expect_line(t, "hvmeter_build_info{version=\"1.2.3\"} 1");
	expect_line(t, "hvmeter_frames_committed_total 0");
	assert_null(strstr(t, "hvmeter_vm_"));
	free(t);

	frame_make(&f1, 1, 1500000001, 100);
	frame_make(&f2, 2, 2999999999, 90);
	h.last_seq = 1;
	assert_int_equal(prom_metrics_update(pm, &f1, vms, 1, &h, NULL), 0);
	h.last_seq = 2;
	assert_int_equal(prom_metrics_update(pm, &f2, vms, 1, &h, NULL), 0);
	t = text_of(pm);
	/* 1.500000001 s + 2.999999999 s, to the nanosecond */
	expect_line(t, "hvmeter_vm_cpu_seconds_total{" LABELS_A "} 4.500000000");
	expect_line(t, "hvmeter_vm_block_read_bytes_total{" LABELS_A ",target_device=\"vda\"} 8192");
	expect_line(t, "hvmeter_vm_interface_transmit_bytes_total{" LABELS_A
		       ",class=\"public\",target_device=\"tap0\"} 2000");
	expect_line(t, "hvmeter_vm_vcpu_allocation_seconds_total{" LABELS_A "} 40.000");
	/* a gauge: the last frame's value, in bytes */
	expect_line(t, "hvmeter_vm_memory_resident_bytes{" LABELS_A "} 94371840");
	expect_line(t, "hvmeter_vm_virtual_cpus{" LABELS_A "} 2");
	expect_line(t, "hvmeter_vm_memory_bytes{" LABELS_A "} 268435456");
	expect_line(t, "hvmeter_vm_info{" LABELS_A ",user_uuid=\"u1\",user_name=\"\",root_uuid=\"img-1\"} 1");
	expect_line(t, "hvmeter_host_energy_joules_total 5001.000");
	expect_line(t, "hvmeter_host_energy_remainder_joules_total 1.000");
	expect_line(t, "hvmeter_host_power_watts 250.050");
	expect_line(t, "hvmeter_frames_committed_total 2");
	expect_line(t, "hvmeter_ledger_last_seq 2");
	expect_line(t, "hvmeter_ledger_frames 2");
	expect_line(t, "hvmeter_uplink_connected 1");
	expect_line(t, "hvmeter_uplink_ack_lag_frames 1");
	expect_line(t, "hvmeter_libvirt_connected 1");
	expect_line(t, "hvmeter_bpf_program_attached{program=\"cpu_switch\"} 1");
	expect_line(t, "hvmeter_bpf_program_attached{program=\"disk_bio_queue\"} 0");
	expect_line(t, "hvmeter_bpf_program_pinned{program=\"cpu_switch\"} 1");
	expect_line(t, "hvmeter_taps_attached 1");
	expect_line(t, "hvmeter_bmc_up 1");
	expect_line(t, "hvmeter_bmc_last_read_timestamp_seconds 1700000019.500000000");
	expect_line(t, "hvmeter_bmc_read_latency_seconds 0.031250");
	expect_line(t, "hvmeter_last_frame_interval_seconds 10.000000000");
	expect_line(t, "# TYPE hvmeter_vm_cpu_seconds_total counter");
	expect_line(t, "# TYPE hvmeter_vm_memory_resident_bytes gauge");
	free(t);
	frame_free(&f1);
	frame_free(&f2);
	prom_metrics_free(pm);
}

/* Every sample's family has one HELP and one TYPE line before its first sample. */
static void test_every_family_declared_once(void **state)
{
	struct prom_metrics *pm;
	struct vm a, b, *vms[2] = { &a, &b };
	struct sampler_health src = { 0 };
	struct prom_health h = { .src = &src, .uplink = -1 };
	struct frame f;
	char *t, *save = NULL, declared[8192] = " ";

	vm_init(&a, UUID_A, "hvt-a", "p1");
	vm_init(&b, UUID_B, "hvt-b", "p2");
	assert_int_equal(prom_metrics_new(&pm, "x"), 0);
	frame_make(&f, 1, 10, 1);
	assert_int_equal(frame_delta_add(&f, UUID_B, "cpu.time", "", 7), 0);
	assert_int_equal(prom_metrics_update(pm, &f, vms, 2, &h, NULL), 0);
	t = text_of(pm);
	assert_null(strstr(t, "hvmeter_uplink_")); /* uplink off: no uplink series */
	assert_null(strstr(t, "hvmeter_bmc_"));    /* no BMC: no BMC series */
	for (char *l = strtok_r(t, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char name[128], key[140];

		if (strncmp(l, "# HELP ", 7) == 0) {
			sscanf(l + 7, "%127s", name);
			snprintf(key, sizeof(key), " %s ", name);
			if (strstr(declared, key))
				fail_msg("family %s declared twice", name);
			assert_true(strlen(declared) + strlen(key) < sizeof(declared));
			strcat(declared, key + 1);
			continue;
		}
		if (l[0] == '#')
			continue;
		sscanf(l, "%127[^{ ]", name);
		snprintf(key, sizeof(key), " %s ", name);
		if (!strstr(declared, key))
			fail_msg("sample '%s' before its HELP/TYPE", l);
	}
	free(t);
	frame_free(&f);
	prom_metrics_free(pm);
}

/* A VM neither in the table nor in the frame leaves; one whose final frame
 * came after it left the table (reaped) still gets that frame. */
static void test_vm_leaves(void **state)
{
	struct prom_metrics *pm;
	struct vm a, b, *both[2] = { &a, &b }, *only_b[1] = { &b };
	struct prom_health h = { .uplink = -1 };
	struct frame f, g, e;
	char *t;

	vm_init(&a, UUID_A, "hvt-a", "p1");
	vm_init(&b, UUID_B, "hvt-b", "p2");
	assert_int_equal(prom_metrics_new(&pm, "x"), 0);
	frame_make(&f, 1, 1000000000, 1);
	assert_int_equal(prom_metrics_update(pm, &f, both, 2, &h, NULL), 0);
	/* A is gone from the table, but the frame bills its last switch */
	frame_make(&g, 2, 1000000000, 1);
	assert_int_equal(prom_metrics_update(pm, &g, only_b, 1, &h, NULL), 0);
	t = text_of(pm);
	expect_line(t, "hvmeter_vm_cpu_seconds_total{" LABELS_A "} 2.000000000");
	assert_null(line_of(t, "hvmeter_vm_virtual_cpus{domain=\"hvt-a\"")); /* not running any more */
	expect_line(t, "hvmeter_vms 1");
	free(t);
	/* then nothing more for A: its series go */
	frame_init(&e);
	e.seq = 3;
	assert_int_equal(prom_metrics_update(pm, &e, only_b, 1, &h, NULL), 0);
	t = text_of(pm);
	assert_null(strstr(t, UUID_A));
	assert_non_null(strstr(t, "hvmeter_vm_info{domain=\"hvt-b\""));
	free(t);
	frame_free(&f);
	frame_free(&g);
	frame_free(&e);
	prom_metrics_free(pm);
}

/* A resource the table never had takes its labels from the store's announcement. */
static void test_orphan_labels_from_store(void **state)
{
	char dir[] = "/tmp/hvt-prom-XXXXXX", cmd[64];
	struct store_opts so = { .host_id = "h" };
	struct store *st;
	struct prom_metrics *pm;
	struct prom_health h = { .uplink = -1 };
	struct baseline b = { 0 };
	struct vm a;
	struct frame f;
	char *t;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(store_open(&st, dir, &so), 0);
	vm_init(&a, UUID_A, "hvt-a", "p1");
	frame_init(&f);
	f.start_ns = 1;
	f.end_ns = 2;
	assert_int_equal(frame_resource_add(&f, &a.meta), 0);
	assert_int_equal(frame_delta_add(&f, UUID_A, "cpu.time", "", 5), 0);
	/* one baseline, as the sampler always has (a commit of none trips UBSan in store/) */
	snprintf(b.key, sizeof(b.key), "cpu/1");
	snprintf(b.resource, sizeof(b.resource), "%s", UUID_A);
	snprintf(b.metric, sizeof(b.metric), "cpu.time");
	b.epoch = 1;
	b.value = 5;
	assert_int_equal(store_frame_commit(st, &f, &b, 1, NULL, 0, NULL), 0);
	assert_int_equal(prom_metrics_new(&pm, "x"), 0);
	assert_int_equal(prom_metrics_update(pm, &f, NULL, 0, &h, st), 0);
	t = text_of(pm);
	expect_line(t, "hvmeter_vm_cpu_seconds_total{" LABELS_A "} 0.000000005");
	free(t);
	prom_metrics_free(pm);
	frame_free(&f);
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_status_uplink_lines(void **state)
{
	int up;
	uint64_t ack;
	bool have;

	prom_status_uplink("uplink=off\ncpu=bpf\n", &up, &ack, &have);
	assert_int_equal(up, -1);
	assert_false(have);
	prom_status_uplink("uplink=connected 127.0.0.1:7443\nuplink_acked=seq 1234 (at 2026-01-01T00:00:00Z)\n",
			   &up, &ack, &have);
	assert_int_equal(up, 1);
	assert_true(have);
	assert_int_equal(ack, 1234);
	prom_status_uplink("uplink=sending x\nuplink_acked=seq 7\n", &up, &ack, &have);
	assert_int_equal(up, 1);
	prom_status_uplink("uplink=backoff x (retry in 3 s)\nuplink_acked=seq 0\n", &up, &ack, &have);
	assert_int_equal(up, 0);
	assert_int_equal(ack, 0);
	prom_status_uplink("cpu=bpf\n", &up, &ack, &have);
	assert_int_equal(up, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_totals_accumulate_exactly),
		cmocka_unit_test(test_every_family_declared_once),
		cmocka_unit_test(test_vm_leaves),
		cmocka_unit_test(test_orphan_labels_from_store),
		cmocka_unit_test(test_status_uplink_lines),
	};
	return cmocka_run_group_tests_name("prom_metrics", tests, NULL, NULL);
}
