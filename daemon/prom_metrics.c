/*
 * prom_metrics.c — totals per VM from committed frames, and their
 * exposition text. Values are kept as the frames' scaled integers and
 * printed as exact decimals (cpu ns -> "12.345678901" seconds): nothing is
 * rounded on our side, Prometheus parses them into doubles.
 */
#include "daemon/prom_metrics.h"
#include "wire/metric.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One series of a resource: a frame's (metric, labels). */
struct prom_series {
	char metric[HV_METRIC_MAX];
	char labels[HV_LABELS_MAX];
	int64_t value;      /* counters: sum of deltas; gauges: last value */
};

struct prom_resource {
	char id[HV_ID_MAX];
	struct frame_resource meta;
	bool in_table, running;
	uint32_t vcpus;
	uint64_t memory_kib;
	uint64_t seen;      /* the update that last had it in the table or a frame */
	struct prom_series *s;
	size_t n_s, cap_s;
};

struct prom_metrics {
	pthread_mutex_t mu;
	char *text;         /* published: read by prom_metrics_snapshot() */
	size_t text_len;
	/* the sampler's side */
	char version[64];
	struct prom_resource *res;  /* VMs, then "host" wherever it lands */
	size_t n_res, cap_res;
	uint64_t updates;
	int64_t frame_start_ns, frame_end_ns;
	struct prom_health health;
	struct sampler_health src;
	bool have_src;
};

/* How a frame metric becomes a family: value / 10^digits * mult. */
struct family {
	const char *metric;
	const char *part;   /* host only: the frame label "part=..." it takes, "" none */
	const char *name;
	const char *type;
	unsigned digits;
	int64_t mult;
	const char *help;
};

static const struct family vm_families[] = {
	{ "cpu.time", NULL, "hvmeter_vm_cpu_seconds_total", "counter", 9, 1,
	  "CPU time of all the domain's threads (emulator, vCPUs, I/O threads), seconds." },
	{ "cpu.time.vcpu", NULL, "hvmeter_vm_vcpu_seconds_total", "counter", 9, 1,
	  "CPU time of the domain's vCPU threads, seconds." },
	{ "vcpu.alloc", NULL, "hvmeter_vm_vcpu_allocation_seconds_total", "counter", 3, 1,
	  "Allocated vCPUs integrated over running time, vCPU seconds." },
	{ "memory.alloc", NULL, "hvmeter_vm_memory_allocation_mib_seconds_total", "counter", 3, 1,
	  "Allocated memory integrated over running time, MiB seconds." },
	{ "memory.resident", NULL, "hvmeter_vm_memory_resident_bytes", "gauge", 0, 1 << 20,
	  "Anonymous memory of the domain's cgroup, max over the last frame, bytes." },
	{ "disk.read.bytes", NULL, "hvmeter_vm_block_read_bytes_total", "counter", 0, 1,
	  "Bytes read by the guest (QEMU block stats)." },
	{ "disk.write.bytes", NULL, "hvmeter_vm_block_write_bytes_total", "counter", 0, 1,
	  "Bytes written by the guest (QEMU block stats)." },
	{ "disk.read.requests", NULL, "hvmeter_vm_block_read_requests_total", "counter", 0, 1,
	  "Read requests of the guest (QEMU block stats)." },
	{ "disk.write.requests", NULL, "hvmeter_vm_block_write_requests_total", "counter", 0, 1,
	  "Write requests of the guest (QEMU block stats)." },
	{ "disk.host.read.bytes", NULL, "hvmeter_vm_host_block_read_bytes_total", "counter", 0, 1,
	  "Bytes read at the host block layer for the domain (BPF, by blkcg)." },
	{ "disk.host.write.bytes", NULL, "hvmeter_vm_host_block_write_bytes_total", "counter", 0, 1,
	  "Bytes written at the host block layer for the domain (BPF, by blkcg)." },
	{ "disk.host.read.requests", NULL, "hvmeter_vm_host_block_read_requests_total", "counter", 0, 1,
	  "Read bios at the host block layer for the domain." },
	{ "disk.host.write.requests", NULL, "hvmeter_vm_host_block_write_requests_total", "counter", 0,
	  1, "Write bios at the host block layer for the domain." },
	{ "net.rx.bytes", NULL, "hvmeter_vm_interface_receive_bytes_total", "counter", 0, 1,
	  "L2 bytes received by the domain on a tap, by traffic class." },
	{ "net.rx.packets", NULL, "hvmeter_vm_interface_receive_packets_total", "counter", 0, 1,
	  "Packets received by the domain on a tap, by traffic class." },
	{ "net.tx.bytes", NULL, "hvmeter_vm_interface_transmit_bytes_total", "counter", 0, 1,
	  "L2 bytes sent by the domain on a tap, by traffic class." },
	{ "net.tx.packets", NULL, "hvmeter_vm_interface_transmit_packets_total", "counter", 0, 1,
	  "Packets sent by the domain on a tap, by traffic class." },
	{ "energy", NULL, "hvmeter_vm_energy_joules_total", "counter", 3, 1,
	  "The domain's share of the host energy (policy " "cpu-share+idle-by-vcpu/v1" "), joules." },
};

