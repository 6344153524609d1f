#!/usr/bin/env bash
# bpf_cost.sh — what the BPF programs cost per event, from the kernel's own
# BPF run-time statistics (bpf_prog_info run_time_ns / run_cnt).
#
# Loads every program (CPU, disk, the two tc programs with a class file of
# ~1000 prefixes, and an empty tp_btf/sched_switch program as the baseline)
# under a pin directory of its own, runs a context-switch load, an O_DIRECT
# disk load and a ping flood between two network namespaces it makes, and
# prints one line per program:
#   bpf_cost NAME ns_per_event=N events=N empty_ns_per_event=N ratio=N
# ratio is NAME's cost over the empty program's measured in the same run:
# absolute numbers move with the machine (nested virtualisation inflates
# them), ratios much less.
#
# Needs root. Turns kernel.bpf_stats_enabled on and restores its old value
# on exit; removes what it made (pins, namespaces, files). Finishes in well
# under 2 minutes (BENCH_SECS per load, default 5).
# Environment: HV_BUILD (default build) holds tests/test_net_bpf, which is
# built if missing.
set -u
cd "$(dirname "$0")/../.."
HV_BUILD=${HV_BUILD:-build}
SECS=${BENCH_SECS:-5}
BIN=$HV_BUILD/tests/test_net_bpf
TAG=$$
PIN=/sys/fs/bpf/hvmeter-bench-$TAG
NS_A=hvb-a-$TAG NS_B=hvb-b-$TAG
DEV_A=hvba$((TAG % 100000)) DEV_B=hvbb$((TAG % 100000))
TMP=$(mktemp -d /var/tmp/hvmeter-bench.XXXXXX)
OLD_STATS=

say() { printf '%s\n' "$*"; }
die() { say "bpf_cost: $*" >&2; exit 1; }

cleanup() {
	[ -x "$BIN" ] && "$BIN" --bench-unload "$PIN" "$NS_A" "$DEV_A" >/dev/null 2>&1
	rm -f "$PIN/bench_empty_link" 2>/dev/null
	rmdir "$PIN" 2>/dev/null
	ip netns del "$NS_A" 2>/dev/null
	ip netns del "$NS_B" 2>/dev/null
	[ -n "$OLD_STATS" ] && sysctl -qw kernel.bpf_stats_enabled="$OLD_STATS"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" -eq 0 ] || { say "skip: bpf_cost needs root"; exit 77; }
if [ ! -x "$BIN" ]; then
	make --no-print-directory -s O="$HV_BUILD" "$BIN" || die "cannot build $BIN"
fi
OLD_STATS=$(sysctl -n kernel.bpf_stats_enabled) || die "no kernel.bpf_stats_enabled"
sysctl -qw kernel.bpf_stats_enabled=1 || die "cannot enable BPF statistics"

# Two namespaces joined by a veth pair; no address in the root namespace.
ip netns add "$NS_A" && ip netns add "$NS_B" &&
	ip -n "$NS_A" link add "$DEV_A" type veth peer name "$DEV_B" netns "$NS_B" &&
	ip -n "$NS_A" addr add 10.99.9.1/24 dev "$DEV_A" &&
	ip -n "$NS_B" addr add 10.99.9.2/24 dev "$DEV_B" &&
	ip -n "$NS_A" link set "$DEV_A" up && ip -n "$NS_B" link set "$DEV_B" up ||
	die "cannot make the test namespaces"

# A class file the size of a real one: 1000 /24s in 50 classes, plus ours.
{
	echo "10.99.9.0/24 internal"
	for i in $(seq 0 999); do echo "10.$((i / 256)).$((i % 256)).0/24 c$((i % 50))"; done
	echo "2001:db8::/32 v6"
} >"$TMP/classes"

"$BIN" --bench-load "$PIN" "$NS_A" "$DEV_A" "$TMP/classes" || die "cannot load the programs"
"$BIN" --bench-stats "$PIN" >"$TMP/before" || die "cannot read program statistics"

start=$(date +%s)
# Context switches.
if perf bench sched pipe -l 1 >/dev/null 2>&1; then
	timeout $((SECS * 3)) perf bench sched pipe -l $((SECS * 20000)) >"$TMP/cpu.log" 2>&1
	cpu_load="perf bench sched pipe -l $((SECS * 20000))"
else
	"$BIN" --bench-pipe "$SECS" >"$TMP/cpu.log"
	cpu_load="pipe ping-pong ${SECS}s"
fi
# Disk: O_DIRECT writes and reads of 4 KiB, a bio each.
dd if=/dev/zero of="$TMP/disk" bs=4k count=$((SECS * 1000)) oflag=direct status=none &&
	dd if="$TMP/disk" of=/dev/null bs=4k iflag=direct status=none || die "dd failed"
rm -f "$TMP/disk"
# Network: a ping flood from B to A, answered by A.
"$BIN" --bench-flood "$NS_B" 10.99.9.1 "$SECS" >"$TMP/net.log" || die "ping flood failed"
"$BIN" --bench-stats "$PIN" >"$TMP/after" || die "cannot read program statistics"
secs=$(($(date +%s) - start))

say "# loads: $cpu_load; dd 2 x $((SECS * 1000)) x 4 KiB O_DIRECT; ICMP flood ${SECS}s ($(cat "$TMP/net.log")); ${secs}s"
awk '
	NR == FNR { ns0[$1] = $2; cnt0[$1] = $3; next }
	{ ns[$1] = $2 - ns0[$1]; cnt[$1] = $3 - cnt0[$1]; order[++n] = $1 }
	END {
		empty = cnt["empty_switch"] ? ns["empty_switch"] / cnt["empty_switch"] : 0
		bad = 0
		for (i = 1; i <= n; i++) {
			p = order[i]
			if (p == "empty_switch")
				continue
			per = cnt[p] ? ns[p] / cnt[p] : 0
			printf "bpf_cost %s ns_per_event=%.0f events=%d empty_ns_per_event=%.0f ratio=%.2f\n",
				p, per, cnt[p], empty, empty ? per / empty : 0
			if (!cnt[p])
				bad = 1
		}
		exit bad
	}' "$TMP/before" "$TMP/after" || die "a program saw no event"
