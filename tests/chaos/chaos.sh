#!/usr/bin/env bash
# make chaos: the whole system on this machine — three real guests under
# load (CPU, disk, network), ipmi_sim, hvrater and two hvmeterd — while
# faults are injected at random instants drawn from a printed seed; at the
# end kernel/libvirt ground truth, each agent's ledger and the rater's
# stored usage are compared per VM and metric, and any delta lost or doubled
# fails the run. See tests/chaos/README.md (faults, ground truth, tolerances).
#
#   tests/chaos/chaos.sh [--quick] [--seed N] [--faults N] [--duration S]
#                        [--gap MIN:MAX] [--keep]
#
# Exit 0 = no discrepancy, 77 = cannot run here (prints SKIP: why), else failed.
set -u
cd "$(dirname "$0")/../.." || exit 1
export LC_ALL=C

usage() {
	sed -n '10,11p' "$0" | sed 's/^# *//' >&2
	exit 2
}

QUICK=0 SEED="" FAULTS="" DURATION="" GAP="" KEEP=${HV_KEEP:-}
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--seed) SEED=${2:-}; shift ;;
	--faults) FAULTS=${2:-}; shift ;;
	--duration) DURATION=${2:-}; shift ;;
	--gap) GAP=${2:-}; shift ;;
	--keep) KEEP=1 ;;
	-h | --help) usage ;;
	*) echo "chaos: unknown argument '$1'" >&2; usage ;;
	esac
	shift
done
for v in "$SEED" "$FAULTS" "$DURATION"; do
	case $v in *[!0-9]*) echo "chaos: '$v' is not a whole number" >&2; exit 2 ;; esac
done
if [ "$QUICK" = 1 ]; then
	FAULTS=${FAULTS:-21} DURATION=${DURATION:-150} GAP=${GAP:-0.5:3.0}
else
	FAULTS=${FAULTS:-240} DURATION=${DURATION:-480} GAP=${GAP:-0.2:1.8}
