#!/usr/bin/env bash
# Checks `hvrater report` on usage that real guests made and an agent shipped over loopback mutual TLS to a rater with 60 s periods: every record's quantity equals the stored usage (hvrater totals, and the agent's own frames for durations and maxima) converted by the metrics file's factors exactly (28-digit decimal, one rounding), every price equals `hvrater rate` on the equivalent usage CSV, closed periods are the ones the host's frames passed, the open one shows with --open (closed=false, '*') and closes once the silent host counts as gone (close_wait), --project filters, and a bad metrics file is refused with its JSON path.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/libvirt.sh
. tests/lib/agent.sh
. tests/lib/certs.sh
. tests/lib/uplink.sh
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (libvirtd, BPF)"; exit 77; }
command -v openssl >/dev/null || { echo "SKIP: no openssl CLI to make test certificates"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: no python3 to compute the expected decimals"; exit 77; }
HV_TMP=$(mktemp -d /tmp/hvt-rrr.XXXXXX)
LV_DIR=$HV_TMP
trap 'lv_cleanup hvt-rr-; agent_cleanup; rater_stop KILL; [ -n "${HV_KEEP:-}" ] || rm -rf "$HV_TMP"' EXIT
fails=0
check() { # check DESCRIPTION CONDITION...
	local what=$1; shift
	if "$@"; then echo "PASS: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}
PA=aaaaaaaa00000000000000000000000a PB=bbbbbbbb00000000000000000000000b

cat >"$HV_TMP/metrics.json" <<'JSON'
{"metrics": {
  "instance": {"metric": "vcpu.alloc", "aggregate": "duration", "factor": "1/3600", "unit": "hour",
               "metadata": ["flavor", "name"]},
  "cpu": {"metric": "cpu.time", "factor": "1/3600000000000", "unit": "core-hour", "metadata": ["name"]},
  "vcpu": {"metric": "vcpu.alloc", "factor": "1/3600", "unit": "vCPU-hour"},
  "memory": {"metric": "memory.alloc", "factor": "1/3600", "unit": "MiB-hour", "metadata": ["flavor"]},
  "memory.peak": {"metric": "memory.resident", "factor": "1/1024", "unit": "GiB"},
  "disk.write": {"metric": "disk.write.bytes", "factor": "1/1073741824", "unit": "GiB"}
}}
JSON
cat >"$HV_TMP/rules.json" <<JSON
{"services": {
  "instance": {"fields": {"flavor": {"mappings": [
    {"type": "flat", "cost": "0.0100", "value": "m1.tiny"},
    {"type": "flat", "cost": "0.0400", "value": "m1.small"},
    {"type": "flat", "cost": "0.0300", "value": "m1.small", "project": "$PB"}]}}},
  "cpu": {"mappings": [{"type": "flat", "cost": "0.05"}],
          "thresholds": [{"level": "0.001", "type": "rate", "cost": "0.8"}]},
  "vcpu": {"mappings": [{"type": "flat", "cost": "0.007"}]},
  "memory": {"mappings": [{"type": "flat", "cost": "0.00001"}]},
  "memory.peak": {"mappings": [{"type": "flat", "cost": "0.002"}]},
  "disk.write": {"mappings": [{"type": "flat", "cost": "0.0100"}]}}}
JSON

why=$(uplink_supported) || { echo "SKIP: $why"; exit 77; }
"$HVRATER" report --help >/dev/null 2>&1 || { echo "SKIP: hvrater has no report command"; exit 77; }
certs_make "$HV_TMP/pki" test-a || exit 1
lv_up || { echo "SKIP: libvirtd cannot run here"; exit 77; }
rater_start period=60 rating.close_wait=20 "rating.rules=$HV_TMP/rules.json" \
	"rating.metrics=$HV_TMP/metrics.json" || exit 1
uplink_agent_start a interval=2 uplink.timeout=5 || exit 1
lv_guest_start hvt-rr-busy vcpus=1 burn=200 disk=write:8 flavor=m1.tiny project=$PA \
	project_name=acme >"$HV_TMP/busy.uuid" || exit 1
lv_guest_start hvt-rr-idle vcpus=2 memory=320 flavor=m1.small project=$PB \
	project_name=globex >"$HV_TMP/idle.uuid" || exit 1
lv_guest_wait hvt-rr-busy "HV: BURN START" 120 >/dev/null || exit 1
# metered into the next period and a little beyond: one period closes, one stays open
B1=$(( ($(date +%s) / 60 + 1) * 60 ))
echo "guests running; metering until the period starting $(date -u -d "@$B1" +%T) has 6 s of frames"
agent_wait_after a $((B1 + 6)) 100 || exit 1
agent_stop a
R=$(rater_host_field test-a last_seq)
LAST_END=$(date -d "$(rater_host_field test-a last_end)" +%s)
echo "agent stopped; the rater holds frames up to seq $R, the last ending $(date -u -d "@$LAST_END" +%T)"
NOW=$(date +%s)

rep() { "$HVRATER" report -c "$HV_TMP/rater.conf" --now "$NOW" "$@"; }
rep --format csv >"$HV_TMP/closed.csv" || exit 1
rep --format csv --open >"$HV_TMP/open.csv" || exit 1
"$HVRATER" totals --store "$HV_TMP/rater.store" --periods >"$HV_TMP/totals.csv" || exit 1
"$HVMETER" dump --store "$(agent_store a)" >"$HV_TMP/dump.csv" || exit 1

# The expected records, computed apart from the rater's report code: sums from
# `hvrater totals --periods`, durations and maxima from the agent's own frames
# (those the rater holds, seq <= R); exact fractions, one rounding to 28 digits.
cat >"$HV_TMP/expect.py" <<'PY'
import csv, json, sys, calendar
from decimal import Decimal, localcontext, ROUND_HALF_EVEN
from fractions import Fraction
tmp, R, busy, idle = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
meta = {busy: {"name": "hvt-rr-busy", "flavor": "m1.tiny"},
        idle: {"name": "hvt-rr-idle", "flavor": "m1.small"}}
svcs = json.load(open(tmp + "/metrics.json"))["metrics"]
def ns(t):  # RFC 3339 UTC with nanoseconds
    s, frac = t.rstrip("Z").split(".")
    return calendar.timegm(tuple(int(x) for x in s.replace("T", "-").replace(":", "-").split("-")) + (0, 0, 0)) * 10**9 + int(frac.ljust(9, "0"))
def period(t_ns): return t_ns // 10**9 // 60 * 60
raw = {}  # (begin, resource, service) -> Fraction
for row in csv.DictReader(open(tmp + "/totals.csv")):
    if row["resource"] not in meta: continue
    for name, s in svcs.items():
        # sums only: the duration and the gauge's max come from the frames below
        if s["metric"] == row["metric"] and "aggregate" not in s and row["metric"] != "memory.resident":
            k = (period(ns(row["period"])), row["resource"], name)
            raw[k] = raw.get(k, 0) + Fraction(row["sum"])
for row in csv.DictReader(open(tmp + "/dump.csv")):
    if int(row["seq"]) > R or row["resource"] not in meta: continue
    b = period(ns(row["start"]))
    for name, s in svcs.items():
        if s["metric"] != row["metric"]: continue
        k = (b, row["resource"], name)
        if s.get("aggregate") == "duration":
            raw[k] = raw.get(k, 0) + Fraction(ns(row["end"]) - ns(row["start"]), 10**9)
        elif s["metric"] == "memory.resident":
            raw[k] = max(raw.get(k, Fraction(row["value"])), Fraction(row["value"]))
with open(tmp + "/expect.csv", "w") as out, open(tmp + "/usage.csv", "w") as use:
    use.write("begin,end,project,resource,service,qty,metadata\n")
    for (b, res, name), q in sorted(raw.items()):
        q = q * Fraction(svcs[name]["factor"])
        with localcontext() as c:
            c.prec, c.rounding = 28, ROUND_HALF_EVEN
            d = Decimal(q.numerator) / Decimal(q.denominator)
        md = ";".join(k + "=" + meta[res][k] for k in svcs[name].get("metadata", []))
        out.write("%d,%s,%s,%s\n" % (b, res, name, d))
        project = "aaaaaaaa00000000000000000000000a" if res == busy else "bbbbbbbb00000000000000000000000b"
        t0 = "%sZ" % __import__("datetime").datetime.utcfromtimestamp(b).isoformat()
        t1 = "%sZ" % __import__("datetime").datetime.utcfromtimestamp(b + 60).isoformat()
        use.write("%s,%s,%s,%s,%s,%s,%s\n" % (t0, t1, project, res, name, d, md))
PY
python3 "$HV_TMP/expect.py" "$HV_TMP" "$R" "$(cat "$HV_TMP/busy.uuid")" "$(cat "$HV_TMP/idle.uuid")" || exit 1
"$HVRATER" rate --rules "$HV_TMP/rules.json" --usage "$HV_TMP/usage.csv" --format csv >"$HV_TMP/rated.csv" || exit 1

# compare.py REPORT.csv: the report's records against the expectation, by value
cat >"$HV_TMP/compare.py" <<'PY'
import csv, sys, calendar, time
from decimal import Decimal
tmp, report = sys.argv[1], sys.argv[2]
def ts(t): return calendar.timegm(time.strptime(t, "%Y-%m-%dT%H:%M:%SZ"))
want = {}
for b, res, name, q in csv.reader(open(tmp + "/expect.csv")):
    want[(int(b), res, name)] = Decimal(q)
price = {}
for row in csv.DictReader(open(tmp + "/rated.csv")):
    price[(ts(row["begin"]), row["resource"], row["service"])] = Decimal(row["price"])
got = {}
bad = 0
ours = set(k[1] for k in want)
for row in csv.DictReader(open(report)):
    if row["resource"] not in ours:
        continue  # the agent meters every guest on this machine, others' too
    k = (ts(row["begin"]), row["resource"], row["type"])
    got[k] = Decimal(row["qty"])
    if k in price and Decimal(row["price"]) != price[k]:
        print("price differs:", k, row["price"], "hvrater rate:", price[k]); bad += 1
only = set(want) ^ set(got)
for k in sorted(only): print("only in", "expectation" if k in want else "report", k); bad += 1
for k in sorted(set(want) & set(got)):
    if want[k] != got[k]: print("qty differs:", k, "report", got[k], "expected", want[k]); bad += 1
print("%d records compared, %d priced, %d differences" % (len(got), len(set(got) & set(price)), bad))
sys.exit(1 if bad or not got else 0)
PY
# with --open every period with usage is there: all of our guests' records must match
check "report --open: quantities equal the stored usage converted exactly, prices equal hvrater rate" \
	python3 "$HV_TMP/compare.py" "$HV_TMP" "$HV_TMP/open.csv"

# closed and open periods
ends_before() { # every record's period ends at or before the host's last frame
	python3 -c '
import csv, sys, calendar, time
e = int(sys.argv[2]); rows = list(csv.DictReader(open(sys.argv[1])))
sys.exit(0 if rows and all(r["closed"] == "true" and calendar.timegm(time.strptime(r["end"], "%Y-%m-%dT%H:%M:%SZ")) <= e for r in rows) else 1)' "$1" "$LAST_END"
}
n_closed=$(($(wc -l <"$HV_TMP/closed.csv") - 1)) n_open=$(grep -c ',false,' "$HV_TMP/open.csv")
echo "records: $n_closed in closed periods, $n_open in the open one"
check "default report: closed periods only, each ended before the host's last frame ($n_closed records)" \
	ends_before "$HV_TMP/closed.csv"
check "report --open adds the open period's records, closed=false ($n_open)" [ "$n_open" -gt 0 ]
check "report --open: its closed records are the default report's" \
	diff <(grep ',true,' "$HV_TMP/open.csv") <(tail -n +2 "$HV_TMP/closed.csv")
# the host is silent: close_wait (20 s) after its last frame it counts as gone
OPEN_END=$(( (LAST_END / 60 + 1) * 60 ))
LATER=$(( LAST_END + 21 > OPEN_END ? LAST_END + 21 : OPEN_END ))
"$HVRATER" report -c "$HV_TMP/rater.conf" --now "$LATER" --format csv >"$HV_TMP/later.csv" || exit 1
check "with the host silent for close_wait the open period closes (--now +$((LATER - NOW)) s): all records, all closed" \
	[ "$(tail -n +2 "$HV_TMP/later.csv" | grep -c ',true,')" -eq "$(($(wc -l <"$HV_TMP/open.csv") - 1))" ]
check "... and they equal the --open records" \
	diff <(tail -n +2 "$HV_TMP/later.csv" | cut -d, -f1,2,4-) <(tail -n +2 "$HV_TMP/open.csv" | cut -d, -f1,2,4-)

# the demo's invocation, and the filters
rep --open --format table >"$HV_TMP/table.txt" 2>"$HV_TMP/table.err"
check "report --open --format table works: VMs by name, '*' on the open period, totals" \
	grep -q 'hvt-rr-busy' "$HV_TMP/table.txt"
check "... the open period is starred and the totals follow" \
	bash -c "grep -q 'Z\*  ' '$HV_TMP/table.txt' && grep -q '^TOTALS' '$HV_TMP/table.txt' && grep -q '^(all projects)' '$HV_TMP/table.txt'"
sed -n '1,12p' "$HV_TMP/table.txt"
rep --open --format csv --project "$PA" >"$HV_TMP/pa.csv"
check "--project: only that project's records ($(($(wc -l <"$HV_TMP/pa.csv") - 1)))" \
	[ "$(tail -n +2 "$HV_TMP/pa.csv" | wc -l)" -eq "$(grep -c ",$PA," "$HV_TMP/open.csv")" -a \
	"$(tail -n +2 "$HV_TMP/pa.csv" | grep -vc ",$PA,")" -eq 0 ]
rep --open --format json >"$HV_TMP/open.json"
check "--format json: the same records (CloudKitty field names, decimal strings)" python3 -c '
import csv, json, sys
j = json.load(open(sys.argv[1])); c = list(csv.DictReader(open(sys.argv[2])))
sys.exit(0 if len(j) == len(c) and all(a["type"] == b["type"] and a["qty"] == b["qty"] and a["price"] == b["price"] and a["groupby"]["resource"] == b["resource"] and a["closed"] == (b["closed"] == "true") for a, b in zip(j, c)) else 1)' "$HV_TMP/open.json" "$HV_TMP/open.csv"
sed 's|"factor": "1/3600000000000"|"factor": "1/0"|' "$HV_TMP/metrics.json" >"$HV_TMP/bad.json"
rep --metrics "$HV_TMP/bad.json" >"$HV_TMP/bad.out" 2>"$HV_TMP/bad.err"
rc=$?
check "a bad metrics file is refused (exit $rc), naming the JSON path, printing nothing" \
	bash -c "[ $rc -eq 1 ] && grep -q 'metrics.cpu.factor: not a decimal or a fraction' '$HV_TMP/bad.err' && [ ! -s '$HV_TMP/bad.out' ]"
[ "$fails" -eq 0 ]
