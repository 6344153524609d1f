#!/usr/bin/env bash
# Checks `make demo` and `make demo-stop` as a newcomer runs them: the demo exits 0, never stays silent for more than 15 s, prints a priced row for every guest, every command it tells the user to run works as printed, a second `make demo` replaces the first, and after `make demo-stop` no hvdemo- domain, demo process (hvmeterd, hvrater, ipmi_sim, QEMU), namespace, bridge or BPF pin is left while libvirtd still runs.
# HV_DEMO_SECONDS shortens the metering minute (default: the real 60 s).
set -u
cd "$(dirname "$0")/../.." || exit 1
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (libvirtd, BPF, network namespaces)"; exit 77; }
HV_BUILD=${HV_BUILD:-build}
DIR=${HV_DEMO_DIR:-/var/tmp/hvmeter-demo}
. tests/lib/libvirt.sh
. tests/lib/bmc.sh
lv_up || { echo "SKIP: libvirtd cannot run here"; exit 77; }
why=$(bmc_available) || { echo "SKIP: $why"; exit 77; }
# A demo someone is looking at is not ours to stop.
if HV_BUILD=$HV_BUILD bash scripts/demo.sh status >/dev/null 2>&1; then
	echo "SKIP: a demo is running on this machine (make demo-stop first)"
	exit 77
