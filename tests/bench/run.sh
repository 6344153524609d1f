#!/usr/bin/env bash
# make bench: runs every benchmark script here and keeps their output in
# build/bench/. Benchmarks measure; tests (make test) check correctness.
set -u
cd "$(dirname "$0")/../.."
mkdir -p build/bench
rc=0
for b in tests/bench/bpf_cost.sh tests/bench/store_commit.sh; do
	[ -f "$b" ] || continue
	name=$(basename "$b" .sh)
	echo "== $name"
	if bash "$b" 2>&1 | tee "build/bench/$name.txt"; then :; else rc=1; fi
done
exit $rc
