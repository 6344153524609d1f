#!/usr/bin/env bash
# Checks, with real clients over loopback, that hvrater serve refuses what is not its TLS policy — plain TCP (an HTTP request, random bytes), TLS 1.0 and 1.1 (mbedTLS and OpenSSL clients), TLS 1.2 with suites outside ECDHE + AES-GCM (CBC, ChaCha20-Poly1305, static RSA) and a TLS 1.3-only client — logging the specific reason each time and storing nothing; and that a real agent refuses a rater whose certificate another CA signed, or that does not carry the name (DNS or IP) it was configured with, saying why in its log and in `hvmeter status`, with nothing acknowledged, while a correctly configured agent beside it is acknowledged.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/libvirt.sh
. tests/lib/agent.sh
. tests/lib/certs.sh
. tests/lib/uplink.sh
command -v openssl >/dev/null || { echo "SKIP: no openssl CLI to make test certificates"; exit 77; }
PROBE="$HV_BUILD/tests/integration/tls_probe"
[ -x "$PROBE" ] || { echo "SKIP: $PROBE is not built (make unit-tests): it is the test client"; exit 77; }
"$HVRATER" serve --help >/dev/null 2>&1 || { echo "SKIP: hvrater has no 'serve' command"; exit 77; }
HV_TMP=$(mktemp -d /tmp/hvt-tn.XXXXXX)
LV_DIR=$HV_TMP
IMP_PID=
trap 'agent_cleanup; rater_stop KILL; [ -z "$IMP_PID" ] || kill -KILL "$IMP_PID" 2>/dev/null; [ -n "${HV_KEEP:-}" ] || rm -rf "$HV_TMP"' EXIT
fails=0
check() { # check DESCRIPTION CONDITION...
	local what=$1; shift
	if "$@"; then echo "PASS: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}
P=$HV_TMP/pki
certs_make "$P" test-a test-b test-c test-d || exit 1
rater_start log_level=info || exit 1
alive() { kill -0 "$RATER_PID" 2>/dev/null; }
stored_hosts() { "$HVRATER" hosts --store "$1" --format csv | awk -F, 'NR > 1 { print $1 }' | tr '\n' ' '; }

# logged_after MARK REGEX [LOG]: REGEX in the lines of LOG (the rater's) after
# line MARK, waiting up to 3 s for the server to write it
logged_after() {
	local log=${3:-$HV_TMP/rater.log}
	for _ in $(seq 30); do
		tail -n +$(($1 + 1)) "$log" | grep -q -- "$2" && return 0
		sleep 0.1
	done
	return 1
}
mark() { wc -l <"${1:-$HV_TMP/rater.log}"; }

# refused DESCRIPTION EXPECT_CLIENT LOG_REGEX CLIENT...: one attempt that the
# client must see fail (its output matching EXPECT_CLIENT) and that the rater
# must log, with its reason, as a failed handshake from this connection
refused() {
	local what=$1 want=$2 reason=$3 m out
	shift 3
	m=$(mark)
	out=$("$@" </dev/null 2>&1)
	echo "$what: client saw: $(echo "$out" | grep -v '^ *$' | head -3 | tr '\n' ' ')"
	check "$what: the client is refused" grep -qE -- "$want" <<<"$out"
	check "... the rater logs why ('$reason')" \
		logged_after "$m" "connection from 127.0.0.1:[0-9]* failed in the handshake: handshake: $reason"
	check "... and is still up" alive
}
cli=(--cert "$P/test-a.pem" --key "$P/test-a.key")
R=127.0.0.1:$RATER_PORT

# A control first: the same client, within the policy, gets through.
out=$("$PROBE" --connect "$R" "${cli[@]}" 2>&1)
check "control: TLS 1.2 with an allowed suite is accepted ('$out')" grep -q '^handshake ok: TLSv1.2 .*GCM' <<<"$out"

# Not TLS at all.
refused "plain TCP, an HTTP request" '^sent [0-9]+ bytes; peer closed' \
	'not TLS: the peer.s first bytes are "GET /"' \
	"$PROBE" --connect "$R" --plain 'GET / HTTP/1.1\r\nHost: rater\r\n\r\n'
refused "plain TCP, an SSH banner" '^sent [0-9]+ bytes; peer closed' \
	'not TLS: the peer.s first bytes are "SSH-2"' \
	"$PROBE" --connect "$R" --plain 'SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'
refused "plain TCP, 300 random bytes" '^sent 300 bytes; peer closed' \
	'not TLS: the peer.s first bytes are "' \
	"$PROBE" --connect "$R" --random 300

# Below TLS 1.2: the rater answers protocol_version (alert 70).
for v in 1.0 1.1; do
	refused "mbedTLS client limited to TLS $v" 'handshake refused: .*\(alert 70\)' \
		"the peer offers at most TLS $v; only TLS 1.2 is allowed" \
		"$PROBE" --connect "$R" --version "$v" "${cli[@]}"
done
# OpenSSL 3 needs security level 0 to speak TLS 1.1 at all.
out=$(openssl s_client -connect "$R" -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' </dev/null 2>&1)
if grep -q 'no protocols available' <<<"$out"; then
	echo "note: this openssl cannot offer TLS 1.1; the mbedTLS client covered it"
else
	refused "openssl s_client -tls1_1" 'alert protocol version' \
		"the peer offers at most TLS 1.1; only TLS 1.2 is allowed" \
		openssl s_client -connect "$R" -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' -cert "$P/test-a.pem" -key "$P/test-a.key"
fi

# TLS 1.2, suites outside the allow-list: handshake_failure (alert 40).
for suites in TLS-ECDHE-ECDSA-WITH-AES-128-CBC-SHA256,TLS-ECDHE-ECDSA-WITH-AES-256-CBC-SHA384 \
	TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256 TLS-RSA-WITH-AES-128-GCM-SHA256; do
	refused "TLS 1.2 offering only $suites" 'handshake refused: .*\(alert 40\)' \
		'no cipher suite in common with the peer (allowed: TLS 1.2 ECDHE-ECDSA or ECDHE-RSA with AES-GCM)' \
		"$PROBE" --connect "$R" --suites "$suites" "${cli[@]}"
done
refused "openssl s_client -tls1_3 (TLS 1.3 suites only)" 'alert handshake failure' \
	'no cipher suite in common with the peer' \
	openssl s_client -connect "$R" -tls1_3 -cert "$P/test-a.pem" -key "$P/test-a.key"

check "nothing was stored by any of these (hosts: '$(stored_hosts "$HV_TMP/rater.store")')" \
	[ -z "$(stored_hosts "$HV_TMP/rater.store")" ]

# Agents that must refuse the rater. They need libvirtd (no guest).
if [ "$(id -u)" -ne 0 ]; then
	echo "note: not root: the agent part is skipped"
elif ! why=$(uplink_supported); then
	echo "note: agent part skipped: $why"
elif ! lv_up; then
	echo "note: agent part skipped: libvirtd cannot run here"
else
	# An impostor at another port: a rater whose certificate ca2 signed (same
	# names, trusts the real CA for agents).
	_certs_leaf "$P" impostor rater ca2 \
		'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' ||
		exit 1
	mkdir -p "$HV_TMP/imp/pki" && cp "$P/ca.pem" "$HV_TMP/imp/pki/ca.pem" &&
		cp "$P/impostor.pem" "$HV_TMP/imp/pki/rater.pem" && cp "$P/impostor.key" "$HV_TMP/imp/pki/rater.key" || exit 1
	real_tmp=$HV_TMP real_pid=$RATER_PID real_port=$RATER_PORT
	HV_TMP=$HV_TMP/imp RATER_PID='' RATER_PORT=''
	rater_start log_level=info || exit 1
	IMP_PID=$RATER_PID IMP_PORT=$RATER_PORT IMP_TMP=$HV_TMP
	HV_TMP=$real_tmp RATER_PID=$real_pid RATER_PORT=$real_port

	m_real=$(mark) m_imp=$(mark "$IMP_TMP/rater.log")
	RATER_PORT=$IMP_PORT uplink_agent_start a interval=1 bpf=off uplink.timeout=5 || exit 1
	uplink_agent_start b interval=1 bpf=off uplink.timeout=5 uplink.server_name=rater.invalid || exit 1
	uplink_agent_start c interval=1 bpf=off uplink.timeout=5 uplink.server_name=127.0.0.2 || exit 1
	uplink_agent_start d interval=1 bpf=off uplink.timeout=5 || exit 1

	declare -A reason=(
		[a]='certificate "O=hvmeter test, CN=rater" (issuer "O=elsewhere, CN=another CA") refused: .*not correctly signed by the trusted CA'
		[b]='certificate "O=hvmeter test, CN=rater" (issuer "O=hvmeter test, CN=hvmeter test CA") refused: .*Common Name (CN) does not match'
		[c]='certificate "O=hvmeter test, CN=rater" (issuer "O=hvmeter test, CN=hvmeter test CA") refused: .*Common Name (CN) does not match'
	)
	declare -A name=([a]=127.0.0.1 [b]=rater.invalid [c]=127.0.0.2)
	deadline=$((SECONDS + 60))
	for n in a b c; do
		until grep -q -- "${reason[$n]}" "$HV_TMP/$n.log"; do
			[ "$SECONDS" -lt "$deadline" ] || break
			sleep 0.5
		done
	done
	until [ "$(agent_ack_seq d)" -ge 2 ] 2>/dev/null; do
		[ "$SECONDS" -lt "$deadline" ] || break
		sleep 0.5
	done
	sleep 2 # a status line is written with the next frame
	for n in a b c; do
		port=$RATER_PORT
		[ "$n" = a ] && port=$IMP_PORT
		st=$("$HVMETER" status --store "$(agent_store "$n")" 2>&1)
		echo "agent $n (${name[$n]}) status:"; grep uplink <<<"$st" | sed 's/^/    /'
		check "agent $n (rater named ${name[$n]}): its log names the refused certificate and why" \
			grep -q -- "uplink: rater 127.0.0.1:$port (name ${name[$n]}): handshake: ${reason[$n]}" "$HV_TMP/$n.log"
		check "... hvmeter status shows the same reason" grep -q -- "^ *uplink_error=.*${reason[$n]}" <<<"$st"
		check "... nothing is acknowledged ($(grep -o 'uplink_acked=.*' <<<"$st"))" grep -q '^ *uplink_acked=seq 0$' <<<"$st"
		check "... while it has frames to send (last seq $(agent_last_seq "$n"))" [ "$(agent_last_seq "$n")" -ge 1 ]
	done
	# The agent sends its alert and closes with the rater's flight unread, so
	# the rater sees either the alert or, when the reset overtakes it, the close.
	closed='failed in the handshake: handshake: the peer closed the connection (does it trust our certificate'
	check "the impostor rater logs that the agent refused it (unknown CA, or closed)" \
		logged_after "$m_imp" "refused connection from 127.0.0.1:[0-9]*: handshake: the peer sent fatal alert 48 (unknown CA\\|$closed" "$IMP_TMP/rater.log"
	check "the real rater logs that agents refused its certificate (bad certificate, or closed)" \
		logged_after "$m_real" "refused connection from 127.0.0.1:[0-9]*: handshake: the peer sent fatal alert 42 (bad certificate\\|$closed"
	echo "rater side: $(tail -n +$((m_imp + 1)) "$IMP_TMP/rater.log" | grep -c 'fatal alert 48') alerts and" \
		"$(tail -n +$((m_imp + 1)) "$IMP_TMP/rater.log" | grep -c 'peer closed') closes seen by the impostor;" \
		"$(tail -n +$((m_real + 1)) "$HV_TMP/rater.log" | grep -c 'fatal alert 42') alerts and" \
		"$(tail -n +$((m_real + 1)) "$HV_TMP/rater.log" | grep -c 'peer closed') closes by the real rater"
	check "the impostor stored nothing (hosts: '$(stored_hosts "$IMP_TMP/rater.store")')" \
		[ -z "$(stored_hosts "$IMP_TMP/rater.store")" ]
	check "control: agent d, configured right, is acknowledged (seq $(agent_ack_seq d))" \
		[ "$(agent_ack_seq d)" -ge 2 ]
	check "the real rater stored only agent d (hosts: '$(stored_hosts "$HV_TMP/rater.store")')" \
		[ "$(stored_hosts "$HV_TMP/rater.store")" = "test-d " ]
	for n in a b c d; do agent_stop "$n"; done
fi
check "the rater ran through all of it" alive
[ "$fails" -eq 0 ]