fi
OUT=$(mktemp -d /tmp/hvt-demo.XXXXXX)
trap 'HV_BUILD=$HV_BUILD bash scripts/demo.sh stop >>"$OUT/cleanup.log" 2>&1; [ -n "${HV_KEEP:-}" ] || rm -rf "$OUT"' EXIT
fails=0
check() { # check DESCRIPTION CONDITION...
	local what=$1; shift
	if "$@"; then echo "PASS: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}
GUESTS=(hvdemo-cpu hvdemo-disk hvdemo-net)

# run_make LOG TARGET...: make with each output line stamped with the seconds
# since start; prints "EXIT SECONDS MAXGAP" (longest silence between lines).
run_make() {
	local log=$1 t0=$SECONDS last=$SECONDS gap=0 line rc
	shift
	while IFS= read -r line; do
		[ $((SECONDS - last)) -le "$gap" ] || gap=$((SECONDS - last))
		last=$SECONDS
		printf '%4d %s\n' $((SECONDS - t0)) "$line" >>"$log"
	done < <(make --no-print-directory O="$HV_BUILD" "$@" 2>&1; echo "EXIT $?")
	rc=$(sed -n 's/^ *[0-9]* EXIT \([0-9]*\)$/\1/p' "$log" | tail -n 1)
	echo "${rc:-255} $((SECONDS - t0)) $gap"
}

# Demo processes, found independently of the demo script: by program name
# and a command line naming the demo directory (QEMU: an hvdemo- guest).
demo_pids() {
	local p
	for p in /proc/[0-9]*; do
		case "$(cat "$p/comm" 2>/dev/null)" in
		hvmeterd | hvrater | ipmi_sim)
			tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$DIR/" && echo "${p#/proc/}" ;;
		qemu-system-*)
			tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- "-name guest=hvdemo-" && echo "${p#/proc/}" ;;
		esac
	done
}
domains() { virsh -q -c qemu:///system list --all --name 2>/dev/null | grep '^hvdemo-'; }

# 1. make demo, the real thing
read -r rc secs gap < <(run_make "$OUT/demo1.log" demo)
echo "make demo took $secs s (exit $rc, longest silence $gap s); its output:"
sed 's/^/    /' "$OUT/demo1.log"
check "make demo exits 0" [ "$rc" = 0 ]
check "make demo never stays silent more than 15 s (longest $gap s)" [ "$gap" -le 15 ]
check "make demo shows its metering progress (frames stored / acknowledged)" \
	grep -q 'frames stored, [0-9]* acknowledged' "$OUT/demo1.log"
[ "$rc" = 0 ] || exit 1 # nothing below can hold

# A priced row per guest: the printed table names it (VM column) on a row
# ending in a price, and the same report as CSV prices its UUID above 0.
"$HV_BUILD/bin/hvrater" report -c "$DIR/hvrater.conf" --open --format csv >"$OUT/report.csv" 2>&1
for g in "${GUESTS[@]}"; do
	uuid=$(cat "$DIR/guests/$g.uuid" 2>/dev/null)
	check "the printed report has a priced row for $g" \
		awk -v g="$g" '/\[ *[0-9]+s\]/ { next } index($0, " " g " ") && $NF ~ /^[0-9.]+(E[-+]?[0-9]+)?$/ { f = 1 } END { exit !f }' \
		"$OUT/demo1.log"
	sum=$(awk -F, -v u="${uuid:-none}" '$6 == u { s += $9 } END { print s + 0 }' "$OUT/report.csv")
	check "the report prices $g (${uuid:-no uuid}) above 0 (sum $sum)" awk -v s="$sum" 'BEGIN { exit !(s > 0) }'
done
check "hvmeterd, hvrater, ipmi_sim and 3 QEMUs run after make demo returns" \
	[ "$(for p in $(demo_pids); do cat "/proc/$p/comm"; done | sed 's/qemu-system.*/qemu/' | sort | tr '\n' ' ')" = \
		"hvmeterd hvrater ipmi_sim qemu qemu qemu " ]
check "the 3 hvdemo- domains run" [ "$(domains | sort | tr '\n' ' ')" = "hvdemo-cpu hvdemo-disk hvdemo-net " ]

# Every command the demo tells the user to run works as printed.
n=0
while read -r cmd; do
	n=$((n + 1))
	check "as printed: ${cmd:0:110}" bash -c "$cmd >/dev/null 2>>'$OUT/cmds.err'"
done < <(sed -n 's/^ *[0-9]*   \(\/.*\)$/\1/p' "$OUT/demo1.log")
check "the demo printed commands to run ($n)" [ "$n" -ge 5 ]
check "the demo says how to stop it" grep -q "make -C $PWD demo-stop" "$OUT/demo1.log"

# 2. make demo again: it stops the first demo and starts afresh
old=$(demo_pids | sort | tr '\n' ' ')
read -r rc secs gap < <(HV_DEMO_SECONDS=${HV_DEMO_SECONDS:-10} run_make "$OUT/demo2.log" demo)
echo "second make demo took $secs s (exit $rc); its output:"
sed 's/^/    /' "$OUT/demo2.log"
check "a second make demo exits 0" [ "$rc" = 0 ]
check "it says the first demo is stopped first" grep -q 'running already: stopping it first' "$OUT/demo2.log"
still=0
new=" $(demo_pids | tr '\n' ' ')"
for p in $old; do case "$new" in *" $p "*) still=$((still + 1)) ;; esac; done
check "no process of the first demo survives the second ($still left)" [ "$still" = 0 ]
check "the second demo runs 3 guests" [ "$(domains | wc -l)" = 3 ]

# 3. make demo-stop leaves nothing behind
read -r rc secs gap < <(run_make "$OUT/stop.log" demo-stop)
sed 's/^/    /' "$OUT/stop.log"
check "make demo-stop exits 0 ($secs s)" [ "$rc" = 0 ]
check "no hvdemo- domain is left" [ -z "$(domains)" ]
check "no hvmeterd, hvrater, ipmi_sim or QEMU of the demo is left" [ -z "$(demo_pids)" ]
check "no network namespace hvdemo-ns is left" bash -c '! ip netns list | grep -qw hvdemo-ns'
check "no bridge hvdemo-br is left" bash -c '! ip link show hvdemo-br >/dev/null 2>&1'
check "no BPF pins of the demo are left" [ ! -e /sys/fs/bpf/hvdemo ]
check "libvirtd keeps running, as documented" bash -c 'virsh -q -c qemu:///system version >/dev/null' 
[ "$fails" -eq 0 ]
