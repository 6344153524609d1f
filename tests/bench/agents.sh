#!/usr/bin/env bash
# agents.sh — what each metering agent costs the hypervisor, on the same
# guests at the same interval, one after the other:
#   hvmeter     hvmeterd (BPF, libvirt events, a frame every 10 s) shipping
#               each frame over mutual TLS to an hvrater on loopback
#   ceilometer  Debian's ceilometer-polling --polling-namespaces compute
#               (libvirt_metadata discovery, 12 compute meters every 10 s),
#               its samples over Debian's RabbitMQ to ceilometer-agent-
#               notification writing them to a file; the Nova flavor lookup
#               answered by tests/bench/peers/nova_stub.py (requests counted)
#   exporter    Debian's prometheus-libvirt-exporter, scraped every 10 s
# For each agent: start it, let it warm up (BENCH_WARMUP s, 25), then
# BENCH_REPS (3) windows of BENCH_WINDOW s (60). Per window, from /proc:
#   CPU  of the agent's processes, in CPU seconds per hour: each agent runs
#        in a cgroup v2 of its own (joined before exec; hvmeterd right after
#        start), whose cpu.stat usage_usec counts every process and thread
#        it made, exited ones too, to the microsecond (utime+stime ticks
#        of 10 ms are too coarse for a minute of a frugal agent);
#        libvirtd's CPU (its threads' schedstat) in the same window minus its
#        rate in an idle window with no agent (what the agent made libvirtd
#        do); RSS of the tree at the window's end (steady) and the sum of
#        its processes' VmHWM (peak);
#   bytes produced per interval per VM: hvmeter the uplink bytes of its
#        frames (bench_wire size: batch encoding, signature, header);
#        Ceilometer the serialized samples (the file publisher's JSON);
#        the exporter its scrape bodies.
#   BPF  hvmeterd's programs run in the kernel on behalf of whatever task
#        switches, sends or writes, not in its cgroup: with
#        kernel.bpf_stats_enabled=1 during its windows (restored after),
#        their run_time_ns (found through its pins) is reported as
#        bpf_cpu_s_per_hour and counted in its total by the report.
# The bus (RabbitMQ) and the notification agent are reported separately
# (they run off the hypervisor in a real deployment), as is the rater.
#
# Guests: BENCH_GUESTS (8) TCG guests hvb-<tag>-N: guest 0 burns its vCPU,
# guest 1 writes and reads its disk once, guest 2 pings a peer in a network
# namespace every 0.2 s, the others idle. All have a disk and a NIC.
# BENCH_AGENTS ("hvmeter ceilometer exporter") picks the agents.
# Output, one line per window (the aggregator reads these):
#   agent NAME rep=R guests=N domains=N secs=X cpu_s=X cpu_s_per_hour=X
#         libvirtd_cpu_s_per_hour=X rss_kb=N hwm_kb=N bytes_per_interval_per_vm=X
#         [bpf_cpu_s_per_hour=X]   (hvmeter)
#   side NAME rep=R cpu_s_per_hour=X rss_kb=N         (bus, notification, rater)
#   wire rep=R frames=N deltas=N bytes=N bytes_per_delta=X
#   nova_requests N (METHOD PATH COUNT ...)
#   libvirtd_idle cpu_s_per_hour=X
# Needs root, libvirtd (started by tests/lib/libvirt.sh lv_up), the guest
# image (tests/guest/build.sh). Removes everything it made on exit.
set -u
cd "$(dirname "$0")/../.."
REPO=$(pwd)
B=${HV_BUILD:-build}
GUESTS=${BENCH_GUESTS:-8}
WINDOW=${BENCH_WINDOW:-60}
REPS=${BENCH_REPS:-3}
WARMUP=${BENCH_WARMUP:-25}
AGENTS=${BENCH_AGENTS:-hvmeter ceilometer exporter}
INTERVAL=10
TAG=$$
T=$(mktemp -d /var/tmp/hvb-agents.XXXXXX)
chmod 755 "$T"
export HV_BUILD=$B HV_TMP=$T LV_DIR=$T
. tests/lib/libvirt.sh
. tests/lib/netns.sh
. tests/lib/certs.sh
. tests/lib/agent.sh
. tests/lib/uplink.sh
PEER_DIR=$T/peers
mkdir -p "$PEER_DIR"
. tests/bench/peers/peers.sh
NS=hvb-ns$((TAG % 100000)) BR=hvbbr$((TAG % 100000))
SCRAPE_PID=
OLD_BPF_STATS=
CG_MOUNT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
PEER_CG=${CG_MOUNT:+$CG_MOUNT/hvb-bench-$TAG}

