#!/usr/bin/env bash
# Checks network metering on a real guest's tap: pings to two peers that a
# class file puts in two classes give exact per-class packet counts; per
# direction the metered bytes and packets equal the tap's kernel counters;
# a NIC hot-plugged into the running guest is metered from its first frame;
# a malformed class file is refused with its line number on SIGHUP (and by
# -n) while the classes in force stay.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/libvirt.sh
. tests/lib/netns.sh
. tests/lib/agent.sh
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (libvirtd, BPF, netns)"; exit 77; }
HV_TMP=$(mktemp -d /tmp/hvt-net.XXXXXX)
LV_DIR=$HV_TMP
NS=hvtnetns$$ BR=hvtbr$$
trap 'lv_cleanup hvt-net-; agent_cleanup; ns_down $NS $BR; [ -n "${HV_KEEP:-}" ] || rm -rf "$HV_TMP"' EXIT
fails=0
check() {
	local what=$1; shift
	if "$@"; then echo "PASS: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}
eq() { [ "$1" = "$2" ]; }
lv_up || { echo "SKIP: libvirtd cannot run here"; exit 77; }
ns_up "$NS" "$BR" 10.99.0.1/24 10.99.0.3/24 10.99.0.5/24 || exit 1

printf '# test classes\n10.99.0.1/32 internal\n10.99.0.3/32 public\n' >"$HV_TMP/classes"
agent_start n interval=2 bpf=on || exit 1
# the class file is under [network]; agent_start writes [agent] keys only
agent_stop n
printf '[network]\nclasses = %s\n' "$HV_TMP/classes" >>"$HV_TMP/n.conf"
"$HVMETERD" -f -c "$HV_TMP/n.conf" >>"$HV_TMP/n.log" 2>&1 &
AGENT_PID[n]=$!
sleep 1

TAP=tapn0$$  # Nova-style: filtered from the link's creation, before QEMU runs
UUID=$(lv_guest_start hvt-net-a bridge="$BR" tap="${TAP:0:15}" ip=10.99.0.2/24 sleep=12 \
	net=10.99.0.1:100:1000,10.99.0.3:40:300) || exit 1
TAP=${TAP:0:15}
kern() { ip -s -s link show "$1" | awk '/RX:/{getline; rb=$1; rp=$2} /TX:/{getline; tb=$1; tp=$2} END{print rb, rp, tb, tp}'; }
# The window opens after boot, in the guest's pause, at a frame boundary
# (frames end on multiples of the 2 s interval), with the tap's counters.
lv_guest_wait hvt-net-a "HV: READY" 180 >/dev/null || exit 1
sleep 2
W0=$(( $(date +%s) / 2 * 2 ))
read -r k0_rxb k0_rxp k0_txb k0_txp <<<"$(kern "$TAP")"
lv_guest_wait hvt-net-a "HV: NET END" 240 >/dev/null || exit 1
CON=$(lv_guest_console hvt-net-a)
R1=$(awk '/HV: PING 10.99.0.1 /{ print $5 }' "$CON" | tr -d '\r')
R3=$(awk '/HV: PING 10.99.0.3 /{ print $5 }' "$CON" | tr -d '\r')
echo "guest: 100 pings to 10.99.0.1 (internal), $R1 replies; 40 to 10.99.0.3 (public), $R3 replies"

# Hot-plug a second NIC; frames reach it from the namespace: broadcast pings
# from an address no class names (they land in "default" on both taps).
# As an operator would: libvirt names the new tap (vnetN), and the agent
# puts its filter on at link creation, before the first frame.
virsh -q -c qemu:///system attach-interface hvt-net-a bridge "$BR" --model virtio >/dev/null || exit 1
TAP2=$(virsh -q -c qemu:///system domiflist hvt-net-a | awk -v t="$TAP" '$1 != t && $1 != "-" { print $1 }' | tail -1)
[ -n "$TAP2" ] || { echo "hot-plugged NIC has no tap name"; exit 1; }
sleep 2
ns_exec "$NS" ping -q -b -I 10.99.0.5 -c 20 -i 0.2 10.99.0.255 >/dev/null 2>&1
# Compare on a running, idle guest: a suspended one would never read a frame
# queued at the last moment, which our filter counted and the tap never will.
sleep 2

# kernel counters, stable across a frame
for try in 1 2 3; do
	K1=$(kern "$TAP") K2=$(kern "$TAP2")
	agent_wait_after n "$(date +%s.%N)" 30 || exit 1
	[ "$K1" = "$(kern "$TAP")" ] && [ "$K2" = "$(kern "$TAP2")" ] && break
done
read -r k_rxb k_rxp k_txb k_txp <<<"$K1"
sumlab() { # METRIC LABEL-REGEX [FROM]: sum of a metric over rows whose labels match
	"$HVMETER" dump --store "$(agent_store n)" --resource "$UUID" --metric "$1" --from "@${3:-0}" |
		awk -F, -v re="$2" 'NR > 1 && $8 ~ re { s += $10 } END { printf "%d\n", s }'
}
TXP_INT=$(sumlab net.tx.packets "class=internal;device=$TAP$")
TXP_PUB=$(sumlab net.tx.packets "class=public;device=$TAP$")
RXP_INT=$(sumlab net.rx.packets "class=internal;device=$TAP$")
RXP_PUB=$(sumlab net.rx.packets "class=public;device=$TAP$")
echo "metered on $TAP: tx packets internal $TXP_INT public $TXP_PUB; rx packets internal $RXP_INT public $RXP_PUB"
check "per-class tx packets exact: 100 echo requests to the internal peer" eq "$TXP_INT" 100
check "per-class tx packets exact: 40 echo requests to the public peer" eq "$TXP_PUB" 40
check "per-class rx packets exact: internal replies" eq "$RXP_INT" "$R1"
check "per-class rx packets exact: public replies" eq "$RXP_PUB" "$R3"
TXB=$(sumlab net.tx.bytes "device=$TAP$" "$W0") TXP=$(sumlab net.tx.packets "device=$TAP$" "$W0")
RXB=$(sumlab net.rx.bytes "device=$TAP$" "$W0") RXP=$(sumlab net.rx.packets "device=$TAP$" "$W0")
KTX="$((k_rxb - k0_rxb))/$((k_rxp - k0_rxp))" KRX="$((k_txb - k0_txb))/$((k_txp - k0_txp))"
echo "$TAP over the window: metered tx $TXB B/$TXP p, rx $RXB B/$RXP p; kernel rx $KTX, tx $KRX (B/p)"
check "VM transmit = tap's kernel RX over the window, bytes and packets" eq "$TXB/$TXP" "$KTX"
check "VM receive = tap's kernel TX over the window, bytes and packets" eq "$RXB/$RXP" "$KRX"

read -r h_rxb h_rxp h_txb h_txp <<<"$K2"
HRXB=$(sumlab net.rx.bytes "device=$TAP2$") HRXP=$(sumlab net.rx.packets "device=$TAP2$")
HTXB=$(sumlab net.tx.bytes "device=$TAP2$") HTXP=$(sumlab net.tx.packets "device=$TAP2$")
echo "hot-plugged $TAP2: metered rx $HRXB B/$HRXP p, tx $HTXB B/$HTXP p; kernel tx $h_txb B/$h_txp p, rx $h_rxb B/$h_rxp p"
check "hot-plugged NIC metered: frames reached it" awk -v p="$HRXP" 'BEGIN { exit !(p >= 20) }'
check "hot-plugged NIC: receive = kernel TX from the first frame" eq "$HRXB/$HRXP" "$h_txb/$h_txp"
check "hot-plugged NIC: transmit = kernel RX" eq "$HTXB/$HTXP" "$h_rxb/$h_rxp"

check "status shows BPF totals beside kernel totals per tap" grep -q "tap $TAP: bpf tx .* | kernel tx $k_rxb B $k_rxp p" <("$HVMETER" status --store "$(agent_store n)")
SHA=$(sha256sum "$HV_TMP/classes" | cut -d' ' -f1)
check "frames name the class file in force" grep -q "netclass=sha256:$SHA" <("$HVMETER" status --store "$(agent_store n)")

# A malformed class file: refused on SIGHUP with its line; the old one stays.
printf '10.99.0.1/32 internal\n10.99.0.3/32 public\n10.99.0.300/32 broken\n' >"$HV_TMP/classes"
kill -HUP "${AGENT_PID[n]}"
sleep 1
check "SIGHUP with a bad class file logs its line" grep -q "classes:3:" "$HV_TMP/n.log"
agent_wait_after n "$(date +%s.%N)" 30
check "previous classes stay in force" grep -q "netclass=sha256:$SHA" <("$HVMETER" status --store "$(agent_store n)")
check "hvmeterd -n refuses the bad class file naming the line" bash -c "! '$HVMETERD' -n -c '$HV_TMP/n.conf' 2>&1 | grep -q 'classes:3:' && exit 1 || exit 0"
printf '10.99.0.1/32 internal\n10.99.0.1/32 public\n' >"$HV_TMP/classes"
check "duplicate prefix refused naming the line" bash -c "'$HVMETERD' -n -c '$HV_TMP/n.conf' 2>&1 | grep -q 'classes:2:'"
check "no negative delta" awk -v m="$(agent_min n)" 'BEGIN { exit !(m >= 0) }'
[ "$fails" -eq 0 ]
