# shellcheck shell=bash
# libvirtd and real test guests for integration tests. Source it, then:
#   lv_up                      start virtlogd + libvirtd if needed (idempotent)
#   lv_down                    stop the daemons this shell's lv_up started
#   lv_accel                   print kvm or qemu (TCG), decided once per machine
#   lv_guest_start NAME [k=v]  boot a transient guest, print its UUID
#   lv_guest_wait NAME MARKER TIMEOUT   wait for a console line, print it
#   lv_guest_console NAME      print the console file's path
#   lv_guest_pid NAME          print QEMU's pid
#   lv_guest_cgroup NAME       print the domain's cgroup v2 directory
#   lv_guest_cpu_usec NAME     print that directory's cpu.stat usage_usec
#   lv_guest_cpu_stall_usec NAME  print its cpu.pressure "some" total (PSI)
#   lv_guest_destroy NAME      destroy it (no error if it is not there)
#   lv_cleanup PREFIX          destroy every domain whose name starts with PREFIX
# Functions return non-zero with a message on stderr; none exits the caller.
# Domain names used by tests start with "hvt-". The guest image comes from
# tests/guest/build.sh (lv_guest_start builds it when it is missing).
#
# QEMU runs as the "libvirt-qemu" user, as on a Debian/Nova compute host
# (that is libvirt's compiled-in default; this machine has no qemu.conf). We
# create that user rather than configure user=root so that the agent is
# tested against the ownership it will meet in production. The price: QEMU
# must be able to reach the disk image, so lv_guest_start makes the guest's
# directory searchable by others (o+x, not readable).