fi
GAP_MIN=${GAP%:*} GAP_MAX=${GAP#*:}
SEED=${SEED:-$(( $(od -An -N2 -tu2 /dev/urandom) % 32768 ))}

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (libvirtd, BPF, mounts, nftables)"; exit 77; }
for t in unshare nft openssl ipmi_sim; do
	command -v "$t" >/dev/null || { echo "SKIP: no $t here (scripts/deps.sh installs it)"; exit 77; }
done

# The run gets its own libvirtd and virtlogd in a private mount namespace
# (its own /run): restarting libvirtd is one of the faults, and the daemon
# that other tests on this machine share must not be the one restarted.
# Everything else (network, cgroups, bpffs, /tmp) is the machine's own.
if [ -z "${HV_CHAOS_NS:-}" ]; then
	mode=()
	[ "$QUICK" = 1 ] && mode=(--quick)
	HV_CHAOS_NS=1 exec unshare -m --propagation private bash "$0" "${mode[@]}" \
		--seed "$SEED" --faults "$FAULTS" --duration "$DURATION" --gap "$GAP" ${KEEP:+--keep}
fi
mount -t tmpfs -o mode=0755 hvt-chaos-run /run || { echo "SKIP: cannot mount a private /run"; exit 77; }
mkdir -p /run/lock /run/netns && chmod 1777 /run/lock && ln -s /dev/shm /run/shm

. tests/lib/libvirt.sh
. tests/lib/agent.sh
. tests/lib/certs.sh
. tests/lib/uplink.sh
. tests/lib/bmc.sh
. tests/lib/netns.sh

RUN=$(( $$ % 100000 ))
PFX=hvt-chaos-$RUN-
HV_TMP=$(mktemp -d /tmp/hvt-chaos.XXXXXX)
LV_DIR=$HV_TMP
NFT_TABLE=hvt_chaos_$RUN
NS=hvt-chaos-$RUN BR=hvtcb$RUN TAP=tapc${RUN}n  # a Nova-style tap name
WATTS=250 # the BMC's constant power: energy's ground truth is WATTS x time
AGENTS=(a b)
GUESTS=(cpu disk net)
T_START=$SECONDS

cleanup() {
	local rc=$?
	[ -z "${SNAP_PID:-}" ] || kill "$SNAP_PID" 2>/dev/null
	nft delete table inet "$NFT_TABLE" 2>/dev/null
	lv_cleanup "$PFX"
	agent_cleanup
	rater_stop KILL
	bmc_stop "$HV_TMP/bmc" 2>/dev/null
	ns_down "$NS" "$BR"
	lv_down
	for a in "${AGENTS[@]}"; do umount "$(agent_store "$a")" 2>/dev/null; done
	# a failed run keeps its logs and ledger dumps (not the disk image) to
	# be looked into: a discrepancy may need the timing of this very run
	if [ -n "$KEEP" ]; then
		echo "kept $HV_TMP"
	elif [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
		rm -f "$HV_TMP"/*.img
		echo "kept $HV_TMP (the run failed; rm -rf it when done)"
	else
		rm -rf "$HV_TMP"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

say() { printf '[%6.1fs] %s\n' "$(( (${EPOCHREALTIME/./} / 1000) - T0_MS ))e-3" "$*"; }
T0_MS=$(( ${EPOCHREALTIME/./} / 1000 ))
now_ms() { NOW=$(( ${EPOCHREALTIME/./} / 1000 )); }
# rnd_ms LO HI (seconds, decimals allowed): REPLY = a random duration in ms.
# Set in this shell, never in $(...): a subshell's draws would not advance
# the seeded sequence and a replay would differ.
rnd_ms() {
	local lo hi
	lo=$(awk -v v="$1" 'BEGIN { printf "%d", v * 1000 }') hi=$(awk -v v="$2" 'BEGIN { printf "%d", v * 1000 }')
	REPLY=$(( lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1) ))
}
die() { echo "FAIL: $*"; exit 1; }

echo "chaos: seed $SEED (--seed $SEED replays the same faults, durations and spacing), at most $FAULTS faults in $DURATION s, $GAP s apart"
echo "chaos: run $RUN in $HV_TMP"
why=$(uplink_supported) || { echo "SKIP: $why"; exit 77; }
why=$(bmc_available) || { echo "SKIP: $why"; exit 77; }

# ---- the system -----------------------------------------------------------
certs_make "$HV_TMP/pki" test-a test-b || die "certificates"
lv_up || { echo "SKIP: libvirtd cannot run here"; exit 77; }
ns_up "$NS" "$BR" 10.99.0.1/24 || die "network namespace $NS"
mkdir -p "$HV_TMP/bmc"
bmc_set_watts "$HV_TMP/bmc/watts" "$WATTS"
BMC_PORT_FIXED=$(bmc_free_port) || die "no free UDP port"
bmc_start dell-idrac "$HV_TMP/bmc" "$BMC_PORT_FIXED" "$HV_TMP/bmc/watts" >/dev/null || die "BMC simulator"
rater_start idle_timeout=30 || die "hvrater serve"

# Each agent's store is a tmpfs of its own, so that the full-disk fault
# fills exactly that filesystem. a: interval 1 s; b: 2 s.
declare -A INTERVAL=([a]=1 [b]=2)
for a in "${AGENTS[@]}"; do
	s=$(agent_store "$a")
	mkdir -p "$s" && mount -t tmpfs -o size=16m,mode=0750 "hvt-chaos-$a" "$s" || die "tmpfs for agent $a"
	uplink_agent_start "$a" interval="${INTERVAL[$a]}" bpf=on uplink.timeout=5 || die "agent $a"
	agent_stop "$a"
	cat >>"$HV_TMP/$a.conf" <<EOF
[bmc]
driver = lan20
host = 127.0.0.1
port = $BMC_PORT
user = $BMC_USER
password = $BMC_PASSWORD
privilege = $BMC_PRIVILEGE
workarounds = $BMC_WORKAROUNDS
poll_ms = 500
maps_dir = $PWD/firmware-configs
idle_watts = 100
EOF
	agent_spawn "$a"
done
sleep 1
for a in "${AGENTS[@]}"; do
	kill -0 "${AGENT_PID[$a]}" 2>/dev/null || { cat "$HV_TMP/$a.log"; die "agent $a exited at start"; }
done

# sums KEYCOLS [MAXSEQ] < csv: "key value" with values as integers in the
# metric's decimals (the point dropped), exact below 2^53
sums() {
	awk -F, -v max="${2:-0}" -v by="$1" '(max == 0 || $1 <= max) {
		v = $10; gsub(/\./, "", v)
		k = (by == "vm") ? $4 "|" $7 : $4 "|" $7 "|" $8
		s[k] += v } END { for (k in s) printf "%s %.0f\n", k, s[k] }' | sort
}

# ledger_union A OUT: the agent's frames over its snapshots and its dump of
# now, newest first; a frame (seq .. seq + originals - 1) is taken from an
# older dump only where no newer one covers it (merged or pruned since).
ledger_union() {
	local a=$1
	"$HVMETER" dump --store "$(agent_store "$a")" >"$HV_TMP/$a.dump.now" || return 1
	# shellcheck disable=SC2046
	awk -F, 'FNR == 1 { for (s in pend) cov[s] = 1; delete pend; next }
		$1 != last || FILENAME != lastf {
			last = $1; lastf = FILENAME; take = 1
			for (s = $1; s < $1 + $11; s++) if (s in cov) take = 0
			if (take) for (s = $1; s < $1 + $11; s++) pend[s] = 1
		}
		take' "$HV_TMP/$a.dump.now" $(ls -r "$HV_TMP/$a".dump.[0-9]* 2>/dev/null) |
		sort -t, -k1,1n >"$2"
}
# seq_holes CSV LAST: the sequences 1..LAST that no frame of CSV covers
seq_holes() {
	awk -F, -v n="$2" '!($1 in f) { f[$1] = 1; for (i = $1; i < $1 + $11; i++) have[i] = 1 }
		END { for (i = 1; i <= n; i++) if (!(i in have)) printf "%d ", i }' "$1"
}
get() { awk -v k="$1" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' "$2"; }
metrics_of() {
	case $1 in
	cpu) echo "cpu.time vcpu.alloc" ;;
	disk) echo "cpu.time vcpu.alloc disk.read.bytes disk.read.requests disk.write.bytes disk.write.requests" ;;
	net) echo "cpu.time vcpu.alloc net.tx.bytes net.tx.packets net.rx.bytes net.rx.packets" ;;
	esac
}

# ---- guests and their ground truth ------------------------------------------
declare -A UUID=() TRUTH=() RUNS=() STARTED=()
for g in "${GUESTS[@]}"; do UUID[$g]=$(cat /proc/sys/kernel/random/uuid); RUNS[$g]=0; done
disk_ops=$(for _ in $(seq 12); do printf 'write:48,read:48,'; done)
guest_args() {
	case $1 in
	cpu) echo "vcpus=1 disksize=0 burn=1000000" ;;
	disk) echo "vcpus=1 disksize=64 disk=${disk_ops%,}" ;;
	net) echo "vcpus=1 disksize=0 bridge=$BR tap=$TAP ip=10.99.0.2/24 net=10.99.0.1:1000000:1000" ;;
	esac
}
# A run's allocation starts when libvirt says the domain started: the agent
# takes that event's arrival, and `virsh create` returns just after it.
guest_start() {
	local g=$1 name=$PFX$1
	[ "$g" != net ] || ip -n "$NS" link set eth0 up || return 1
	# shellcheck disable=SC2046
	lv_guest_start "$name" uuid="${UUID[$g]}" $(guest_args "$g") 2> >(grep -v '^guest: up to date' >&2) >/dev/null ||
		return 1
	now_ms; STARTED[$g]=$NOW
	# moderate load: the CPU guest's vCPU gets half a core (2 cores, shared)
	[ "$g" != cpu ] || lv_virsh schedinfo "$name" --live vcpu_period=100000 vcpu_quota=50000 >/dev/null ||
		echo "note: cannot cap $name's vCPU (schedinfo)"
	RUNS[$g]=$(( RUNS[$g] + 1 ))
}
blk() { # NAME: rd_bytes rd_req wr_bytes wr_req
	lv_virsh domblkstat "$1" vda | awk '{ v[$2] = $3 } END { print v["rd_bytes"] + 0, v["rd_req"] + 0, v["wr_bytes"] + 0, v["wr_req"] + 0 }'
}
tapstat() { cat "/sys/class/net/$TAP/statistics/$1"; }
add() { TRUTH[$1]=$(( ${TRUTH[$1]:-0} + $2 )); }
# truth_take G: the paused guest's counters, added to its totals. cpu.stat
# keeps counting QEMU's idle main loop after the pause: read it last.
truth_take() {
	local g=$1 name=$PFX$1 b
	if [ "$g" = disk ]; then
		read -r -a b <<<"$(blk "$name")"
		add "$g/disk.read.bytes" "${b[0]}"; add "$g/disk.read.requests" "${b[1]}"
		add "$g/disk.write.bytes" "${b[2]}"; add "$g/disk.write.requests" "${b[3]}"
	fi
	if [ "$g" = net ]; then
		# tap receive = the guest's transmit
		add "$g/net.tx.bytes" "$(tapstat rx_bytes)"; add "$g/net.tx.packets" "$(tapstat rx_packets)"
		add "$g/net.rx.bytes" "$(tapstat tx_bytes)"; add "$g/net.rx.packets" "$(tapstat tx_packets)"
	fi
	add "$g/cpu.time" $(( $(lv_guest_cpu_usec "$name") * 1000 ))
}
# The agents have committed a frame that ends after unix ms T (each one up
# and writing: faults that end meanwhile are ended by fault_expire).
wait_frames_after() {
	local t=$1 a deadline=$((SECONDS + ${2:-60})) ok
	while :; do
		ok=1
		for a in "${AGENTS[@]}"; do
			"$HVMETER" status --store "$(agent_store "$a")" 2>/dev/null |
				sed -n 's/^last frame:.*, \([^)]*\)).*/\1/p' >"$HV_TMP/last.$a"
			[ -s "$HV_TMP/last.$a" ] &&
				[ "$(date -d "$(cat "$HV_TMP/last.$a")" +%s%3N)" -gt "$t" ] || { ok=0; break; }
		done
		[ $ok = 1 ] && return 0
		[ $SECONDS -lt $deadline ] || { echo "note: agent $a has no frame after $t within ${2:-60} s"; return 1; }
		fault_expire
		sleep 0.2
	done
}
# guest_stop G: pause it, let every agent take one more sample of the still
# guest (QEMU's disk counters die with QEMU: what no agent read before the
# destroy is unknowable to anyone), read the truth, destroy. The run's
# allocation ends at the destroy.
# The network guest's peer goes quiet first: a frame sent to a paused guest
# passes the agent's tc hook but waits in the tap, and is counted by the
# tap only if QEMU ever reads it, so in flight the two may differ by it.
guest_stop() {
	local g=$1 name=$PFX$1
	if [ "$g" = net ]; then
		ip -n "$NS" link set eth0 down || return 1
		sleep 0.3
	fi
	lv_virsh suspend "$name" >/dev/null || return 1
	now_ms
	wait_frames_after $(( NOW + 1000 * ${INTERVAL[b]} )) 60
	[ "$g" != disk ] || wait_disk_billed
	truth_take "$g"
	lv_guest_destroy "$name" || return 1
	now_ms
	add "$g/vcpu.alloc" $(( NOW - STARTED[$g] )) # 1 vCPU: vCPU.ms
	run_note "$g"
}
# The still disk guest's I/O is in each agent's ledger, to the byte, before
# it is destroyed: an agent that lost libvirt (a restart) reads QEMU's
# counters only once it has reconnected (it retries every 5 s). One that
# has not within 30 s is named, with its state, and the destroy goes on:
# the final table then shows what it lost.
wait_disk_billed() {
	local a b want_r want_w deadline=$((SECONDS + 30)) pending
	read -r -a b <<<"$(blk "${PFX}disk")"
	want_r=$(( ${TRUTH[disk/disk.read.bytes]:-0} + b[0] )) want_w=$(( ${TRUTH[disk/disk.write.bytes]:-0} + b[2] ))
	while :; do
		pending=""
		for a in "${AGENTS[@]}"; do
			ledger_union "$a" "$HV_TMP/billed.csv" && sums vm <"$HV_TMP/billed.csv" >"$HV_TMP/billed"
			[ "$(get "${UUID[disk]}|disk.read.bytes" "$HV_TMP/billed")" -ge "$want_r" ] &&
				[ "$(get "${UUID[disk]}|disk.write.bytes" "$HV_TMP/billed")" -ge "$want_w" ] ||
				pending="$pending $a"
		done
		[ -n "$pending" ] || return 0
		if [ $SECONDS -ge $deadline ]; then
			for a in $pending; do
				say "  note: agent $a has not billed the still disk guest's I/O (libvirt: read $want_r, write $want_w B) within 30 s; its status and log:"
				"$HVMETER" status --store "$(agent_store "$a")" | grep -E '^ *(libvirt|uplink)=' | sed 's/^ */      /'
				tail -n 5 "$HV_TMP/$a.log" | sed 's/^/      /'
			done
			return 1
		fi
		fault_expire
		sleep 0.5
	done
}

# One line per stopped run: its totals so far, truth and each agent's
# ledger as it stands (a discrepancy is pinned to the run where it appears).
run_note() {
	local g=$1 m a out=""
	for a in "${AGENTS[@]}"; do
		ledger_union "$a" "$HV_TMP/note.csv" && sums vm <"$HV_TMP/note.csv" >"$HV_TMP/note.$a"
	done
	for m in $(metrics_of "$g"); do
		out="$out $m ${TRUTH[$g/$m]:-0}"
		for a in "${AGENTS[@]}"; do out="$out/$(get "${UUID[$g]}|$m" "$HV_TMP/note.$a")"; done
	done
	say "  $g run ${RUNS[$g]} stopped; totals truth/$(IFS=/; echo "${AGENTS[*]}"):$out"
}

for g in "${GUESTS[@]}"; do guest_start "$g" || die "guest $g"; done
lv_guest_wait "${PFX}cpu" "HV: BURN START" 180 >/dev/null || die "guest cpu did not start its burn"
lv_guest_wait "${PFX}disk" "HV: DISK START" 180 >/dev/null || die "guest disk did not start its I/O"
lv_guest_wait "${PFX}net" "HV: NET START" 180 >/dev/null || die "guest net did not start pinging"
say "system up: libvirtd $(cat /run/libvirtd.pid), rater :$RATER_PORT, BMC :$BMC_PORT, agents ${AGENTS[*]}, guests ${GUESTS[*]}"

# ---- faults -------------------------------------------------------------------
# A fault that lasts (an outage) ends at its own random instant; others may
# start meanwhile, so outages overlap. END[kind] = unix ms when it ends.
declare -A END=() COUNT=()
FILLED=""
fault_expire() {
	local k a
	now_ms
	for k in "${!END[@]}"; do
		[ "${END[$k]}" -le "$NOW" ] || continue
		unset "END[$k]"
		case $k in
		uplink) nft delete table inet "$NFT_TABLE" && say "  uplink restored" ;;
		full)
			rm -f "$(agent_store "$FILLED")/filler"
			wait "$SNAP_PID"; SNAP_PID=""
			ledger_snapshot "$FILLED"
			say "  agent $FILLED's filesystem has room again" ;;
		bmc) bmc_start dell-idrac "$HV_TMP/bmc" "$BMC_PORT_FIXED" "$HV_TMP/bmc/watts" >/dev/null ||
			die "BMC simulator did not come back"; say "  BMC back" ;;
		rater) rater_spawn || die "hvrater did not start again"; say "  rater back" ;;
		agent-*) a=${k#agent-}; agent_spawn "$a"; say "  agent $a started" ;;
		esac
	done
	# An agent that exits by itself is a finding, whatever the fault; except
	# one started while libvirtd was restarting: hvmeterd refuses to start
	# without libvirt (documented), and its supervisor starts it again.
	for a in "${AGENTS[@]}"; do
		[ -z "${END[agent-$a]:-}" ] || continue
		if [ -z "${AGENT_PID[$a]:-}" ] || ! kill -0 "${AGENT_PID[$a]}" 2>/dev/null; then
			wait "${AGENT_PID[$a]:-0}" 2>/dev/null
			if tail -n 1 "$HV_TMP/$a.log" | grep -q '^hvmeterd: cannot connect to libvirt'; then
				say "  agent $a refused to start: libvirtd was restarting; started again"
				AGENT_REFUSED=$((AGENT_REFUSED + 1))
			else
				say "  agent $a EXITED by itself; its log ends:"
				tail -n 5 "$HV_TMP/$a.log" | sed 's/^/      /'
				AGENT_EXITS=$((AGENT_EXITS + 1))
			fi
			agent_spawn "$a"
		fi
	done
}
AGENT_EXITS=0 AGENT_REFUSED=0