static const struct family host_families[] = {
	{ "energy", "", "hvmeter_host_energy_joules_total", "counter", 3, 1,
	  "Host energy integrated from BMC power, joules." },
	{ "energy", "remainder", "hvmeter_host_energy_remainder_joules_total", "counter", 3, 1,
	  "Host energy no domain was given (VMs + remainder = host), joules." },
	{ "power", "", "hvmeter_host_power_watts", "gauge", 3, 1,
	  "Host power from the BMC, mean over the last frame, watts." },
	{ "power.gap", "", "hvmeter_host_power_gap_seconds_total", "counter", 3, 1,
	  "Time without a BMC power reading (not metered, never counted as 0 W), seconds." },
	{ "temperature.inlet", "", "hvmeter_host_inlet_temperature_celsius", "gauge", 1, 1,
	  "Inlet temperature from the BMC, max over the last frame, degrees Celsius." },
	{ "disk.host.read.bytes", "unattributed", "hvmeter_host_block_unattributed_read_bytes_total",
	  "counter", 0, 1, "Host block-layer bytes read that no domain can be charged with." },
	{ "disk.host.write.bytes", "unattributed", "hvmeter_host_block_unattributed_write_bytes_total",
	  "counter", 0, 1, "Host block-layer bytes written that no domain can be charged with "
	  "(write-back flushes)." },
	{ "disk.host.read.requests", "unattributed",
	  "hvmeter_host_block_unattributed_read_requests_total", "counter", 0, 1,
	  "Host block-layer read bios that no domain can be charged with." },
	{ "disk.host.write.requests", "unattributed",
	  "hvmeter_host_block_unattributed_write_requests_total", "counter", 0, 1,
	  "Host block-layer write bios that no domain can be charged with." },
};

int prom_metrics_new(struct prom_metrics **out, const char *version)
{
	struct prom_metrics *pm = calloc(1, sizeof(*pm));
	int err;

	*out = NULL;
	if (!pm)
		return -ENOMEM;
	if ((err = pthread_mutex_init(&pm->mu, NULL))) {
		free(pm);
		return -err;
	}
	snprintf(pm->version, sizeof(pm->version), "%s", version);
	pm->health.uplink = -1;
	/* scrapes before the first frame see the agent and no VM yet */
	if ((err = prom_metrics_update(pm, NULL, NULL, 0, NULL, NULL))) {
		prom_metrics_free(pm);
		return err;
	}
	*out = pm;
	return 0;
}

void prom_metrics_free(struct prom_metrics *pm)
{
	if (!pm)
		return;
	for (size_t i = 0; i < pm->n_res; i++)
		free(pm->res[i].s);
	free(pm->res);
	free(pm->text);
	pthread_mutex_destroy(&pm->mu);
	free(pm);
}

static struct prom_resource *resource_get(struct prom_metrics *pm, const char *id,
					  struct prom_resource **hint)
{
	struct prom_resource *r;

	if (*hint && strcmp((*hint)->id, id) == 0)
		return *hint;
	for (size_t i = 0; i < pm->n_res; i++)
		if (strcmp(pm->res[i].id, id) == 0)
			return *hint = &pm->res[i];
	if (pm->n_res == pm->cap_res) {
		size_t cap = pm->cap_res ? 2 * pm->cap_res : 16;
		struct prom_resource *n = realloc(pm->res, cap * sizeof(*n));

		if (!n)
			return NULL;
		pm->res = n;
		pm->cap_res = cap;
	}
	r = &pm->res[pm->n_res++];
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", id);
	return *hint = r;
}

