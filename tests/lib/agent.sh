# shellcheck shell=bash
# hvmeterd in integration tests. Source it after setting HV_TMP (a temp dir).
#   agent_start NAME [key=value...]  write NAME.conf ([agent] keys, libvirt_uri=),
#                                    start hvmeterd -f, store in $HV_TMP/NAME.store
#   agent_stop NAME [SIGNAL]         signal it (TERM) and wait for it to exit
#   agent_store NAME                 print its store directory
#   agent_last_seq NAME              print the newest sequence committed (0 if none)
#   agent_wait_seq NAME SEQ TIMEOUT  wait until a frame with seq >= SEQ exists
#   agent_wait_after NAME EPOCH_S TIMEOUT   wait until a frame ends after EPOCH_S
#   agent_sum NAME RESOURCE METRIC [FROM TO]  sum of a metric's values (dump CSV)
#   agent_min NAME                   the smallest counter value anywhere (negatives?)
#   agent_spawn NAME                 start it again from NAME.conf at once: no wait, no
#                                    check (for kills at random instants)
#   agent_kill NAME                  SIGKILL it and reap it
#   agent_baseline_sum NAME RESOURCE KEYPREFIX [METRIC]
#                                    sum of the raw counter baselines (key starting with
#                                    KEYPREFIX, e.g. cpu/) feeding RESOURCE [METRIC], read
#                                    from dump --format lmdb: what the deltas of all frames,
#                                    merged or not, must add up to exactly
#   agent_cleanup                    stop every agent started, unpin their BPF
HV_BUILD=${HV_BUILD:-build}
HVMETERD="$HV_BUILD/bin/hvmeterd"
HVMETER="$HV_BUILD/bin/hvmeter"
declare -A AGENT_PID=()
AGENT_PINS=()

agent_store() { echo "$HV_TMP/$1.store"; }

