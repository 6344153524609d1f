#!/usr/bin/env bash
# Checks `hvmeter top` on a real terminal (tmux) against a running agent and
# a real guest: the screen shows the guest's line with its CPU share and the
# sources' health, it redraws by itself (the last frame moves on between two
# captures, nothing scrolls: the title stays on the first line), and `q`
# quits with exit 0 leaving the terminal as it was; Ctrl-C quits too; and
# `-n` runs a fixed number of refreshes for scripts.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/libvirt.sh
. tests/lib/agent.sh
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (libvirtd, BPF)"; exit 77; }
command -v tmux >/dev/null || { echo "SKIP: tmux not installed (scripts/deps.sh)"; exit 77; }
HV_TMP=$(mktemp -d /tmp/hvt-ops-top.XXXXXX)
LV_DIR=$HV_TMP
# a tmux server of our own: never another user's sessions
TMUX_SOCK=hvt-ops-top-$$
tm() { tmux -L "$TMUX_SOCK" "$@"; }
trap 'tm kill-server 2>/dev/null; lv_cleanup hvt-ops-top-; agent_cleanup; [ -n "${HV_KEEP:-}" ] || rm -rf "$HV_TMP"' EXIT
fails=0
check() { # check DESCRIPTION CONDITION...
	local what=$1; shift
	if "$@"; then echo "PASS: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}
eq() { [ "$1" = "$2" ]; }
differ() { ! cmp -s "$1" "$2"; }
# running SESSION: the session's program has not exited yet
running() { tm has-session -t "$1" 2>/dev/null; }
# wait_gone SESSION SECS: until its program has exited
wait_gone() {
	for _ in $(seq $(($2 * 10))); do running "$1" || return 0; sleep 0.1; done
	return 1
}
last_frame() { sed -n 's/^last frame: *seq \([0-9]*\) .*/\1/p' "$1"; }

lv_up || { echo "SKIP: libvirtd cannot run here"; exit 77; }
agent_start t interval=1 bpf=on || exit 1
S=$(agent_store t)
lv_guest_start hvt-ops-top-a burn=60 >/dev/null || exit 1
lv_guest_wait hvt-ops-top-a "HV: BURN START" 120 >/dev/null || exit 1
agent_wait_after t "$(date +%s.%N)" 20 || exit 1

# The program runs in a 200x50 terminal; its exit code goes to a file.
tm new-session -d -s top -x 200 -y 50 \
	"'$HVMETER' top --store '$S' -d 1; echo \$? >'$HV_TMP/top.rc'"
sleep 2.5
tm capture-pane -p -t top >"$HV_TMP/cap1"
sleep 2.5
tm capture-pane -p -t top >"$HV_TMP/cap2"
echo "--- second capture:"
sed -n '1,40p' "$HV_TMP/cap2"
echo "---"
check "the screen shows the guest's line" grep -q '^  hvt-ops-top-a ' "$HV_TMP/cap2"
check "... with its CPU share, state and UUID" \
	grep -qE '^  hvt-ops-top-a +[0-9]+\.[0-9] .* running +[0-9a-f-]{36}$' "$HV_TMP/cap2"
check "it shows the sources' health" grep -q '^  bpf=cpu_switch attached' "$HV_TMP/cap2"
check "it shows the libvirt connection" grep -q '^  libvirt=connected' "$HV_TMP/cap2"
check "it shows ring use and ack lag" \
	sh -c 'grep -q "^ring: " "$1" && grep -q "^acknowledged: " "$1"' _ "$HV_TMP/cap2"
F1=$(last_frame "$HV_TMP/cap1") F2=$(last_frame "$HV_TMP/cap2")
echo "last frame on screen: $F1, then $F2"
check "the content changed between two captures" differ "$HV_TMP/cap1" "$HV_TMP/cap2"
check "it redrew by itself: the last frame moved on" awk -v a="$F1" -v b="$F2" 'BEGIN { exit !(b > a && a > 0) }'
check "redrawn in place: the title is on the first line" grep -q '^hvmeter top - ' <(head -n 1 "$HV_TMP/cap2")
check "one screen only: no second title scrolled in" eq "$(grep -c '^hvmeter top - ' "$HV_TMP/cap2")" 1

tm send-keys -t top q
check "q quits" wait_gone top 5
check "... with exit code 0" eq "$(cat "$HV_TMP/top.rc" 2>/dev/null)" 0

# Ctrl-C: the terminal gets its settings back (echo on again) and the exit is clean.
tm new-session -d -s ctrlc -x 200 -y 50 \
	"'$HVMETER' top --store '$S' -d 1; echo \$? >'$HV_TMP/ctrlc.rc'; stty -a >'$HV_TMP/stty'; sleep 30"
sleep 2
tm send-keys -t ctrlc C-c
for _ in $(seq 50); do [ -s "$HV_TMP/stty" ] && break; sleep 0.1; done
check "Ctrl-C quits with exit code 0" eq "$(cat "$HV_TMP/ctrlc.rc" 2>/dev/null)" 0
check "... and restores the terminal (echo and canonical mode on)" \
	sh -c 'grep -qw icanon "$1" && grep -qw echo "$1"' _ "$HV_TMP/stty"
tm kill-session -t ctrlc 2>/dev/null

# For scripts: -n ITERATIONS, no terminal.
T0=$(date +%s.%N)
"$HVMETER" top --store "$S" -d 1 -n 3 >"$HV_TMP/batch" 2>&1
RC=$? T1=$(date +%s.%N)
echo "top -n 3 -d 1: exit $RC after $(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.1f", b - a }') s, $(grep -c '^hvmeter top - ' "$HV_TMP/batch") screens"
check "-n 3 prints three screens and exits 0" eq "$RC/$(grep -c '^hvmeter top - ' "$HV_TMP/batch")" 0/3
check "... after two refresh periods" awk -v a="$T0" -v b="$T1" 'BEGIN { exit !(b - a >= 2 && b - a < 6) }'
check "... without terminal escapes on a pipe" bash -c "! grep -q $'\\033' '$HV_TMP/batch'"
"$HVMETER" top --store "$HV_TMP/nowhere" -n 1 >"$HV_TMP/bad" 2>&1
check "a store that cannot be read: said on screen, exit 1" \
	sh -c '[ $2 -eq 1 ] && grep -q "cannot read store" "$1"' _ "$HV_TMP/bad" $?
"$HVMETER" top --store "$S" -d 0 >/dev/null 2>&1
check "-d 0 is refused as a usage error (exit 2)" eq "$?" 2
[ "$fails" -eq 0 ]
