#!/usr/bin/env bash
# Checks that the audit tools catch a single changed byte: a ledger written by
# hvmeterd verifies; `hvmeter dump --format lmdb` is exactly `mdb_dump -a`;
# that dump loads back (mdb_load) into a store that verifies with the same
# chain head; the same dump with one byte changed inside one frame's record
# loads into a store that `hvmeter verify` rejects (exit 1), naming that
# frame's sequence number, while frames before it still count as verified.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/libvirt.sh
. tests/lib/agent.sh
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (libvirtd, BPF)"; exit 77; }
command -v mdb_dump >/dev/null && command -v mdb_load >/dev/null ||
	{ echo "SKIP: mdb_dump/mdb_load (lmdb-utils) not installed"; exit 77; }
HV_TMP=$(mktemp -d /tmp/hvt-tamper.XXXXXX)
trap 'agent_cleanup; [ -n "${HV_KEEP:-}" ] || rm -rf "$HV_TMP"' EXIT
fails=0
check() {
	local what=$1; shift
	if "$@"; then echo "PASS: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}
lv_up || { echo "SKIP: libvirtd cannot run here"; exit 77; }

agent_start t interval=1 || exit 1
agent_wait_seq t 6 30 || exit 1
agent_stop t
S=$(agent_store t)
check "the agent's ledger verifies" "$HVMETER" verify --store "$S"

"$HVMETER" dump --store "$S" --format lmdb >"$HV_TMP/ours.dump"
check "dump --format lmdb exits 0" test $? -eq 0
mdb_dump -a "$S" >"$HV_TMP/mdb.dump"
check "dump --format lmdb equals mdb_dump -a byte for byte" cmp -s "$HV_TMP/ours.dump" "$HV_TMP/mdb.dump"

# mdb_load knows no db_pagesize line though mdb_dump writes one: drop its note
mkdir "$HV_TMP/copy"
mdb_load -f "$HV_TMP/ours.dump" "$HV_TMP/copy" 2> >(grep -v db_pagesize >&2)
check "mdb_load reads the dump back" test $? -eq 0
HEAD=$("$HVMETER" status --store "$S" | sed -n 's/^chain head: *//p')
HEAD2=$("$HVMETER" status --store "$HV_TMP/copy" | sed -n 's/^chain head: *//p')
check "the reloaded copy verifies" "$HVMETER" verify --store "$HV_TMP/copy"
check "with the same chain head ($HEAD)" test -n "$HEAD" -a "$HEAD" = "$HEAD2"

# Frame 4's record: keys are seq (u64 BE) || part (u32 BE); change one byte in
# the middle of its first part (after the 32-byte hash: the frame's own bytes).
VICTIM=4
KEY=$(printf '%016x%08x' "$VICTIM" 0)
awk -v key=" $KEY" '
	/^database=/ { db = substr($0, 10) }
	hit { n = length($0); p = int(n / 2) * 2; if (p < 70) p = n - 1
	      b = substr($0, p, 2); c = (b == "00") ? "01" : "00"
	      $0 = substr($0, 1, p - 1) c substr($0, p + 2); hit = 0; done = 1 }
	db == "frames" && $0 == key { hit = 1 }
	{ print }
	END { exit !done }' "$HV_TMP/ours.dump" >"$HV_TMP/bad.dump"
check "one byte of frame $VICTIM changed in the dump" test $? -eq 0
check "and only one line differs" test "$(diff "$HV_TMP/ours.dump" "$HV_TMP/bad.dump" | grep -c '^>')" -eq 1
mkdir "$HV_TMP/bad"
mdb_load -f "$HV_TMP/bad.dump" "$HV_TMP/bad" 2> >(grep -v db_pagesize >&2)
OUT=$("$HVMETER" verify --store "$HV_TMP/bad")
RC=$?
echo "verify of the changed copy: exit $RC: $OUT"
check "verify fails on the changed copy" test "$RC" -eq 1
check "and names frame $VICTIM" grep -q "frame seq $VICTIM does not match" <<<"$OUT"
check "after 3 frames verified" grep -q "(3 frames before it verified)" <<<"$OUT"
[ "$fails" -eq 0 ]