agent_start() {
	local name=$1 conf="$HV_TMP/$1.conf" kv k v uri="qemu:///system"
	shift
	local pin="/sys/fs/bpf/hvt-$$-$name"
	{
		echo "[agent]"
		echo "host_id = test-$name"
		echo "store = $(agent_store "$name")"
		echo "bpf_pin_dir = $pin"
		for kv in "$@"; do
			k=${kv%%=*} v=${kv#*=}
			if [ "$k" = libvirt_uri ]; then uri=$v; else echo "$k = $v"; fi
		done
		echo "[libvirt]"
		echo "uri = $uri"
	} >"$conf"
	AGENT_PINS+=("$pin")
	"$HVMETERD" -f -c "$conf" >>"$HV_TMP/$name.log" 2>&1 &
	AGENT_PID[$name]=$!
	sleep 0.3
	if ! kill -0 "${AGENT_PID[$name]}" 2>/dev/null; then
		echo "agent $name died at start:" >&2
		cat "$HV_TMP/$name.log" >&2
		return 1
	fi
}

agent_stop() {
	local name=$1 sig=${2:-TERM} pid=${AGENT_PID[$1]:-}
	[ -n "$pid" ] || return 0
	kill -"$sig" "$pid" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	wait "$pid" 2>/dev/null
	unset "AGENT_PID[$name]"
}

# The newest sequence committed: "frames: N kept (seq A..B)" gives B, also
# when the newest frame is a merged one (whose own seq is its first).
agent_last_seq() {
	"$HVMETER" status --store "$(agent_store "$1")" 2>/dev/null |
		sed -n 's/^frames: .*(seq [0-9]*\.\.\([0-9]*\)).*/\1/p' | grep . || echo 0
}

agent_wait_seq() {
	local name=$1 want=$2 deadline=$((SECONDS + $3))
	while [ "$SECONDS" -lt "$deadline" ]; do
		[ "$(agent_last_seq "$name")" -ge "$want" ] && return 0
		sleep 0.5
	done
	echo "agent $name: no frame $want within $3 s" >&2
	return 1
}

# Wait until the newest frame ends after unix time EPOCH_S.
agent_wait_after() {
	local name=$1 after=$2 deadline=$((SECONDS + $3)) end
	while [ "$SECONDS" -lt "$deadline" ]; do
		end=$("$HVMETER" status --store "$(agent_store "$name")" 2>/dev/null |
			sed -n 's/^last frame:.*, \([^)]*\)).*/\1/p')
		[ -n "$end" ] && awk -v a="$(date -d "$end" +%s.%N)" -v b="$after" \
			'BEGIN { exit !(a > b) }' && return 0
		sleep 0.5
	done
	echo "agent $name: no frame ending after $after within $3 s" >&2
	return 1
}

# agent_sum NAME RESOURCE METRIC [FROM TO]: FROM/TO as accepted by dump (@SECONDS).
agent_sum() {
	local name=$1 res=$2 metric=$3 range=()
	[ $# -ge 5 ] && range=(--from "$4" --to "$5")
	"$HVMETER" dump --store "$(agent_store "$name")" --resource "$res" --metric "$metric" "${range[@]}" |
		awk -F, 'NR > 1 { s += $10 } END { printf "%.3f\n", s }'
}

agent_min() {
	"$HVMETER" dump --store "$(agent_store "$1")" |
		awk -F, 'NR > 1 && $7 !~ /^(power|temperature|memory.resident)/ { if (m == "" || $10 < m) m = $10 } END { print (m == "" ? 0 : m) }'
}

agent_spawn() {
	local name=$1
	"$HVMETERD" -f -c "$HV_TMP/$name.conf" >>"$HV_TMP/$name.log" 2>&1 &
	AGENT_PID[$name]=$!
}

agent_kill() {
	local name=$1 pid=${AGENT_PID[$1]:-}
	[ -n "$pid" ] || return 0
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	unset "AGENT_PID[$name]"
}

# Reads store/baseline_slots.h's layout from the raw dump: `baselines` maps a
# key (text) to its slot (u32 BE) and resource, metric, labels (LEB128 length
# + bytes; one length byte, as all three are shorter than 128); `counters`
# holds 64 slots a record (epoch, value, time u64 BE, flags u32 BE). Values
# are summed as doubles: exact below 2^53 (104 days of CPU in ns).
agent_baseline_sum() {
	local name=$1 res=$2 pre=$3 met=${4:-}
	"$HVMETER" dump --store "$(agent_store "$name")" --format lmdb | awk -v res="$res" -v pre="$pre" -v met="$met" '
	function val(h,   v, i) { v = 0; for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1; return v }
	function str(h,   s, i) { s = ""; for (i = 1; i < length(h); i += 2) s = s sprintf("%c", val(substr(h, i, 2))); return s }
	/^database=/ { db = substr($0, 10) }
	/^HEADER=END$/ { data = 1; n = 0; next }
	/^DATA=END$/ { data = 0; next }
	# baselines: key -> u32 slot, str resource, str metric, str labels
	data && db == "baselines" && /^ / {
		h = substr($0, 2)
		if (n++ % 2 == 0) { key = str(h); next }
		rl = val(substr(h, 9, 2)); r = str(substr(h, 11, 2 * rl))
		ml = val(substr(h, 11 + 2 * rl, 2)); m = str(substr(h, 13 + 2 * rl, 2 * ml))
		if (r == res && index(key, pre) == 1 && (met == "" || m == met)) want[val(substr(h, 1, 8))] = 1
	}
	# counters: u32 chunk -> 64 slots of (u64 epoch, u64 value, u64 time, u32 flags)
	data && db == "counters" && /^ / {
		h = substr($0, 2)
		if (n++ % 2 == 0) { chunk = val(h); next }
		for (slot in want)
			if (int(slot / 64) == chunk) s += val(substr(h, (slot % 64) * 56 + 17, 16))
	}
	END { printf "%.0f\n", s }'
}

agent_cleanup() {
	local n p
	for n in "${!AGENT_PID[@]}"; do agent_stop "$n" KILL; done
	for p in "${AGENT_PINS[@]}"; do rm -rf "$p"; done
}

# within A B PCT: true when A is within PCT % of B (B > 0).
within() {
	awk -v a="$1" -v b="$2" -v p="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b > 0 && d * 100 <= p * b) }'
}

# pct A B: how far A is from B, in % of B.
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.3f", b ? (a - b) * 100 / b : 0 }'; }