LV_URI=qemu:///system
LV_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
case "${HV_BUILD:-build}" in
/*) LV_GUEST=${HV_BUILD}/guest ;;
*) LV_GUEST=$LV_REPO/${HV_BUILD:-build}/guest ;;
esac
LV_STARTED_PIDS=()
LV_NOVA_NS=http://openstack.org/xmlns/libvirt/nova/1.1

_lv_err() { echo "libvirt.sh: $*" >&2; }

# virsh with a time limit: a wedged libvirtd must fail a test, not hang it.
lv_virsh() { timeout 60 virsh -q -c "$LV_URI" "$@"; }

# Poll CMD... every 0.1 s until it succeeds or SECONDS pass.
_lv_until() {
	local secs=$1 end
	shift
	end=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}

_lv_pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Gone or a zombie: daemons double-fork to PID 1, which may reap late.
_lv_gone() {
	local st
	st=$(sed -n 's/^[0-9]* (.*) \([A-Z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null)
	[ -z "$st" ] || [ "$st" = Z ]
}

lv_up() {
	local b
	for b in libvirtd virtlogd virsh qemu-system-x86_64; do
		command -v "$b" >/dev/null || { _lv_err "$b not installed (run scripts/deps.sh)"; return 1; }
	done
	[ "$(id -u)" = 0 ] || { _lv_err "lv_up needs root"; return 1; }
	# What Debian's libvirt-daemon-system would have set up.
	getent group kvm >/dev/null || groupadd -r kvm || return 1
	getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu || return 1
	if ! getent passwd libvirt-qemu >/dev/null; then
		useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt -M \
			-s /usr/sbin/nologin -c "Libvirt Qemu" libvirt-qemu || return 1
	fi
	id -nG libvirt-qemu | grep -qw kvm || usermod -aG kvm libvirt-qemu || return 1
	mkdir -p /var/log/libvirt/qemu /var/run/libvirt /var/lib/libvirt/qemu /var/cache/libvirt \
		/run/lock || return 1

	# Tests run in parallel must not both start the daemons.
	local lock rc=0
	exec {lock}>/run/lock/hvmeter-libvirt.lock || return 1
	flock -w 60 "$lock" || { _lv_err "lv_up: lock busy for 60 s"; exec {lock}>&-; return 1; }
	_lv_up_locked || rc=$?
	exec {lock}>&-
	return $rc
}

_lv_up_locked() {

	if ! _lv_pid_alive /run/virtlogd.pid; then
		# {lock}>&-: a daemon that inherited the lock would hold it forever.
		virtlogd -d {lock}>&- || { _lv_err "virtlogd -d failed"; return 1; }
		_lv_until 10 _lv_pid_alive /run/virtlogd.pid ||
			{ _lv_err "virtlogd did not come up in 10 s"; return 1; }
		LV_STARTED_PIDS+=("$(cat /run/virtlogd.pid)")
	fi
	# A libvirtd started some other way (no pid file) answers virsh: use it.
	if ! _lv_pid_alive /run/libvirtd.pid && ! lv_virsh version >/dev/null 2>&1; then
		libvirtd -d {lock}>&- || { _lv_err "libvirtd -d failed"; return 1; }
		_lv_until 10 _lv_pid_alive /run/libvirtd.pid ||
			{ _lv_err "libvirtd did not come up in 10 s"; return 1; }
		LV_STARTED_PIDS+=("$(cat /run/libvirtd.pid)")
	fi
	if ! _lv_until 30 lv_virsh version; then
		_lv_err "libvirtd runs but 'virsh -c $LV_URI version' fails after 30 s:"
		lv_virsh version >&2
		return 1
	fi
}

# Stop what this shell's lv_up started (by pid), newest first. Destroy your
# domains first (lv_cleanup). If any domain still runs, someone else (a test
# run in parallel) uses the daemons: leave them running and say so.
lv_down() {
	local i pid left lock
	[ ${#LV_STARTED_PIDS[@]} -gt 0 ] || return 0
	exec {lock}>/run/lock/hvmeter-libvirt.lock && flock -w 60 "$lock"
	left=$(lv_virsh list --name 2>/dev/null | tr '\n' ' ')
	if [ -n "${left// /}" ]; then
		_lv_err "lv_down: domains still run ($left); leaving libvirtd/virtlogd up"
		LV_STARTED_PIDS=()
		exec {lock}>&-
		return 0
	fi
	for ((i = ${#LV_STARTED_PIDS[@]} - 1; i >= 0; i--)); do
		pid=${LV_STARTED_PIDS[$i]}
		kill "$pid" 2>/dev/null || continue
		_lv_until 10 _lv_gone "$pid" || kill -9 "$pid" 2>/dev/null
	done
	LV_STARTED_PIDS=()
	exec {lock}>&-
}

lv_guest_build() { bash "$LV_REPO/tests/guest/build.sh" >&2; }

_lv_xml_esc() {
	local s=$1
	s=${s//&/&amp;}; s=${s//</&lt;}; s=${s//>/&gt;}; s=${s//\"/&quot;}; s=${s//\'/&apos;}
	printf '%s' "$s"
}

# KVM when a guest really boots under it, else TCG. Decided once per machine
# and guest kernel (build.sh removes the cache when the kernel changes):
# here /dev/kvm exists but a Linux guest spins without output, so the probe
# costs ~40 s once. HV_ACCEL=kvm|qemu overrides.
lv_accel() {
	local cache=$LV_GUEST/accel accel=qemu dir name
	if [ -n "${HV_ACCEL:-}" ]; then echo "$HV_ACCEL"; return 0; fi
	if [ -s "$cache" ]; then cat "$cache"; return 0; fi
	[ -s "$LV_GUEST/vmlinux" ] || lv_guest_build || return 1
	# Without libvirtd every probe fails: that must not be cached as "qemu".
	lv_virsh version >/dev/null 2>&1 || { _lv_err "lv_accel: libvirtd not up (lv_up)"; return 1; }
	# One probe at a time; a parallel caller waits for its answer.
	local lock
	exec {lock}>"$LV_GUEST/accel.lock" || return 1
	flock -w 120 "$lock"
	if [ -s "$cache" ]; then cat "$cache"; exec {lock}>&-; return 0; fi
	if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
		dir=$(mktemp -d) || return 1
		name=hvt-accel-probe-$$
		if lv_guest_start "$name" accel=kvm dir="$dir" disksize=0 >/dev/null &&
		   lv_guest_wait "$name" "HV: READY" "${HV_ACCEL_PROBE_SECS:-40}" >/dev/null 2>&1; then
			accel=kvm
		fi
		lv_guest_destroy "$name"
		rm -rf "$dir"
	fi
	echo "$accel" >"$cache.$$" && mv -f "$cache.$$" "$cache"
	exec {lock}>&-
	echo "$accel"
}

# lv_guest_start NAME [key=value...]: define nothing, boot a transient domain
# (virsh create) and print its UUID. Keys (default):
#   dir=DIR (\$LV_DIR)   where NAME.img and NAME.console go
#   accel=kvm|qemu (lv_accel)  vcpus=N (1)  memory=MiB (256)  machine=q35
#   disksize=MiB (128; 0 = no disk)  cache=none|writeback|...  (none)
#   bridge=BR tap=TAPNAME mac=MAC    a virtio NIC on BR (tap name <= 15 chars)
#   workload, passed to the guest as hv.KEY=VALUE (see tests/guest/init):
#     sleep=S burn=S disk=write:MIB,read:MIB ip=A/P net=PEER:COUNT:SIZE,...
#     netint=S
#   cmdline=STRING       extra kernel command line
#   ipv6=off|on (off)    off: the guest boots with ipv6.disable=1 and the tap
#                        gets disable_ipv6, so tap counters hold only the
#                        workload's IPv4 and ARP frames (and the root
#                        namespace no link-local address on the tap)
#   Nova metadata: uuid= flavor=m1.tiny project=ID project_name=demo
#     user=ID user_name=alice image=ID created="YYYY-MM-DD HH:MM:SS"
lv_guest_start() {
	local name=${1:-} kv k v
	[ -n "$name" ] || { _lv_err "lv_guest_start: NAME missing"; return 1; }
	shift
	local dir=${LV_DIR:-} accel="" vcpus=1 memory=256 machine=q35 disksize=128 cache=none
	local bridge="" tap="" mac="" cmdx=""
	local uuid="" flavor=m1.tiny project=2b7c4d1e9f3a4c5b8d6e7f8091a2b3c4 project_name=demo
	local user=5e6f7a8b9c0d4e1f8a2b3c4d5e6f7081 user_name=alice
	local image=0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9 created=""
	local wl="" ip="" ipv6=off
	for kv in "$@"; do
		k=${kv%%=*}
		v=${kv#*=}
		[ "$k" != "$kv" ] || { _lv_err "lv_guest_start: '$kv' is not key=value"; return 1; }
		case "$k" in
		dir) dir=$v ;; accel) accel=$v ;; vcpus) vcpus=$v ;; memory) memory=$v ;;
		machine) machine=$v ;; disksize) disksize=$v ;; cache) cache=$v ;;
		bridge) bridge=$v ;; tap) tap=$v ;; mac) mac=$v ;; cmdline) cmdx=$v ;;
		uuid) uuid=$v ;; flavor) flavor=$v ;; project) project=$v ;;
		project_name) project_name=$v ;; user) user=$v ;; user_name) user_name=$v ;;
		image) image=$v ;; created) created=$v ;; ipv6) ipv6=$v ;;
		ip) ip=$v; wl="$wl hv.ip=$v" ;;
		sleep | burn | disk | net | netint)
			case "$v" in *[[:space:]]*) _lv_err "lv_guest_start: $k has blanks"; return 1 ;; esac
			wl="$wl hv.$k=$v" ;;
		*) _lv_err "lv_guest_start: unknown key '$k'"; return 1 ;;
		esac
	done
	for kv in "vcpus=$vcpus" "memory=$memory" "disksize=$disksize"; do
		case "${kv#*=}" in '' | *[!0-9]*) _lv_err "lv_guest_start: $kv is not a number"; return 1 ;; esac
	done
	[ -n "$dir" ] || { _lv_err "lv_guest_start: give dir= or set LV_DIR"; return 1; }
	[ -d "$dir" ] || { _lv_err "lv_guest_start: $dir is not a directory"; return 1; }
	dir=$(cd "$dir" && pwd)
	[ -n "$accel" ] || accel=$(lv_accel) || return 1
	[ -n "$uuid" ] || uuid=$(cat /proc/sys/kernel/random/uuid)
	[ -n "$created" ] || created=$(date -u '+%Y-%m-%d %H:%M:%S')
	if [ -n "$tap" ] && [ ${#tap} -gt 15 ]; then
		_lv_err "lv_guest_start: tap name '$tap' longer than 15"; return 1
	fi
	if [ -n "$tap" ] && [ -z "$bridge" ]; then
		_lv_err "lv_guest_start: tap= needs bridge="; return 1
	fi
	if [ -n "$bridge" ] && [ ! -d "/sys/class/net/$bridge/bridge" ]; then
		_lv_err "lv_guest_start: no bridge $bridge"; return 1
	fi
	# build.sh is a no-op when its inputs are unchanged: run it every time so
	# a changed tests/guest/init never boots a stale image
	lv_guest_build || return 1

	# QEMU (user libvirt-qemu) opens the disk by path: let it search the dir.
	chmod o+x "$dir" || return 1
	local console=$dir/$name.console img=$dir/$name.img xml=$dir/$name.xml
	: >"$console" || return 1   # a fresh file: old markers must not match
	local disk_xml="" nic_xml="" ports_xml=""
	if [ "$disksize" != 0 ]; then
		rm -f "$img"
		truncate -s "${disksize}M" "$img" || return 1
		disk_xml="<disk type='file' device='disk'>
      <driver name='qemu' type='raw' cache='$(_lv_xml_esc "$cache")'/>
      <source file='$(_lv_xml_esc "$img")'/>
      <target dev='vda' bus='virtio'/>
    </disk>"
	fi
	if [ -n "$bridge" ]; then
		nic_xml="<interface type='bridge'>
      ${mac:+<mac address='$(_lv_xml_esc "$mac")'/>}
      <source bridge='$(_lv_xml_esc "$bridge")'/>
      ${tap:+<target dev='$(_lv_xml_esc "$tap")'/>}
      <model type='virtio'/>
    </interface>"
		if [ -n "$ip" ]; then
			ports_xml="<nova:ports><nova:port uuid='$(cat /proc/sys/kernel/random/uuid)'>
      <nova:ip type='fixed' address='$(_lv_xml_esc "${ip%/*}")' ipVersion='4'/>
    </nova:port></nova:ports>"
		fi
	fi
	local disk_gb=$(((disksize + 1023) / 1024))
	cat >"$xml" <<EOF
<domain type='$(_lv_xml_esc "$accel")'>
  <name>$(_lv_xml_esc "$name")</name>
  <uuid>$(_lv_xml_esc "$uuid")</uuid>
  <metadata>
    <nova:instance xmlns:nova="$LV_NOVA_NS">
      <nova:package version="27.1.0"/>
      <nova:name>$(_lv_xml_esc "$name")</nova:name>
      <nova:creationTime>$(_lv_xml_esc "$created")</nova:creationTime>
      <nova:flavor name="$(_lv_xml_esc "$flavor")">
        <nova:memory>$memory</nova:memory>
        <nova:disk>$disk_gb</nova:disk>
        <nova:swap>0</nova:swap>
        <nova:ephemeral>0</nova:ephemeral>
        <nova:vcpus>$vcpus</nova:vcpus>
      </nova:flavor>
      <nova:owner>
        <nova:user uuid="$(_lv_xml_esc "$user")">$(_lv_xml_esc "$user_name")</nova:user>
        <nova:project uuid="$(_lv_xml_esc "$project")">$(_lv_xml_esc "$project_name")</nova:project>
      </nova:owner>
      <nova:root type="image" uuid="$(_lv_xml_esc "$image")"/>
      $ports_xml
    </nova:instance>
  </metadata>
  <memory unit='MiB'>$memory</memory>
  <vcpu>$vcpus</vcpu>
  <os>
    <type arch='x86_64' machine='$(_lv_xml_esc "$machine")'>hvm</type>
    <kernel>$LV_GUEST/vmlinux</kernel>
    <initrd>$LV_GUEST/initramfs.cpio.gz</initrd>
    <cmdline>$(_lv_xml_esc "console=ttyS0 quiet panic=-1$([ "$ipv6" = on ] || echo " ipv6.disable=1")$wl${cmdx:+ $cmdx}")</cmdline>
  </os>
  <features><acpi/></features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    $disk_xml
    $nic_xml
    <serial type='file'>
      <source path='$(_lv_xml_esc "$console")'/>
      <target port='0'/>
    </serial>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
	local out
	if ! out=$(lv_virsh create "$xml" 2>&1); then
		_lv_err "virsh create $name failed: $out"
		[ -r "/var/log/libvirt/qemu/$name.log" ] && tail -n 5 "/var/log/libvirt/qemu/$name.log" >&2
		return 1
	fi
	if [ "$ipv6" != on ] && [ -n "$bridge" ]; then
		local t=$tap
		[ -n "$t" ] || t=$(lv_virsh domiflist "$name" | awk 'NR > 0 && $2 == "bridge" { print $1; exit }')
		[ -z "$t" ] || sysctl -qw "net.ipv6.conf.$t.disable_ipv6=1" 2>/dev/null
	fi
	lv_virsh domuuid "$name"
}

lv_guest_pid() {
	local f=/run/libvirt/qemu/$1.pid
	[ -s "$f" ] || { _lv_err "no pid file $f (domain $1 not running?)"; return 1; }
	cat "$f"
}

# The console path is in the live XML; LV_DIR is the fallback once the
# domain is gone (transient domains leave no XML behind).
lv_guest_console() {
	local p
	p=$(lv_virsh dumpxml "$1" 2>/dev/null |
		sed -n "/<serial type=.file./,/<\/serial>/s/.*<source path='\([^']*\)'.*/\1/p" | head -n 1)
	[ -n "$p" ] || p=${LV_DIR:-.}/$1.console
	echo "$p"
}

