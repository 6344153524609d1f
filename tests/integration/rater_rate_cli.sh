#!/usr/bin/env bash
# Checks that `hvrater rate` prices a small usage CSV with a rules file (CSV, JSON and table output, project overlay, thresholds) and refuses bad input with the line and column, exit 1, and no output.
set -u

BIN=${HV_BUILD:-build}/bin/hvrater
if [ ! -x "$BIN" ]; then
	echo "skipped: $BIN is not built (make first)"
	exit 77
fi

tmp=$(mktemp -d)
cleanup() { [ "${HV_KEEP:-0}" = 1 ] && echo "kept $tmp" || rm -rf "$tmp"; }
trap cleanup EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }

# Rules from doc/source/user/rating/hashmap.rst ("Volume per GiB with discount",
# with its per-project threshold) plus an instance flavor rate overridden for
# project acme. Expected prices were computed by CloudKitty's own hashmap code.
cat > "$tmp/rules.json" <<'JSON'
{"services": {
  "instance": {
    "mappings": [{"type": "flat", "cost": "0.01", "group": "uptime"}],
    "fields": {"flavor": {"mappings": [
      {"type": "rate", "cost": "2", "value": "m1.large", "group": "uptime"},
      {"type": "rate", "cost": "1.5", "value": "m1.large", "group": "uptime", "project": "acme"}]}}},
  "volume.size": {
    "mappings": [{"type": "flat", "cost": "0.001", "group": "volume_thresholds"}],
    "thresholds": [
      {"level": "50", "type": "rate", "cost": "0.98", "group": "volume_thresholds"},
      {"level": "50", "type": "rate", "cost": "0.97", "group": "volume_thresholds", "project": "acme"},
      {"level": "200", "type": "rate", "cost": "0.95", "group": "volume_thresholds"}]}}}
JSON

cat > "$tmp/usage.csv" <<'CSV'
begin,end,project,resource,service,qty,metadata
2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,acme,vm-1,instance,1,flavor=m1.large;name=web
2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,other,vm-2,instance,1,flavor=m1.large
2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,other,vm-3,instance,1,flavor=m1.tiny
2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,acme,vol-1,volume.size,80,"volume_type=SSD,gold"
2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,other,vol-2,volume.size,80,
2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,other,vol-3,volume.size,250,
2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,other,img-1,image.size,10,
CSV

cat > "$tmp/want.csv" <<'CSV'
begin,end,project,resource,service,qty,metadata,price
2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,acme,vm-1,instance,1,flavor=m1.large;name=web,0.015
2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,other,vm-2,instance,1,flavor=m1.large,0.02
2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,other,vm-3,instance,1,flavor=m1.tiny,0.01
2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,acme,vol-1,volume.size,80,"volume_type=SSD,gold",0.07760
2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,other,vol-2,volume.size,80,,0.07840
2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,other,vol-3,volume.size,250,,0.23750
2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,other,img-1,image.size,10,,0
CSV

