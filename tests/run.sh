#!/usr/bin/env bash
# Runs every test and ends with one line: "N passed, N failed, N skipped".
#   unit         build/tests/test_*        (cmocka; each test case counts)
#   unit+asan    build/asan/tests/test_*   (the same under ASan+UBSan)
#   valgrind     each unit program once under valgrind (leaks and errors fail)
#   integration  tests/integration/*.sh    (0 passed, 77 skipped, else failed)
# HV_TESTS=REGEX runs only matching names; HV_NO_VALGRIND=1 skips valgrind.
set -u
cd "$(dirname "$0")/.."
export HV_BUILD=${HV_BUILD:-build}
LOGS=build/test-logs
mkdir -p "$LOGS"
pass=0 fail=0 skip=0
failed=()

want() { [ -z "${HV_TESTS:-}" ] || [[ "$1" =~ $HV_TESTS ]]; }

# cmocka prints a summary: "[  PASSED  ] N test(s)." and, for the others,
# "[  FAILED  ] N test(s), listed below:" / "[  SKIPPED ] N test(s), listed below:".
run_cmocka() {
	local label=$1 bin=$2 log="$LOGS/$1.log" p f s rc
	timeout 300 "$bin" >"$log" 2>&1
	rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below.*/\1/p' "$log" | tail -1)
	s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test(s), listed below.*/\1/p' "$log" | tail -1)
	p=${p:-0} f=${f:-0} s=${s:-0}
	if [ -z "$(grep -E '^\[  (PASSED|FAILED)  \]' "$log")" ] || { [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; }; then
		f=$((f + 1)) # crashed or ended without a summary
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	if [ "$f" -gt 0 ]; then
		failed+=("$label")
		echo "FAIL  $label ($p passed, $f failed)"; tail -n 30 "$log" | sed 's/^/      /'
	else
		if [ "$s" -gt 0 ]; then echo "ok    $label ($p passed, $s skipped)"; else echo "ok    $label ($p passed)"; fi
	fi
	grep -E '^\[  SKIPPED \] [a-z_]' "$log" | sed 's/^/      /'
	grep -iE '^(skip|skipped):' "$log" | sed 's/^/      /'
}

for bin in "$HV_BUILD"/tests/test_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	want "$name" && run_cmocka "$name" "$bin"
done
for bin in build/asan/tests/test_*; do
	[ -x "$bin" ] || continue
	name="asan:$(basename "$bin")"
	want "$name" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 run_cmocka "$name" "$bin"
done
if [ -z "${HV_NO_VALGRIND:-}" ] && command -v valgrind >/dev/null; then
	for bin in "$HV_BUILD"/tests/test_*; do
		[ -x "$bin" ] || continue
		name="valgrind:$(basename "$bin")"
		want "$name" || continue
		log="$LOGS/$name.log"
		if timeout 600 valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
			--suppressions=tests/valgrind.supp "$bin" >"$log" 2>&1; then
			pass=$((pass + 1)); echo "ok    $name"
		else
			fail=$((fail + 1)); failed+=("$name"); echo "FAIL  $name"; grep -E '==[0-9]+==' "$log" | head -30 | sed 's/^/      /'
		fi
	done
fi

for t in tests/integration/*.sh; do
	[ -f "$t" ] || continue
	name="integration:$(basename "$t" .sh)"
	want "$name" || continue
	log="$LOGS/$(basename "$t" .sh).log"
	start=$(date +%s)
	timeout 900 bash "$t" >"$log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	case $rc in
	0) pass=$((pass + 1)); echo "ok    $name (${secs}s)" ;;
	77) skip=$((skip + 1)); echo "skip  $name: $(grep -m1 -iE 'skip' "$log")" ;;
	*) fail=$((fail + 1)); failed+=("$name"); echo "FAIL  $name (exit $rc, ${secs}s)"; tail -n 40 "$log" | sed 's/^/      /' ;;
	esac
done

[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