static struct prom_series *series_get(struct prom_resource *r, const char *metric,
				      const char *labels)
{
	struct prom_series *s;

	for (size_t i = 0; i < r->n_s; i++)
		if (strcmp(r->s[i].metric, metric) == 0 && strcmp(r->s[i].labels, labels) == 0)
			return &r->s[i];
	if (r->n_s == r->cap_s) {
		size_t cap = r->cap_s ? 2 * r->cap_s : 16;
		struct prom_series *n = realloc(r->s, cap * sizeof(*n));

		if (!n)
			return NULL;
		r->s = n;
		r->cap_s = cap;
	}
	s = &r->s[r->n_s++];
	memset(s, 0, sizeof(*s));
	snprintf(s->metric, sizeof(s->metric), "%s", metric);
	snprintf(s->labels, sizeof(s->labels), "%s", labels);
	return s;
}

/* Takes in the frame's deltas: counters add up, gauges hold the last value. */
static int add_frame(struct prom_metrics *pm, const struct frame *f, struct store *st)
{
	struct prom_resource *hint = NULL;

	for (size_t i = 0; i < f->n_delta; i++) {
		const struct frame_delta *d = &f->delta[i];
		const struct metric_def *m = metric_lookup(d->metric);
		struct prom_resource *r = resource_get(pm, d->resource, &hint);
		struct prom_series *s;

		if (!r)
			return -ENOMEM;
		if (r->seen != pm->updates && !r->in_table && !r->meta.resource[0] && st &&
		    strcmp(r->id, "host") != 0)
			store_resource_get(st, r->id, &r->meta); /* a run that ended while we were down */
		r->seen = pm->updates;
		if (!(s = series_get(r, d->metric, d->labels)))
			return -ENOMEM;
		if (m && m->kind != METRIC_COUNTER)
			s->value = d->value;
		else
			s->value += d->value;
	}
	return 0;
}

/* ---- rendering --------------------------------------------------------------- */

/* A label value as the exposition format wants it: \\, \" and \n escaped. */
static void put_escaped(FILE *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(out, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
}

static void put_label(FILE *out, bool *first, const char *key, const char *value)
{
	fputs(*first ? "{" : ",", out);
	*first = false;
	fprintf(out, "%s=\"", key);
	put_escaped(out, value);
	fputc('"', out);
}

static const char *attr(const struct prom_resource *r, const char *key)
{
	const char *v = frame_attr_get(&r->meta, key);

	return v ? v : "";
}

/* The labels every VM series carries, as the libvirt exporter names them. */
static void put_vm_labels(FILE *out, bool *first, const struct prom_resource *r)
{
	put_label(out, first, "domain", attr(r, "domain"));
	put_label(out, first, "uuid", r->id);
	put_label(out, first, "instance_name", attr(r, "name"));
	put_label(out, first, "project_uuid", attr(r, "project"));
	put_label(out, first, "project_name", attr(r, "project_name"));
	put_label(out, first, "flavor", attr(r, "flavor"));
}

/*
 * A frame's own labels ("class=default;device=vnet0") as exposition labels:
 * device becomes target_device, the exporter's name for a tap or a disk;
 * "part" is what picked the host family and is left out. Our label keys are
 * already [a-z_]; anything else would be replaced by '_'.
 */
static void put_frame_labels(FILE *out, bool *first, const char *labels)
{
	char buf[HV_LABELS_MAX], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", labels);
	for (char *kv = strtok_r(buf, ";", &save); kv; kv = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(kv, '=');

		if (!eq)
			continue;
		*eq = '\0';
		if (strcmp(kv, "part") == 0)
			continue;
		for (char *c = kv; *c; c++)
			if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_' ||
			      (c != kv && *c >= '0' && *c <= '9')))
				*c = '_';
		put_label(out, first, strcmp(kv, "device") == 0 ? "target_device" : kv, eq + 1);
	}
}

static void put_value(FILE *out, int64_t v, unsigned digits, int64_t mult)
{
	char num[48];

	if (mult != 1)
		v *= mult;
	scaled_format(v, digits, num, sizeof(num));
	fprintf(out, " %s\n", num);
}

