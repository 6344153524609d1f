#!/usr/bin/env bash
# Checks the ledger on a small filesystem that fills up: the store is an
# 8 MiB tmpfs (its 256 MiB map is far larger, so the filesystem is the
# limit); once frames exist a filler takes every free byte. hvmeterd
# (interval 1 s) stays up and keeps metering — compacting inside its file,
# or, when even that cannot make room, holding the deltas in its baselines
# and saying so once in its log; hvmeter status reports the full
# filesystem. When the filler is deleted frames flow again by themselves,
# and each guest's cpu.time equals its cgroup's cpu.stat within 1 % and its
# counter baselines exactly: no total was lost.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/libvirt.sh
. tests/lib/agent.sh
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (libvirtd, BPF, mount)"; exit 77; }
HV_TMP=$(mktemp -d /tmp/hvt-enospc.XXXXXX)
LV_DIR=$HV_TMP
S=$HV_TMP/f.store # agent_store f
trap 'lv_cleanup hvt-nospc-; agent_cleanup; umount "$S" 2>/dev/null; [ -n "${HV_KEEP:-}" ] || rm -rf "$HV_TMP"' EXIT
fails=0
check() {
	local what=$1; shift
	if "$@"; then echo "PASS: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}
lv_up || { echo "SKIP: libvirtd cannot run here"; exit 77; }
mkdir "$S" && mount -t tmpfs -o size=8m,mode=0750 hvt-nospc "$S" ||
	{ echo "SKIP: cannot mount a tmpfs here"; exit 77; }

UA=3e8a1d5c-7b2f-4c9e-a6d1-2b4f8e0c5a97
agent_start f interval=1 bpf=on || exit 1
lv_guest_start hvt-nospc-a uuid=$UA vcpus=1 burn=600 >/dev/null || exit 1
lv_guest_wait hvt-nospc-a "HV: BURN START" 180 >/dev/null || exit 1
sleep 3

# Fill it: big blocks, then single pages, until not one more fits.
dd if=/dev/zero of="$S/filler" bs=1M 2>/dev/null
dd if=/dev/zero of="$S/filler" bs=4k oflag=append conv=notrunc 2>/dev/null
echo "filesystem full: $(df -B1 --output=avail "$S" | tail -1 | tr -d ' ') bytes free; data.mdb $(stat -c %s "$S/data.mdb") bytes"
SEQ_FULL=$(agent_last_seq f)
sleep 20
check "the agent runs on a full filesystem" kill -0 "${AGENT_PID[f]}"
ST=$("$HVMETER" status --store "$S")
echo "$ST" | sed -n '/^ring:/,/^merged:/p'
check "status reports the full filesystem" grep -q "^filesystem: .*FULL" <<<"$ST"
SEQ_IN=$(agent_last_seq f)
# the sampler's words when a commit is refused (-ENOSPC)
FULL_LOGS=$(grep -c "metering continues in the baselines" "$HV_TMP/f.log")
echo "while full: frames $SEQ_FULL -> $SEQ_IN; refused commits logged $FULL_LOGS times"
grep -i "full" "$HV_TMP/f.log" | sed 's/^[^ ]* //'
# the agent says so, but not every tick (20 ticks went by): how it words
# and groups episodes is the sampler's (store_condition() gives it the
# episodes; a ring that compacts its way out and back flips -ENOSPC)
check "the full store is logged, not every tick" test "$(grep -ci "full" "$HV_TMP/f.log")" -lt 5
check "metering went on: frames by compaction, or a logged full store" \
	test "$SEQ_IN" -gt $((SEQ_FULL + 5)) -o "$FULL_LOGS" -ge 1
check "the file did not grow" test "$(stat -c %s "$S/data.mdb")" -le $((8 << 20))

rm -f "$S/filler"
T=$(date +%s.%N)
agent_wait_after f "$(awk -v t="$T" 'BEGIN { printf "%.3f", t + 3 }')" 30 || exit 1
check "frames resume after space returns" test "$(agent_last_seq f)" -gt "$SEQ_IN"
[ "$FULL_LOGS" -eq 0 ] || check "and the log says so" grep -q "writable again" "$HV_TMP/f.log"

lv_virsh suspend hvt-nospc-a >/dev/null || exit 1
sleep 0.5
TRUTH=$(( $(lv_guest_cpu_usec hvt-nospc-a) * 1000 ))
T=$(date +%s.%N)
agent_wait_after f "$T" 30 || exit 1
agent_stop f
SUM=$(agent_sum f "$UA" cpu.time)
BASE=$(agent_baseline_sum f "$UA" cpu/)
echo "guest cpu.time: frames $SUM, baselines $BASE, cgroup $TRUTH ($(pct "$SUM" "$TRUTH") %)"
"$HVMETER" status --store "$S" | sed -n '/^frames:/p;/^merged:/p'
check "cpu.time within 1 % of cpu.stat" within "$SUM" "$TRUTH" 1
check "cpu.time equals its baselines exactly" awk -v a="$SUM" -v b="$BASE" 'BEGIN { exit !(a == b && b > 0) }'
check "no negative delta" awk -v m="$(agent_min f)" 'BEGIN { exit !(m >= 0) }'
check "chain verifies" "$HVMETER" verify --store "$S"
[ "$fails" -eq 0 ]