# lv_guest_wait NAME MARKER TIMEOUT: wait until a console line contains
# MARKER (fixed string), print that line. Fails at once if QEMU is gone.
lv_guest_wait() {
	local name=$1 marker=$2 secs=${3:-60} con pid end line
	con=$(lv_guest_console "$name")
	pid=$(cat "/run/libvirt/qemu/$name.pid" 2>/dev/null)
	end=$((SECONDS + secs))
	while :; do
		# tr: the console has CRs and firmware escape codes.
		if line=$(tr -d '\r' <"$con" 2>/dev/null | grep -F -m 1 -- "$marker"); then
			echo "$line"
			return 0
		fi
		if [ -z "$pid" ] || _lv_gone "$pid"; then
			_lv_err "$name stopped before '$marker'; console $con ends:"
			tail -n 20 "$con" >&2 2>/dev/null
			return 1
		fi
		if [ $SECONDS -ge $end ]; then
			_lv_err "$name: no '$marker' within $secs s; console $con ends:"
			tail -n 20 "$con" >&2 2>/dev/null
			return 1
		fi
		sleep 0.05
	done
}

lv_guest_destroy() {
	local name=$1 pid
	pid=$(cat "/run/libvirt/qemu/$name.pid" 2>/dev/null)
	lv_virsh domstate "$name" >/dev/null 2>&1 || return 0
	lv_virsh destroy "$name" >/dev/null 2>&1
	# Only persistent domains remain defined; tests use transient ones.
	lv_virsh undefine "$name" >/dev/null 2>&1
	_lv_until 20 eval "! lv_virsh domstate '$name'" ||
		{ _lv_err "domain $name still there after destroy"; return 1; }
	if [ -n "$pid" ]; then
		_lv_until 10 _lv_gone "$pid" || { _lv_err "QEMU $pid of $name still runs"; return 1; }
	fi
}

