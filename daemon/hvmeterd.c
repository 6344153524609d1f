/*
 * hvmeterd — the metering agent: wires config, BPF, store, discovery and
 * sampler together and runs libvirt's event loop. Each concern lives in its
 * own file; this one only decides order and exit codes.
 */
#include "daemon/agent.h"
#include "daemon/config.h"
#include "daemon/cpu_bpf.h"
#include "daemon/disk_bpf.h"
#include "daemon/netclass.h"
#include "daemon/netmeter.h"
#include "daemon/energy_meter.h"
#include "daemon/log.h"
#include "daemon/uplink.h"
#include "daemon/privilege.h"
#include "daemon/prom_http.h"
#include "daemon/prom_metrics.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <libvirt/libvirt.h>

#define DEFAULT_CONFIG "/etc/hvmeter/hvmeterd.conf"

static volatile int stop_requested;

struct agent {
	struct uplink *uplink;
	struct config cfg;
	struct store *store;
	struct cpu_bpf *bpf;
	struct disk_bpf *disk;
	struct netmeter *net;
	struct energy_meter *energy;
	/* SIGHUP's new [bmc] settings: energy_next (NULL: none) takes over right
	 * after the next committed frame, so no interval has two readers or none */
	struct energy_meter *energy_next;
	bool energy_swap;
	struct discovery *disc;
	struct sampler *sampler;
	struct prom_metrics *prom;   /* NULL: no Prometheus endpoint */
	struct prom_http *prom_http;
	int64_t tick_start_ns;
	const char *config_path;
	int sig_fd, timer_fd, lock_fd;
	int failed;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: hvmeterd [-c FILE] [-f] [-n] [-V]\n"
		"  -c FILE  configuration file (default " DEFAULT_CONFIG ")\n"
		"  -f       stay in the foreground and log to stderr\n"
		"  -n       check the configuration, print it in canonical form, exit\n"
		"  -V       print the version and exit (also --version)\n"
		"  -h       print this help (also --help)\n");
}

/* One clear line on stderr for start-up failures, whatever the log target. */
static void die_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die_line(const char *fmt, ...)
{
	va_list ap;

	fputs("hvmeterd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int libbpf_to_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[512];

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_debug("libbpf: %s", buf);
	return 0;
}

/* Sets the timer to fire at every multiple of the interval of wall-clock time,
 * so frames of all hosts share boundaries (:00, :10, ...). */
static int timer_arm(int fd, uint32_t interval)
{
	struct itimerspec its = { 0 };
	int64_t now = realtime_ns(), step = (int64_t)interval * 1000000000;
	int64_t next = (now / step + 1) * step;

	its.it_value.tv_sec = next / 1000000000;
	its.it_value.tv_nsec = next % 1000000000;
	its.it_interval.tv_sec = interval;
	return timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) < 0 ? -errno : 0;
}

/*
 * Right after a committed frame the old BMC reader's energy is all in the
 * ledger. The new reader has polled since the SIGHUP; what it integrated
 * so far covers time the old one already billed, so it is dropped and the
 * new one counts from now. Returns the old reader, to close outside the
 * store lock (closing waits for a BMC call in progress).
 */
static struct energy_meter *energy_swap(struct agent *a)
{
	struct energy_meter *old = a->energy;

	if (a->energy_next) {
		struct energy_take t;

		energy_meter_take(a->energy_next, &t);
		energy_meter_committed(a->energy_next);
	}
	a->energy = a->energy_next;
	a->energy_next = NULL;
	a->energy_swap = false;
	sampler_set_energy(a->sampler, a->energy);
	log_info("BMC: new settings in force from this frame on (%s)",
		 a->energy ? "energy metered" : "driver none: no energy metering");
	return old;
}

