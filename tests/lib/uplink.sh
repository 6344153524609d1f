# shellcheck shell=bash
# hvrater serve and uplink-enabled agents for integration tests. Source it
# after tests/lib/agent.sh and tests/lib/certs.sh, with HV_TMP set and the
# certificates made by `certs_make "$HV_TMP/pki" ...`.
#   uplink_port                      print a free TCP port on 127.0.0.1
#   uplink_supported                 true when hvmeterd accepts an [uplink] section and
#                                    hvrater has `serve`; else prints why on stdout
#   rater_start [key=value...]       write $HV_TMP/rater.conf (listen on $RATER_PORT,
#                                    store $HV_TMP/rater.store) and start hvrater serve;
#                                    waits until it listens. As root it runs as user
#                                    $RATER_USER (default nobody) unless the keys name a
#                                    user or allow_root; keys for [rating] go as rating.KEY=V
#   rater_spawn                      start it again from rater.conf (after a kill)
#   rater_stop [SIGNAL]              signal it (TERM) and reap it
#   rater_host_field HOST COLUMN     one column of `hvrater hosts --format csv` for HOST
#   rater_totals HOST                `hvrater totals --host HOST` as "resource|metric|labels raw"
#   uplink_agent_start NAME [key=value...]   like agent_start, plus an [uplink] section
#                                    pointing at the rater with NAME's certificate
#                                    (keys given as uplink.KEY=V go to [uplink])
#   agent_ack_seq NAME               the agent's acknowledged seq (hvmeter status)
#   agent_totals NAME MAXSEQ         dump sums of frames with seq <= MAXSEQ, as rater_totals
#   agent_frame_hash NAME SEQ        the stored hash of frame SEQ (dump --format lmdb: the
#                                    frames key is u64 BE seq and u32 BE part; part 0 starts with the hash)
HVRATER="${HV_BUILD:-build}/bin/hvrater"
RATER_PID=
RATER_PORT=${RATER_PORT:-}

uplink_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 30000))
		# refused means nobody listens there
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

uplink_supported() {
	local conf="$HV_TMP/probe.conf"
	printf '[agent]\nhost_id = probe\n[uplink]\nrater = 127.0.0.1:1\nca = /x\ncert = /x\nkey = /x\n' >"$conf"
	if ! "$HVMETERD" -n -c "$conf" >/dev/null 2>&1; then
		echo "hvmeterd has no [uplink] section yet (uplink not wired into daemon/config.c, hvmeterd.c)"
		return 1
	fi
	if ! "$HVRATER" serve --help >/dev/null 2>&1; then
		echo "hvrater has no 'serve' command yet (not wired into rater/hvrater.c)"
		return 1
	fi
}

rater_start() {
	local kv rating=() who=
	[ -n "$RATER_PORT" ] || RATER_PORT=$(uplink_port) || { echo "no free port" >&2; return 1; }
	# hvrater serve refuses to stay root: it switches to this user once its socket is open
	[ "$(id -u)" -eq 0 ] && who=${RATER_USER:-nobody}
	{
		echo "[rater]"
		echo "listen = 127.0.0.1:$RATER_PORT"
		echo "store = $HV_TMP/rater.store"
		echo "ca = $HV_TMP/pki/ca.pem"
		echo "cert = $HV_TMP/pki/rater.pem"
		echo "key = $HV_TMP/pki/rater.key"
		for kv in "$@"; do
			case ${kv%%=*} in
			rating.*) rating+=("${kv#rating.}") ;;
			user | allow_root) who=; echo "${kv%%=*} = ${kv#*=}" ;;
			*) echo "${kv%%=*} = ${kv#*=}" ;;
			esac
		done
		[ -z "$who" ] || echo "user = $who"
		[ ${#rating[@]} -eq 0 ] || echo "[rating]"
		for kv in "${rating[@]}"; do echo "${kv%%=*} = ${kv#*=}"; done
	} >"$HV_TMP/rater.conf"
	rater_spawn
}

