#!/usr/bin/env bash
# rater_ingest.sh — how many deltas hvrater ingests per second and per CPU
# second (one core), end to end: mutual TLS over loopback, decode, chain and
# signature check, dedup and the durable LMDB commit on the disk that holds
# /var/tmp; and the agents' ack latency (p50/p99).
#
# Synthetic hosts (tests/bench/bench_wire.c `load`): RATER_HOSTS connections
# (8), each a host of RATER_VMS VMs (100) x 15 changed counters a frame,
# RATER_FRAMES frames a batch (1: the steady state, an agent sends each
# frame as it is committed), for RATER_SECS seconds (15); RATER_REPS runs (3),
# each against a fresh rater store. Prints one line per run:
#   rater_ingest run=N hosts=... deltas_per_sec=X deltas_per_cpu_s=X ack_p50_ms=X ack_p99_ms=X
# Note: on this 2-core machine the load generator shares the cores with the
# rater; deltas_per_cpu_s divides by the rater's own CPU time, which is the
# per-core figure. Needs openssl; root is not needed.
set -u
cd "$(dirname "$0")/../.."
B=${HV_BUILD:-build}
HOSTS=${RATER_HOSTS:-8} VMS=${RATER_VMS:-100} FRAMES=${RATER_FRAMES:-1}
SECS=${RATER_SECS:-15} REPS=${RATER_REPS:-3}
BIN=$B/bench/bench_wire
HV_TMP=$(mktemp -d /var/tmp/hvb-rater.XXXXXX)
export HV_BUILD=$B HV_TMP
. tests/lib/certs.sh
. tests/lib/agent.sh
. tests/lib/uplink.sh

cleanup() { rater_stop KILL; [ -n "${HV_KEEP:-}" ] || rm -rf "$HV_TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "rater_ingest: $*" >&2; exit 1; }

bash tests/bench/build.sh "$B" || die "cannot build the bench programs"
[ -x "$B/bin/hvrater" ] || die "no $B/bin/hvrater (make O=$B all)"
hosts=()
for i in $(seq 0 $((HOSTS - 1))); do hosts+=("bench-$i"); done
certs_make "$HV_TMP/pki" "${hosts[@]}" || die "cannot make certificates"
# the rater runs as nobody (uplink.sh): it must read its key, and the
# directories above its store
chmod 755 "$HV_TMP" "$HV_TMP/pki" && chmod 644 "$HV_TMP"/pki/*

echo "# $HOSTS hosts x $VMS VMs x 15 counters, $FRAMES frame(s) a batch, ${SECS}s a run; store on $(df --output=source,target "$HV_TMP" | tail -1)"
# runs with r > REPS are the profile run: not counted, perf attached to the
# rater (RATER_PROFILE=0 skips it), where its CPU goes by library and function
PROFILE=${RATER_PROFILE:-1}
command -v perf >/dev/null || PROFILE=0
for r in $(seq 1 $((REPS + PROFILE))); do
	rm -rf "$HV_TMP/rater.store"
	RATER_PORT=$(uplink_port) || die "no free port"
	rater_start idle_timeout=600 >/dev/null || die "hvrater serve did not start (log: $HV_TMP/rater.log)"
	# enough batches per host that none runs out within SECS below 400k deltas/s
	# in all (a run that does end early still counts right: it divides by its time)
	batches=$((SECS * 400000 / (HOSTS * VMS * 15 * FRAMES) + 50))
	perf_pid=
	if [ "$r" -gt "$REPS" ]; then
		perf record -q -o "$HV_TMP/perf.data" -p "$RATER_PID" >/dev/null 2>&1 &
		perf_pid=$!
	fi
	out=$("$BIN" load -a "127.0.0.1:$RATER_PORT" -k "$HV_TMP/pki" -n "$HOSTS" -v "$VMS" \
		-f "$FRAMES" -b "$batches" -s "$SECS" -p "$RATER_PID") ||
		{ echo "$out"; tail -n 5 "$HV_TMP/rater.log" >&2; die "the load generator failed"; }
	if [ -n "$perf_pid" ]; then
		kill -INT "$perf_pid" 2>/dev/null
		wait "$perf_pid" 2>/dev/null
		perf report -i "$HV_TMP/perf.data" --no-children --sort dso -g none 2>/dev/null |
			awk '/%/ && n < 5 { n++; printf "rater_profile dso=%s share=%s\n", $2, $1 }'
		perf report -i "$HV_TMP/perf.data" --no-children --sort symbol -g none 2>/dev/null |
			awk '/%/ && n < 10 { n++; printf "rater_profile symbol=%s share=%s\n", $3, $1 }'
		continue
	fi
	echo "rater_ingest run=$r ${out#load }"
	rater_stop
	RATER_PORT=
done
