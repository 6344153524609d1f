#!/usr/bin/env bash
# Checks per-VM CPU from BPF against the kernel's own accounting on real guests:
# a busy guest's cpu.time equals its cgroup's cpu.stat (1 %) and libvirt's
# cpu.time (2 %); an idle guest beside it gets < 5 % of the busy one's CPU over
# the burn; vcpu.alloc equals vCPUs x running seconds (1 %); an agent with
# bpf = off meters the same guests from libvirt and says so in its status;
# and all of it while the agent holds only CAP_NET_ADMIN and no_new_privs.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/libvirt.sh
. tests/lib/agent.sh
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (libvirtd, BPF)"; exit 77; }
HV_TMP=$(mktemp -d /tmp/hvt-cpu.XXXXXX)
LV_DIR=$HV_TMP
trap 'lv_cleanup hvt-cpu-; agent_cleanup; [ -n "${HV_KEEP:-}" ] || rm -rf "$HV_TMP"' EXIT
fails=0
check() { # check DESCRIPTION CONDITION...
	local what=$1; shift
	if "$@"; then echo "PASS: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}

lv_up || { echo "SKIP: libvirtd cannot run here"; exit 77; }
agent_start bpf interval=2 bpf=on || exit 1
agent_start lv interval=2 bpf=off || exit 1

# The idle guest boots first, so its boot is not inside the busy guest's burn.
lv_guest_start hvt-cpu-idle vcpus=1 >"$HV_TMP/idle.uuid" || exit 1
IDLE=$(cat "$HV_TMP/idle.uuid")
lv_guest_wait hvt-cpu-idle "HV: IDLE" 180 >/dev/null || exit 1
T0A=$(date +%s.%N)
lv_guest_start hvt-cpu-busy vcpus=2 burn=20 >"$HV_TMP/busy.uuid" || exit 1
T0B=$(date +%s.%N)
BUSY=$(cat "$HV_TMP/busy.uuid")
lv_guest_wait hvt-cpu-busy "HV: BURN START" 180 >/dev/null || exit 1
B0=$(date +%s)
lv_guest_wait hvt-cpu-busy "HV: BURN END" 120 >/dev/null || exit 1
B1=$(date +%s)

# Stop the busy guest's vCPUs, then read the ground truth: nothing runs after.
virsh -q -c qemu:///system suspend hvt-cpu-busy >/dev/null || exit 1
sleep 0.5
U=$(lv_guest_cpu_usec hvt-cpu-busy)
L=$(virsh -q -c qemu:///system domstats --cpu-total hvt-cpu-busy | sed -n 's/.*cpu.time=//p')
TREAD=$(date +%s.%N)
agent_wait_after bpf "$TREAD" 30 || exit 1
agent_wait_after lv "$TREAD" 30 || exit 1
C=$(agent_sum bpf "$BUSY" cpu.time)
CV=$(agent_sum bpf "$BUSY" cpu.time.vcpu)
CL=$(agent_sum lv "$BUSY" cpu.time)
echo "busy guest: cgroup usage ${U} us, libvirt ${L} ns; BPF cpu.time ${C} ns ($(pct "$C" "$((U * 1000))") % vs cgroup, $(pct "$C" "$L") % vs libvirt), vcpu part ${CV} ns; libvirt-fallback agent ${CL} ns"
check "BPF cpu.time within 1 % of cgroup cpu.stat" within "$C" "$((U * 1000))" 1
check "BPF cpu.time within 2 % of libvirt cpu.time" within "$C" "$L" 2
check "vCPU share is most of it and not more than all" awk -v v="$CV" -v c="$C" 'BEGIN { exit !(v > 0.5 * c && v <= c) }'
check "fallback agent cpu.time within 2 % of libvirt" within "$CL" "$L" 2

# Attribution: frames wholly inside the burn.
W0=$((B0 + 2)) W1=$((B1 - 1))
CB=$(agent_sum bpf "$BUSY" cpu.time "@$W0" "@$W1")
CI=$(agent_sum bpf "$IDLE" cpu.time "@$W0" "@$W1")
echo "burn window [$W0, $W1]: busy ${CB} ns, idle ${CI} ns ($(awk -v a="$CI" -v b="$CB" 'BEGIN { printf "%.2f", b ? a * 100 / b : 0 }') %)"
check "busy guest metered in the burn window" awk -v c="$CB" 'BEGIN { exit !(c > 1e9) }'
check "idle guest under 5 % of the busy one" awk -v a="$CI" -v b="$CB" 'BEGIN { exit !(b > 0 && a < 0.05 * b) }'

# Allocation: 2 vCPUs from start to destroy. The domain runs from some
# instant inside `virsh create` to some instant inside `virsh destroy` (which
# takes over a second under TCG), so the truth is bracketed by the times
# taken around both commands; the metered value must lie in that bracket,
# widened by 1 %.
T1A=$(date +%s.%N)
lv_guest_destroy hvt-cpu-busy
T1B=$(date +%s.%N)
agent_wait_after bpf "$(date +%s.%N)" 30 || exit 1
A=$(agent_sum bpf "$BUSY" vcpu.alloc)
LO=$(awk -v a="$T0B" -v b="$T1A" 'BEGIN { printf "%.3f", 2 * (b - a) }')
HI=$(awk -v a="$T0A" -v b="$T1B" 'BEGIN { printf "%.3f", 2 * (b - a) }')
echo "vcpu.alloc ${A} vCPU.s; running time x 2 vCPUs lies in [${LO}, ${HI}]"
check "vcpu.alloc = vCPUs x running seconds within 1 %" \
	awk -v a="$A" -v lo="$LO" -v hi="$HI" 'BEGIN { exit !(a >= lo * 0.99 && a <= hi * 1.01) }'

# All of the above was metered after the agent gave up its privileges.
ST=/proc/${AGENT_PID[bpf]}/status
check "agent keeps only CAP_NET_ADMIN (CapEff 0x1000)" grep -q '^CapEff:[[:space:]]*0000000000001000$' "$ST"
check "agent's bounding set holds only CAP_NET_ADMIN" grep -q '^CapBnd:[[:space:]]*0000000000001000$' "$ST"
check "agent runs with no_new_privs" grep -q '^NoNewPrivs:[[:space:]]*1$' "$ST"
check "status names BPF as the CPU source" grep -q 'cpu=bpf' <("$HVMETER" status --store "$(agent_store bpf)")
check "status names libvirt as the fallback source" grep -q 'cpu=libvirt' <("$HVMETER" status --store "$(agent_store lv)")
check "no negative delta" awk -v m="$(agent_min bpf)" 'BEGIN { exit !(m >= 0) }'
check "chain verifies" "$HVMETER" verify --store "$(agent_store bpf)"
[ "$fails" -eq 0 ]
