#!/usr/bin/env bash
# Checks SIGHUP on a running agent with real guests, a real tap and a
# simulated BMC: a new log level, new traffic classes (same file, new
# content) and a new BMC poll period are applied and logged as reloaded;
# changed restart-only keys (interval, host_id) are logged as needing a
# restart and not applied; and across the reload nothing is lost or doubled:
# a busy guest's cpu.time equals its cgroup's cpu.stat (1 %), every echo
# request is billed once to the class in force when it was sent, the tap's
# bytes and packets equal its kernel counters exactly, and host energy equals
# the BMC's constant 250 W over the run (1 %). A broken file on a later
# SIGHUP is refused whole.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/libvirt.sh
. tests/lib/netns.sh
. tests/lib/bmc.sh
. tests/lib/agent.sh
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (libvirtd, BPF, netns)"; exit 77; }
why=$(bmc_available) || { echo "SKIP: $why"; exit 77; }
HV_TMP=$(mktemp -d /tmp/hvt-ops-hup.XXXXXX)
LV_DIR=$HV_TMP
NS=hvtopsns$$ BR=hvtopsbr$$
trap 'lv_cleanup hvt-ops-hup-; agent_cleanup; ns_down $NS $BR; bmc_stop "$HV_TMP/bmc" 2>/dev/null; [ -n "${HV_KEEP:-}" ] || rm -rf "$HV_TMP"' EXIT
fails=0
check() { # check DESCRIPTION CONDITION...
	local what=$1; shift
	if "$@"; then echo "PASS: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}
eq() { [ "$1" = "$2" ]; }
logged() { grep -qF -- "$1" "$HV_TMP/r.log"; }
# since_hup TEXT: logged after the first SIGHUP line
since_hup() { sed -n '/SIGHUP/,$p' "$HV_TMP/r.log" | grep -qF -- "$1"; }

lv_up || { echo "SKIP: libvirtd cannot run here"; exit 77; }
ns_up "$NS" "$BR" 10.99.0.1/24 || exit 1
mkdir -p "$HV_TMP/bmc"
bmc_set_watts "$HV_TMP/bmc/watts" 250
bmc_start dell-idrac "$HV_TMP/bmc" "$(bmc_free_port)" "$HV_TMP/bmc/watts" || exit 1

# conf LOG_LEVEL INTERVAL HOST_ID POLL_MS: the whole file, as an operator edits it
PIN=/sys/fs/bpf/hvt-$$-r
AGENT_PINS+=("$PIN")
conf() {
	cat >"$HV_TMP/r.conf.new" <<EOF
[agent]
host_id = $3
store = $(agent_store r)
bpf_pin_dir = $PIN
interval = $2
bpf = on
log_level = $1
[libvirt]
uri = qemu:///system
[bmc]
driver = lan20
host = 127.0.0.1
port = $BMC_PORT
user = $BMC_USER
password = $BMC_PASSWORD
privilege = $BMC_PRIVILEGE
workarounds = $BMC_WORKAROUNDS
poll_ms = $4
maps_dir = $PWD/firmware-configs
[network]
classes = $HV_TMP/classes
EOF
	mv "$HV_TMP/r.conf.new" "$HV_TMP/r.conf"
}
printf '10.99.0.1/32 internal\n' >"$HV_TMP/classes"
SHA1=$(sha256sum "$HV_TMP/classes" | cut -d' ' -f1)
conf info 2 test-r 1000
agent_spawn r
agent_wait_seq r 2 30 || { cat "$HV_TMP/r.log"; exit 1; }

# The agent meters both guests from their first instant.
CPU_UUID=$(lv_guest_start hvt-ops-hup-cpu burn=35) || exit 1
# libvirt names the tap (vnetN): the agent's filter is on it from the link's
# creation, so the tap's kernel counters are the whole truth
NET_UUID=$(lv_guest_start hvt-ops-hup-net bridge="$BR" ip=10.99.0.2/24 \
	net=10.99.0.1:150:500 netint=0.2) || exit 1
TAP=$(virsh -q -c qemu:///system domiflist hvt-ops-hup-net | awk '$1 ~ /^vnet/ { print $1; exit }')
[ -n "$TAP" ] || { echo "no vnet tap for hvt-ops-hup-net"; exit 1; }
lv_guest_wait hvt-ops-hup-net "HV: NET START" 120 >/dev/null || exit 1
lv_guest_wait hvt-ops-hup-cpu "HV: BURN START" 120 >/dev/null || exit 1
sleep 8
reads() { "$HVMETER" status --store "$(agent_store r)" | sed -n 's/.* reads=\([0-9]*\) .*/\1/p'; }

check "before: status names the first class file" \
	grep -q "netclass=sha256:$SHA1" <("$HVMETER" status --store "$(agent_store r)")

# The operator's edit: three reloadable changes, two that need a restart.
printf '10.99.0.1/32 public\n' >"$HV_TMP/classes"
SHA2=$(sha256sum "$HV_TMP/classes" | cut -d' ' -f1)
conf debug 5 other-host 250
T_HUP=$(date +%s.%N)
kill -HUP "${AGENT_PID[r]}"
sleep 1
echo "--- log after SIGHUP:"
sed -n '/SIGHUP/,$p' "$HV_TMP/r.log" | grep -v ' debug: ' | head -20
echo "---"
check "log level reload logged (info -> debug)" logged "SIGHUP: log level reloaded (info -> debug)"
check "traffic classes reload logged with the new file's hash" logged "SIGHUP: traffic classes reloaded (sha256:$SHA2)"
check "BMC reload logged, naming the key" logged "SIGHUP: BMC settings reloaded ([bmc] poll_ms changed)"
check "interval reported as needing a restart" logged "SIGHUP: [agent] interval changed ('2' -> '5'): needs a restart, not applied"
check "host_id reported as needing a restart" logged "SIGHUP: [agent] host_id changed ('test-r' -> 'other-host'): needs a restart, not applied"
check "summary names what was reloaded and what was not" \
	logged "SIGHUP: reloaded: log level, BMC settings, traffic classes; 2 changed keys need a restart"
agent_wait_after r "$(date +%s.%N)" 20 || exit 1
check "the new BMC reader took over after a frame" since_hup "BMC: new settings in force from this frame on"
check "debug lines appear after the reload" since_hup " debug: frame "
R0=$(reads) && sleep 6 && R1=$(reads)
echo "BMC reads in 6 s after the reload: $((R1 - R0)) (poll_ms 1000 -> 250)"
check "the new poll period is in force (>= 9 reads in 6 s; 1000 ms allows 7)" awk -v n="$((R1 - R0))" 'BEGIN { exit !(n >= 9) }'

lv_guest_wait hvt-ops-hup-net "HV: NET END" 120 >/dev/null || exit 1
lv_guest_wait hvt-ops-hup-cpu "HV: BURN END" 120 >/dev/null || exit 1
# Ground truth: the busy guest's cgroup, read with its vCPU stopped.
virsh -q -c qemu:///system suspend hvt-ops-hup-cpu >/dev/null || exit 1
sleep 0.5
U=$(lv_guest_cpu_usec hvt-ops-hup-cpu)
kern() { ip -s -s link show "$1" | awk '/RX:/{getline; rb=$1; rp=$2} /TX:/{getline; tb=$1; tp=$2; td=$4} END{print rb, rp, tb, tp, td}'; }
sumlab() { # METRIC LABEL-REGEX
	"$HVMETER" dump --store "$(agent_store r)" --resource "$NET_UUID" --metric "$1" |
		awk -F, -v re="$2" 'NR > 1 && $8 ~ re { s += $10 } END { printf "%.0f\n", s }'
}
metered() { echo "$(sumlab net.tx.bytes "device=$TAP$") $(sumlab net.tx.packets "device=$TAP$") $(sumlab net.rx.bytes "device=$TAP$") $(sumlab net.rx.packets "device=$TAP$")"; }
# The tap counts a frame for the guest when the guest takes it, our filter
# when it is queued: compare once the counters rest across a frame and
# nothing is in flight (a few tries; a real loss or double count stays).
for _ in 1 2 3 4 5; do
	K=$(kern "$TAP")
	agent_wait_after r "$(date +%s.%N)" 20 || exit 1
	[ "$K" = "$(kern "$TAP")" ] || continue
	read -r k_rxb k_rxp k_txb k_txp k_txd <<<"$K"
	[ "$(metered)" = "$k_rxb $k_rxp $k_txb $k_txp" ] && break
done
read -r k_rxb k_rxp k_txb k_txp k_txd <<<"$K"
C=$(agent_sum r "$CPU_UUID" cpu.time)
echo "busy guest: cgroup usage ${U} us, metered cpu.time ${C} ns ($(pct "$C" "$((U * 1000))") %)"
check "cpu.time across the reload within 1 % of the cgroup's cpu.stat" within "$C" "$((U * 1000))" 1
SENT=$(sed -n 's/.*HV: PING 10.99.0.1 \([0-9]*\) .*/\1/p' "$(lv_guest_console hvt-ops-hup-net)" | tr -d '\r')
PI=$(sumlab net.tx.packets "class=internal;") PP=$(sumlab net.tx.packets "class=public;")
echo "echo requests sent $SENT: billed internal $PI (before the reload), public $PP (after)"
check "every echo request billed once across the reload (internal + public = sent)" eq "$((PI + PP))" "$SENT"
check "both classes were in force in turn" awk -v a="$PI" -v b="$PP" 'BEGIN { exit !(a > 0 && b > 0) }'
TXB=$(sumlab net.tx.bytes "device=$TAP$") TXP=$(sumlab net.tx.packets "device=$TAP$")
RXB=$(sumlab net.rx.bytes "device=$TAP$") RXP=$(sumlab net.rx.packets "device=$TAP$")
echo "tap $TAP: metered tx $TXB B/$TXP p, rx $RXB B/$RXP p; kernel rx $k_rxb B/$k_rxp p, tx $k_txb B/$k_txp p ($k_txd dropped)"
check "VM transmit = tap's kernel RX, bytes and packets, across the reload" eq "$TXB/$TXP" "$k_rxb/$k_rxp"
check "VM receive = tap's kernel TX, bytes and packets, across the reload" eq "$RXB/$RXP" "$k_txb/$k_txp"

# Energy: the BMC says 250 W throughout. Frames share it out with the
# reader's lag (a frame may get a little of its neighbour's), so compare the
# whole run: every frame's energy over the span of all frames.
"$HVMETER" dump --store "$(agent_store r)" --resource host >"$HV_TMP/host.csv"
read -r E SPAN GAP <<<"$(awk -F, 'NR > 1 && $7 == "energy" && $8 == "" { e += $10; if (!s) s = $2; t = $3 }
	NR > 1 && $7 == "power.gap" { g += $10 }
	END { cmd = "date -d " s " +%s.%N"; cmd | getline a; cmd = "date -d " t " +%s.%N"; cmd | getline b
	      printf "%.3f %.3f %.3f\n", e, b - a, g }' "$HV_TMP/host.csv")"
EXACT=$(awk -v s="$SPAN" 'BEGIN { printf "%.3f", 250 * s }')
echo "host energy over all frames: $E J; 250 W x $SPAN s = $EXACT J ($(pct "$E" "$EXACT") %); gap $GAP s"
echo "around the swap (energy J per frame): $(awk -F, -v t="$(date -u -d "@${T_HUP%.*}" +%FT%T)" 'NR > 1 && $7 == "energy" && $8 == "" && $3 > t { if (n++ < 4) printf "%s ", $10 }' "$HV_TMP/host.csv")"
check "host energy across the BMC swap: 250 W x time within 1 %, no gap" \
	sh -c 'awk -v e="$1" -v x="$2" -v g="$3" "BEGIN { d = e - x; if (d < 0) d = -d; exit !(d <= 0.01 * x && g == 0) }"' _ "$E" "$EXACT" "$GAP"

# Not applied: frames keep 2 s and the store keeps its host.
ST=$("$HVMETER" status --store "$(agent_store r)")
check "interval not applied: the agent still says interval=2" grep -q '^  interval=2$' <<<"$ST"
SPANS=$("$HVMETER" dump --store "$(agent_store r)" --from "@${T_HUP%.*}" --resource host --metric energy |
	awk -F, 'NR > 2 && $8 == "" { cmd = "date -d " $3 " +%s.%N"; cmd | getline e; close(cmd); cmd = "date -d " $2 " +%s.%N"; cmd | getline s; close(cmd); printf "%.1f ", e - s }')
echo "frame lengths after the reload: $SPANS"
check "interval not applied: frames after the reload are 2 s" \
	awk -v s="$SPANS" 'BEGIN { n = split(s, a, " "); if (n < 3) exit 1; for (i = 1; i <= n; i++) if (a[i] < 1.5 || a[i] > 2.5) exit 1 }'
check "host_id not applied: the store's host stays test-r" grep -q '^host: *test-r$' <<<"$ST"
check "status names the classes in force" grep -q "netclass=sha256:$SHA2" <<<"$ST"

# A broken file: refused whole, the level in force stays.
printf '[agent]\nlog_level = chatty\n' >"$HV_TMP/r.conf"
kill -HUP "${AGENT_PID[r]}"
sleep 1
check "a broken file is refused naming file, line and key" \
	logged "SIGHUP: configuration refused, nothing changed: $HV_TMP/r.conf:2: [agent] log_level: must be error, warn, info or debug: 'chatty'"
N0=$(grep -c ' debug: frame ' "$HV_TMP/r.log")
agent_wait_after r "$(date +%s.%N)" 20 || exit 1
check "... and the log level in force (debug) stays" awk -v a="$N0" -v b="$(grep -c ' debug: frame ' "$HV_TMP/r.log")" 'BEGIN { exit !(b > a) }'
check "no negative delta" awk -v m="$(agent_min r)" 'BEGIN { exit !(m >= 0) }'
check "chain verifies" "$HVMETER" verify --store "$(agent_store r)"
[ "$fails" -eq 0 ]
