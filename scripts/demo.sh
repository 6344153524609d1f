#!/usr/bin/env bash
# hvmeter end to end on this machine: `make demo` and `make demo-stop`.
#   scripts/demo.sh start    install what is needed, build, then start libvirtd,
#                            three hvdemo- guests doing different work, a BMC
#                            simulator, a CA with host and rater certificates,
#                            hvrater and hvmeterd; meter for a minute; print the
#                            priced usage per project and VM. Daemons and guests
#                            keep running afterwards, for you to explore.
#   scripts/demo.sh stop     stop all of that, then check that nothing is left
#   scripts/demo.sh status   say whether a demo runs
# Needs root (libvirtd, BPF, a network namespace). Everything the demo makes
# lives in one directory: configs, certificates, stores, logs, pid files.
# Env: HV_DEMO_DIR (/var/tmp/hvmeter-demo), HV_BUILD (build), HV_DEMO_SECONDS
# (metering time, 60).
set -u

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO" || exit 1
HV_BUILD=${HV_BUILD:-build}
case "$HV_BUILD" in /*) ;; *) HV_BUILD=$REPO/$HV_BUILD ;; esac
export HV_BUILD
DIR=${HV_DEMO_DIR:-/var/tmp/hvmeter-demo}
case "$DIR" in /*) ;; *) DIR=$PWD/$DIR ;; esac
DEMO_SECONDS=${HV_DEMO_SECONDS:-60}
HVMETERD=$HV_BUILD/bin/hvmeterd
HVMETER=$HV_BUILD/bin/hvmeter
HVRATER=$HV_BUILD/bin/hvrater
LOGS=$DIR/logs
MARK=$DIR/.hvmeter-demo
LOCK=/run/lock/hvmeter-demo.pid

# Names of everything on the machine outside $DIR, so that stop finds them.
PREFIX=hvdemo-
GUESTS=(hvdemo-cpu hvdemo-disk hvdemo-net)
NS=hvdemo-ns
BR=hvdemo-br
TAP=hvdemo-net0
PIN_DIR=/sys/fs/bpf/hvdemo
HOST_ID=hvdemo-hv1
# Peers of the network guest, inside $NS only (the root namespace holds
# none): demo/netclass makes the first "private", the second "public".
PEER_PRIVATE=10.250.0.1
PEER_PUBLIC=10.250.1.1
GUEST_IP=10.250.0.10
# The user hvrater serve drops to (it refuses to run as root without one).
RATER_USER=hvrater
WATTS=250

. tests/lib/libvirt.sh
. tests/lib/netns.sh

T0=$SECONDS
# A line of progress; run/said keeps when, for step_run's heartbeat.
say() {
	printf '[%3ds] %s\n' "$((SECONDS - T0))" "$*"
	[ ! -d "$DIR/run" ] || echo "$SECONDS" >"$DIR/run/said"
}

# die MESSAGE [LOG]: the failed step, where to look, how to clean up; exit 1.
die() {
	{
		say "FAILED: $1"
		if [ -n "${2:-}" ] && [ -s "$2" ]; then
			echo "       last lines of $2:"
			tail -n 8 "$2" | sed 's/^/       | /'
		fi
		[ "$MODE" != start ] || echo "       what started keeps running; 'make -C $REPO demo-stop' stops it"
	} >&2
	exit 1
}

# One demo command at a time: a pid file, not flock, because a lock fd would
# be inherited by the daemons started here and outlive this script.
lock() {
	local other
	mkdir -p "${LOCK%/*}" || exit 1
	if ! (set -o noclobber; echo $$ >"$LOCK") 2>/dev/null; then
		other=$(cat "$LOCK" 2>/dev/null)
		if [ -n "$other" ] && [ "$other" != $$ ] &&
			tr '\0' ' ' <"/proc/$other/cmdline" 2>/dev/null | grep -q 'demo\.sh'; then
			echo "demo: another 'make demo' or 'make demo-stop' is running (pid $other)" >&2
			exit 1
		fi
		echo $$ >"$LOCK" # left by a demo that died
	fi
	trap 'unlock' EXIT
	trap 'interrupted' INT TERM
}
unlock() {
	[ -z "${HEARTBEAT:-}" ] || kill "$HEARTBEAT" 2>/dev/null
	[ "$(cat "$LOCK" 2>/dev/null)" != $$ ] || rm -f "$LOCK"
}
interrupted() {
	echo
	say "interrupted"
	[ "$MODE" != start ] || echo "       what started keeps running; 'make -C $REPO demo-stop' stops it"
	exit 130
}

# step_run WHAT LOG CMD...: run CMD (a command or a function) with its
# output in LOG. A helper says that it still runs, with LOG's last line, when
# nothing was said for 10 s, so that no minute passes in silence. CMD runs
# in the foreground: Ctrl-C stops it as it would stop it run by hand. On
# failure: die with LOG.
step_run() {
	local what=$1 log=$2 rc
	shift 2
	(
		size=$(stat -c %s "$log" 2>/dev/null || echo 0)
		while sleep 1; do
			[ $((SECONDS - $(cat "$DIR/run/said" 2>/dev/null || echo 0))) -ge 10 ] || continue
			# the log's last line only when it is news
			last="" now=$(stat -c %s "$log" 2>/dev/null || echo 0)
			[ "$now" = "$size" ] || last=$(tail -n 1 "$log" 2>/dev/null | tr -d '\r' | cut -c 1-90)
			size=$now
			say "  ... $what${last:+ ($last)}"
		done
	) &
	HEARTBEAT=$!
	# A subshell: the redirections must not be in force when a trap prints.
	("$@") >>"$log" 2>&1 </dev/null
	rc=$?
	kill "$HEARTBEAT" 2>/dev/null
	wait "$HEARTBEAT" 2>/dev/null
	HEARTBEAT=
	[ $rc -eq 0 ] || die "$what (exit $rc)" "$log"
}

# True when PID runs a command line naming the demo directory: pid files
# can be stale and pids reused, so nothing is signalled without this check.
is_ours() {
	[ -n "$1" ] && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$DIR/"
}

# spawn NAME LOG CMD...: start a daemon in a session of its own (Ctrl-C on
# make or a closed terminal leave it running), its pid in run/NAME.pid.
spawn() {
	local name=$1 log=$2 i
	shift 2
	rm -f "$DIR/run/$name.pid"
	setsid bash -c 'echo $$ >"$0" && exec "$@"' "$DIR/run/$name.pid" "$@" >>"$log" 2>&1 </dev/null &
	for i in $(seq 50); do
		[ -s "$DIR/run/$name.pid" ] && return 0
		sleep 0.1
	done
	die "$name did not start" "$log"
}

# stop_pid NAME: TERM the process of run/NAME.pid if it is ours, KILL after 10 s.
stop_pid() {
	local f=$DIR/run/$1.pid pid i
	[ -s "$f" ] || return 0
	pid=$(cat "$f")
	if is_ours "$pid"; then
		kill "$pid" 2>/dev/null
		for i in $(seq 100); do
			is_ours "$pid" || break
			sleep 0.1
		done
		if is_ours "$pid"; then
			echo "demo: $1 (pid $pid) ignored SIGTERM for 10 s; SIGKILL" >&2
			kill -9 "$pid" 2>/dev/null
			sleep 0.2
		fi
	fi
	rm -f "$f"
}

# Processes of the demo still alive, by program and command line: the
# daemons name $DIR (their config, ipmi_sim its state), QEMU its guest's name
# (libvirt hands it the console as an fd, so not always a path of ours).
# A shell or an editor that has a demo file open is not one.
leftover_pids() {
	local p
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		case "$(cat "/proc/$p/comm" 2>/dev/null)" in
		hvmeterd | hvrater | ipmi_sim) is_ours "$p" && echo "$p" ;;
		qemu-system-*) tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "-name guest=$PREFIX" && echo "$p" ;;
		esac
	done
}

demo_domains() {
	lv_virsh version >/dev/null 2>&1 || return 0
	lv_virsh list --all --name 2>/dev/null | grep "^$PREFIX"
}

ns_exists() { ip netns list 2>/dev/null | awk '{ print $1 }' | grep -qxF "$NS"; }

# Anything of a demo on this machine: its processes, domains, network, pins.
demo_running() {
	[ -n "$(leftover_pids)" ] || [ -n "$(demo_domains)" ] || ns_exists ||
		ip link show "$BR" >/dev/null 2>&1 || [ -e "$PIN_DIR" ]
}

need_root() {
	[ "$(id -u)" = 0 ] || {
		echo "demo: needs root (libvirtd, BPF programs, a network namespace): sudo make $1" >&2
		exit 1
	}
}

# ---- stop -------------------------------------------------------------------------

do_stop() {
	local left="" d p
	say "stopping the demo ($DIR)"
	stop_pid hvmeterd
	stop_pid hvrater
	if [ -d "$DIR/bmc" ]; then
		. tests/lib/bmc.sh
		bmc_stop "$DIR/bmc"
	fi
	# A QEMU of ours without an answering libvirtd: start it so that it
	# takes the domains back and can destroy them.
	if ! lv_virsh version >/dev/null 2>&1 && [ -n "$(leftover_pids)" ]; then
		mkdir -p "$LOGS"
		lv_up >>"$LOGS/libvirt.log" 2>&1 || echo "demo: libvirtd does not start; see $LOGS/libvirt.log" >&2
	fi
	for d in $(demo_domains); do lv_guest_destroy "$d"; done
	ns_down "$NS" "$BR"
	# Unpinning unloads the BPF programs: nothing counts for the demo any more.
	rm -rf "$PIN_DIR"

	# Check, rather than trust the steps above.
	p=$(leftover_pids | tr '\n' ' ')
	[ -z "$p" ] || left="$left processes: $(for i in $p; do printf '%s(%s) ' "$i" "$(cat "/proc/$i/comm" 2>/dev/null)"; done);"
	d=$(demo_domains | tr '\n' ' ')
	[ -z "$d" ] || left="$left domains: $d;"
	! ns_exists || left="$left network namespace $NS;"
	! ip link show "$BR" >/dev/null 2>&1 || left="$left bridge $BR;"
	[ ! -e "$PIN_DIR" ] || left="$left BPF pins $PIN_DIR;"
	if [ -n "$left" ]; then
		echo "demo-stop: still there:$left" >&2
		return 1
	fi
	say "nothing of the demo is left: no hvmeterd, hvrater, ipmi_sim or guest process, no ${PREFIX}* domain, no namespace $NS"
	echo "       libvirtd and virtlogd keep running (other users of libvirt may need them)."
	[ ! -d "$DIR" ] || echo "       Stores and logs stay in $DIR for reading; the next 'make demo' replaces them."
	return 0
}

# ---- start ------------------------------------------------------------------------

# fill TEMPLATE OUT: replace the @WORDS@ of a demo/ template.
fill() {
	sed -e "s|@DIR@|$DIR|g" -e "s|@REPO@|$REPO|g" -e "s|@HOST_ID@|$HOST_ID|g" \
		-e "s|@PIN_DIR@|$PIN_DIR|g" -e "s|@BMC_PORT@|$BMC_PORT|g" \
		-e "s|@BMC_USER@|$BMC_USER|g" -e "s|@BMC_PRIVILEGE@|$BMC_PRIVILEGE|g" \
		-e "s|@BMC_WORKAROUNDS@|$BMC_WORKAROUNDS|g" -e "s|@RATER_PORT@|$RATER_PORT|g" \
		-e "s|@RATER_USER@|$RATER_USER|g" "$1" >"$2"
}

build_all() {
	# The plain `make all` a newcomer runs, not a sub-make of `make demo`.
	env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -C "$REPO" -j"$(nproc)" \
		"O=${HV_BUILD#"$REPO"/}" all
}

make_certs() {
	. tests/lib/certs.sh
	certs_make "$DIR/pki" "$HOST_ID" || return 1
	# certs.sh also makes certificates that tests must see refused.
	rm -rf "$DIR/pki"/ca2.* "$DIR/pki"/foreign.* "$DIR/pki"/expired.* "$DIR/pki/ca-db"
}

# The user hvrater serve runs as, made like Debian packages make theirs.
rater_user() {
	getent passwd "$RATER_USER" >/dev/null ||
		useradd -r -U -d /nonexistent -M -s /usr/sbin/nologin -c "hvmeter rater" "$RATER_USER"
}

# "LAST_SEQ ACKED_SEQ" of the agent's store (hvmeter status; 0 0 before the first frame).
agent_progress() {
	"$HVMETER" status --store "$DIR/agent.store" 2>/dev/null | awk '
		/^frames:/ { if (match($0, /\.\.[0-9]+\)/)) last = substr($0, RSTART + 2, RLENGTH - 3) }
		/^acknowledged:/ { ack = $5 }
		END { printf "%d %d\n", last, ack }'
}

# What the agent has metered so far for each guest's own kind of work:
# CPU time of hvdemo-cpu, disk bytes of hvdemo-disk, network bytes of hvdemo-net.
metered_so_far() {
	"$HVMETER" dump --store "$DIR/agent.store" 2>/dev/null | awk -F, '
		NR > 1 && $7 == "cpu.time" { cpu[$5] += $10 }
		NR > 1 && $7 ~ /^disk\.(read|write)\.bytes$/ { disk[$5] += $10 }
		NR > 1 && $7 ~ /^net\.(tx|rx)\.bytes$/ { net[$5] += $10 }
		END { printf "hvdemo-cpu %.1f s of CPU, hvdemo-disk %.0f MiB of disk I/O, hvdemo-net %.2f MiB of network",
			cpu["hvdemo-cpu"] / 1e9, disk["hvdemo-disk"] / 1048576, net["hvdemo-net"] / 1048576 }'
}

# start_guest NAME KEY=VALUE...: lv_guest_start, its UUID in guests/NAME.uuid.
# A subshell: the redirections must not be in force when a trap prints.
start_guest() {
	(lv_guest_start "$@") >"$DIR/guests/$1.uuid" 2>>"$LOGS/libvirt.log" ||
		die "starting guest $1" "$LOGS/libvirt.log"
}

# wait_guests T1 TIMEOUT: until every guest's console says "HV: READY"; says
# each one that comes up (seconds since T1), and every 10 s which are still
# booting.
wait_guests() {
	local t1=$1 deadline=$((SECONDS + $2)) next=$((SECONDS + 10)) g pid booting
	declare -A up=()
	while [ ${#up[@]} -lt ${#GUESTS[@]} ]; do
		booting=""
		for g in "${GUESTS[@]}"; do
			[ -z "${up[$g]:-}" ] || continue
			if tr -d '\r' <"$DIR/guests/$g.console" 2>/dev/null | grep -q '^HV: READY'; then
				up[$g]=1
				say "  $g up ($((SECONDS - t1)) s)"
				continue
			fi
			pid=$(cat "/run/libvirt/qemu/$g.pid" 2>/dev/null)
			[ -n "$pid" ] && [ -d "/proc/$pid" ] ||
				die "guest $g stopped while booting; its console:" "$DIR/guests/$g.console"
			booting="$booting $g"
		done
		[ -n "$booting" ] || break
		[ $SECONDS -lt $deadline ] ||
			die "guests not up after $2 s:$booting; consoles in $DIR/guests/" "$LOGS/libvirt.log"
		if [ $SECONDS -ge $next ]; then
			say "  ... still booting:$booting"
			next=$((SECONDS + 10))
		fi
		sleep 0.5
	done
}

do_start() {
	local accel i p nf na deadline t_guests
	mkdir -p /var/tmp
	if demo_running; then
		say "a demo is running already: stopping it first"
		do_stop || die "the running demo does not stop; see above"
	fi
	# Only ever remove a directory that a demo made.
	if [ -e "$DIR" ]; then
		[ -f "$MARK" ] || die "$DIR exists and is not a demo directory: move it away or set HV_DEMO_DIR"
		rm -rf "$DIR"
	fi
	mkdir -p "$DIR" "$LOGS" "$DIR/run" "$DIR/guests" "$DIR/bmc" || exit 1
	echo "hvmeter demo started $(date -u +%FT%TZ)" >"$MARK"
	say "hvmeter demo: state, logs and configs in $DIR"

	say "installing packages that are missing (scripts/deps.sh)"
	step_run "installing packages" "$LOGS/deps.log" bash scripts/deps.sh
	say "building (make all into ${HV_BUILD#"$REPO"/}/)"
	step_run "building" "$LOGS/build.log" build_all
	for p in "$HVMETERD" "$HVMETER" "$HVRATER"; do
		[ -x "$p" ] || die "the build made no $p" "$LOGS/build.log"
	done
	"$HVRATER" report --help >/dev/null 2>&1 ||
		die "this hvrater has no 'report' command yet: the demo cannot price usage"

	say "guest kernel and initramfs (tests/guest/build.sh)"
	step_run "building the guest image" "$LOGS/guest.log" lv_guest_build
	say "starting libvirtd"
	step_run "starting libvirtd" "$LOGS/libvirt.log" lv_up
	# KVM when the tests found that guests boot under it here (lv_accel's
	# cache), else TCG, which boots these guests in seconds anywhere: the
	# demo does not spend lv_accel's 40 s probe on a first run.
	accel=${HV_ACCEL:-$(cat "$LV_GUEST/accel" 2>/dev/null)}
	accel=${accel:-qemu}

	say "certificate authority, host certificate ($HOST_ID) and rater certificate"
	step_run "making certificates" "$LOGS/certs.log" make_certs

	. tests/lib/bmc.sh
	BMC_PORT=$(bmc_free_port) || die "no free UDP port for the BMC simulator"
	printf '%s\n' "$BMC_PASSWORD" >"$DIR/bmc/password" && chmod 600 "$DIR/bmc/password"
	printf '%s\n' "$WATTS" >"$DIR/bmc/watts"
	say "BMC simulator: ipmi_sim, Dell iDRAC profile, 127.0.0.1:$BMC_PORT (UDP), $WATTS W"
	# setsid: ipmi_sim, started in the background by bmc_start, must outlive this script.
	step_run "starting the BMC simulator" "$LOGS/bmc.log" setsid -w bash -c \
		'. tests/lib/bmc.sh && bmc_start dell-idrac "$1" "$2" "$1/watts"' bmc "$DIR/bmc" "$BMC_PORT"

	say "network namespace $NS with peers $PEER_PRIVATE and $PEER_PUBLIC, bridge $BR (no address in the root namespace)"
	step_run "making the network namespace" "$LOGS/netns.log" ns_up "$NS" "$BR" "$PEER_PRIVATE/16" "$PEER_PUBLIC/16"

	. tests/lib/uplink.sh
	RATER_PORT=$(uplink_port) || die "no free TCP port for the rater"
	step_run "adding the system user $RATER_USER for the rater" "$LOGS/rater.log" rater_user
	cp demo/rules.json demo/metrics.json demo/netclass "$DIR/" || exit 1
	fill demo/hvrater.conf.in "$DIR/hvrater.conf" || exit 1
	fill demo/hvmeterd.conf.in "$DIR/hvmeterd.conf" || exit 1
	"$HVRATER" serve -n -c "$DIR/hvrater.conf" >/dev/null 2>>"$LOGS/rater.log" ||
		die "hvrater refuses $DIR/hvrater.conf" "$LOGS/rater.log"
	say "hvrater serve on 127.0.0.1:$RATER_PORT (mutual TLS), rating period 60 s"
	spawn hvrater "$LOGS/rater.log" "$HVRATER" serve -c "$DIR/hvrater.conf"
	deadline=$((SECONDS + 15))
	until grep -q 'listening on' "$LOGS/rater.log"; do
		is_ours "$(cat "$DIR/run/hvrater.pid")" || die "hvrater stopped" "$LOGS/rater.log"
		[ $SECONDS -lt $deadline ] || die "hvrater does not listen after 15 s" "$LOGS/rater.log"
		sleep 0.2
	done

	"$HVMETERD" -n -c "$DIR/hvmeterd.conf" >/dev/null 2>>"$LOGS/hvmeterd.log" ||
		die "hvmeterd refuses $DIR/hvmeterd.conf" "$LOGS/hvmeterd.log"
	say "hvmeterd: frames every 5 s to $DIR/agent.store, shipped to the rater as $HOST_ID"
	spawn hvmeterd "$LOGS/hvmeterd.log" "$HVMETERD" -f -c "$DIR/hvmeterd.conf"
	sleep 1
	is_ours "$(cat "$DIR/run/hvmeterd.pid")" || die "hvmeterd stopped" "$LOGS/hvmeterd.log"

	# Three guests, two projects. Project ids as Nova has them; names for people.
	local acme=7d3c1f0e5a2b4c6d8e9f0a1b2c3d4e5f globex=4a5b6c7d8e9f40112233445566778899
	say "guests booting ($accel): ${GUESTS[*]}"
	t_guests=$SECONDS
	LV_DIR=$DIR/guests
	start_guest hvdemo-cpu accel="$accel" vcpus=1 memory=256 flavor=m1.small \
		project=$acme project_name=acme user_name=alice disksize=0 burn=$((DEMO_SECONDS + 120))
	start_guest hvdemo-disk accel="$accel" vcpus=1 memory=256 flavor=m1.tiny \
		project=$acme project_name=acme user_name=alice disksize=256 \
		disk=write:256,read:256,write:256,read:256
	start_guest hvdemo-net accel="$accel" vcpus=1 memory=256 flavor=m1.tiny \
		project=$globex project_name=globex user_name=bob disksize=0 \
		bridge="$BR" tap="$TAP" ip="$GUEST_IP/16" netint=0.1 \
		net="$PEER_PUBLIC:$((DEMO_SECONDS * 5)):4000,$PEER_PRIVATE:$((DEMO_SECONDS * 10 + 600)):4000"
	wait_guests "$t_guests" 180
	say "guests up: hvdemo-cpu burns its vCPU, hvdemo-disk writes and reads its disk, hvdemo-net pings $PEER_PUBLIC (public) then $PEER_PRIVATE (private) in $NS"

	say "metering for $DEMO_SECONDS s (frames every 5 s; the rater prices per 60 s period)"
	deadline=$((SECONDS + DEMO_SECONDS))
	while [ $SECONDS -lt $deadline ]; do
		sleep $((deadline - SECONDS < 10 ? deadline - SECONDS : 10))
		for p in hvmeterd hvrater; do
			is_ours "$(cat "$DIR/run/$p.pid")" || die "$p stopped" "$LOGS/$p.log"
		done
		read -r nf na <<<"$(agent_progress)"
		say "  $nf frames stored, $na acknowledged by the rater; metered: $(metered_so_far)"
	done
	# Everything metered so far reaches the rater before the report.
	read -r nf na <<<"$(agent_progress)"
	deadline=$((SECONDS + 30))
	while [ "$na" -lt "$nf" ]; do
		[ $SECONDS -lt $deadline ] || die "the rater acknowledged frames up to $na of $nf in 30 s" "$LOGS/hvmeterd.log"
		sleep 1
		read -r _ na <<<"$(agent_progress)"
	done
	say "frames up to $nf acknowledged by the rater"

	say "priced usage: $HVRATER report -c $DIR/hvrater.conf --open --format table"
	echo
	"$HVRATER" report -c "$DIR/hvrater.conf" --open --format table >"$DIR/report.txt" 2>>"$LOGS/report.log" ||
		die "hvrater report failed" "$LOGS/report.log"
	cat "$DIR/report.txt"
	# Every guest must have been priced: a missing one is a failure, not a footnote.
	"$HVRATER" report -c "$DIR/hvrater.conf" --open --format csv >"$DIR/report.csv" 2>>"$LOGS/report.log" ||
		die "hvrater report --format csv failed" "$LOGS/report.log"
	for i in "${GUESTS[@]}"; do
		awk -F, -v u="$(cat "$DIR/guests/$i.uuid")" '$6 == u { s += $9 } END { exit !(s > 0) }' "$DIR/report.csv" ||
			die "the report prices nothing for $i ($DIR/report.csv)" "$LOGS/hvmeterd.log"
	done
	echo
	cat <<EOF
The demo keeps running: the guests, ipmi_sim, hvrater and hvmeterd (a frame every 5 s).
Look further (as root):
  $HVMETER status --store $DIR/agent.store
  $HVMETER dump --store $DIR/agent.store --metric cpu.time
  $HVMETER dump --store $DIR/agent.store --project $globex --format json
  $HVMETER verify --store $DIR/agent.store
  $HVMETER sensors -c $DIR/hvmeterd.conf
  $HVRATER hosts -c $DIR/hvrater.conf
  $HVRATER report -c $DIR/hvrater.conf --open --format table
  $HVRATER report -c $DIR/hvrater.conf --open --format csv --project $acme
Rules and metrics the prices come from: $DIR/rules.json, $DIR/metrics.json
  (edit them and run the report again). Logs: $LOGS/
Stop it all: make -C $REPO demo-stop   (libvirtd and virtlogd are left running)
EOF
	say "done"
}

do_status() {
	if demo_running; then
		echo "a demo is running ($DIR):"
		leftover_pids | while read -r p; do echo "  pid $p $(tr '\0' ' ' <"/proc/$p/cmdline" | cut -c 1-100)"; done
		demo_domains | sed 's/^/  domain /'
		return 0
	fi
	echo "no demo is running"
	return 1
}

MODE=${1:-start}
case "$MODE" in
start) need_root demo; lock; do_start ;;
stop) need_root demo-stop; lock; do_stop ;;
status) do_status ;;
*) echo "usage: scripts/demo.sh [start|stop|status]" >&2; exit 2 ;;
esac
