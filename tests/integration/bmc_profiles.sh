#!/usr/bin/env bash
# Each BMC family profile (Dell iDRAC, HPE iLO, Supermicro, Lenovo XCC, generic with and without DCMI) is recognised by Get Device ID and its system power is read through ipmi/ over IPMI 2.0 (and 1.5).
# Runs the simulator (tests/lib/bmc.sh) once per profile and the probe scenario
# of tests/integration/c/test_ipmi_sim.c against it: device id, matched map, power
# source (DCMI only where the simulator answers DCMI), power equal to the
# watts file, exported sensors readable.
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

tmp=$(mktemp -d /tmp/hv-bmc-profiles.XXXXXX)
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	local d
	for d in "$tmp"/*/; do
		bmc_stop "${d%/}"
	done
	[ "${HV_KEEP:-0}" = 1 ] || rm -rf "$tmp"
}
trap cleanup EXIT

# profile       driver map         manufacturer product source sensor          exports
profiles="
dell-idrac      lan20  dell-idrac  674          0x0100  sensor Pwr_Consumption 8
dell-idrac-dcmi lan20  dell-idrac  674          0x0100  dcmi   -               8
hpe-ilo         lan20  hpe-ilo     11           0x2009  sensor Power_Meter     7
supermicro      lan20  supermicro  10876        0x1b0b  sensor PW_Consumption  6
lenovo-xcc      lan20  lenovo-xcc  19046        0x0483  sensor Sys_Power       7
generic         lan20  generic     7244         0x0001  sensor Total_Power     3
generic-dcmi    lan20  generic     7244         0x0001  dcmi   -               3
generic-dcmi    lan15  generic     7244         0x0001  dcmi   -               3
"

failed=0
while read -r profile driver map mfr product source sensor exports; do
	[ -n "$profile" ] || continue
	dir=$tmp/$profile-$driver
	port=$(bmc_free_port) || { echo "no free UDP port"; exit 1; }
	mkdir -p "$dir"
	# 310 W: a multiple of every profile's SDR m (2 and 5)
	bmc_set_watts "$dir/watts" 310
	if ! bmc_start "$profile" "$dir" "$port" "$dir/watts"; then
		echo "FAIL $profile: simulator did not start"
		failed=1
		continue
	fi
	if HV_BMC_SCENARIO=probe HV_BMC_DRIVER=$driver HV_BMC_PORT=$port HV_BMC_USER=$BMC_USER HV_BMC_PASSWORD=$BMC_PASSWORD \
		HV_BMC_PRIVILEGE=$BMC_PRIVILEGE HV_BMC_WORKAROUNDS=$BMC_WORKAROUNDS \
		HV_BMC_CACHE_DIR=$dir/sdr-cache HV_BMC_MAPS_DIR=firmware-configs HV_BMC_WATTS_FILE=$dir/watts \
		HV_BMC_EXPECT_MAP=$map HV_BMC_EXPECT_MFR=$mfr HV_BMC_EXPECT_PRODUCT=$product \
		HV_BMC_EXPECT_SOURCE=$source HV_BMC_EXPECT_SENSOR=${sensor//_/ } HV_BMC_EXPECT_EXPORTS=$exports \
		"$BIN" > "$dir/probe.log" 2>&1; then
		echo "ok   $profile ($driver): $(grep -o 'map .*' "$dir/probe.log" | head -1)"
		grep -E 'read latency|took' "$dir/probe.log" | sed 's/^/     /'
	else
		echo "FAIL $profile ($driver):"
		sed 's/^/     /' "$dir/probe.log"
		failed=1
	fi
	bmc_stop "$dir"
done <<< "$profiles"
exit $failed
