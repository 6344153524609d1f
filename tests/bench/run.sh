#!/usr/bin/env bash
# make bench: runs every benchmark here, keeps their output in
# $HV_BUILD/bench/NAME.txt, then writes bench/results.json and
# docs/BENCHMARKS.md from it (tests/bench/report.py). Benchmarks measure;
# tests (make test) check correctness. A benchmark that cannot run says why
# and the others still run; the report marks its figures n/a.
#   bpf_cost.sh       x BENCH_BPF_REPS (3): ns per event per BPF program vs an empty one
#   kernel_load.sh    sched-switch and disk loads with and without hvmeterd (3 each)
#   store_commit.sh   the ledger's commit (issue 5)
#   rater_ingest.sh   hvrater ingest over loopback mutual TLS (3 runs), steady state
#                     (a frame a batch) and catching up (30 frames a batch)
#   agents.sh         hvmeterd vs Ceilometer vs the libvirt exporter on BENCH_GUESTS (8)
#                     guests, BENCH_REPS (3) windows of BENCH_WINDOW (40) s each
#   agents.sh again   hvmeterd alone at each guest count of BENCH_SCALE ("1"): scale
# About 17 minutes on this 2-core machine. Needs root (BPF, libvirtd, guests).
set -u
cd "$(dirname "$0")/../.."
B=${HV_BUILD:-build}
OUT=$B/bench
mkdir -p "$OUT"
export HV_BUILD=$B
export BENCH_GUESTS=${BENCH_GUESTS:-8} BENCH_WINDOW=${BENCH_WINDOW:-40} BENCH_REPS=${BENCH_REPS:-3}
export BENCH_WARMUP=${BENCH_WARMUP:-20} BENCH_SCALE=${BENCH_SCALE:-1}
export HV_BENCH_LOAD_START
HV_BENCH_LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
rc=0
t0=$SECONDS

# run NAME CMD...: CMD's output (both streams) into $OUT/NAME.txt and here
run() {
	local name=$1
	shift
	echo "== $name ($(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg))"
	if "$@" 2>&1 | tee "$OUT/$name.txt"; then :; else
		echo "bench: $name failed (exit ${PIPESTATUS[0]}); its figures will be n/a" | tee -a "$OUT/$name.txt"
		rc=1
	fi
}

bpf_reps() {
	local r ok=0
	for r in $(seq 1 "${BENCH_BPF_REPS:-3}"); do
		echo "# bpf_cost rep=$r"
		bash tests/bench/bpf_cost.sh && ok=1
	done
	[ $ok = 1 ]
}

run bpf_cost bpf_reps
run kernel_load bash tests/bench/kernel_load.sh
run store_commit bash tests/bench/store_commit.sh
run rater_ingest bash tests/bench/rater_ingest.sh
# catching up after an outage: 30 frames a batch (one signature for 30 frames)
run rater_ingest_catchup env RATER_FRAMES=30 bash tests/bench/rater_ingest.sh
run agents bash tests/bench/agents.sh
for g in $BENCH_SCALE; do
	[ "$g" = "$BENCH_GUESTS" ] && continue
	run "agents_scale_$g" env BENCH_GUESTS="$g" BENCH_AGENTS=hvmeter bash tests/bench/agents.sh
done
echo "== report ($((SECONDS - t0)) s of benchmarks)"
/usr/bin/python3 tests/bench/report.py "$OUT" || rc=1
exit $rc
