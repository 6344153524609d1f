#!/usr/bin/env bash
# Checks hvmeterd's Prometheus endpoint with a real prometheus server scraping
# it every second: up == 1; a real guest's series carry its libvirt and Nova
# labels (domain, uuid, instance_name, project_uuid, project_name, flavor);
# the CPU counter equals, to the nanosecond, the ledger's total (hvmeter dump)
# up to the frame the same scrape names, and the newest value is within one
# frame's CPU of the newest ledger total; the counter rises while the guest
# burns; the agent's health series are there; the exposition passes
# promtool's lint; the endpoint answers only GET /metrics; a non-loopback
# listen address is refused without allow_remote; the agent stops cleanly.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/libvirt.sh
. tests/lib/agent.sh
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (libvirtd, BPF)"; exit 77; }
for t in prometheus promtool curl jq; do
	command -v "$t" >/dev/null || { echo "SKIP: $t not installed (scripts/deps.sh)"; exit 77; }
done
HV_TMP=$(mktemp -d /tmp/hvt-ops-prom.XXXXXX)
LV_DIR=$HV_TMP
PROM_PID=
trap 'lv_cleanup hvt-ops-prom-; agent_cleanup; [ -z "$PROM_PID" ] || { kill "$PROM_PID"; wait "$PROM_PID"; } 2>/dev/null; [ -n "${HV_KEEP:-}" ] || rm -rf "$HV_TMP"' EXIT
fails=0
check() { # check DESCRIPTION CONDITION...
	local what=$1; shift
	if "$@"; then echo "PASS: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}
eq() { [ "$1" = "$2" ]; }
# A TCP port on 127.0.0.1 nothing listens on.
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 30000))
		ss -Hltn "sport = :$p" | grep -q . || { echo "$p"; return 0; }
	done
	return 1
}
# agent_conf NAME EXTRA: the config agent_start writes (2 s frames, BPF), plus sections.
agent_conf() {
	local pin="/sys/fs/bpf/hvt-$$-$1"
	AGENT_PINS+=("$pin")
	printf '[agent]\nhost_id = test-%s\nstore = %s\nbpf_pin_dir = %s\ninterval = 2\nbpf = on\n[libvirt]\nuri = qemu:///system\n%s\n' \
		"$1" "$(agent_store "$1")" "$pin" "$2" >"$HV_TMP/$1.conf"
}

lv_up || { echo "SKIP: libvirtd cannot run here"; exit 77; }
PORT=$(free_port) && PPORT=$(free_port) || { echo "no free TCP port"; exit 1; }

# Refused before anything starts: the endpoint names every VM and project.
agent_conf remote "$(printf '[prometheus]\nlisten = 0.0.0.0:%s' "$PORT")"
OUT=$("$HVMETERD" -n -c "$HV_TMP/remote.conf" 2>&1)
echo "hvmeterd -n with listen = 0.0.0.0:$PORT: $OUT"
check "a non-loopback listen address is refused, naming file, line and key" \
	grep -q "remote.conf:10: \[prometheus\] listen: 0.0.0.0:$PORT is not a loopback address" <<<"$OUT"
agent_conf remote "$(printf '[prometheus]\nlisten = 0.0.0.0:%s\nallow_remote = yes' "$PORT")"
check "... and accepted with allow_remote = yes" bash -c "'$HVMETERD' -n -c '$HV_TMP/remote.conf' >/dev/null"

PROJECT=7d1e5c4b3a2f4e1d9c8b7a6f5e4d3c2b
UUID=$(lv_guest_start hvt-ops-prom-a burn=40 project=$PROJECT project_name=acme flavor=m1.small) || exit 1
agent_conf p "$(printf '[prometheus]\nlisten = 127.0.0.1:%s' "$PORT")"
agent_spawn p
URL=http://127.0.0.1:$PORT/metrics
for _ in $(seq 50); do curl -sf -o /dev/null "$URL" && break; sleep 0.2; done
check "the agent logs where it serves /metrics" grep -q "prometheus: serving /metrics on 127.0.0.1:$PORT" "$HV_TMP/p.log"

# The Prometheus server: its own web on a random loopback port, storage here.
cat >"$HV_TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: hvmeter
    static_configs:
      - targets: ['127.0.0.1:$PORT']
EOF
prometheus --config.file="$HV_TMP/prometheus.yml" --storage.tsdb.path="$HV_TMP/tsdb" \
	--web.listen-address="127.0.0.1:$PPORT" --log.level=warn >"$HV_TMP/prometheus.log" 2>&1 &
PROM_PID=$!
API=http://127.0.0.1:$PPORT/api/v1
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$PPORT/-/ready" && break; sleep 0.2; done
# query EXPR [TIME]: the result vector as JSON
query() { curl -sf -G "$API/query" --data-urlencode "query=$1" ${2:+--data-urlencode "time=$2"} | jq -c '.data.result'; }
for _ in $(seq 60); do
	[ "$(query 'up{job="hvmeter"}' | jq -r '.[0].value[1] // empty')" = 1 ] && break
	sleep 0.5
done
check "prometheus scrapes the agent: up == 1" eq "$(query 'up{job="hvmeter"}' | jq -r '.[0].value[1]')" 1

lv_guest_wait hvt-ops-prom-a "HV: BURN START" 120 >/dev/null || exit 1
sleep 8 # some frames of the burn, scraped

