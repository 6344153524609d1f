#!/usr/bin/env bash
# Checks the bounded ring with the uplink absent: hvmeterd (interval 1 s)
# meters two busy guests for HV_RING_SECS (60) s into a 128 KiB store, which
# holds far fewer frames than that: the oldest are merged (status counts
# them, dump marks them), the chain verifies, and each guest's cpu.time over
# all frames equals, to the nanosecond, the sum of the unmerged deltas (the
# counter baselines they were taken from), its cgroup's cpu.stat within 1 %,
# and what a twin agent with an ample store wrote in unmerged frames within
# 0.01 % (the twin reads its own counters at its own instants: a suspended
# guest's QEMU still runs a little, so the two last readings may differ).
# (An hour of frames, 3600 x 600 deltas in a 2 MiB ring, is the store-level
# test test_store_ring: test_hour_in_small_ring.)
set -u
cd "$(dirname "$0")/../.."
. tests/lib/libvirt.sh
. tests/lib/agent.sh
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (libvirtd, BPF)"; exit 77; }
HV_TMP=$(mktemp -d /tmp/hvt-ring.XXXXXX)
LV_DIR=$HV_TMP
trap 'lv_cleanup hvt-ring-; agent_cleanup; [ -n "${HV_KEEP:-}" ] || rm -rf "$HV_TMP"' EXIT
fails=0
check() {
	local what=$1; shift
	if "$@"; then echo "PASS: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}
lv_up || { echo "SKIP: libvirtd cannot run here"; exit 77; }
SECS=${HV_RING_SECS:-60}

UA=7d2b9e4f-1c6a-4f3e-b8d5-0e9a2c4b6f13
UB=9a4c2e6b-3d8f-4b1a-a7c9-5f0e1d3b8c24
agent_start small interval=1 bpf=on store_max_bytes=128K || exit 1
agent_start ample interval=1 bpf=on || exit 1
lv_guest_start hvt-ring-a uuid=$UA vcpus=1 burn=600 >/dev/null || exit 1
lv_guest_start hvt-ring-b uuid=$UB vcpus=1 burn=30 >/dev/null || exit 1
lv_guest_wait hvt-ring-a "HV: BURN START" 180 >/dev/null || exit 1
sleep "$SECS"

lv_virsh suspend hvt-ring-a >/dev/null || exit 1
lv_virsh suspend hvt-ring-b >/dev/null || exit 1
sleep 0.5
TA=$(( $(lv_guest_cpu_usec hvt-ring-a) * 1000 ))
TB=$(( $(lv_guest_cpu_usec hvt-ring-b) * 1000 ))
T=$(date +%s.%N)
agent_wait_after small "$T" 30 || exit 1
agent_wait_after ample "$T" 30 || exit 1
agent_stop small
agent_stop ample

S=$(agent_store small)
"$HVMETER" status --store "$S" | sed -n '/^ring:/,/^pruned:/p'
LAST=$(agent_last_seq small)
KEPT=$("$HVMETER" status --store "$S" | sed -n 's/^frames: *\([0-9]*\) kept.*/\1/p')
MERGED=$("$HVMETER" status --store "$S" | sed -n 's/^merged: *\([0-9]*\) original.*/\1/p')
ORIG=$("$HVMETER" dump --store "$S" --format csv | awk -F, 'NR > 1 && !seen[$1]++ { n += $11 } END { print n + 0 }')
NEXT=$("$HVMETER" status --store "$S" | sed -n 's/^frames: .*(seq [0-9]*\.\.\([0-9]*\)).*/\1/p')
echo "small ring: $KEPT frames kept for seqs 1..$NEXT, $MERGED originals merged"
check "frames were merged (kept $KEPT < written $NEXT)" test "${KEPT:-0}" -lt "${NEXT:-0}" -a "${MERGED:-0}" -gt 0
check "dump marks merged frames" grep -q '"merged":true,"originals":' <("$HVMETER" dump --store "$S" --format jsonl)
check "the ring still holds a delta-carrying frame for nearly every seq (originals $ORIG)" \
	test "$ORIG" -ge $((NEXT - 5))
check "the chain verifies" "$HVMETER" verify --store "$S"
for g in a b; do
	u=$([ $g = a ] && echo $UA || echo $UB)
	t=$([ $g = a ] && echo $TA || echo $TB)
	sum=$(agent_sum small "$u" cpu.time)
	base=$(agent_baseline_sum small "$u" cpu/)
	twin=$(agent_sum ample "$u" cpu.time)
	vsum=$(agent_sum small "$u" cpu.time.vcpu)
	vbase=$(agent_baseline_sum small "$u" cpu/ cpu.time.vcpu)
	echo "guest $g cpu.time: small ring $sum, its baselines $base, twin $twin, cgroup $t ($(pct "$sum" "$t") %)"
	check "guest $g: merged totals equal the unmerged deltas exactly" \
		awk -v a="$sum" -v b="$base" 'BEGIN { exit !(a == b && b > 0) }'
	check "guest $g: cpu.time.vcpu too" awk -v a="$vsum" -v b="$vbase" 'BEGIN { exit !(a == b && b > 0) }'
	check "guest $g: within 1 % of cpu.stat" within "$sum" "$t" 1
	check "guest $g: within 0.01 % of the twin's unmerged frames" within "$sum" "$twin" 0.01
done
check "no negative delta" awk -v m="$(agent_min small)" 'BEGIN { exit !(m >= 0) }'
[ "$fails" -eq 0 ]