static void put_head(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A plain agent-level sample with no labels. */
static void put_plain(FILE *out, const char *name, const char *type, const char *help, int64_t v,
		      unsigned digits)
{
	put_head(out, name, type, help);
	fputs(name, out);
	put_value(out, v, digits, 1);
}

static const char *frame_label_part(const char *labels)
{
	static const char key[] = "part=";
	const char *p = strstr(labels, key);

	return p && (p == labels || p[-1] == ';') ? p + sizeof(key) - 1 : "";
}

static bool part_is(const char *labels, const char *part)
{
	const char *p = frame_label_part(labels);
	size_t n = strlen(part);

	return strncmp(p, part, n) == 0 && (p[n] == '\0' || p[n] == ';');
}

static void render_vms(struct prom_metrics *pm, FILE *out)
{
	static const struct {
		const char *name, *help;
	} gauges[] = {
		{ "hvmeter_vm_info", "Domain metadata from libvirt and Nova (value 1)." },
		{ "hvmeter_vm_running", "1 while the domain runs, 0 for its last frame after it stopped." },
		{ "hvmeter_vm_virtual_cpus", "Current vCPUs of the domain." },
		{ "hvmeter_vm_memory_bytes", "Current memory of the domain, bytes." },
	};

	for (size_t g = 0; g < sizeof(gauges) / sizeof(gauges[0]); g++) {
		bool any = false;

		for (size_t i = 0; i < pm->n_res; i++) {
			const struct prom_resource *r = &pm->res[i];
			bool first = true;

			if (strcmp(r->id, "host") == 0 || (g > 0 && !r->in_table))
				continue;
			if (!any)
				put_head(out, gauges[g].name, "gauge", gauges[g].help);
			any = true;
			fputs(gauges[g].name, out);
			put_vm_labels(out, &first, r);
			if (g == 0) {
				put_label(out, &first, "user_uuid", attr(r, "user"));
				put_label(out, &first, "user_name", attr(r, "user_name"));
				put_label(out, &first, "root_uuid", attr(r, "image"));
				fputs("} 1\n", out);
				continue;
			}
			fputc('}', out);
			put_value(out, g == 1 ? r->running : g == 2 ? (int64_t)r->vcpus
								: (int64_t)r->memory_kib * 1024, 0, 1);
		}
	}
	for (size_t k = 0; k < sizeof(vm_families) / sizeof(vm_families[0]); k++) {
		const struct family *fam = &vm_families[k];
		bool any = false;

		for (size_t i = 0; i < pm->n_res; i++) {
			const struct prom_resource *r = &pm->res[i];

			if (strcmp(r->id, "host") == 0)
				continue;
			for (size_t j = 0; j < r->n_s; j++) {
				const struct prom_series *s = &r->s[j];
				bool first = true;

				if (strcmp(s->metric, fam->metric))
					continue;
				if (!any)
					put_head(out, fam->name, fam->type, fam->help);
				any = true;
				fputs(fam->name, out);
				put_vm_labels(out, &first, r);
				put_frame_labels(out, &first, s->labels);
				fputc('}', out);
				put_value(out, s->value, fam->digits, fam->mult);
			}
		}
	}
}

static void render_host(struct prom_metrics *pm, FILE *out)
{
	const struct prom_resource *host = NULL;

	for (size_t i = 0; i < pm->n_res; i++)
		if (strcmp(pm->res[i].id, "host") == 0)
			host = &pm->res[i];
	if (!host)
		return;
	for (size_t k = 0; k < sizeof(host_families) / sizeof(host_families[0]); k++) {
		const struct family *fam = &host_families[k];
		bool any = false;

		for (size_t j = 0; j < host->n_s; j++) {
			const struct prom_series *s = &host->s[j];
			bool first = true;

			if (strcmp(s->metric, fam->metric) || !part_is(s->labels, fam->part))
				continue;
			if (!any)
				put_head(out, fam->name, fam->type, fam->help);
			any = true;
			fputs(fam->name, out);
			put_frame_labels(out, &first, s->labels);
			if (!first)
				fputc('}', out);
			put_value(out, s->value, fam->digits, fam->mult);
		}
	}
}

static void render_bpf(FILE *out, const struct sampler_health *src)
{
	static const char *const progs[] = { "cpu_switch", "disk_bio_queue", "net_tc" };
	const bool att[] = { src->cpu_bpf, src->disk_bpf, src->net_bpf };
	const bool pin[] = { src->cpu_pinned, src->disk_pinned, src->net_pinned };

	put_head(out, "hvmeter_bpf_program_attached", "gauge",
		 "1 when the BPF program is loaded and attached by this agent.");
	for (int i = 0; i < 3; i++)
		fprintf(out, "hvmeter_bpf_program_attached{program=\"%s\"} %d\n", progs[i], att[i]);
	put_head(out, "hvmeter_bpf_program_pinned", "gauge",
		 "1 when the program's pin is in bpf_pin_dir, so counting survives an agent restart.");
	for (int i = 0; i < 3; i++)
		fprintf(out, "hvmeter_bpf_program_pinned{program=\"%s\"} %d\n", progs[i], att[i] && pin[i]);
}

static void render_agent(struct prom_metrics *pm, FILE *out)
{
	const struct prom_health *h = &pm->health;
	size_t vms = 0, running = 0;

	put_head(out, "hvmeter_build_info", "gauge", "The agent's version (value 1).");
	fputs("hvmeter_build_info{version=\"", out);
	put_escaped(out, pm->version);
	fputs("\"} 1\n", out);
	put_plain(out, "hvmeter_frames_committed_total", "counter",
		  "Frames committed to the ledger since the agent started.", (int64_t)pm->updates, 0);
	if (pm->frame_end_ns) {
		put_plain(out, "hvmeter_last_frame_end_timestamp_seconds", "gauge",
			  "End of the last committed frame, seconds since the epoch.", pm->frame_end_ns, 9);
		put_plain(out, "hvmeter_last_frame_interval_seconds", "gauge",
			  "Length of the last committed frame, seconds.",
			  pm->frame_end_ns - pm->frame_start_ns, 9);
		put_plain(out, "hvmeter_last_frame_tick_seconds", "gauge",
			  "Time the agent took to make and commit the last frame, seconds.", h->tick_ns, 9);
	}
	for (size_t i = 0; i < pm->n_res; i++)
		if (pm->res[i].in_table) {
			vms++;
			running += pm->res[i].running;
		}
	put_plain(out, "hvmeter_vms", "gauge", "Domains the agent meters (running or just stopped).",
		  (int64_t)vms, 0);
	put_plain(out, "hvmeter_vms_running", "gauge", "Running domains.", (int64_t)running, 0);
	if (pm->have_src) {
		put_plain(out, "hvmeter_libvirt_connected", "gauge",
			  "1 while the agent's libvirt connection is up.", pm->src.libvirt_connected, 0);
		render_bpf(out, &pm->src);
		put_plain(out, "hvmeter_taps", "gauge", "Tap devices named in the domains' XML.",
			  pm->src.taps_wanted, 0);
		put_plain(out, "hvmeter_taps_attached", "gauge",
			  "Tap devices with the agent's traffic counters on them.", pm->src.taps_attached, 0);
	}
	if (pm->frame_end_ns)
		put_plain(out, "hvmeter_ledger_last_seq", "gauge",
			  "Sequence number of the newest frame in the ledger.", (int64_t)h->last_seq, 0);
	if (h->have_ledger) {
		static const struct {
			unsigned flag;
			const char *name;
		} conds[] = { { STORE_COND_FULL, "full" }, { STORE_COND_FS_LIMITED, "fs_limited" },
			      { STORE_COND_MERGED, "merged" }, { STORE_COND_PRUNED_EARLY, "pruned_early" } };

		put_plain(out, "hvmeter_ledger_frames", "gauge", "Frames kept in the local ledger.",
			  (int64_t)h->frames_kept, 0);
		put_plain(out, "hvmeter_ledger_used_bytes", "gauge", "Pages the ledger's databases hold, bytes.",
			  (int64_t)h->ring_used_bytes, 0);
		put_plain(out, "hvmeter_ledger_capacity_bytes", "gauge",
			  "What the ledger can grow to now (map size or file system), bytes.",
			  (int64_t)h->ring_capacity_bytes, 0);
		put_head(out, "hvmeter_ledger_condition", "gauge",
			 "1 while the ring is in that condition: full (deltas wait in the baselines), "
			 "fs_limited, merged (unacknowledged frames merged), pruned_early.");
		for (size_t i = 0; i < sizeof(conds) / sizeof(conds[0]); i++)
			fprintf(out, "hvmeter_ledger_condition{condition=\"%s\"} %d\n", conds[i].name,
				(h->ledger_condition & conds[i].flag) != 0);
	}
	if (h->uplink >= 0 && h->have_ack) {
		put_plain(out, "hvmeter_uplink_acked_seq", "gauge",
			  "Highest sequence number the rater acknowledged.", (int64_t)h->ack_seq, 0);
		put_plain(out, "hvmeter_uplink_ack_lag_frames", "gauge",
			  "Frames committed and not yet acknowledged by the rater.",
			  (int64_t)(h->last_seq > h->ack_seq ? h->last_seq - h->ack_seq : 0), 0);
	}
	if (h->uplink >= 0)
		put_plain(out, "hvmeter_uplink_connected", "gauge",
			  "1 while the uplink holds a TLS session with the rater.", h->uplink, 0);
	if (h->bmc) {
		put_plain(out, "hvmeter_bmc_up", "gauge", "1 when the last BMC power read succeeded.",
			  h->bmc_ok, 0);
		if (h->bmc_last_read_ns)
			put_plain(out, "hvmeter_bmc_last_read_timestamp_seconds", "gauge",
				  "Time of the last good BMC power read, seconds since the epoch.",
				  h->bmc_last_read_ns, 9);
		put_plain(out, "hvmeter_bmc_read_latency_seconds", "gauge",
			  "Latency of the last good BMC power read, seconds.", h->bmc_latency_us, 6);
		put_plain(out, "hvmeter_bmc_reads_total", "counter", "Good BMC power reads.",
			  (int64_t)h->bmc_reads, 0);
		put_plain(out, "hvmeter_bmc_failures_total", "counter",
			  "Failed BMC connections and reads.", (int64_t)h->bmc_failures, 0);
	}
}

static int render(struct prom_metrics *pm)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	int err = 0;

	if (!out)
		return -ENOMEM;
	render_agent(pm, out);
	render_host(pm, out);
	render_vms(pm, out);
	if (ferror(out))
		err = -ENOMEM;
	if (fclose(out) != 0 && !err)
		err = -ENOMEM;
	if (err) {
		free(buf);
		return err;
	}
	pthread_mutex_lock(&pm->mu);
	free(pm->text);
	pm->text = buf;
	pm->text_len = len;
	pthread_mutex_unlock(&pm->mu);
	return 0;
}