rater_spawn() {
	local n0
	n0=$(grep -c 'listening on' "$HV_TMP/rater.log" 2>/dev/null)
	"$HVRATER" serve -c "$HV_TMP/rater.conf" >>"$HV_TMP/rater.log" 2>&1 &
	RATER_PID=$!
	disown "$RATER_PID" # killed on purpose: no "Killed" job notices (bash still reaps it)
	for _ in $(seq 100); do
		[ "$(grep -c 'listening on' "$HV_TMP/rater.log" 2>/dev/null)" -gt "${n0:-0}" ] && return 0
		kill -0 "$RATER_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "hvrater did not start:" >&2
	tail -n 5 "$HV_TMP/rater.log" >&2
	return 1
}

rater_stop() {
	local sig=${1:-TERM}
	[ -n "$RATER_PID" ] || return 0
	kill -"$sig" "$RATER_PID" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$RATER_PID" 2>/dev/null || break; sleep 0.1; done
	RATER_PID=
}

rater_host_field() {
	local col
	col=$("$HVRATER" hosts --store "$HV_TMP/rater.store" --format csv 2>/dev/null | head -1 |
		tr ',' '\n' | grep -nx "$2" | cut -d: -f1)
	[ -n "$col" ] || return 1
	"$HVRATER" hosts --store "$HV_TMP/rater.store" --format csv 2>/dev/null |
		awk -F, -v h="$1" -v c="$col" 'NR > 1 && $1 == h { print $c }'
}

# Values are printed with the metric's decimals; both sides drop the point
# and add integers (exact in awk's doubles below 2^53).
rater_totals() {
	"$HVRATER" totals --store "$HV_TMP/rater.store" --host "$1" |
		awk -F, 'NR > 1 { v = $6; gsub(/\./, "", v); printf "%s|%s|%s %.0f\n", $2, $3, $4, v }' | sort
}

agent_totals() {
	"$HVMETER" dump --store "$(agent_store "$1")" |
		awk -F, -v max="$2" 'NR > 1 && $1 <= max { v = $10; gsub(/\./, "", v); s[$4 "|" $7 "|" $8] += v }
			END { for (k in s) printf "%s %.0f\n", k, s[k] }' | sort
}

agent_ack_seq() {
	"$HVMETER" status --store "$(agent_store "$1")" 2>/dev/null |
		sed -n 's/^acknowledged: *up to seq \([0-9]*\).*/\1/p'
}

agent_frame_hash() {
	"$HVMETER" dump --store "$(agent_store "$1")" --format lmdb 2>/dev/null |
		awk -v want="$(printf '%016x' "$2")" '
		/^database=/ { db = substr($0, 10) }
		/^HEADER=END$/ { data = 1; n = 0; next }
		/^DATA=END$/ { data = 0; next }
		data && db == "frames" && /^ / { if (n++ % 2 == 0) { key = substr($0, 2); next }
			if (key == want "00000000") print substr($0, 2, 64) }'
}

uplink_agent_start() {
	local name=$1 conf="$HV_TMP/$1.conf" kv k v uri="qemu:///system" up=()
	shift
	local pin="/sys/fs/bpf/hvt-$$-$name"
	{
		echo "[agent]"
		echo "host_id = test-$name"
		echo "store = $(agent_store "$name")"
		echo "bpf_pin_dir = $pin"
		for kv in "$@"; do
			k=${kv%%=*} v=${kv#*=}
			case $k in
			libvirt_uri) uri=$v ;;
			uplink.*) up+=("${k#uplink.} = $v") ;;
			*) echo "$k = $v" ;;
			esac
		done
		echo "[libvirt]"
		echo "uri = $uri"
		echo "[uplink]"
		echo "rater = 127.0.0.1:$RATER_PORT"
		echo "ca = $HV_TMP/pki/ca.pem"
		echo "cert = $HV_TMP/pki/test-$name.pem"
		echo "key = $HV_TMP/pki/test-$name.key"
		for kv in "${up[@]}"; do echo "$kv"; done
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
