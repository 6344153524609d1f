#!/usr/bin/env bash
# Checks that counter resets lose and double nothing: hvmeterd is SIGKILLed
# mid-burn and right after its guest is destroyed (before it saw the stop),
# the same domain starts again while the agent is down; the guest's cpu.time
# over both runs equals the two cgroups' cpu.stat totals within 1 %, and no
# delta anywhere is negative.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/libvirt.sh
. tests/lib/agent.sh
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (libvirtd, BPF)"; exit 77; }
HV_TMP=$(mktemp -d /tmp/hvt-rst.XXXXXX)
LV_DIR=$HV_TMP
trap 'lv_cleanup hvt-rst-; agent_cleanup; [ -n "${HV_KEEP:-}" ] || rm -rf "$HV_TMP"' EXIT
fails=0
check() {
	local what=$1; shift
	if "$@"; then echo "PASS: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}
lv_up || { echo "SKIP: libvirtd cannot run here"; exit 77; }
UUID=6a4c1f0e-2b7d-4e39-9a51-0c8d3e7f1b24

agent_start a interval=2 bpf=on || exit 1
lv_guest_start hvt-rst-a uuid=$UUID burn=600 >/dev/null || exit 1
lv_guest_wait hvt-rst-a "HV: BURN START" 180 >/dev/null || exit 1
sleep 5
echo "SIGKILL the agent mid-burn"
agent_stop a KILL
sleep 3
agent_start a interval=2 bpf=on || exit 1
sleep 5
virsh -q -c qemu:///system suspend hvt-rst-a >/dev/null
sleep 0.5
U1=$(lv_guest_cpu_usec hvt-rst-a)
lv_guest_destroy hvt-rst-a
echo "SIGKILL the agent right after destroy (run 1: ${U1} us)"
agent_stop a KILL

lv_guest_start hvt-rst-a uuid=$UUID burn=600 >/dev/null || exit 1
lv_guest_wait hvt-rst-a "HV: BURN START" 180 >/dev/null || exit 1
agent_start a interval=2 bpf=on || exit 1
sleep 6
virsh -q -c qemu:///system suspend hvt-rst-a >/dev/null
sleep 0.5
U2=$(lv_guest_cpu_usec hvt-rst-a)
T=$(date +%s.%N)
agent_wait_after a "$T" 30 || exit 1
C=$(agent_sum a "$UUID" cpu.time)
TRUTH=$(( (U1 + U2) * 1000 ))
echo "cgroup truth run1 ${U1} us + run2 ${U2} us; metered ${C} ns ($(pct "$C" "$TRUTH") %)"
check "cpu.time over two runs and two SIGKILLs within 1 % of cpu.stat" within "$C" "$TRUTH" 1
check "no negative delta" awk -v m="$(agent_min a)" 'BEGIN { exit !(m >= 0) }'
check "chain verifies" "$HVMETER" verify --store "$(agent_store a)"
[ "$fails" -eq 0 ]
