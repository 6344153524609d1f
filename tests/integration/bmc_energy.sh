#!/usr/bin/env bash
# Power stepped 250 W -> 400 W on the simulated BMC integrates to within 0.5 % of the exact energy, through the reader thread, both from an SDR Watts sensor (Dell profile) and from DCMI (generic profile with DCMI), and every interval's apportioning sums exactly.
# Runs the step scenario of tests/integration/c/test_ipmi_sim.c (reader polling every
# 250 ms, HV_BMC_STEP_SECONDS at each power, 15 by default).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/bmc.sh

BIN=${HV_BUILD:-build}/tests/integration/test_ipmi_sim
if ! why=$(bmc_available); then
	echo "SKIP: $why"
	exit 77
fi
if [ ! -x "$BIN" ]; then
	echo "SKIP: $BIN is not built (make unit-tests)"
	exit 77
fi

tmp=$(mktemp -d /tmp/hv-bmc-energy.XXXXXX)
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	local d
	for d in "$tmp"/*/; do
		bmc_stop "${d%/}"
	done
	[ "${HV_KEEP:-0}" = 1 ] || rm -rf "$tmp"
}
trap cleanup EXIT

failed=0
for profile in dell-idrac generic-dcmi; do
	dir=$tmp/$profile
	mkdir -p "$dir"
	port=$(bmc_free_port) || { echo "no free UDP port"; exit 1; }
	bmc_set_watts "$dir/watts" 250
	if ! bmc_start "$profile" "$dir" "$port" "$dir/watts"; then
		echo "FAIL $profile: simulator did not start"
		failed=1
		continue
	fi
	if HV_BMC_SCENARIO=step HV_BMC_STEP_SECONDS=${HV_BMC_STEP_SECONDS:-15} HV_BMC_PORT=$port \
		HV_BMC_USER=$BMC_USER HV_BMC_PASSWORD=$BMC_PASSWORD HV_BMC_PRIVILEGE=$BMC_PRIVILEGE \
		HV_BMC_WORKAROUNDS=$BMC_WORKAROUNDS HV_BMC_CACHE_DIR=$dir/sdr-cache HV_BMC_MAPS_DIR=firmware-configs \
		HV_BMC_WATTS_FILE=$dir/watts "$BIN" > "$dir/step.log" 2>&1; then
		echo "ok   $profile:"
		grep -E 'error|latency|apportioned' "$dir/step.log" | sed 's/^/     /'
	else
		echo "FAIL $profile:"
		sed 's/^/     /' "$dir/step.log"
		failed=1
	fi
	bmc_stop "$dir"
done
exit $failed