cat > "$tmp/want.json" <<'JSON'
[
{"begin": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z", "project": "acme", "resource": "vm-1", "service": "instance", "qty": "1", "metadata": {"flavor": "m1.large", "name": "web"}, "price": "0.015"},
{"begin": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z", "project": "other", "resource": "vm-2", "service": "instance", "qty": "1", "metadata": {"flavor": "m1.large"}, "price": "0.02"},
{"begin": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z", "project": "other", "resource": "vm-3", "service": "instance", "qty": "1", "metadata": {"flavor": "m1.tiny"}, "price": "0.01"},
{"begin": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z", "project": "acme", "resource": "vol-1", "service": "volume.size", "qty": "80", "metadata": {"volume_type": "SSD,gold"}, "price": "0.07760"},
{"begin": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z", "project": "other", "resource": "vol-2", "service": "volume.size", "qty": "80", "metadata": {}, "price": "0.07840"},
{"begin": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z", "project": "other", "resource": "vol-3", "service": "volume.size", "qty": "250", "metadata": {}, "price": "0.23750"},
{"begin": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z", "project": "other", "resource": "img-1", "service": "image.size", "qty": "10", "metadata": {}, "price": "0"}
]
JSON

# CSV: the input columns plus price, byte for byte
if "$BIN" rate --rules "$tmp/rules.json" --usage "$tmp/usage.csv" --format csv >"$tmp/out.csv" 2>"$tmp/err"; then
	diff -u "$tmp/want.csv" "$tmp/out.csv" || fail "CSV output differs"
	[ -s "$tmp/err" ] && fail "CSV run wrote to stderr: $(cat "$tmp/err")"
else
	fail "CSV run exited $?: $(cat "$tmp/err")"
fi

# JSON: one object per row, metadata as an object; also read from standard input
if "$BIN" rate -r "$tmp/rules.json" -u - -f json <"$tmp/usage.csv" >"$tmp/out.json" 2>"$tmp/err"; then
	diff -u "$tmp/want.json" "$tmp/out.json" || fail "JSON output differs"
	if command -v python3 >/dev/null; then
		python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d) == 7' "$tmp/out.json" ||
			fail "JSON output does not parse as 7 objects"
	fi
else
	fail "JSON run exited $?: $(cat "$tmp/err")"
fi

# table (default): the rows, then totals per project and service
if "$BIN" rate --rules "$tmp/rules.json" --usage "$tmp/usage.csv" >"$tmp/out.txt" 2>"$tmp/err"; then
	grep -Eq '^acme +volume\.size +1 +0\.07760$' "$tmp/out.txt" || fail "table: no acme volume.size total"
	grep -Eq '^other +\* +5 +0\.34590$' "$tmp/out.txt" || fail "table: no total for project other"
	grep -Eq '^\* +\* +7 +0\.43850$' "$tmp/out.txt" || fail "table: no grand total"
	[ "$(grep -c 'T00:00:00Z' "$tmp/out.txt")" = 7 ] || fail "table: not one line per row"
else
	fail "table run exited $?: $(cat "$tmp/err")"
fi

# bad quantity on line 4: exit 1, line and column named, nothing on stdout
sed '5s/,80,/,8O,/' "$tmp/usage.csv" >"$tmp/bad.csv"
"$BIN" rate -r "$tmp/rules.json" -u "$tmp/bad.csv" -f csv >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 1 ] || fail "bad usage: exit $rc, want 1"
[ -s "$tmp/out" ] && fail "bad usage: something was printed on stdout"
grep -q 'bad.csv: line 5, column qty: not a decimal: "8O"' "$tmp/err" ||
	fail "bad usage: unexpected message: $(cat "$tmp/err")"

# bad rules: the JSON path of the offending value
sed 's/"cost": "0.98"/"cost": "0,98"/' "$tmp/rules.json" >"$tmp/bad.json"
"$BIN" rate -r "$tmp/bad.json" -u "$tmp/usage.csv" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 1 ] || fail "bad rules: exit $rc, want 1"
grep -q 'services\["volume.size"\].thresholds\[0\].cost: not a decimal: "0,98"' "$tmp/err" ||
	fail "bad rules: unexpected message: $(cat "$tmp/err")"

# command line
"$BIN" --help | grep -q 'Usage: hvrater' || fail "hvrater --help"
"$BIN" rate --help | grep -q -- '--rules FILE' || fail "hvrater rate --help"
"$BIN" frobnicate >/dev/null 2>"$tmp/err"
rc=$?
[ "$rc" = 2 ] && grep -q 'hvrater: unknown command' "$tmp/err" || fail "unknown command: exit $rc, $(cat "$tmp/err")"
"$BIN" rate -r "$tmp/rules.json" >/dev/null 2>"$tmp/err"
rc=$?
[ "$rc" = 2 ] && grep -q -- '--usage is required' "$tmp/err" || fail "missing --usage: exit $rc"
"$BIN" rate -r "$tmp/rules.json" -u "$tmp/usage.csv" -f xml >/dev/null 2>"$tmp/err"
[ "$?" = 2 ] || fail "unknown format accepted"

[ "$failed" = 0 ] && echo "rater_rate_cli: passed"
exit "$failed"
