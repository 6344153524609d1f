#!/usr/bin/env bash
# Checks that hvmeterd refuses a bad config key, a missing config file and an
# unreachable libvirtd with exactly one clear error line naming the problem
# and a non-zero exit, and that -n prints the parsed config.
set -u
cd "$(dirname "$0")/../.."
HVMETERD=${HV_BUILD:-build}/bin/hvmeterd
T=$(mktemp -d /tmp/hvt-err.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0

# expect NAME REGEX CONFIG_PATH: non-zero exit, one stderr line matching REGEX.
expect() {
	local name=$1 re=$2 conf=$3 rc lines
	"$HVMETERD" -f -c "$conf" >"$T/out" 2>"$T/err"
	rc=$?
	lines=$(wc -l <"$T/err")
	if [ "$rc" -ne 0 ] && [ "$lines" -eq 1 ] && grep -qE "$re" "$T/err"; then
		echo "PASS: $name: $(cat "$T/err")"
	else
		echo "FAIL: $name: exit $rc, $lines lines:"; cat "$T/err"; fails=$((fails + 1))
	fi
}

printf '[agent]\ninterval = 10\nintervall = 5\n' >"$T/badkey.conf"
expect "bad key" "badkey.conf:3: \[agent\] intervall: unknown key" "$T/badkey.conf"
printf '[agent]\ninterval = soon\n' >"$T/badval.conf"
expect "bad value" "badval.conf:2: \[agent\] interval: not a number" "$T/badval.conf"
expect "missing file" "$T/none.conf: cannot open: No such file or directory" "$T/none.conf"
printf '[agent]\nstore = %s/store\nbpf = off\n[libvirt]\nuri = qemu+unix:///system?socket=%s/no-libvirtd.sock\n' "$T" "$T" >"$T/nolibvirt.conf"
expect "no libvirtd" "cannot connect to libvirt at qemu\+unix.*no-libvirtd.sock" "$T/nolibvirt.conf"

# A second agent on the same store would bill everything twice: refused.
printf '[agent]\nstore = %s/lockstore\nbpf = off\n[libvirt]\nuri = qemu+unix:///system?socket=%s/no.sock\n' "$T" "$T" >"$T/lock.conf"
mkdir -p "$T/lockstore"
flock "$T/lockstore/hvmeterd.lock" -c "echo 4242 > $T/lockstore/hvmeterd.lock; $HVMETERD -f -c $T/lock.conf" >"$T/out" 2>"$T/err"
if [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "store $T/lockstore is in use by another hvmeterd (pid 4242)" "$T/err"; then
	echo "PASS: second agent on one store: $(cat "$T/err")"
else
	echo "FAIL: second agent on one store:"; cat "$T/err"; fails=$((fails + 1))
fi

if "$HVMETERD" -n -c "$T/badval.conf" >/dev/null 2>&1; then
	echo "FAIL: -n accepted a bad config"; fails=$((fails + 1))
fi
printf '[agent]\ninterval = 7\n' >"$T/ok.conf"
if "$HVMETERD" -n -c "$T/ok.conf" | grep -qx 'interval = 7'; then
	echo "PASS: -n prints the parsed config"
else
	echo "FAIL: -n output"; fails=$((fails + 1))
fi
[ "$fails" -eq 0 ]
