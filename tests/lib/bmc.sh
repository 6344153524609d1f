# tests/lib/bmc.sh — a simulated BMC (OpenIPMI ipmi_sim) for integration tests.
# Source it from bash. Functions:
#   bmc_start PROFILE STATEDIR PORT WATTS_FILE
#       PROFILE is a family of firmware-configs/ (dell-idrac, hpe-ilo,
#       supermicro, lenovo-xcc, generic), optionally with "-dcmi" appended
#       to load the DCMI module (firmware-configs/sim/dcmi_sim.c). Renders the
#       profile's templates into STATEDIR, compiles its SDRs with sdrcomp to
#       STATEDIR/ipmi_sim/PROFILE/sdr.20.main (ipmi_sim's persist location),
#       starts ipmi_sim on 127.0.0.1:PORT (UDP) and waits until ipmi-sensors
#       reads it. WATTS_FILE holds the system power in watts (created with
#       250 if missing). Sets BMC_PID, BMC_STATEDIR, BMC_PORT, BMC_USER,
#       BMC_PASSWORD, BMC_WORKAROUNDS, BMC_PRIVILEGE; the pid also goes to
#       STATEDIR/ipmi_sim.pid so another shell can stop it.
#   bmc_stop [STATEDIR]       stops the simulator (default: the last started)
#   bmc_set_watts FILE W      writes W to FILE atomically (temp + mv)
#   bmc_ipmi_args             FreeIPMI tool arguments for the running simulator
#   bmc_free_port             a free UDP port for the simulator
#   bmc_available             says why the simulator cannot run here (returns 1)
# Needs: ipmi_sim and sdrcomp (openipmi), ipmi-sensors (freeipmi-tools), and
# for -dcmi profiles a C compiler and libopenipmi-dev.

BMC_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BMC_REPO=$(cd "$BMC_LIB_DIR/../.." && pwd)
BMC_FIRMWARE_DIR=${BMC_FIRMWARE_DIR:-$BMC_REPO/firmware-configs}
BMC_USER=hvmeter
BMC_PASSWORD=hvmeter-sim
# ipmi_sim needs opensesspriv for IPMI 2.0 sessions (see NOTES.md), and
# answers DCMI only at admin privilege.
BMC_WORKAROUNDS=opensesspriv
BMC_PRIVILEGE="admin"
BMC_POLL_MS=${BMC_POLL_MS:-100}

# Prints why the simulator cannot run here and returns 1, or returns 0.
bmc_available() {
	local t
	for t in ipmi_sim sdrcomp ipmi-sensors; do
		if ! command -v "$t" >/dev/null 2>&1; then
			echo "missing $t (install openipmi and freeipmi-tools)"
			return 1
		fi
	done
	return 0
}

# Prints a UDP port on 127.0.0.1 that nothing listens on.
bmc_free_port() {
	local p i
	for i in $(seq 50); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 30000))
		if ! ss -Hlun "sport = :$p" 2>/dev/null | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

bmc_set_watts() {
	local file=$1 w=$2
	printf '%s\n' "$w" > "$file.tmp.$$" && mv -f "$file.tmp.$$" "$file"
}

bmc_ipmi_args() {
	echo "-D LAN_2_0 -h 127.0.0.1:$BMC_PORT -u $BMC_USER -p $BMC_PASSWORD -l $BMC_PRIVILEGE -W $BMC_WORKAROUNDS"
}

# sed replacement text: escape \, & and the | delimiter
_bmc_sed_escape() {
	printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'
}

