#!/usr/bin/env bash
# Checks host energy from a simulated BMC (ipmi_sim, Dell profile, IPMI 2.0
# over loopback) in hvmeterd's frames: 250 W -> 400 W -> 250 W gives host
# energy within 0.5 % of the exact integral; in every frame the VMs' energy
# plus the host remainder equals the host energy (to the millijoule); a
# guest burning CPU gets more energy than an idle one; with the BMC stopped
# frames keep coming on time and the outage is a power gap, not 0 W, logged
# once, and readings resume; in-band without /dev/ipmi0 is one clear error
# and the agent keeps metering.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/libvirt.sh
. tests/lib/bmc.sh
. tests/lib/agent.sh
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (libvirtd, BPF)"; exit 77; }
bmc_available || { echo "SKIP: no BMC simulator here"; exit 77; }
HV_TMP=$(mktemp -d /tmp/hvt-nrg.XXXXXX)
LV_DIR=$HV_TMP
trap 'lv_cleanup hvt-nrg-; agent_cleanup; bmc_stop "$HV_TMP/bmc" 2>/dev/null; [ -n "${HV_KEEP:-}" ] || rm -rf "$HV_TMP"' EXIT
fails=0
eq0() { [ "$1" = 0 ]; }
eq() { [ "$1" = "$2" ]; }
eq1() { [ "$1" = 1 ]; }
check() {
	local what=$1; shift
	if "$@"; then echo "PASS: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}
lv_up || { echo "SKIP: libvirtd cannot run here"; exit 77; }
mkdir -p "$HV_TMP/bmc"
W="$HV_TMP/bmc/watts"
echo 250 >"$W"
bmc_start dell-idrac "$HV_TMP/bmc" "$(bmc_free_port)" "$W" || exit 1

start_agent() { # NAME [bmc keys...]
	local name=$1; shift
	agent_start "$name" interval=2 bpf=on || return 1
	agent_stop "$name"
	{ echo "[bmc]"; printf '%s\n' "$@"; } >>"$HV_TMP/$name.conf"
	"$HVMETERD" -f -c "$HV_TMP/$name.conf" >>"$HV_TMP/$name.log" 2>&1 &
	AGENT_PID[$name]=$!
	sleep 1
	kill -0 "${AGENT_PID[$name]}" 2>/dev/null || { cat "$HV_TMP/$name.log"; return 1; }
}
start_agent e "driver = lan20" "host = 127.0.0.1" "port = $BMC_PORT" "user = $BMC_USER" \
	"password = $BMC_PASSWORD" "privilege = $BMC_PRIVILEGE" "workarounds = $BMC_WORKAROUNDS" \
	"poll_ms = 500" "maps_dir = $PWD/firmware-configs" "idle_watts = 100" || exit 1

# hvmeter sensors: what an operator runs first, with the agent's own config
"$HVMETER" sensors -c "$HV_TMP/e.conf" >"$HV_TMP/sensors.txt" 2>&1
cat "$HV_TMP/sensors.txt" | head -4
check "hvmeter sensors names the matched map" grep -q "map: dell-idrac" "$HV_TMP/sensors.txt"
check "hvmeter sensors reads the power sensor (250 W)" grep -qE "Pwr Consumption +Current +25[0-9]\.[0-9]+ +W +ok" "$HV_TMP/sensors.txt"

BUSY=$(lv_guest_start hvt-nrg-busy burn=40) || exit 1
IDLE=$(lv_guest_start hvt-nrg-idle) || exit 1
lv_guest_wait hvt-nrg-busy "HV: BURN START" 180 >/dev/null || exit 1
lv_guest_wait hvt-nrg-idle "HV: IDLE" 180 >/dev/null || exit 1

# Window [W0, W1) at frame boundaries (multiples of 2 s), 250 W at both ends so
# that the reader's lag shifts nothing in or out.
W0=$(( ($(date +%s) / 2 + 2) * 2 ))
while [ "$(date +%s)" -lt $((W0 + 6)) ]; do sleep 0.2; done
T_UP=$(date +%s.%N); bmc_set_watts "$W" 400
sleep 12
T_DOWN=$(date +%s.%N); bmc_set_watts "$W" 250
W1=$(( ($(date +%s) / 2 + 4) * 2 ))
while [ "$(date +%s)" -lt "$W1" ]; do sleep 0.2; done
agent_wait_after e "$W1.5" 30 || exit 1
EXACT=$(awk -v a="$W0" -v b="$W1" -v u="$T_UP" -v d="$T_DOWN" 'BEGIN { printf "%.3f", 250 * (b - a) + 150 * (d - u) }')
# frames end a few ms after each boundary: the frame ending at W1 ends just after it
TO=$((W1 + 1))
HOSTALL=$("$HVMETER" dump --store "$(agent_store e)" --resource host --metric energy --from "@$W0" --to "@$TO" |
	awk -F, 'NR > 1 && $8 == "" { s += $10 } END { printf "%.3f", s }')
echo "window [$W0, $W1): host energy ${HOSTALL} J, exact integral ${EXACT} J ($(pct "$HOSTALL" "$EXACT") %)"
check "host energy within 0.5 % of the exact integral" within "$HOSTALL" "$EXACT" 0.5

# Per frame: sum of VM energy + remainder = host energy.
"$HVMETER" dump --store "$(agent_store e)" --metric energy >"$HV_TMP/energy.csv"
BAD=$(awk -F, 'NR > 1 { if ($4 == "host" && $8 == "") host[$1] += $10 * 1000; else parts[$1] += $10 * 1000 }
	END { bad = 0; n = 0; for (s in host) { n++; d = host[s] - parts[s]; if (d < 0) d = -d; if (d > 0.5) bad++ } print bad, n }' "$HV_TMP/energy.csv")
echo "frames with energy: ${BAD#* }, where VMs + remainder != host: ${BAD% *}"
check "every frame: sum of VM energy + remainder = host energy (mJ)" eq0 "${BAD% *}"
EB=$(agent_sum e "$BUSY" energy "@$W0" "@$TO") EI=$(agent_sum e "$IDLE" energy "@$W0" "@$TO")
echo "window: busy guest ${EB} J, idle guest ${EI} J"
TEMP=$("$HVMETER" dump --store "$(agent_store e)" --resource host --metric temperature.inlet | awk -F, 'NR > 1 { v = $10 } END { print v }')
check "inlet temperature recorded from the map's export (23 C)" eq "$TEMP" "23.0"
check "the busy guest gets more energy than the idle one" awk -v b="$EB" -v i="$EI" 'BEGIN { exit !(b > i && i > 0) }'

# BMC away: frames keep their 2 s cadence, the outage is a gap, logged once.
G0=$(date +%s)
bmc_stop "$HV_TMP/bmc"
sleep 8
bmc_start dell-idrac "$HV_TMP/bmc" "$BMC_PORT" "$W" || exit 1
sleep 6
agent_wait_after e "$(date +%s.%N)" 30 || exit 1
GAP=$(agent_sum e host power.gap "@$G0" "@4102444800")
MAXSTEP=$("$HVMETER" dump --store "$(agent_store e)" --from "@$G0" --format jsonl | sed -n 's/.*"end":"\([^"]*\)".*/\1/p' | sort -u |
	while read -r t; do date -d "$t" +%s.%N; done | awk 'NR > 1 { d = $1 - p; if (d > m) m = d } { p = $1 } END { printf "%.2f", m }')
echo "BMC stopped 8 s: power gap ${GAP} s; longest step between frame ends ${MAXSTEP} s"
check "the outage is recorded as a power gap (>= 5 s)" awk -v g="$GAP" 'BEGIN { exit !(g >= 5) }'
check "frames kept coming on time while the BMC was away" awk -v m="$MAXSTEP" 'BEGIN { exit !(m > 0 && m < 3) }'
check "the outage is logged once" eq1 "$(grep -c 'BMC: no power readings' "$HV_TMP/e.log")"
check "readings resume after the BMC returns" grep -q 'BMC: .*' <(grep -A100 'no power readings' "$HV_TMP/e.log" | tail -n +2)
check "energy metered again after the outage" awk -v e="$(agent_sum e host energy "@$(( $(date +%s) - 6 ))" "@4102444800")" 'BEGIN { exit !(e > 0) }'

# In-band without /dev/ipmi0: one clear error line, CPU metering goes on.
if [ ! -e /dev/ipmi0 ]; then
	start_agent ib "driver = inband" "maps_dir = $PWD/firmware-configs" || exit 1
	sleep 5
	check "in-band without a device: one clear error line" eq1 "$(grep -c 'in-band IPMI device /dev/ipmi0 does not exist' "$HV_TMP/ib.log")"
	check "in-band without a device: the agent keeps metering" awk -v c="$(agent_sum ib "$BUSY" cpu.time)" 'BEGIN { exit !(c > 0) }'
fi
check "no negative delta outside the remainder" awk -v m="$(agent_min e)" 'BEGIN { exit !(m >= 0) }'
[ "$fails" -eq 0 ]
