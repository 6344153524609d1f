#!/usr/bin/env bash
# kernel_load.sh — what hvmeter's BPF programs cost the workloads they
# meter: a context-switch-heavy load (perf bench sched pipe: two tasks
# ping-ponging over a pipe, every message two sched_switch events) and an
# O_DIRECT disk load (dd, 4 KiB, a bio each), each run with no agent and with
# hvmeterd running (its sched_switch and block programs attached), in turn,
# KLOAD_REPS (3) times, so that a drift of the machine hits both sides.
# Prints one line per run:
#   kernel_load load=sched_pipe agent=off|on rep=N ops_per_sec=X
#   kernel_load load=dd_4k_direct agent=off|on rep=N ops_per_sec=X
# Needs root and libvirtd (lv_up); no guest is needed (the sched_switch
# program runs for every task switch on the host).
set -u
cd "$(dirname "$0")/../.."
B=${HV_BUILD:-build}
REPS=${KLOAD_REPS:-3}
LOOPS=${KLOAD_LOOPS:-200000}
DD_COUNT=${KLOAD_DD:-4000}
T=$(mktemp -d /var/tmp/hvb-kload.XXXXXX)
export HV_BUILD=$B HV_TMP=$T
. tests/lib/libvirt.sh
. tests/lib/agent.sh

cleanup() { agent_cleanup; rm -rf "$T"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "kernel_load: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || { echo "skip: kernel_load needs root"; exit 77; }
command -v perf >/dev/null || die "perf is not installed (linux-perf)"
lv_up || die "libvirtd did not start"

# ops per second of perf bench sched pipe (it prints "N ops/sec")
sched_pipe() {
	perf bench sched pipe -l "$LOOPS" 2>/dev/null | awk '/ops\/sec/ { print $1; exit }'
}
# 4 KiB O_DIRECT writes then reads of a file on /var/tmp: requests per second
dd_4k() {
	local t0 t1
	t0=$(date +%s.%N)
	dd if=/dev/zero of="$T/disk" bs=4k count="$DD_COUNT" oflag=direct status=none &&
		dd if="$T/disk" of=/dev/null bs=4k iflag=direct status=none || return 1
	t1=$(date +%s.%N)
	rm -f "$T/disk"
	awk -v a="$t0" -v b="$t1" -v n=$((DD_COUNT * 2)) 'BEGIN { printf "%.0f\n", n / (b - a) }'
}

run_loads() {
	local agent=$1 r=$2 v
	v=$(sched_pipe) && [ -n "$v" ] || die "perf bench sched pipe failed"
	echo "kernel_load load=sched_pipe agent=$agent rep=$r ops_per_sec=$v"
	v=$(dd_4k) || die "dd failed"
	echo "kernel_load load=dd_4k_direct agent=$agent rep=$r ops_per_sec=$v"
}

echo "# perf bench sched pipe -l $LOOPS; dd 2 x $DD_COUNT x 4 KiB O_DIRECT on $(df --output=source "$T" | tail -1)"
# "off" means without our hvmeterd: other agents' programs may be attached
# (tests run in parallel), and BPF statistics may be on; say so
n=$(bpftool prog show 2>/dev/null | grep -c ' name cpu_switch ')
[ "$n" -gt 0 ] && echo "# note: $n cpu_switch program(s) of other hvmeterd instances attached during the 'off' runs"
echo "# kernel.bpf_stats_enabled=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null)"
for r in $(seq 1 "$REPS"); do
	run_loads off "$r"
	agent_start kload interval=10 bpf=on >/dev/null || die "hvmeterd did not start: $(tail -n 3 "$T/kload.log")"
	sleep 3 # programs loaded and attached
	run_loads on "$r"
	agent_stop kload
	agent_cleanup
done
