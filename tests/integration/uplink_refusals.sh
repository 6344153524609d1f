#!/usr/bin/env bash
# Checks what hvrater serve refuses, logs and never stores: a certificate from another CA, an expired one, host A's certificate sending host B's id, and malformed messages (truncated, oversized, cut mid-message, wrong version, bad chain, bad signature, empty, garbage); the rater stays up, re-acknowledges duplicates, answers a gap with its position, and real agents with a foreign certificate or a borrowed identity get nowhere.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/libvirt.sh
. tests/lib/agent.sh
. tests/lib/certs.sh
. tests/lib/uplink.sh
command -v openssl >/dev/null || { echo "SKIP: no openssl CLI to make test certificates"; exit 77; }
CLIENT="$HV_BUILD/tests/test_msg"
[ -x "$CLIENT" ] || { echo "SKIP: $CLIENT is not built (make unit-tests): it is the test client"; exit 77; }
"$HVRATER" serve --help >/dev/null 2>&1 || { echo "SKIP: hvrater has no 'serve' command yet (not wired into rater/hvrater.c)"; exit 77; }
HV_TMP=$(mktemp -d /tmp/hvt-upr.XXXXXX)
LV_DIR=$HV_TMP
trap 'agent_cleanup; rater_stop KILL; [ -n "${HV_KEEP:-}" ] || rm -rf "$HV_TMP"' EXIT
fails=0
check() { # check DESCRIPTION CONDITION...
	local what=$1; shift
	if "$@"; then echo "PASS: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}
P=$HV_TMP/pki
certs_make "$P" test-a test-b test-c || exit 1
rater_start log_level=info || exit 1

# client CERTNAME [args...]: one connection from the test client
client() {
	local who=$1
	shift
	"$CLIENT" client --rater "127.0.0.1:$RATER_PORT" --ca "$P/ca.pem" --cert "$P/$who.pem" \
		--key "$P/$who.key" "$@" 2>&1
}
logged() { grep -q -- "$1" "$HV_TMP/rater.log"; }
alive() { kill -0 "$RATER_PID" 2>/dev/null; }
stored_hosts() { "$HVRATER" hosts --store "$HV_TMP/rater.store" --format csv | awk -F, 'NR > 1 { print $1 }' | tr '\n' ' '; }

# A well-behaved host first: exactly once over the wire.
out=$(client test-b --frames 3 --repeat 2)
check "a valid batch is stored, and re-acknowledged when sent again" \
	[ "$(echo $out)" = "ack status=0 seq=3 ack status=0 seq=3" ]
check "an overlapping batch (seq 2..4) is acknowledged up to 4" \
	[ "$(client test-b --seq 2 --frames 3)" = "ack status=0 seq=4" ]
check "a batch after a gap (seq 10..11) is answered 'gap, resend from 5'" \
	[ "$(client test-b --seq 10 --frames 2)" = "ack status=1 seq=4" ]
B_TOTALS="$(rater_totals test-b)"
check "host b's totals count each frame once (1001+1002+1003+1004 ns)" \
	[ "$B_TOTALS" = "vm-1|cpu.time| 4010" ]

# Certificates.
out=$(client foreign)
echo "foreign CA: client saw: $out"
check "a certificate from another CA is refused in the handshake" grep -q '^handshake:' <<<"$out"
check "... and logged with its reason and subject" \
	logged "refused connection from 127.0.0.1:.*CN=test-a.*issuer.*another CA.*not correctly signed by the trusted CA"
out=$(client expired)
echo "expired: client saw: $out"
check "an expired certificate is refused in the handshake" grep -q '^handshake:' <<<"$out"
check "... and logged as expired" logged "refused connection from .*validity has expired"
out=$(client test-a --name 127.0.0.2)
check "the agent refuses a rater whose certificate does not name the address it dialled" \
	grep -q 'handshake:.*CN=rater.*does not match' <<<"$out"

# Host A's certificate, host B's id.
out=$(client test-a --host-id test-b --frames 2)
check "host A's certificate sending host B's id is refused (ack status 2)" [ "$out" = "ack status=2 seq=0" ]
check "... and logged with address, certificate CN and claimed id" \
	logged "refused batch from 127.0.0.1:[0-9]* (certificate CN 'test-a', batch claims 'test-b'.*batch claims host id 'test-b' but the client certificate is 'test-a'"

# Malformed messages, each on its own connection with a valid certificate.
declare -A expect=(
	[truncated]="ack status=2 seq=0" [oversized]="ack status=2 seq=0" [version]="ack status=2 seq=0"
	[badchain]="ack status=2 seq=0" [badsig]="ack status=2 seq=0" [zero]="ack status=2 seq=0"
	[garbage]="ack status=2 seq=0" [short-stream]="hung up mid-message"
)
declare -A reason=(
	[truncated]="does not decode" [oversized]="over the 64 MiB limit" [version]="unknown version 2"
	[badchain]="bad chain: frame seq 2" [badsig]="signature .* does not verify" [zero]="empty message"
	[garbage]="does not decode" [short-stream]="ended mid-message"
)
for c in truncated oversized short-stream version badchain badsig zero garbage; do
	out=$(client test-a --case "$c" --frames 4)
	sleep 0.2
	check "malformed ($c): refused ('$out'), logged ('${reason[$c]}'), rater still up" \
		eval '[ "$out" = "${expect[$c]}" ] && logged "${reason[$c]}" && alive'
done

# Nothing of host A anywhere; host B unchanged.
check "the rater stored nothing for host A (hosts: $(stored_hosts))" [ "$(stored_hosts)" = "test-b " ]
check "host B's totals are unchanged" [ "$(rater_totals test-b)" = "$B_TOTALS" ]
check "nothing for host A in totals" [ -z "$(rater_totals test-a)" ]

# The same refusals with real agents, where libvirtd and the uplink glue allow.
if [ "$(id -u)" -ne 0 ]; then
	echo "note: not root: the agent part is skipped"
elif ! why=$(uplink_supported); then
	echo "note: agent part skipped: $why"
elif ! lv_up; then
	echo "note: agent part skipped: libvirtd cannot run here"
else
	n0=$(grep -c 'refused' "$HV_TMP/rater.log")
	uplink_agent_start a interval=1 uplink.timeout=5 "uplink.cert=$P/foreign.pem" "uplink.key=$P/foreign.key" || exit 1
	uplink_agent_start c interval=1 uplink.timeout=5 "uplink.cert=$P/test-a.pem" "uplink.key=$P/test-a.key" || exit 1
	deadline=$((SECONDS + 60))
	until logged "batch claims 'test-c'" && [ "$(grep -c 'not correctly signed' "$HV_TMP/rater.log")" -ge 2 ]; do
		[ "$SECONDS" -lt "$deadline" ] || break
		sleep 0.5
	done
	sleep 2 # a status line is written with the next frame
	sa=$("$HVMETER" status --store "$(agent_store a)" | grep 'uplink')
	sc=$("$HVMETER" status --store "$(agent_store c)" | grep 'uplink')
	echo "agent a (foreign CA) status:"; echo "$sa"
	echo "agent c (host A's certificate, id test-c) status:"; echo "$sc"
	check "agent with a foreign certificate: refused and logged by the rater" \
		[ "$(grep -c 'not correctly signed' "$HV_TMP/rater.log")" -ge 2 ]
	check "... and its status names the error" grep -q 'uplink_error=.*handshake' <<<"$sa"
	check "agent claiming test-c with host A's certificate: refused and logged" \
		logged "certificate CN 'test-a', batch claims 'test-c'"
	check "... and its status says the rater refused" grep -q 'uplink_error=.*refused' <<<"$sc"
	check "... and it keeps its frames unacknowledged" grep -q 'uplink_acked=seq 0' <<<"$sc"
	agent_stop a
	agent_stop c
	check "still nothing stored for A or C (hosts: $(stored_hosts))" [ "$(stored_hosts)" = "test-b " ]
	echo "rater log: $(($(grep -c 'refused' "$HV_TMP/rater.log") - n0)) refusals from the agents"
fi
check "the rater ran through all of it" alive
[ "$fails" -eq 0 ]