lv_cleanup() {
	local prefix=${1:?prefix} n rc=0
	lv_virsh version >/dev/null 2>&1 || return 0
	for n in $(lv_virsh list --all --name 2>/dev/null); do
		case "$n" in "$prefix"*) lv_guest_destroy "$n" || rc=1 ;; esac
	done
	return $rc
}

# The v2 cgroup of the domain: QEMU's main thread sits in
# machine/qemu-N-NAME.libvirt-qemu/emulator, vCPU threads in .../vcpuN; the
# domain directory is their parent. The v2 mount is found at run time
# (/sys/fs/cgroup on unified hosts, /sys/fs/cgroup/unified on hybrid ones).
lv_guest_cgroup() {
	local pid rel mnt
	pid=$(lv_guest_pid "$1") || return 1
	rel=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
	[ -n "$rel" ] || { _lv_err "QEMU $pid has no cgroup v2 line"; return 1; }
	mnt=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	[ -n "$mnt" ] || { _lv_err "no cgroup2 mount"; return 1; }
	case "$rel" in */emulator) rel=${rel%/emulator} ;; esac
	[ -d "$mnt$rel" ] || { _lv_err "$mnt$rel missing"; return 1; }
	echo "$mnt$rel"
}

lv_guest_cpu_usec() {
	local cg
	cg=$(lv_guest_cgroup "$1") || return 1
	awk '$1 == "usage_usec" { print $2; f = 1 } END { exit !f }' "$cg/cpu.stat"
}

# Microseconds during which some thread of the domain was runnable but had no
# CPU (cpu.pressure "some total", PSI). On a busy host, usage + stall tells a
# starved guest from one that did not try to run.
lv_guest_cpu_stall_usec() {
	local cg
	cg=$(lv_guest_cgroup "$1") || return 1
	[ -r "$cg/cpu.pressure" ] || { _lv_err "no $cg/cpu.pressure (PSI off?)"; return 1; }
	sed -n 's/^some .*total=\([0-9]*\).*/\1/p' "$cg/cpu.pressure"
}
