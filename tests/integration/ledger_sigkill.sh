#!/usr/bin/env bash
# Checks that SIGKILLs at random instants lose and double nothing: while two
# guests burn CPU (one all along, one for a shorter burn), hvmeterd
# (interval 1 s, a 256 KiB ring, so that compaction runs under the kills
# too) is SIGKILLed 100 times, 0.2-1.5 s apart (seeded: the seed is printed
# and HV_SEED=N repeats a run) and started again at once. Afterwards
# the chain verifies, no delta anywhere is negative, and each guest's totals
# equal its ground truth within 1 % (CPU: the cgroup's cpu.stat) and, to the
# unit, the counter baselines they were computed from.
# Disk and network: add a line to CHECKS (metric, baseline key prefix, truth
# function, tolerance) when their meters land; the rest of the test holds.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/libvirt.sh
. tests/lib/agent.sh
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (libvirtd, BPF)"; exit 77; }
HV_TMP=$(mktemp -d /tmp/hvt-kill.XXXXXX)
LV_DIR=$HV_TMP
trap 'lv_cleanup hvt-kill-; agent_cleanup; [ -n "${HV_KEEP:-}" ] || rm -rf "$HV_TMP"' EXIT
fails=0
check() {
	local what=$1; shift
	if "$@"; then echo "PASS: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}
lv_up || { echo "SKIP: libvirtd cannot run here"; exit 77; }
KILLS=${HV_KILLS:-100}
SEED=${HV_SEED:-$(( $(date +%s) % 32768 ))}
echo "seed $SEED (HV_SEED=$SEED repeats the kill instants), $KILLS kills"

# Ground truth per metric, read once the guests are suspended. Each prints
# the guest's total in the metric's unit.
truth_cpu_ns() { echo $(( $(lv_guest_cpu_usec "$1") * 1000 )); }
# metric           baseline key prefix  truth function  tolerance %
CHECKS=(
	"cpu.time      cpu/                 truth_cpu_ns    1"
)

UA=2f6d3c1e-8b4a-4c7d-9e15-3a0b6c2d7f41
UB=5c1e7a3d-2f9b-4e6a-8d04-7b3e1f5a9c62
agent_start k interval=1 bpf=on store_max_bytes=256K || exit 1
lv_guest_start hvt-kill-a uuid=$UA vcpus=1 burn=600 >/dev/null || exit 1
lv_guest_start hvt-kill-b uuid=$UB vcpus=1 burn=40 >/dev/null || exit 1
lv_guest_wait hvt-kill-a "HV: BURN START" 180 >/dev/null || exit 1
lv_guest_wait hvt-kill-b "HV: BURN START" 180 >/dev/null || exit 1

RANDOM=$SEED
T0=$SECONDS
for i in $(seq "$KILLS"); do
	sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.3f", 0.2 + 1.3 * r / 32767 }')"
	agent_kill k
	agent_spawn k
done
echo "$KILLS kills in $((SECONDS - T0)) s"
sleep 3
check "the agent runs after the last kill" kill -0 "${AGENT_PID[k]}"

# Stop the guests' vCPUs, then read the truth: nothing they do runs after.
lv_virsh suspend hvt-kill-a >/dev/null || exit 1
lv_virsh suspend hvt-kill-b >/dev/null || exit 1
sleep 0.5
declare -A TRUTH=()
for c in "${CHECKS[@]}"; do
	read -r metric _ fn _ <<<"$c"
	TRUTH[a/$metric]=$($fn hvt-kill-a) || exit 1
	TRUTH[b/$metric]=$($fn hvt-kill-b) || exit 1
done
T=$(date +%s.%N)
agent_wait_after k "$T" 30 || exit 1
agent_stop k

S=$(agent_store k)
SEQ=$(agent_last_seq k)
echo "ledger: frames up to seq $SEQ; $(grep -c 'hvmeterd .*: host' "$HV_TMP/k.log") starts logged"
"$HVMETER" status --store "$S" | sed -n '/^frames:/p;/^merged:/p'
for c in "${CHECKS[@]}"; do
	read -r metric prefix _ tol <<<"$c"
	for g in a b; do
		u=$([ $g = a ] && echo $UA || echo $UB)
		sum=$(agent_sum k "$u" "$metric")
		base=$(agent_baseline_sum k "$u" "$prefix")
		truth=${TRUTH[$g/$metric]}
		echo "guest $g $metric: frames $sum, baselines $base, truth $truth ($(pct "$sum" "$truth") %)"
		check "guest $g $metric within $tol % of the truth" within "$sum" "$truth" "$tol"
		check "guest $g $metric equals its baselines exactly" \
			awk -v a="$sum" -v b="$base" 'BEGIN { exit !(a == b && b > 0) }'
	done
done
check "no negative delta" awk -v m="$(agent_min k)" 'BEGIN { exit !(m >= 0) }'
check "chain verifies" "$HVMETER" verify --store "$S"
[ "$fails" -eq 0 ]