static void on_timer(int watch, int fd, int events, void *opaque)
{
	struct agent *a = opaque;
	struct energy_meter *retired = NULL;
	uint64_t expirations;

	if (read(fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return;
	/* the uplink's store writes are serialised with ours (store.h) */
	uplink_store_lock(a->uplink);
	a->tick_start_ns = realtime_ns();
	if (sampler_tick(a->sampler, a->tick_start_ns) == 0 && a->energy_swap)
		retired = energy_swap(a);
	uplink_store_unlock(a->uplink);
	energy_meter_close(retired);
	uplink_notify(a->uplink);
}

/* The sampler's publish step: the Prometheus snapshot follows every frame. */
static void on_frame(void *arg, const struct frame *f, struct vm *const *vms, size_t n_vms,
		     const struct sampler_health *health, const char *status)
{
	struct agent *a = arg;
	struct prom_feed_sources src = { .st = a->store, .energy = a->energy,
					 .tick_start_ns = a->tick_start_ns };
	int err = prom_feed_frame(a->prom, &src, f, vms, n_vms, health, status);

	if (err)
		log_warn("prometheus: metrics not updated for frame %" PRIu64 ": %s", f->seq,
			 strerror(-err));
}

static void on_links(int watch, int fd, int events, void *opaque)
{
	netmeter_process(opaque);
}

/* Traffic classes: the class file in force is read again (its path is a
 * restart key). Counting never stops; a bad file changes nothing. */
static bool reload_classes(struct agent *a)
{
	char err[CONFIG_ERR_MAX];

	if (!a->net) {
		log_info("SIGHUP: no traffic classes to reload (network metering is off)");
		return false;
	}
	if (netmeter_reload(a->net, err, sizeof(err))) {
		log_err("SIGHUP: class file refused, previous classes stay in force: %s", err);
		return false;
	}
	log_info("SIGHUP: traffic classes reloaded (%s)", netmeter_classes_id(a->net));
	return true;
}

/* Appends ", @item" (or @item to an empty list); a list that would not fit is cut. */
static void list_add(char *list, size_t len, const char *item)
{
	size_t used = strlen(list);

	snprintf(list + used, len - used, "%s%s", used ? ", " : "", item);
}

/* A new BMC reader starts now and takes over after the next frame (energy_swap). */
static bool reload_bmc(struct agent *a, const struct config *next, const char *keys)
{
	struct energy_meter *m = NULL;
	char err[CONFIG_ERR_MAX];
	int rc;

	/* the SDR cache stays in the store in force, whatever the new file says */
	rc = energy_meter_open(&m, next, a->cfg.store, err, sizeof(err));
	if (rc) {
		log_err("SIGHUP: BMC settings refused, the ones in force stay: %s", err);
		return false;
	}
	energy_meter_close(a->energy_next); /* an earlier SIGHUP's, not in force yet */
	a->energy_next = m;
	a->energy_swap = true;
	config_apply(&a->cfg, next, CONFIG_APPLY_BMC);
	log_info("SIGHUP: BMC settings reloaded ([bmc] %s changed); the new reader takes over after "
		 "the next frame", keys);
	return true;
}

/*
 * SIGHUP: the whole file is read and checked first; a bad one changes
 * nothing. Then the log level, the [bmc] settings and the traffic classes
 * are applied without losing a count; every other changed key is named as
 * needing a restart and left as it is (a->cfg keeps the value in force).
 */
#define RELOAD_CHANGES_MAX 64 /* more than the file has keys */
static void reload(struct agent *a)
{
	struct config *next = calloc(1, sizeof(*next));
	struct config_change *ch = calloc(RELOAD_CHANGES_MAX, sizeof(*ch));
	char err[CONFIG_ERR_MAX], bmc_keys[512] = "", done[160] = "";
	size_t restart = 0;
	bool log_changed = false;
	int n;

	if (!next || !ch) {
		log_err("SIGHUP: out of memory: nothing reloaded");
		goto out;
	}
	if (config_load(next, a->config_path, err)) {
		log_err("SIGHUP: configuration refused, nothing changed: %s", err);
		goto out;
	}
	n = config_diff(&a->cfg, next, ch, RELOAD_CHANGES_MAX);
	if (n < 0) {
		log_err("SIGHUP: cannot compare the configurations: %s; nothing changed", strerror(-n));
		goto out;
	}
	for (int i = 0; i < n && i < RELOAD_CHANGES_MAX; i++) {
		const struct config_change *c = &ch[i];

		if (c->apply == CONFIG_APPLY_LOG) {
			log_changed = true;
		} else if (c->apply == CONFIG_APPLY_BMC) {
			list_add(bmc_keys, sizeof(bmc_keys), c->key);
		} else {
			restart++;
			log_warn("SIGHUP: [%s] %s changed ('%s' -> '%s'): needs a restart, not applied",
				 c->section, c->key, c->before, c->after);
		}
	}
	if (n > RELOAD_CHANGES_MAX) {
		restart += (size_t)(n - RELOAD_CHANGES_MAX);
		log_warn("SIGHUP: %d more changed keys not listed: a restart applies them", n - RELOAD_CHANGES_MAX);
	}
	if (log_changed) {
		enum log_level was = a->cfg.log_level, now = next->log_level;

		/* said at the more verbose of the two levels, so it is seen either way */
		log_set_level(was > now ? was : now);
		log_info("SIGHUP: log level reloaded (%s -> %s)", log_level_name(was), log_level_name(now));
		config_apply(&a->cfg, next, CONFIG_APPLY_LOG);
		log_set_level(now);
		list_add(done, sizeof(done), "log level");
	}
	if (bmc_keys[0] && reload_bmc(a, next, bmc_keys))
		list_add(done, sizeof(done), "BMC settings");
	if (reload_classes(a))
		list_add(done, sizeof(done), "traffic classes");
	log_info("SIGHUP: reloaded: %s; %zu changed key%s need%s a restart", done[0] ? done : "nothing",
		 restart, restart == 1 ? "" : "s", restart == 1 ? "s" : "");
out:
	free(ch);
	free(next);
}

static void on_signal(int watch, int fd, int events, void *opaque)
{
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGHUP) {
		reload(opaque);
		return;
	}
	log_info("signal %u: stopping", si.ssi_signo);
	stop_requested = 1;
}

/*
 * One writer per store: two agents on one ledger would each keep their own
 * baselines and bill the same counters twice. The lock lives as long as the
 * process (flock is released by the kernel even on SIGKILL).
 */
static int store_lock(struct agent *a)
{
	char path[CONFIG_PATH_MAX + 32], pid[32] = "";
	ssize_t n;

	if (mkdir(a->cfg.store, 0750) < 0 && errno != EEXIST) {
		die_line("cannot create store directory %s: %s", a->cfg.store, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/hvmeterd.lock", a->cfg.store);
	a->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (a->lock_fd < 0) {
		die_line("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(a->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		n = pread(a->lock_fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		die_line("store %s is in use by another hvmeterd (pid %s)", a->cfg.store,
			 pid[0] ? pid : "unknown");
		return -1;
	}
	return 0;
}

/* The pid goes in after daemon(), which changes it. */
static void store_lock_note_pid(struct agent *a)
{
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());

	if (ftruncate(a->lock_fd, 0) == 0 && pwrite(a->lock_fd, pid, (size_t)n, 0) != n)
		log_warn("cannot write pid to the store lock file");
}

/* CPU from BPF or libvirt; the host disk view from BPF or not at all. */
static int sources_open(struct agent *a, char *note, size_t len)
{
	char cpu[768], disk[768];
	int err;

	if (a->cfg.bpf == BPF_OFF) {
		snprintf(note, len, "cpu=libvirt (bpf = off in config)\ndisk.host=off (bpf = off in config)");
		return 0;
	}
	libbpf_set_print(libbpf_to_log);
	err = cpu_bpf_open(&a->bpf, a->cfg.bpf_pin_dir);
	if (err) {
		if (a->cfg.bpf == BPF_ON) {
			die_line("cannot load the BPF CPU program (bpf = on): %s", strerror(-err));
			return err;
		}
		log_warn("BPF unavailable (%s): CPU time comes from libvirt's domain stats",
			 strerror(-err));
		snprintf(cpu, sizeof(cpu), "libvirt (fallback: BPF unavailable: %s)", strerror(-err));
	} else {
		snprintf(cpu, sizeof(cpu), "bpf (tp_btf/sched_switch, pinned in %s, %s)",
			 a->cfg.bpf_pin_dir,
			 cpu_bpf_reused(a->bpf) ? "counting continued across restart" : "freshly loaded");
	}
	err = a->bpf ? disk_bpf_open(&a->disk, a->cfg.bpf_pin_dir) : -EPERM;
	if (err) {
		log_warn("host disk view unavailable (%s): billed disk I/O still comes from QEMU",
			 strerror(-err));
		snprintf(disk, sizeof(disk), "unavailable (%s)", strerror(-err));
	} else {
		snprintf(disk, sizeof(disk), "bpf (tp_btf/block_bio_queue by blkcg, %s)",
			 disk_bpf_reused(a->disk) ? "counting continued across restart" : "freshly loaded");
	}
	if (a->bpf) {
		char nerr[CONFIG_ERR_MAX];

		err = netmeter_open(&a->net, a->cfg.bpf_pin_dir, a->cfg.net_classes, nerr, sizeof(nerr));
		if (err == -EINVAL) { /* the class file itself is wrong: a config error */
			die_line("%s", nerr);
			return err;
		}
		if (err)
			log_warn("network metering unavailable: %s", nerr);
	}
	snprintf(note, len, "cpu=%s\ndisk.host=%s", cpu, disk);
	log_info("sources: CPU %s; host disk view %s; network %s", cpu, disk,
		 a->net ? netmeter_classes_id(a->net) : "unavailable");
	return 0;
}

static int fds_open(struct agent *a)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	a->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (a->sig_fd < 0)
		return -errno;
	a->timer_fd = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK);
	if (a->timer_fd < 0)
		return -errno;
	if (virEventAddHandle(a->sig_fd, VIR_EVENT_HANDLE_READABLE, on_signal, a, NULL) < 0 ||
	    virEventAddHandle(a->timer_fd, VIR_EVENT_HANDLE_READABLE, on_timer, a, NULL) < 0)
		return -EIO;
	if (a->net && virEventAddHandle(netmeter_fd(a->net), VIR_EVENT_HANDLE_READABLE, on_links,
					a->net, NULL) < 0)
		return -EIO;
	return timer_arm(a->timer_fd, a->cfg.interval);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "version", no_argument, NULL, 'V' }, { "help", no_argument, NULL, 'h' }, { 0 },
	};
	struct agent a = { .sig_fd = -1, .timer_fd = -1, .lock_fd = -1 };
	const char *config_path = DEFAULT_CONFIG;
	char err_msg[CONFIG_ERR_MAX], v2[HV_PATH_MAX], note[2048];
	bool foreground = false, check_only = false;
	struct store_opts so = { 0 };
	int opt, err;

	while ((opt = getopt_long(argc, argv, "c:fnVh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': config_path = optarg; break;
		case 'f': foreground = true; break;
		case 'n': check_only = true; break;
		case 'V': printf("hvmeterd %s\n", HV_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (config_load(&a.cfg, config_path, err_msg)) {
		die_line("%s", err_msg);
		return 1;
	}
	a.config_path = config_path;
	if (check_only) {
		if (a.cfg.net_classes[0]) {
			struct netclass *nc = NULL;

			if (netclass_load(a.cfg.net_classes, NULL, &nc, err_msg, sizeof(err_msg))) {
				die_line("%s", err_msg);
				return 1;
			}
			netclass_free(nc);
		}
		config_print(&a.cfg, stdout);
		return 0;
	}
	log_init("hvmeterd", a.cfg.log_level, !foreground);
	if (cgroup_v2_mount(v2, sizeof(v2))) {
		die_line("no cgroup v2 hierarchy is mounted: cannot attribute CPU to VMs");
		return 1;
	}
	if (store_lock(&a) || sources_open(&a, note, sizeof(note)))
		goto fail;
	so.max_bytes = a.cfg.store_max_bytes;
	so.retention_s = a.cfg.retention;
	so.host_id = a.cfg.host_id;
	err = store_open(&a.store, a.cfg.store, &so);
	if (err) {
		die_line("cannot open store %s: %s", a.cfg.store, store_strerror(err));
		goto fail;
	}
	if (virEventRegisterDefaultImpl() < 0) {
		die_line("cannot start libvirt's event loop");
		goto fail;
	}
	/* the BMC is read in its own thread: without it, metering goes on */
	err = energy_meter_open(&a.energy, &a.cfg, a.cfg.store, err_msg, sizeof(err_msg));
	if (err)
		log_err("%s", err_msg);
	err = discovery_open(&a.disc, &a.cfg, v2, err_msg, sizeof(err_msg));
	if (err) {
		die_line("%s", err_msg);
		goto fail;
	}
	{
		struct sampler_sources src = { .cpu = a.bpf, .disk = a.disk, .net = a.net,
					       .energy = a.energy, .note = note };

		err = sampler_open(&a.sampler, &a.cfg, a.store, a.disc, &src);
	}
	if (err) {
		die_line("cannot start the sampler: %s", store_strerror(err));
		goto fail;
	}
	/* the endpoint's socket now, while a port below 1024 could still be bound */
	if (a.cfg.prom_listen[0]) {
		if ((err = prom_metrics_new(&a.prom, HV_VERSION)) ||
		    (err = prom_http_open(&a.prom_http, a.cfg.prom_listen, a.prom, err_msg,
					  sizeof(err_msg)))) {
			die_line("%s", err == -ENOMEM ? "out of memory" : err_msg);
			goto fail;
		}
		sampler_set_publish(a.sampler, on_frame, &a);
	}
	if ((err = fds_open(&a))) {
		die_line("cannot set up signals and timer: %s", strerror(-err));
		goto fail;
	}
	{
		/* everything privileged is open: BPF loaded and pinned, store,
		 * libvirt. Keep CAP_NET_ADMIN for tc filters on taps that appear
		 * later; the BPF maps are used through fds we already hold. */
		static const int keep[] = { CAP_NET_ADMIN };

		err = privilege_drop(keep, sizeof(keep) / sizeof(keep[0]));
		if (err) {
			die_line("cannot drop privileges: %s", strerror(-err));
			goto fail;
		}
	}
	if (!foreground && daemon(0, 0) < 0) {
		die_line("cannot daemonize: %s", strerror(errno));
		goto fail;
	}
	store_lock_note_pid(&a);
	log_info("hvmeterd %s: host %s, interval %us, store %s", HV_VERSION, a.cfg.host_id,
		 a.cfg.interval, a.cfg.store);
	/* after daemon(): a fork keeps no threads */
	err = uplink_start(&a.uplink, &a.cfg.uplink, a.cfg.host_id, a.store, err_msg, sizeof(err_msg));
	if (err) {
		log_err("cannot start the uplink: %s", err_msg);
		goto fail;
	}
	sampler_set_uplink(a.sampler, a.uplink);
	if (a.prom_http) {
		if ((err = prom_http_start(a.prom_http))) {
			log_err("cannot start the prometheus endpoint: %s", strerror(-err));
			goto fail;
		}
		log_info("prometheus: serving /metrics on %s", prom_http_address(a.prom_http));
	}
	while (!stop_requested) {
		if (virEventRunDefaultImpl() < 0) {
			log_err("event loop failed");
			a.failed = 1;
			break;
		}
	}
	goto out;
fail:
	a.failed = 1;
out:
	uplink_stop(a.uplink); /* before the store it reads closes */
	prom_http_close(a.prom_http); /* serves only copies: any order, before its metrics */
	prom_metrics_free(a.prom);
	sampler_close(a.sampler);
	discovery_close(a.disc);
	store_close(a.store);
	energy_meter_close(a.energy);
	energy_meter_close(a.energy_next);
	netmeter_close(a.net);
	disk_bpf_close(a.disk);
	cpu_bpf_close(a.bpf);
	if (a.sig_fd >= 0)
		close(a.sig_fd);
	if (a.timer_fd >= 0)
		close(a.timer_fd);
	if (a.lock_fd >= 0)
		close(a.lock_fd);
	return a.failed ? 1 : 0;
}
