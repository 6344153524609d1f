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

#include <errno.h>
#include <getopt.h>
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

#define HVMETER_VERSION "0.1.0"
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
	struct discovery *disc;
	struct sampler *sampler;
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
		"  -V       print the version and exit\n");
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

static void on_timer(int watch, int fd, int events, void *opaque)
{
	struct agent *a = opaque;
	uint64_t expirations;

	if (read(fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return;
	/* the uplink's store writes are serialised with ours (store.h) */
	uplink_store_lock(a->uplink);
	sampler_tick(a->sampler, realtime_ns());
	uplink_store_unlock(a->uplink);
	uplink_notify(a->uplink);
}

static void on_links(int watch, int fd, int events, void *opaque)
{
	netmeter_process(opaque);
}

/* SIGHUP: traffic classes reload without losing a count; the rest of the
 * configuration needs a restart. */
static void reload(struct agent *a)
{
	char err[CONFIG_ERR_MAX];

	if (!a->net) {
		log_info("SIGHUP: no traffic classes to reload (network metering is off)");
		return;
	}
	if (netmeter_reload(a->net, err, sizeof(err)))
		log_err("SIGHUP: class file refused, previous classes stay in force: %s", err);
	else
		log_info("SIGHUP: traffic classes reloaded (%s)", netmeter_classes_id(a->net));
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
	struct agent a = { .sig_fd = -1, .timer_fd = -1, .lock_fd = -1 };
	const char *config_path = DEFAULT_CONFIG;
	char err_msg[CONFIG_ERR_MAX], v2[HV_PATH_MAX], note[2048];
	bool foreground = false, check_only = false;
	struct store_opts so = { 0 };
	int opt, err;

	while ((opt = getopt(argc, argv, "c:fnVh")) != -1) {
		switch (opt) {
		case 'c': config_path = optarg; break;
		case 'f': foreground = true; break;
		case 'n': check_only = true; break;
		case 'V': printf("hvmeterd %s\n", HVMETER_VERSION); return 0;
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
	log_info("hvmeterd %s: host %s, interval %us, store %s", HVMETER_VERSION, a.cfg.host_id,
		 a.cfg.interval, a.cfg.store);
	/* after daemon(): a fork keeps no threads */
	err = uplink_start(&a.uplink, &a.cfg.uplink, a.cfg.host_id, a.store, err_msg, sizeof(err_msg));
	if (err) {
		log_err("cannot start the uplink: %s", err_msg);
		goto fail;
	}
	sampler_set_uplink(a.sampler, a.uplink);
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
	sampler_close(a.sampler);
	discovery_close(a.disc);
	store_close(a.store);
	energy_meter_close(a.energy);
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
