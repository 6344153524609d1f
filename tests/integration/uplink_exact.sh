#!/usr/bin/env bash
# Checks exactly-once delivery over loopback mutual TLS with real guests: two agents (interval 1 s) ship to hvrater serve through a SIGKILL of the rater mid-stream, a 10 s outage and a burst of kills; the rater's totals per (resource, metric, labels) equal the sum of `hvmeter dump` over the frames it holds, exactly, and its chain head equals the agent's hash of that frame.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/libvirt.sh
. tests/lib/agent.sh
. tests/lib/certs.sh
. tests/lib/uplink.sh
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (libvirtd, BPF)"; exit 77; }
command -v openssl >/dev/null || { echo "SKIP: no openssl CLI to make test certificates"; exit 77; }
HV_TMP=$(mktemp -d /tmp/hvt-upx.XXXXXX)
LV_DIR=$HV_TMP
trap 'lv_cleanup hvt-upx-; agent_cleanup; rater_stop KILL; [ -n "${HV_KEEP:-}" ] || rm -rf "$HV_TMP"' EXIT
fails=0
check() { # check DESCRIPTION CONDITION...
	local what=$1; shift
	if "$@"; then echo "PASS: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}

why=$(uplink_supported) || { echo "SKIP: $why"; exit 77; }
certs_make "$HV_TMP/pki" test-a test-b || exit 1
lv_up || { echo "SKIP: libvirtd cannot run here"; exit 77; }
rater_start idle_timeout=30 log_level=debug || exit 1
uplink_agent_start a interval=1 uplink.timeout=5 || exit 1
uplink_agent_start b interval=1 uplink.timeout=5 uplink.batch_frames=1 || exit 1

# wait_rater HOST SEQ TIMEOUT: until the rater holds HOST's frames up to SEQ
wait_rater() {
	local deadline=$((SECONDS + $3)) s
	while [ "$SECONDS" -lt "$deadline" ]; do
		s=$(rater_host_field "$1" last_seq)
		[ -n "$s" ] && [ "$s" -ge "$2" ] && return 0
		sleep 0.5
	done
	echo "rater: $1 not at seq $2 within $3 s (at ${s:-nothing})" >&2
	return 1
}

lv_guest_start hvt-upx-busy vcpus=1 burn=30 >"$HV_TMP/busy.uuid" || exit 1
wait_rater test-a 5 60 || exit 1
check "agent status shows the uplink connected" \
	grep -q '^  uplink=connected\|^  uplink=sending' <("$HVMETER" status --store "$(agent_store a)")

# 1. SIGKILL while batches arrive (every second from each agent), restart at once
sleep 1.3
rater_stop KILL
echo "rater killed (SIGKILL) at rater seq a=$(rater_host_field test-a last_seq) b=$(rater_host_field test-b last_seq)"
rater_spawn || exit 1

lv_guest_wait hvt-upx-busy "HV: BURN START" 180 >/dev/null || exit 1

# 2. the uplink cut for 10 s: frames pile up on the agents, then flow again
rater_stop TERM
echo "uplink cut at $(date +%T)"
sleep 10
rater_spawn || exit 1
echo "uplink restored at $(date +%T)"
A0=$(agent_last_seq a)
wait_rater test-a "$A0" 90 || exit 1
check "agent a caught up after the cut (rater at seq >= $A0)" true

# 3. SIGKILL mid-backlog: after a pause, kill the rater as soon as it has
#    stored b's first batch (b sends one frame per batch), so the rest of
#    the backlog is in flight or being committed; until it lands mid-backlog
#    three times (at most 8 rounds)
mid=0
for i in 1 2 3 4 5 6 7 8; do
	rater_stop TERM
	sleep 8
	n=$(grep -c 'host test-b .*batch seq' "$HV_TMP/rater.log")
	rater_spawn || exit 1
	deadline=$((SECONDS + 120))
	until [ "$(grep -c 'host test-b .*batch seq' "$HV_TMP/rater.log")" -gt "$n" ]; do
		[ "$SECONDS" -lt "$deadline" ] || { echo "b sent nothing within 120 s" >&2; exit 1; }
		sleep 0.01
	done
	rater_stop KILL
	r=$(rater_host_field test-b last_seq) s=$(agent_last_seq b)
	echo "round $i: rater killed with b's frames up to $r stored, agent b at $s"
	[ "$r" -lt "$s" ] && mid=$((mid + 1))
	[ "$mid" -ge 3 ] && break
done
check "the rater was killed mid-backlog ($mid times)" [ "$mid" -ge 1 ]
rater_spawn || exit 1

lv_guest_wait hvt-upx-busy "HV: BURN END" 120 >/dev/null || exit 1
lv_guest_destroy hvt-upx-busy
sleep 2
SA=$(agent_last_seq a) SB=$(agent_last_seq b)
wait_rater test-a "$SA" 120 || exit 1
wait_rater test-b "$SB" 120 || exit 1
agent_stop a
agent_stop b

grep -q 'uplink: connected' "$HV_TMP/a.log" || echo "note: agent a never logged a connection"
for h in a b; do
	R=$(rater_host_field "test-$h" last_seq)
	N=$(agent_last_seq "$h")
	K=$(agent_ack_seq "$h")
	agent_totals "$h" "$R" >"$HV_TMP/$h.agent.tot"
	rater_totals "test-$h" >"$HV_TMP/$h.rater.tot"
	rows=$(wc -l <"$HV_TMP/$h.agent.tot")
	cpu=$(awk -v u="$(cat "$HV_TMP/busy.uuid")" '$1 == u "|cpu.time|" { print $2 }' "$HV_TMP/$h.rater.tot")
	echo "agent $h: newest seq $N, acknowledged $K; rater holds up to $R; $rows series; busy guest cpu.time at the rater ${cpu:-0} ns"
	check "agent $h: rater totals equal the dump sums exactly (frames <= $R, $rows series)" \
		diff "$HV_TMP/$h.agent.tot" "$HV_TMP/$h.rater.tot"
	check "agent $h: the busy guest's CPU reached the rater (> 5 s)" \
		awk -v c="${cpu:-0}" 'BEGIN { exit !(c > 5e9) }'
	check "agent $h: rater chain head = the agent's hash of frame $R" \
		[ "$(rater_host_field "test-$h" chain_head)" = "$(agent_frame_hash "$h" "$R")" ]
	check "agent $h: the rater holds everything acknowledged ($K <= $R <= $N)" \
		test "$K" -le "$R" -a "$R" -le "$N"
	if [ "$R" -eq "$N" ]; then
		check "agent $h: rater chain head = agent chain head (all delivered)" \
			[ "$(rater_host_field "test-$h" chain_head)" = \
				"$("$HVMETER" status --store "$(agent_store "$h")" | sed -n 's/^chain head: *//p')" ]
	fi
	check "agent $h: ledger verifies" "$HVMETER" verify --store "$(agent_store "$h")"
done
echo "rater started $(grep -c 'listening on' "$HV_TMP/rater.log") times; duplicate frames skipped (resent after kills): a=$(rater_host_field test-a duplicates) b=$(rater_host_field test-b duplicates)"
check "the rater ingested no refused batch" [ "$(grep -c 'refused batch' "$HV_TMP/rater.log")" -eq 0 ]
[ "$fails" -eq 0 ]