say() { printf '%s\n' "$*"; }
note() { printf '# %s\n' "$*"; }
die() { say "agents: $*" >&2; exit 1; }

cleanup() {
	[ -n "$SCRAPE_PID" ] && kill "$SCRAPE_PID" 2>/dev/null
	[ -n "$OLD_BPF_STATS" ] && sysctl -qw kernel.bpf_stats_enabled="$OLD_BPF_STATS"
	agent_cleanup
	rater_stop KILL
	peer_stop_all
	lv_cleanup "hvb-$TAG-"
	ns_down "$NS" "$BR" 2>/dev/null
	# the cgroups are empty once their processes are gone
	[ -n "$PEER_CG" ] && [ -d "$PEER_CG" ] && rmdir "$PEER_CG"/* "$PEER_CG" 2>/dev/null
	[ -n "${HV_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" -eq 0 ] || { say "skip: agents.sh needs root"; exit 77; }
# A Debian install on a host with a running init starts these as services:
# they would meter (and load libvirtd) alongside the agent being measured.
for p in ceilometer-polling ceilometer-agent-notification prometheus-libvirt-exporter; do
	pgrep -f "/usr/bin/$p" >/dev/null && note "warning: a $p not started here runs on this host (pids $(pgrep -f "/usr/bin/$p" | tr '\n' ' ')): stop it for clean figures"
done
others=$(pgrep -x hvmeterd | tr '\n' ' ')
[ -z "$others" ] || note "other hvmeterd processes run on this host (pids $others): they meter our guests too; their libvirt calls fall in libvirtd's idle baseline"
[ -x "$B/bin/hvmeterd" ] || die "no $B/bin/hvmeterd (make O=$B all)"
[ -n "$CG_MOUNT" ] && mkdir "$PEER_CG" || die "no cgroup v2 to account the agents' CPU in"
bash tests/bench/build.sh "$B" || die "cannot build the bench programs"

# ---- /proc accounting --------------------------------------------------------------

# The pids of ROOT... and all their descendants.
tree_pids() {
	ps -e -o pid=,ppid= | awk -v roots="$*" '
		BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) if (r[i] != "") want[r[i]] = 1 }
		{ parent[$1] = $2; order[NR] = $1 }
		END {
			do {
				more = 0
				for (i = 1; i <= NR; i++) { p = order[i]; if (!(p in want) && (parent[p] in want)) { want[p] = 1; more = 1 } }
			} while (more)
			for (p in want) print p
		}'
}

# "PID TICKS RSS_KB HWM_KB" for every pid of the trees of ROOT...; TICKS is
# utime+stime+cutime+cstime (children that exited and were waited for).
tree_snapshot() {
	local p
	for p in $(tree_pids "$@"); do
		[ -r "/proc/$p/stat" ] || continue
		awk -v pid="$p" '
			FNR == 1 && FILENAME ~ /stat$/ { sub(/.*\) /, ""); split($0, f, " "); t = f[12] + f[13] + f[14] + f[15] }
			/^VmRSS:/ { rss = $2 } /^VmHWM:/ { hwm = $2 }
			END { printf "%s %d %d %d\n", pid, t, rss, hwm }' "/proc/$p/stat" "/proc/$p/status" 2>/dev/null
	done
}

# cpu seconds between two snapshots (pids new in the second count from 0)
snap_cpu_s() {
	awk -v hz="$(getconf CLK_TCK)" 'NR == FNR { t0[$1] = $2; next } { d += $2 - ($1 in t0 ? t0[$1] : 0) }
		END { printf "%.3f\n", d / hz }' "$1" "$2"
}
# CPU microseconds a cgroup (PEER_CG/NAME) has used, all its processes included
cg_usec() { awk '$1 == "usage_usec" { print $2 }' "$PEER_CG/$1/cpu.stat" 2>/dev/null || echo 0; }
# moves a running process (all its threads) into PEER_CG/NAME
cg_join() { mkdir -p "$PEER_CG/$1" && echo "$2" >"$PEER_CG/$1/cgroup.procs"; }
cg_cpu_s() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", (b - a) / 1e6 }'; }
snap_rss() { awk '{ r += $3 } END { print r + 0 }' "$1"; }
snap_hwm() { awk '{ h += $4 } END { print h + 0 }' "$1"; }
per_hour() { awk -v c="$1" -v s="$2" 'BEGIN { printf "%.1f\n", (s > 0 ? c * 3600 / s : 0) }'; }
now_s() { date +%s.%N; }

libvirtd_pid() { cat /run/libvirtd.pid 2>/dev/null || pgrep -xo libvirtd; }
# libvirtd's on-CPU nanoseconds, summed over its threads (schedstat): its
# worker pool lives as long as it does, and ticks of 10 ms are too coarse
# for what a frugal agent asks of it in a minute
libvirtd_ns() { cat /proc/"$(libvirtd_pid)"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
# run_time_ns of the BPF programs behind the links and programs pinned in DIR
bpf_run_ns() {
	local f id
	for f in "$1"/*; do
		id=$(bpftool -j link show pinned "$f" 2>/dev/null | jq -r '.prog_id // empty' 2>/dev/null)
		[ -n "$id" ] || id=$(bpftool -j prog show pinned "$f" 2>/dev/null | jq -r '.id // empty' 2>/dev/null)
		[ -n "$id" ] && echo "$id"
	done | sort -u | while read -r id; do
		bpftool -j prog show id "$id" 2>/dev/null | jq -r '.run_time_ns // 0'
	done | awk '{ s += $1 } END { printf "%.0f\n", s }'
}
ns_cpu_s() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }'; }
domains() { lv_virsh list --name 2>/dev/null | grep -c .; }

# ---- guests -------------------------------------------------------------------------

boot_guests() {
	local i n opts=() t0=$SECONDS
	ns_up "$NS" "$BR" 10.99.77.1/24 || die "cannot make the peer namespace"
	for i in $(seq 0 $((GUESTS - 1))); do
		n=hvb-$TAG-$i
		opts=(dir="$T" disksize=64 bridge="$BR" tap="hvb$((TAG % 10000))t$i")
		case $i in
		0) opts+=(burn=100000) ;;
		1) opts+=(disk=write:48,read:48) ;;
		2) opts+=(ip=10.99.77.10/24 net=10.99.77.1:1000000:500 netint=0.2) ;;
		*) opts+=(sleep=100000) ;;
		esac
		lv_guest_start "$n" flavor=m1.small "${opts[@]}" >/dev/null || die "cannot start guest $n"
	done
	for i in $(seq 0 $((GUESTS - 1))); do
		lv_guest_wait "hvb-$TAG-$i" "HV: READY" 180 >/dev/null || die "guest hvb-$TAG-$i did not boot"
	done
	note "$GUESTS guests up in $((SECONDS - t0)) s; $(domains) domains on this host in all"
}

# ---- one agent: warm up, then REPS windows --------------------------------------------

# measure NAME CGROUP ROOTPID... : the windows, one "agent" line each
# (CPU from the cgroup, memory from the process trees); runs
# window_hook_start / window_hook_end REP around each window.
measure() {
	local name=$1 cg=$2 r t0 t1 secs cpu lcpu dom c0 c1 l0 l1 b0= b1= bpf=
	shift 2
	sleep "$WARMUP"
	for r in $(seq 1 "$REPS"); do
		window_hook_start "$r"
		tree_snapshot "$@" >"$T/s0"
		l0=$(libvirtd_ns)
		c0=$(cg_usec "$cg")
		[ -n "${BPF_PIN:-}" ] && b0=$(bpf_run_ns "$BPF_PIN")
		t0=$(now_s)
		sleep "$WINDOW"
		c1=$(cg_usec "$cg")
		t1=$(now_s)
		[ -n "${BPF_PIN:-}" ] && b1=$(bpf_run_ns "$BPF_PIN")
		l1=$(libvirtd_ns)
		tree_snapshot "$@" >"$T/s1"
		dom=$(domains)
		secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
		cpu=$(cg_cpu_s "$c0" "$c1")
		[ -n "$b1" ] && bpf=" bpf_cpu_s_per_hour=$(per_hour "$(ns_cpu_s "$b0" "$b1")" "$secs")"
		lcpu=$(ns_cpu_s "$l0" "$l1")
		say "agent $name rep=$r guests=$GUESTS domains=$dom secs=$secs cpu_s=$cpu" \
			"cpu_s_per_hour=$(per_hour "$cpu" "$secs")" \
			"libvirtd_cpu_s_per_hour=$(awk -v c="$lcpu" -v s="$secs" -v idle="$LV_IDLE" 'BEGIN { printf "%.1f", c * 3600 / s - idle }')" \
			"rss_kb=$(snap_rss "$T/s1") hwm_kb=$(snap_hwm "$T/s1")" \
			"bytes_per_interval_per_vm=$(window_hook_end "$r" "$t0" "$t1" "$dom")$bpf"
	done
	note "$name: its cgroup holds $(grep -c . "$PEER_CG/$cg/cgroup.procs") processes," \
		"$(grep -c . "$PEER_CG/$cg/cgroup.threads") threads: $(tr '\n' ' ' <"$PEER_CG/$cg/cgroup.procs" |
		xargs -r ps -o comm= -p 2>/dev/null | sort | uniq -c | tr -s ' \n' ' ')"
}

# A side process (bus, notification agent, rater) over the same windows:
# side_start CGROUP at the window's start; side_line NAME CGROUP SECS REP PID...
# at its end.
side_start() { cg_usec "$1" >"$T/side0.$1"; }
side_line() {
	local name=$1 cg=$2 secs=$3 r=$4 cpu
	shift 4
	cpu=$(cg_cpu_s "$(cat "$T/side0.$cg")" "$(cg_usec "$cg")")
	tree_snapshot "$@" >"$T/side1"
	say "side $name rep=$r cpu_s_per_hour=$(per_hour "$cpu" "$secs") rss_kb=$(snap_rss "$T/side1")"
}

# ---- hvmeter ---------------------------------------------------------------------------

run_hvmeter() {
	certs_make "$T/pki" test-hvb >/dev/null || die "cannot make certificates"
	chmod 755 "$T/pki" && chmod 644 "$T"/pki/*
	rater_start idle_timeout=600 >/dev/null || die "hvrater did not start ($T/rater.log)"
	uplink_agent_start hvb interval=$INTERVAL bpf=on >/dev/null ||
		die "hvmeterd did not start: $(tail -n 3 "$T/hvb.log")"
	# hvmeterd -f does not fork: moving its process moves all its threads
	cg_join hvmeterd "${AGENT_PID[hvb]}" && cg_join rater "$RATER_PID" ||
		die "cannot move hvmeterd and hvrater into cgroups"
	# the programs' own run time: only with the kernel's BPF statistics on
	if OLD_BPF_STATS=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null) &&
		sysctl -qw kernel.bpf_stats_enabled=1 && command -v jq >/dev/null; then
		BPF_PIN=/sys/fs/bpf/hvt-$$-hvb
	else
		note "hvmeter: BPF run time not measured (no kernel.bpf_stats_enabled or jq)"
	fi
	window_hook_start() { side_start rater; }
	window_hook_end() {
		local r=$1 t0=$2 t1=$3 dom=$4
		side_line rater rater "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$r" "$RATER_PID" >>"$T/side"
		echo "$r $t0 $t1 $dom" >>"$T/hv_windows"
		echo "-"
	}
	: >"$T/hv_windows"
	measure hvmeter hvmeterd "${AGENT_PID[hvb]}" >"$T/hv_lines"
	BPF_PIN=
	[ -n "$OLD_BPF_STATS" ] && sysctl -qw kernel.bpf_stats_enabled="$OLD_BPF_STATS"
	OLD_BPF_STATS=
	agent_stop hvb
	rater_stop
	# bytes per frame from the ledger, per window: frames ending inside it
	"$B/bench/bench_wire" size "$(agent_store hvb)" >"$T/wire" || die "bench_wire size failed"
	awk 'NR == FNR { w0[$1] = $2; w1[$1] = $3; dom[$1] = $4; n++; next }
		/^frame / {
			for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			for (r = 1; r <= n; r++) if (v["end"] > w0[r] && v["end"] <= w1[r]) {
				fr[r]++; de[r] += v["deltas"]; by[r] += v["bytes"]
				if (v["announced"] == 0) { sfr[r]++; sde[r] += v["deltas"]; sby[r] += v["bytes"] }
			}
		}
		END {
			for (r = 1; r <= n; r++)
				printf "wire rep=%d frames=%d deltas=%d bytes=%d bytes_per_delta=%.3f bytes_per_interval_per_vm=%.1f\n",
					r, fr[r], de[r], by[r], de[r] ? by[r] / de[r] : 0, fr[r] && dom[r] ? by[r] / fr[r] / dom[r] : 0
		}' "$T/hv_windows" "$T/wire" >"$T/wire_lines"
	# the agent lines get their bytes from the wire lines
	awk 'NR == FNR { split($2, a, "="); split($7, b, "="); bpv[a[2]] = b[2]; next }
		{ split($3, a, "="); sub(/bytes_per_interval_per_vm=-/, "bytes_per_interval_per_vm=" bpv[a[2]]); print }' \
		"$T/wire_lines" "$T/hv_lines"
	cat "$T/wire_lines"
	note "hvmeterd: $(grep -c '^frame ' "$T/wire") frames in its ledger; $(grep '^wire ' "$T/wire")"
	note "hvmeterd status: $("$HVMETER" status --store "$(agent_store hvb)" 2>/dev/null | grep -m1 -E 'cpu=' | cut -c1-200)"
}

# ---- Ceilometer ------------------------------------------------------------------------

run_ceilometer() {
	local f=$PEER_DIR/ceilometer/samples.log
	peer_rabbit_start >/dev/null || { note "ceilometer: not measured: RabbitMQ did not start"; return 1; }
	peer_nova_start || { note "ceilometer: not measured: the Nova stub did not start"; return 1; }
	peer_ceilometer_conf "$INTERVAL" || return 1
	peer_ceilometer_start || { note "ceilometer: not measured: an agent did not start"; return 1; }
	window_hook_start() {
		side_start rabbitmq
		side_start notification
		side_start nova
		stat -c %s "$f" 2>/dev/null >"$T/f0" || echo 0 >"$T/f0"
	}
	window_hook_end() {
		local r=$1 secs f1
		secs=$(awk -v a="$2" -v b="$3" 'BEGIN { print b - a }')
		side_line rabbitmq rabbitmq "$secs" "$r" "$PEER_RABBIT_PID" $PEER_EPMD_PID >>"$T/side"
		side_line ceilometer-notification notification "$secs" "$r" "$PEER_NOTIF_PID" >>"$T/side"
		side_line nova-stub nova "$secs" "$r" "$PEER_NOVA_PID" >>"$T/side"
		f1=$(stat -c %s "$f" 2>/dev/null || echo 0)
		awk -v a="$(cat "$T/f0")" -v b="$f1" -v s="$secs" -v i="$INTERVAL" -v d="$4" \
			'BEGIN { printf "%.1f\n", d ? (b - a) / (s / i) / d : 0 }'
	}
	measure ceilometer polling "$PEER_POLL_PID"
	say "ceilometer_samples $(wc -l <"$f" 2>/dev/null || echo 0) lines, $(stat -c %s "$f" 2>/dev/null || echo 0) bytes"
	say "nova_requests $(awk '{ n += $1 } END { print n + 0 }' "$PEER_DIR/nova.count" 2>/dev/null) ($(tr '\n' ';' <"$PEER_DIR/nova.count" 2>/dev/null))"
	grep -h -E ' (ERROR|CRITICAL) ' "$PEER_DIR"/ceilometer/log/*.log 2>/dev/null | cut -c1-200 | sort | uniq -c |
		sort -rn | head -n 3 | sed 's/^/# ceilometer log: /'
	peer_ceilometer_stop
	peer_stop_all
}

# ---- prometheus-libvirt-exporter --------------------------------------------------------

run_exporter() {
	peer_exporter_start || { note "exporter: not measured"; return 1; }
	# the scraper: what Prometheus would do at the interval
	(while :; do
		curl -s -o /dev/null -w '%{size_download}\n' "http://127.0.0.1:$PEER_EXPORTER_PORT/metrics" >>"$T/scrapes"
		sleep "$INTERVAL"
	done) &
	SCRAPE_PID=$!
	window_hook_start() { wc -l <"$T/scrapes" >"$T/sc0"; }
	window_hook_end() {
		awk -v from="$(cat "$T/sc0")" -v d="$4" 'NR > from { s += $1; n++ } END { printf "%.1f\n", n && d ? s / n / d : 0 }' "$T/scrapes"
	}
	measure exporter exporter "$PEER_EXPORTER_PID"
	kill "$SCRAPE_PID" 2>/dev/null
	wait "$SCRAPE_PID" 2>/dev/null
	SCRAPE_PID=
OLD_BPF_STATS=
CG_MOUNT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
PEER_CG=${CG_MOUNT:+$CG_MOUNT/hvb-bench-$TAG}
	peer_kill "$PEER_EXPORTER_PID"
	PEER_EXPORTER_PID=
}

# ---- main -------------------------------------------------------------------------------

lv_up || die "libvirtd did not start"
boot_guests
: >"$T/side"
# libvirtd with no agent: its own rate (and other users'), subtracted above
l0=$(libvirtd_ns)
t0=$(now_s)
sleep "$WINDOW"
l1=$(libvirtd_ns)
LV_IDLE=$(per_hour "$(ns_cpu_s "$l0" "$l1")" "$(awk -v a="$t0" -v b="$(now_s)" 'BEGIN { print b - a }')")
say "libvirtd_idle cpu_s_per_hour=$LV_IDLE"
for a in $AGENTS; do
	note "$a: warm-up ${WARMUP}s, then $REPS x ${WINDOW}s"
	case $a in
	hvmeter) run_hvmeter ;;
	ceilometer) run_ceilometer ;;
	exporter) run_exporter ;;
	*) die "unknown agent $a" ;;
	esac
done
cat "$T/side"
