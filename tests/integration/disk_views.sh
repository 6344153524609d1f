#!/usr/bin/env bash
# Checks both disk views on real guests over a window after boot: billed
# bytes and requests (QEMU's block stats) equal libvirt's block stats for the
# window exactly and are >= the MiB written/read; the host view (BPF on
# block_bio_queue, by blkcg) is within 1 % of the billed bytes for cache=none;
# two guests doing I/O at once are attributed separately; a cache=writeback
# guest is still billed exactly and its writes are charged to no other guest.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/libvirt.sh
. tests/lib/agent.sh
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (libvirtd, BPF)"; exit 77; }
HV_TMP=$(mktemp -d /tmp/hvt-dsk.XXXXXX)
LV_DIR=$HV_TMP
trap 'lv_cleanup hvt-dsk-; agent_cleanup; [ -n "${HV_KEEP:-}" ] || rm -rf "$HV_TMP"' EXIT
fails=0
check() {
	local what=$1; shift
	if "$@"; then echo "PASS: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}
lv_up || { echo "SKIP: libvirtd cannot run here"; exit 77; }
agent_start d interval=2 bpf=on || exit 1

# blk NAME: "rd_bytes rd_req wr_bytes wr_req" from libvirt's block stats
blk() {
	virsh -q -c qemu:///system domblkstat "$1" vda |
		awk '{ v[$2] = $3 } END { print v["rd_bytes"], v["rd_req"], v["wr_bytes"], v["wr_req"] }'
}
# window_sum UUID METRIC FROM: sum over frames starting at or after FROM (unix s)
window_sum() { agent_sum d "$1" "$2" "@$3" "@4102444800"; }
eq() { [ "$1" = "$2" ]; }

# run_pair: guests doing I/O after a pause; the window opens in the pause.
run_guests() { # NAME:CACHE:WMIB:RMIB ...
	local g name cache w r
	for g in "$@"; do
		IFS=: read -r name cache w r <<<"$g"
		lv_guest_start "$name" cache="$cache" sleep=15 disk="write:$w,read:$r" >"$HV_TMP/$name.uuid" || return 1
	done
	for g in "$@"; do lv_guest_wait "${g%%:*}" "HV: READY" 180 >/dev/null || return 1; done
	# The window opens once the agent has read each guest's block counters
	# (its boot-time probe reads are in a frame before the window).
	for g in "$@"; do
		local t=$((SECONDS + 20)) u
		u=$(cat "$HV_TMP/${g%%:*}.uuid")
		until awk -v v="$(agent_sum d "$u" disk.read.bytes)" 'BEGIN { exit !(v > 0) }'; do
			[ "$SECONDS" -lt "$t" ] || { echo "agent never read ${g%%:*}'s block stats"; return 1; }
			sleep 0.5
		done
	done
	# Frames end on multiples of the interval (2 s): the frame in progress now
	# started at the last boundary, and the guests are still paused, so the
	# window opens at that boundary, before the readings below.
	W0=$(( $(date +%s) / 2 * 2 ))
	for g in "$@"; do blk "${g%%:*}" >"$HV_TMP/${g%%:*}.s0"; done
	for g in "$@"; do lv_guest_wait "${g%%:*}" "HV: DISK END" 240 >/dev/null || return 1; done
	for g in "$@"; do
		grep -q "HV: DISK FAIL" "$(lv_guest_console "${g%%:*}")" && { echo "guest ${g%%:*} disk workload failed"; return 1; }
		virsh -q -c qemu:///system suspend "${g%%:*}" >/dev/null
		blk "${g%%:*}" >"$HV_TMP/${g%%:*}.s1"
	done
	agent_wait_after d "$(date +%s.%N)" 30
	# A domain busy in a job gets no block counters from a NOWAIT call: its
	# billed bytes arrive with the next full reading, a few frames late. Wait
	# (bounded) until each guest's billed writes reach libvirt's.
	for g in "$@"; do
		local t=$((SECONDS + 40)) u s0 s1
		u=$(cat "$HV_TMP/${g%%:*}.uuid")
		read -r -a s0 <"$HV_TMP/${g%%:*}.s0"
		read -r -a s1 <"$HV_TMP/${g%%:*}.s1"
		until awk -v v="$(window_sum "$u" disk.write.bytes "$W0")" -v w=$((s1[2] - s0[2])) 'BEGIN { exit !(v >= w) }'; do
			[ "$SECONDS" -lt "$t" ] || { echo "billed writes of ${g%%:*} never reached libvirt's"; break; }
			sleep 1
		done
	done
}

# compare NAME WMIB RMIB: billed exact vs libvirt, host view within 1 % (cache=none)
compare() {
	local name=$1 w=$2 r=$3 uuid s0 s1 rb rq wb wq hr hw
	uuid=$(cat "$HV_TMP/$name.uuid")
	read -r -a s0 <"$HV_TMP/$name.s0"
	read -r -a s1 <"$HV_TMP/$name.s1"
	rb=$(window_sum "$uuid" disk.read.bytes "$W0"); rq=$(window_sum "$uuid" disk.read.requests "$W0")
	wb=$(window_sum "$uuid" disk.write.bytes "$W0"); wq=$(window_sum "$uuid" disk.write.requests "$W0")
	hr=$(window_sum "$uuid" disk.host.read.bytes "$W0"); hw=$(window_sum "$uuid" disk.host.write.bytes "$W0")
	echo "$name: libvirt window rd ${s0[0]}->${s1[0]} B, wr ${s0[2]}->${s1[2]} B; billed rd ${rb} B/${rq} req, wr ${wb} B/${wq} req; host rd ${hr} B ($(pct "$hr" "$rb") %), wr ${hw} B ($(pct "$hw" "$wb") %); host bios rd $(window_sum "$uuid" disk.host.read.requests "$W0") wr $(window_sum "$uuid" disk.host.write.requests "$W0")"
	check "$name billed read bytes = libvirt's exactly" eq "${rb%.*}" "$((s1[0] - s0[0]))"
	check "$name billed read requests = libvirt's exactly" eq "${rq%.*}" "$((s1[1] - s0[1]))"
	check "$name billed write bytes = libvirt's exactly" eq "${wb%.*}" "$((s1[2] - s0[2]))"
	check "$name billed write requests = libvirt's exactly" eq "${wq%.*}" "$((s1[3] - s0[3]))"
	check "$name billed >= $w MiB written, $r MiB read" awk -v a="$wb" -v b="$rb" -v w="$w" -v r="$r" \
		'BEGIN { exit !(a >= w * 1048576 && b >= r * 1048576) }'
	HOST_RD=$hr HOST_WR=$hw BILL_RD=$rb BILL_WR=$wb
}

run_guests hvt-dsk-a:none:64:64 hvt-dsk-b:none:32:32 || exit 1
compare hvt-dsk-a 64 64
check "guest a: host view within 1 % of billed (read)" within "$HOST_RD" "$BILL_RD" 1
check "guest a: host view within 1 % of billed (write)" within "$HOST_WR" "$BILL_WR" 1
compare hvt-dsk-b 32 32
check "guest b: host view within 1 % of billed (read), no cross-talk" within "$HOST_RD" "$BILL_RD" 1
check "guest b: host view within 1 % of billed (write), no cross-talk" within "$HOST_WR" "$BILL_WR" 1
A=$(cat "$HV_TMP/hvt-dsk-a.uuid") B=$(cat "$HV_TMP/hvt-dsk-b.uuid")

# Write-back: billed stays exact; the host's writes go to the root blkcg via
# the flusher, never to the suspended guests a and b.
run_guests hvt-dsk-c:writeback:64:64 || exit 1
sync
agent_wait_after d "$(date +%s.%N)" 30
compare hvt-dsk-c 64 64
AB=$(awk -v a="$(window_sum "$A" disk.host.write.bytes "$W0")" -v b="$(window_sum "$B" disk.host.write.bytes "$W0")" 'BEGIN { print a + b }')
UNATTR=$(agent_sum d host disk.host.write.bytes "@$W0" "@4102444800")
echo "writeback window: host writes charged to guest c ${HOST_WR} B, to guests a+b ${AB} B, host unattributed ${UNATTR} B"
check "write-back writes charged to no other guest" eq "${AB%.*}" "0"
check "write-back writes not charged to guest c beyond what it wrote" awk -v h="$HOST_WR" -v b="$BILL_WR" 'BEGIN { exit !(h <= b * 1.01) }'
check "host-level unattributed writes are reported" awk -v u="$UNATTR" 'BEGIN { exit !(u > 0) }'
check "no negative delta" awk -v m="$(agent_min d)" 'BEGIN { exit !(m >= 0) }'
[ "$fails" -eq 0 ]