bmc_start() {
	local profile=$1 statedir=$2 port=$3 watts=$4
	local base=${profile%-dcmi} loadlib="" so pid i w0
	if [ $# -ne 4 ]; then
		echo "bmc_start PROFILE STATEDIR PORT WATTS_FILE" >&2
		return 2
	fi
	for i in emu sdrs lan.conf; do
		if [ ! -f "$BMC_FIRMWARE_DIR/$base.$i" ]; then
			echo "bmc_start: no profile $base ($BMC_FIRMWARE_DIR/$base.$i)" >&2
			return 2
		fi
	done
	mkdir -p "$statedir/ipmi_sim/$profile" "$statedir/sdr-cache" || return 1
	statedir=$(cd "$statedir" && pwd)
	case $watts in /*) ;; *) watts=$(pwd)/$watts ;; esac
	[ -f "$watts" ] || bmc_set_watts "$watts" 250
	if [ "$profile" != "$base" ]; then
		so=${HV_BUILD:-build}
		case $so in /*) ;; *) so=$BMC_REPO/$so ;; esac
		so=$so/sim/dcmi_sim.so
		bash "$BMC_FIRMWARE_DIR/sim/build.sh" "$so" || return 1
		loadlib="loadlib \"$so\" \"$watts\""
	fi
	sed -e "s|@NAME@|$(_bmc_sed_escape "$profile")|g" -e "s|@PORT@|$port|g" \
		-e "s|@USER@|$BMC_USER|g" -e "s|@PASSWORD@|$BMC_PASSWORD|g" \
		-e "s|@LOADLIB@|$(_bmc_sed_escape "$loadlib")|g" \
		"$BMC_FIRMWARE_DIR/$base.lan.conf" > "$statedir/lan.conf" || return 1
	w0=$(head -n1 "$watts" | tr -cd 0-9)
	sed -e "s|@WATTS_FILE@|$(_bmc_sed_escape "$watts")|g" -e "s|@POLL_MS@|$BMC_POLL_MS|g" \
		-e "s|@WATTS_RAW_1@|$((w0))|g" -e "s|@WATTS_RAW_2@|$((w0 / 2))|g" \
		-e "s|@WATTS_RAW_4@|$((w0 / 4))|g" -e "s|@WATTS_RAW_5@|$((w0 / 5))|g" \
		-e "s|@WATTS_RAW_10@|$((w0 / 10))|g" \
		"$BMC_FIRMWARE_DIR/$base.emu" > "$statedir/sim.emu" || return 1
	# the text form goes through sdrcomp's stdout: its -o writes raw binary
	sdrcomp "$BMC_FIRMWARE_DIR/$base.sdrs" > "$statedir/ipmi_sim/$profile/sdr.20.main" || return 1

	ipmi_sim -n -c "$statedir/lan.conf" -f "$statedir/sim.emu" -s "$statedir" \
		> "$statedir/ipmi_sim.log" 2>&1 < /dev/null &
	pid=$!
	echo "$pid" > "$statedir/ipmi_sim.pid"
	BMC_PID=$pid BMC_STATEDIR=$statedir BMC_PORT=$port
	export BMC_PID BMC_STATEDIR BMC_PORT BMC_USER BMC_PASSWORD BMC_WORKAROUNDS BMC_PRIVILEGE

	# ready = a full sensor read over IPMI 2.0 works; then one more simulator
	# poll so the file-backed power sensor holds the file's value
	for i in $(seq 100); do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "bmc_start: ipmi_sim exited:" >&2
			cat "$statedir/ipmi_sim.log" >&2
			return 1
		fi
		# shellcheck disable=SC2046
		if ipmi-sensors $(bmc_ipmi_args) --sdr-cache-directory="$statedir/sdr-cache" \
			--sdr-cache-recreate --session-timeout=500 --retransmission-timeout=100 >/dev/null 2>&1; then
			sleep "$(awk "BEGIN { print 2 * $BMC_POLL_MS / 1000 }")"
			return 0
		fi
		sleep 0.1
	done
	echo "bmc_start: ipmi_sim on port $port did not answer in 10 s" >&2
	cat "$statedir/ipmi_sim.log" >&2
	bmc_stop "$statedir"
	return 1
}

bmc_stop() {
	local statedir=${1:-$BMC_STATEDIR} pid i
	[ -n "$statedir" ] && [ -f "$statedir/ipmi_sim.pid" ] || return 0
	pid=$(cat "$statedir/ipmi_sim.pid")
	rm -f "$statedir/ipmi_sim.pid"
	[ -n "$pid" ] || return 0
	# only our simulator: check what the pid runs before signalling it
	if ! tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "ipmi_sim.*$statedir"; then
		return 0
	fi
	kill "$pid" 2>/dev/null
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}
