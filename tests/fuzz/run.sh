#!/usr/bin/env bash
# Builds every tests/fuzz/fuzz_*.c with clang's libFuzzer + ASan + UBSan and
# runs each, one after the other in one process (-jobs=1), for FUZZ_SECONDS
# (default 60). What a target needs is in its comment lines (tests/fuzz/fuzz.h):
# SOURCES and LIBS to build it, SEEDS (committed sample files), MAX_LEN; a
# libFuzzer dictionary tests/fuzz/NAME.dict is used when there is one.
#
# The working corpus, build/fuzz/NAME.corpus, is kept between runs and fed
# with the committed corpus (tests/fuzz/corpus/NAME/) and the seeds, so
# coverage grows run after run. Each run appends "NAME EXECS RESULT DATE" to
# build/fuzz/execs.log; the summary adds up the executions of clean runs.
# A crash, leak, sanitizer report, invariant failure or timeout fails the
# run and leaves its input in build/fuzz/NAME/; once fixed, that input goes
# into tests/fuzz/corpus/NAME/ (named regress-*) where the unit test
# test_fuzz_corpus replays it.
#
# Usage: tests/fuzz/run.sh [NAME...]
#   FUZZ_SECONDS=N  FUZZ_BUILD_ONLY=1  FUZZ_OUT=DIR (default build/fuzz)
set -u
cd "$(dirname "$0")/../.." || exit 1
SECS=${FUZZ_SECONDS:-60}
OUT=${FUZZ_OUT:-build/fuzz}
LOG=$OUT/execs.log
mkdir -p "$OUT/bin"
command -v clang >/dev/null || { echo "fuzz: no clang (make deps installs it)"; exit 1; }
CFLAGS="-std=gnu11 -g -O1 -D_GNU_SOURCE -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
CFLAGS="$CFLAGS $(pkg-config --cflags libxml-2.0 jansson inih 2>/dev/null)"

# field FILE NAME: the value of a "// NAME: ..." comment line
field() { sed -n "s|^// $2: ||p" "$1" | head -1; }

targets=("$@")
[ ${#targets[@]} -gt 0 ] || for f in tests/fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c)"); done
fails=0 run_execs=0
for name in "${targets[@]}"; do
	src=tests/fuzz/$name.c
	[ -f "$src" ] || { echo "FAIL  $name: no $src"; fails=$((fails + 1)); continue; }
	# shellcheck disable=SC2046,SC2086
	if ! clang $CFLAGS -o "$OUT/bin/$name" "$src" $(field "$src" SOURCES) $(field "$src" LIBS) \
		2>"$OUT/$name.build.log"; then
		echo "FAIL  $name: does not build"; cat "$OUT/$name.build.log"; fails=$((fails + 1)); continue
	fi
	[ -n "${FUZZ_BUILD_ONLY:-}" ] && { echo "built $name"; continue; }

	work="$OUT/$name.corpus"
	mkdir -p "$work" "$OUT/$name"
	[ -d "tests/fuzz/corpus/$name" ] && cp -n tests/fuzz/corpus/"$name"/* "$work"/ 2>/dev/null
	# shellcheck disable=SC2086
	for seed in $(field "$src" SEEDS); do
		[ -f "$seed" ] && cp -n "$seed" "$work/seed-$(echo "$seed" | tr / _)"
	done
	opts=(-max_total_time="$SECS" -print_final_stats=1 -artifact_prefix="$OUT/$name/"
		-max_len="$(field "$src" MAX_LEN | grep . || echo 65536)" -rss_limit_mb=2048 -timeout=25)
	[ -f "tests/fuzz/$name.dict" ] && opts+=(-dict="tests/fuzz/$name.dict")
	before=$(find "$OUT/$name" -type f | wc -l)
	nice -n 19 "$OUT/bin/$name" "${opts[@]}" "$work" >"$OUT/$name.log" 2>&1
	rc=$?
	after=$(find "$OUT/$name" -type f | wc -l)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$name.log" | tail -1)
	execs=${execs:-0}
	if [ "$rc" -eq 0 ] && [ "$after" -eq "$before" ]; then
		result=ok
		run_execs=$((run_execs + execs))
	else
		result=FAIL
		fails=$((fails + 1))
	fi
	echo "$name $execs $result $(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$LOG"
	total=$(awk -v n="$name" '$1 == n && $3 == "ok" { s += $2 } END { printf "%.0f", s }' "$LOG")
	if [ "$result" = ok ]; then
		echo "ok    $name: $execs executions in ${SECS}s, nothing found ($total in all clean runs)"
	else
		echo "FAIL  $name (exit $rc): found something after $execs executions:"
		grep -E 'ERROR|SUMMARY|invariant|artifact|Test unit written' "$OUT/$name.log" | head | sed 's/^/      /'
	fi
done
[ -n "${FUZZ_BUILD_ONLY:-}" ] && { [ "$fails" -eq 0 ]; exit; }
echo "fuzz: $run_execs executions in this run, $fails target(s) found something or failed; totals in $LOG"
[ "$fails" -eq 0 ]