# One scrape gives both the counter and the frame it includes.
T=$(date +%s.%N)
R=$(query "hvmeter_vm_cpu_seconds_total{uuid=\"$UUID\"} or hvmeter_ledger_last_seq" "$T")
SERIES=$(jq -c '.[] | select(.metric.__name__ == "hvmeter_vm_cpu_seconds_total") | .metric' <<<"$R")
VAL=$(jq -r '.[] | select(.metric.__name__ == "hvmeter_vm_cpu_seconds_total") | .value[1]' <<<"$R")
SEQ=$(jq -r '.[] | select(.metric.__name__ == "hvmeter_ledger_last_seq") | .value[1]' <<<"$R")
echo "scrape at $T: series $SERIES = $VAL s, ledger seq $SEQ"
lab() { jq -r --arg k "$1" '.[$k] // "(none)"' <<<"$SERIES"; }
check "series exists for the guest" test -n "$SERIES"
check "label domain is the libvirt name" eq "$(lab domain)" hvt-ops-prom-a
check "label uuid" eq "$(lab uuid)" "$UUID"
check "label instance_name is Nova's name" eq "$(lab instance_name)" hvt-ops-prom-a
check "label project_uuid" eq "$(lab project_uuid)" "$PROJECT"
check "label project_name" eq "$(lab project_name)" acme
check "label flavor" eq "$(lab flavor)" m1.small
check "label job and instance from prometheus" eq "$(lab job)/$(lab instance)" "hvmeter/127.0.0.1:$PORT"

# Prometheus prints a float64 in its shortest exact form, so the decimal we
# served comes back as it was: compare in integer nanoseconds.
to_ns() { awk -F. '{ f = $2; while (length(f) < 9) f = f "0"; printf "%s%s\n", $1, substr(f, 1, 9) }' <<<"$1" | sed 's/^0*\([0-9]\)/\1/'; }
LEDGER=$("$HVMETER" dump --store "$(agent_store p)" --resource "$UUID" --metric cpu.time |
	awk -F, -v s="$SEQ" 'NR > 1 && $1 <= s { t += $10 } END { printf "%.0f\n", t }')
echo "ledger cpu.time over frames 1..$SEQ: $LEDGER ns; prometheus: $(to_ns "$VAL") ns"
check "CPU counter equals the ledger's total up to the scraped frame, to the ns" eq "$(to_ns "$VAL")" "$LEDGER"
check "the guest has burnt CPU (> 2 s)" awk -v v="$VAL" 'BEGIN { exit !(v > 2) }'

# The newest: what prometheus holds now against the ledger now, within what the
# guest can burn in a frame plus a scrape (3 s of one vCPU).
sleep 1
NOW=$(query "hvmeter_vm_cpu_seconds_total{uuid=\"$UUID\"}" | jq -r '.[0].value[1]')
LAST=$("$HVMETER" dump --store "$(agent_store p)" --resource "$UUID" --metric cpu.time |
	awk -F, 'NR > 1 { t += $10 } END { printf "%.9f\n", t / 1e9 }')
echo "newest: prometheus $NOW s, ledger $LAST s"
check "newest value within the scrape-time tolerance (3 s of CPU) of the ledger" \
	awk -v a="$NOW" -v b="$LAST" 'BEGIN { d = b - a; exit !(d >= 0 && d <= 3) }'
RATE=$(query "rate(hvmeter_vm_cpu_seconds_total{uuid=\"$UUID\"}[6s])" | jq -r '.[0].value[1]')
echo "rate over 6 s while burning: $RATE CPU (2 shared cores: the guest gets what is left)"
check "counter rises while the guest burns (rate() > 0)" awk -v r="$RATE" 'BEGIN { exit !(r > 0) }'
check "build info names this version" \
	eq "$(query "hvmeter_build_info{version=\"$(cat VERSION)\"}" | jq -r '.[0].value[1]')" 1
check "libvirt connection reported up" eq "$(query hvmeter_libvirt_connected | jq -r '.[0].value[1]')" 1
check "BPF CPU program reported attached" \
	eq "$(query 'hvmeter_bpf_program_attached{program="cpu_switch"}' | jq -r '.[0].value[1]')" 1
check "vCPU allocation counted for the guest" \
	awk -v v="$(query "hvmeter_vm_vcpu_allocation_seconds_total{uuid=\"$UUID\"}" | jq -r '.[0].value[1]')" 'BEGIN { exit !(v > 5) }'

# The endpoint itself.
curl -sf "$URL" >"$HV_TMP/metrics.txt"
check "promtool lints the exposition clean" promtool check metrics <"$HV_TMP/metrics.txt"
check "every family has HELP and TYPE" awk '/^# HELP /{ h[$3] = 1 } /^# TYPE /{ t[$3] = 1 }
	/^[a-z]/ { n = $1; sub(/[{ ].*/, "", n); if (!h[n] || !t[n]) { print "undeclared " n; bad = 1 } } END { exit bad }' "$HV_TMP/metrics.txt"
check "GET / is 404" eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/")" 404
check "POST /metrics is 405" eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL")" 405
check "the endpoint listens on loopback only" bash -c "ss -Hltn 'sport = :$PORT' | awk '{ print \$4 }' | grep -qx '127.0.0.1:$PORT'"
check "no negative delta" awk -v m="$(agent_min p)" 'BEGIN { exit !(m >= 0) }'
# the server thread ends with the agent: a clean stop, exit 0
P=${AGENT_PID[p]}
kill -TERM "$P"
wait "$P"
check "agent with the endpoint stops cleanly on SIGTERM (exit 0)" eq "$?" 0
unset "AGENT_PID[p]"
[ "$fails" -eq 0 ]
