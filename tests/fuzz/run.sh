#!/usr/bin/env bash
# Builds every tests/fuzz/fuzz_*.c with clang's libFuzzer + ASan + UBSan and
# runs each for FUZZ_SECONDS (default 60) on a copy of its committed corpus
# (tests/fuzz/corpus/NAME/). Each target names what it needs in comments:
#   // SOURCES: wire/frame.c ...     // LIBS: -lmbedcrypto ...
# Crashes are written to build/fuzz/NAME/ and fail the run; a crash input
# found once becomes a file in the corpus (a regression test) by hand.
# Usage: tests/fuzz/run.sh [NAME...]   FUZZ_SECONDS=N   FUZZ_BUILD_ONLY=1
set -u
cd "$(dirname "$0")/../.."
SECS=${FUZZ_SECONDS:-60}
OUT=build/fuzz
mkdir -p "$OUT/bin"
CFLAGS="-std=gnu11 -g -O1 -D_GNU_SOURCE -I. -Ibuild -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
CFLAGS="$CFLAGS $(pkg-config --cflags libxml-2.0 jansson 2>/dev/null)"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || for f in tests/fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c)"); done
fails=0 total_execs=0
for name in "${targets[@]}"; do
	src=tests/fuzz/$name.c
	srcs=$(sed -n 's|^// SOURCES: ||p' "$src")
	libs=$(sed -n 's|^// LIBS: ||p' "$src")
	# shellcheck disable=SC2086
	if ! clang $CFLAGS -o "$OUT/bin/$name" "$src" $srcs $libs 2>"$OUT/$name.build.log"; then
		echo "FAIL  $name: does not build"; cat "$OUT/$name.build.log"; fails=$((fails + 1)); continue
	fi
	[ -n "${FUZZ_BUILD_ONLY:-}" ] && { echo "built $name"; continue; }
	work="$OUT/$name.corpus"
	rm -rf "$work"; mkdir -p "$work" "$OUT/$name"
	[ -d "tests/fuzz/corpus/$name" ] && cp tests/fuzz/corpus/"$name"/* "$work"/ 2>/dev/null
	"$OUT/bin/$name" -max_total_time="$SECS" -print_final_stats=1 -artifact_prefix="$OUT/$name/" \
		-max_len=65536 -rss_limit_mb=2048 "$work" >"$OUT/$name.log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$name.log")
	total_execs=$((total_execs + ${execs:-0}))
	if [ "$rc" -eq 0 ]; then
		echo "ok    $name: ${execs:-?} executions in ${SECS}s, no crash"
	else
		echo "FAIL  $name (exit $rc):"; grep -E 'ERROR|SUMMARY|artifact' "$OUT/$name.log" | head; fails=$((fails + 1))
	fi
done
echo "fuzz: $total_execs executions in all, $fails target(s) failed"
[ "$fails" -eq 0 ]