int prom_metrics_update(struct prom_metrics *pm, const struct frame *f, struct vm *const *vms,
			size_t n_vms, const struct prom_health *h, struct store *st)
{
	struct prom_resource *hint = NULL;
	size_t out = 0;
	int err;

	if (f) {
		pm->updates++;
		pm->frame_start_ns = f->start_ns;
		pm->frame_end_ns = f->end_ns;
	}
	for (size_t i = 0; i < pm->n_res; i++)
		pm->res[i].in_table = false;
	for (size_t i = 0; i < n_vms; i++) {
		struct prom_resource *r = resource_get(pm, vms[i]->uuid, &hint);

		if (!r)
			return -ENOMEM;
		r->meta = vms[i]->meta;
		r->in_table = true;
		r->running = vms[i]->running;
		r->vcpus = vms[i]->vcpus;
		r->memory_kib = vms[i]->memory_kib;
		r->seen = pm->updates;
	}
	if (f && (err = add_frame(pm, f, st)))
		return err;
	/* a VM neither in the table nor in this frame is gone: its series go too */
	for (size_t i = 0; i < pm->n_res; i++) {
		if (pm->res[i].seen != pm->updates && strcmp(pm->res[i].id, "host") != 0) {
			free(pm->res[i].s);
			continue;
		}
		pm->res[out++] = pm->res[i];
	}
	pm->n_res = out;
	if (h) {
		pm->health = *h;
		pm->have_src = h->src != NULL;
		if (h->src)
			pm->src = *h->src;
		pm->health.src = NULL; /* the caller's; copied above */
	}
	return render(pm);
}

int prom_metrics_snapshot(struct prom_metrics *pm, char **out, size_t *len)
{
	int err = 0;

	pthread_mutex_lock(&pm->mu);
	*out = malloc(pm->text_len + 1);
	if (*out) {
		memcpy(*out, pm->text, pm->text_len);
		(*out)[pm->text_len] = '\0';
		*len = pm->text_len;
	} else {
		err = -ENOMEM;
	}
	pthread_mutex_unlock(&pm->mu);
	return err;
}
