#!/usr/bin/env bash
# A BMC that stops mid-run leaves a gap in the power samples (no energy for that time, not 0 W), is reported down once and recovered once, never delays power_reader_take(), and is read again when it returns.
# Runs the gap scenario of tests/integration/c/test_ipmi_sim.c, which stops and
# restarts the simulator (generic profile) through HV_BMC_STOP_CMD and
# HV_BMC_START_CMD.
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

tmp=$(mktemp -d /tmp/hv-bmc-gap.XXXXXX)
dir=$tmp/generic
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	bmc_stop "$dir"
	[ "${HV_KEEP:-0}" = 1 ] || rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$dir"
port=$(bmc_free_port) || { echo "no free UDP port"; exit 1; }
bmc_set_watts "$dir/watts" 250
bmc_start generic "$dir" "$port" "$dir/watts" || { echo "FAIL: simulator did not start"; exit 1; }

lib=$(pwd)/tests/lib/bmc.sh
if HV_BMC_SCENARIO=gap HV_BMC_PORT=$port HV_BMC_USER=$BMC_USER HV_BMC_PASSWORD=$BMC_PASSWORD \
	HV_BMC_PRIVILEGE=$BMC_PRIVILEGE HV_BMC_WORKAROUNDS=$BMC_WORKAROUNDS HV_BMC_TIMEOUT_MS=500 \
	HV_BMC_CACHE_DIR=$dir/sdr-cache HV_BMC_MAPS_DIR=firmware-configs HV_BMC_WATTS_FILE=$dir/watts \
	HV_BMC_STOP_CMD="bash -c '. $lib && bmc_stop $dir'" \
	HV_BMC_START_CMD="bash -c '. $lib && bmc_start generic $dir $port $dir/watts'" \
	"$BIN" > "$tmp/gap.log" 2>&1; then
	echo "ok"
	grep -E '\[reader|outage|mean power|while down' "$tmp/gap.log" | sed 's/^/     /'
	exit 0
fi
echo "FAIL:"
sed 's/^/     /' "$tmp/gap.log"
exit 1