# inject KIND: starts it now; prints what it did. Returns 1 when KIND cannot
# run now (its outage is on already).
inject() {
	local k=$1 a ms mode
	case $k in
	agent_kill)
		a=${AGENTS[$((RANDOM % ${#AGENTS[@]}))]}
		[ -z "${END[agent-$a]:-}" ] || return 1
		rnd_ms 0 2; ms=$REPLY
		agent_kill "$a"
		now_ms; END[agent-$a]=$((NOW + ms))
		say "#$N agent_kill: SIGKILL agent $a, restarted after $ms ms" ;;
	rater_kill)
		[ -z "${END[rater]:-}" ] || return 1
		rnd_ms 0 3; ms=$REPLY
		rater_stop KILL
		now_ms; END[rater]=$((NOW + ms))
		say "#$N rater_kill: SIGKILL hvrater, restarted after $ms ms" ;;
	uplink_cut)
		[ -z "${END[uplink]:-}" ] || return 1
		rnd_ms 1 10; ms=$REPLY
		# drop: the link goes silent (timeouts); reset: the peer refuses
		if [ $((RANDOM % 2)) = 0 ]; then mode=drop; else mode="reject with tcp reset"; fi
		nft -f - <<EOF || die "nft cannot add the cut"
table inet $NFT_TABLE {
	chain out {
		type filter hook output priority 0;
		oif lo ip daddr 127.0.0.1 tcp dport $RATER_PORT $mode
		oif lo ip saddr 127.0.0.1 tcp sport $RATER_PORT $mode
	}
}
EOF
		now_ms; END[uplink]=$((NOW + ms))
		say "#$N uplink_cut: tcp :$RATER_PORT on lo ${mode%% *} for $ms ms" ;;
	disk_full)
		[ -z "${END[full]:-}" ] || return 1
		a=${AGENTS[$((RANDOM % ${#AGENTS[@]}))]}
		rnd_ms 1 10; ms=$REPLY
		ledger_snapshot "$a"
		dd if=/dev/zero of="$(agent_store "$a")/filler" bs=1M 2>/dev/null
		dd if=/dev/zero of="$(agent_store "$a")/filler" bs=4k oflag=append conv=notrunc 2>/dev/null
		snapshot_while_full "$a" &
		SNAP_PID=$!
		FILLED=$a
		now_ms; END[full]=$((NOW + ms))
		say "#$N disk_full: agent $a's store filesystem full for $ms ms" ;;
	libvirtd_restart)
		local pid t0=$SECONDS
		pid=$(cat /run/libvirtd.pid)
		kill -TERM "$pid"
		_lv_until 15 _lv_gone "$pid" || kill -KILL "$pid"
		_lv_until 5 _lv_gone "$pid"
		lv_up || die "libvirtd did not start again"
		say "#$N libvirtd_restart: libvirtd $pid stopped, $(cat /run/libvirtd.pid) up ($((SECONDS - t0)) s)" ;;
	guest_cycle)
		local g=${GUESTS[$((RANDOM % ${#GUESTS[@]}))]} t0=$SECONDS
		rnd_ms 0 3; ms=$REPLY
		guest_stop "$g" || die "cannot stop guest $g"
		sleep "$(awk -v m="$ms" 'BEGIN { print m / 1000 }')"
		guest_start "$g" || die "guest $g did not start again"
		say "#$N guest_cycle: $g paused, sampled, destroyed, started again after $ms ms (run ${RUNS[$g]}, $((SECONDS - t0)) s)" ;;
	bmc_cycle)
		[ -z "${END[bmc]:-}" ] || return 1
		rnd_ms 1 6; ms=$REPLY
		bmc_stop "$HV_TMP/bmc"
		now_ms; END[bmc]=$((NOW + ms))
		say "#$N bmc_cycle: ipmi_sim stopped for $ms ms" ;;
	esac
	COUNT[$k]=$(( ${COUNT[$k]:-0} + 1 ))
}

# A full store prunes its oldest acknowledged frames to make room, as soon
# as one interval after they were written (a store that only just holds one
# frame). The ledger's history is then the union of what it held
# (ledger_union): a dump before the fill and every 0.25 s while it is full,
# from a loop of its own so that no fault that blocks the driver (a guest
# cycle, a rater start) leaves a hole.
ledger_snapshot() {
	"$HVMETER" dump --store "$(agent_store "$1")" >"$HV_TMP/$1.dump.$(date +%s%N)" 2>/dev/null
}
SNAP_PID=""
snapshot_while_full() {
	while [ -e "$(agent_store "$1")/filler" ]; do
		ledger_snapshot "$1"
		sleep 0.25
	done
}

# Kinds are dealt from a shuffled deck, so each comes up in proportion and
# every kind early; an outage already on is passed over.
# A guest cycle takes 5-10 s (pause, a frame of each agent, destroy, boot):
# one card, so that a full run's ~8 minutes hold over 200 faults.
KINDS=(agent_kill agent_kill agent_kill rater_kill rater_kill uplink_cut uplink_cut
	disk_full disk_full libvirtd_restart guest_cycle bmc_cycle bmc_cycle)
[ "$QUICK" = 1 ] && KINDS=(agent_kill rater_kill uplink_cut disk_full libvirtd_restart guest_cycle bmc_cycle)
DECK=()
deal() {
	local i j t
	if [ ${#DECK[@]} -eq 0 ]; then
		DECK=("${KINDS[@]}")
		for ((i = ${#DECK[@]} - 1; i > 0; i--)); do
			j=$((RANDOM % (i + 1))); t=${DECK[$i]}; DECK[$i]=${DECK[$j]}; DECK[$j]=$t
		done
	fi
	REPLY=${DECK[0]}
	DECK=("${DECK[@]:1}")
}

RANDOM=$SEED
N=0
now_ms
PHASE_END=$((NOW + DURATION * 1000))
rnd_ms "$GAP_MIN" "$GAP_MAX"; NEXT=$((NOW + REPLY))
say "faults begin"
while [ "$N" -lt "$FAULTS" ]; do
	fault_expire
	[ "$NOW" -lt "$PHASE_END" ] || break
	if [ "$NOW" -ge "$NEXT" ]; then
		N=$((N + 1))
		for _ in 1 2 3 4 5 6 7 8; do deal; inject "$REPLY" && break; done
		now_ms
		rnd_ms "$GAP_MIN" "$GAP_MAX"; NEXT=$((NOW + REPLY))
	fi
	sleep 0.05
done
say "faults end: $N injected; ending the outages still on"
for k in "${!END[@]}"; do END[$k]=0; done
fault_expire
for k in "${!COUNT[@]}"; do echo "  $k: ${COUNT[$k]}"; done | sort

# ---- the end: still guests, final samples, drain ------------------------------
for g in "${GUESTS[@]}"; do guest_stop "$g" || die "cannot stop guest $g"; done
# the stops are in frames once each agent has a frame after two of its intervals
now_ms
wait_frames_after $((NOW + 2000 * ${INTERVAL[b]})) 60 || die "agents do not commit frames"
declare -A LAST=()
for a in "${AGENTS[@]}"; do LAST[$a]=$(agent_last_seq "$a"); done
drained() {
	local a r
	for a in "${AGENTS[@]}"; do
		r=$(rater_host_field "test-$a" last_seq)
		[ -n "$r" ] && [ "$r" -ge "${LAST[$a]}" ] && [ "$(agent_ack_seq "$a")" -ge "${LAST[$a]}" ] || return 1
	done
}
_lv_until 120 drained || echo "note: the rater did not catch up within 120 s"
for a in "${AGENTS[@]}"; do
	"$HVMETER" status --store "$(agent_store "$a")" >"$HV_TMP/$a.status"
	agent_stop "$a"
done
say "drained; agents stopped"

# ---- compare -------------------------------------------------------------------
fails=0 LOST=0 DOUBLED=0
check() {
	local what=$1; shift
	if "$@"; then echo "PASS: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}

# metric  scale (truth units -> ledger integers)  tolerance: percent and
# absolute, in ledger integers per guest run
#   cpu.time: cpu.stat and the BPF counters are read at different instants
#   vcpu.alloc: a run's end is the stop event's arrival (ms; an agent that
#   was being restarted sees it at its next listing, up to a second)
#   disk, net: counters read from the same place at rest: exact
declare -A SCALE=([cpu.time]=1 [vcpu.alloc]=1 [disk.read.bytes]=1 [disk.read.requests]=1
	[disk.write.bytes]=1 [disk.write.requests]=1 [net.tx.bytes]=1 [net.tx.packets]=1
	[net.rx.bytes]=1 [net.rx.packets]=1)
declare -A TOLP=([cpu.time]=1 [vcpu.alloc]=0.5) TOLA=([vcpu.alloc]=1000)

# row AGENT VM METRIC TRUTH LEDGER RATER TOLERANCE: one line of the table;
# ledger beyond truth +- tolerance, or rater != ledger, is lost or doubled
row() {
	local v=ok
	v=$(awk -v t="$4" -v l="$5" -v r="$6" -v d="$7" 'BEGIN {
		print (l < t - d || r < l) ? "LOST" : (l > t + d || r > l) ? "DOUBLED" : "ok" }')
	[ "$v" = LOST ] && LOST=$((LOST + 1))
	[ "$v" = DOUBLED ] && DOUBLED=$((DOUBLED + 1))
	printf '%-5s %-5s %-20s %16s %16s %16s %12s %10s  %s\n' "$1" "$2" "$3" "$4" "$5" "$6" \
		"$(awk -v l="$5" -v t="$4" 'BEGIN { printf "%+.0f", l - t }')" \
		"$(awk -v l="$5" -v r="$6" 'BEGIN { printf "%+.0f", r - l }')" "$v (tol $7)"
}
echo
printf '%-5s %-5s %-20s %16s %16s %16s %12s %10s  %s\n' agent vm metric truth ledger rater "ledger-truth" "rater-ledg" verdict
for a in "${AGENTS[@]}"; do
	ledger_union "$a" "$HV_TMP/$a.ledger" || die "cannot dump agent $a's ledger"
	R=$(rater_host_field "test-$a" last_seq)
	sums vm <"$HV_TMP/$a.ledger" >"$HV_TMP/$a.vm.ledger"
	rater_totals "test-$a" | awk '{ split($1, k, "|"); s[k[1] "|" k[2]] += $2 } END { for (x in s) printf "%s %.0f\n", x, s[x] }' |
		sort >"$HV_TMP/$a.vm.rater"
	rater_totals "test-$a" | awk '{ split($1, k, "|"); if (k[1] == "host" && k[3] == "") print k[1] "|" k[2], $2 }' >"$HV_TMP/$a.host.rater"
	for g in "${GUESTS[@]}"; do
		for m in $(metrics_of "$g"); do
			t=$(( ${TRUTH[$g/$m]:-0} * ${SCALE[$m]} ))
			l=$(get "${UUID[$g]}|$m" "$HV_TMP/$a.vm.ledger")
			r=$(get "${UUID[$g]}|$m" "$HV_TMP/$a.vm.rater")
			tol=$(awk -v t="$t" -v p="${TOLP[$m]:-0}" -v n="${RUNS[$g]}" -v ab="${TOLA[$m]:-0}" 'BEGIN { printf "%.0f", t * p / 100 + n * ab }')
			row "$a" "$g" "$m" "$t" "$l" "$r" "$tol"
		done
	done
	# energy: WATTS over the time frames cover, less the gaps they mark
	awk -F, -v w="$WATTS" '
	function t(s,   d, y, m, dd, era, yoe, doy, doe, days) {
		y = substr(s, 1, 4) + 0; m = substr(s, 6, 2) + 0; dd = substr(s, 9, 2) + 0
		if (m <= 2) y--
		era = int(y / 400); yoe = y - era * 400
		doy = int((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + dd - 1
		doe = yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy
		days = era * 146097 + doe - 719468
		return days * 86400 + substr(s, 12, 2) * 3600 + substr(s, 15, 2) * 60 + substr(s, 18)
	}
	!($1 in seen) { seen[$1] = 1; cover += t($3) - t($2) }
	$4 == "host" && $7 == "energy" && $8 == "" { e += $10; host[$1] += $10 * 1000 }
	$7 == "energy" && !($4 == "host" && $8 == "") { parts[$1] += $10 * 1000 }
	$4 == "host" && $7 == "power.gap" { gap += $10 }
	END {
		bad = 0; for (s in host) { d = host[s] - parts[s]; if (d < -0.5 || d > 0.5) bad++ }
		printf "%.3f %.3f %.3f %.3f %d\n", e, w * (cover - gap), cover, gap, bad
	}' "$HV_TMP/$a.ledger" >"$HV_TMP/$a.energy"
	read -r e want _ <"$HV_TMP/$a.energy"
	t=$(awk -v w="$want" 'BEGIN { printf "%.0f", w * 1000 }') l=$(awk -v e="$e" 'BEGIN { printf "%.0f", e * 1000 }')
	row "$a" host "energy (mJ)" "$t" "$l" "$(get "host|energy" "$HV_TMP/$a.host.rater")" \
		"$(awk -v t="$t" 'BEGIN { printf "%.0f", t / 100 }')"
done
echo "  (cpu.time ns, vcpu.alloc vCPU.ms, disk B and requests, net B and packets, energy mJ; ledger = the agent's"
echo "   frames over all its dumps, rater = hvrater totals; truth: cpu.stat, libvirt block stats, tap counters, virsh create..destroy, BMC watts x time outside marked gaps)"
echo

for a in "${AGENTS[@]}"; do
	S=$(agent_store "$a")
	R=$(rater_host_field "test-$a" last_seq) N_=$(agent_last_seq "$a") K=$(agent_ack_seq "$a")
	echo "agent $a: frames up to seq $N_, acknowledged $K, rater holds up to $R; $("$HVMETER" status --store "$S" | sed -n 's/^merged: *//p'); pruned: $("$HVMETER" status --store "$S" | sed -n 's/^pruned: *//p')"
	sums series "$R" <"$HV_TMP/$a.ledger" >"$HV_TMP/$a.series.ledger"
	rater_totals "test-$a" | awk '{ print $1, $2 }' >"$HV_TMP/$a.series.rater"
	d=$(join -a1 -a2 -e 0 -o 0,1.2,2.2 "$HV_TMP/$a.series.ledger" "$HV_TMP/$a.series.rater" | awk '$2 != $3')
	nl=$(awk '$3 < $2' <<<"$d" | grep -c .) nd=$(awk '$3 > $2' <<<"$d" | grep -c .)
	LOST=$((LOST + nl)) DOUBLED=$((DOUBLED + nd))
	check "agent $a: rater totals = ledger sums over frames <= $R for all $(wc -l <"$HV_TMP/$a.series.ledger") series (lost $nl, doubled $nd)" \
		test -z "$d"
	[ -z "$d" ] || sed 's/^/      series ledger rater: /' <<<"$d" | head -20
	check "agent $a: drained: every frame acknowledged and held by the rater ($K = $R = $N_)" \
		test "$K" = "$N_" -a "$R" = "$N_"
	check "agent $a: rater chain head = agent chain head" \
		test "$(rater_host_field "test-$a" chain_head)" = "$("$HVMETER" status --store "$S" | sed -n 's/^chain head: *//p')"
	check "agent $a: hvmeter verify" "$HVMETER" verify --store "$S"
	holes=$(seq_holes "$HV_TMP/$a.ledger" "$N_")
	check "agent $a: the ledger's history is complete over its dumps (seq 1..$N_)${holes:+; missing $holes}" \
		test -z "$holes"
	check "agent $a: no negative delta" awk -F, '$7 !~ /^(power|temperature|memory.resident)/ && $10 < 0 { exit 1 }' "$HV_TMP/$a.ledger"
	read -r _ _ cover gap bad <"$HV_TMP/$a.energy"
	echo "agent $a: frames cover $cover s, of which $gap s are marked as power gaps"
	check "agent $a: every frame's VM energy + remainder = host energy (mJ)" test "$bad" = 0
	lost=$(grep -c 'libvirt connection lost' "$HV_TMP/$a.log") back=$(grep -c 'libvirt connection restored' "$HV_TMP/$a.log")
	echo "agent $a: started $(grep -c 'hvmeterd .*: host' "$HV_TMP/$a.log") times; libvirt connection lost $lost, restored $back"
	check "agent $a: connected to libvirt at the end (${COUNT[libvirtd_restart]:-0} libvirtd restarts)" \
		grep -q '^ *libvirt=connected' "$HV_TMP/$a.status"
done
check "no agent exited by itself ($AGENT_EXITS; $AGENT_REFUSED refused to start while libvirtd restarted)" test "$AGENT_EXITS" = 0
check "the rater ingested no refused batch" test "$(grep -c 'refused batch' "$HV_TMP/rater.log")" = 0
echo "rater: started $(grep -c 'listening on' "$HV_TMP/rater.log") times; duplicates skipped a=$(rater_host_field test-a duplicates) b=$(rater_host_field test-b duplicates)"
echo "guest runs: cpu ${RUNS[cpu]}, disk ${RUNS[disk]}, net ${RUNS[net]}; elapsed $((SECONDS - T_START)) s; seed $SEED"
echo
echo "$N faults injected, $LOST deltas lost, $DOUBLED doubled"
[ "$LOST" = 0 ] && [ "$DOUBLED" = 0 ] && [ "$fails" = 0 ] && [ "$N" -gt 0 ]
