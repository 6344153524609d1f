#!/usr/bin/env bash
# Checks `make deb`: both packages hold the promised layout (binaries, sample
# configs in /etc/hvmeter, state directories, firmware maps, hardened units,
# man pages, BPF built into hvmeterd), the man pages render cleanly and name
# every option and config key the programs have; then installs both with
# dpkg into a throwaway root (an overlay of this machine's / on a tmpfs, so
# the real dpkg database satisfies the dependencies and nothing reaches the
# real system), where postinst makes the hvrater user and ownerships, the
# binaries run --version, systemd-analyze verifies the units, hvmeter-certs
# issues certificates that openssl verifies, the packaged rater running as
# hvrater with no capabilities accepts a host certificate and refuses one
# of another CA, a packaged agent reaches it (when libvirtd can run), and
# purge leaves the system clean.
set -u
cd "$(dirname "$0")/../.."
HV_BUILD=${HV_BUILD:-build}
export HV_BUILD
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (dpkg --root, mounts)"; exit 77; }
for t in dpkg-deb dpkg-shlibdeps groff openssl; do
	command -v "$t" >/dev/null || { echo "SKIP: $t not installed (scripts/deps.sh)"; exit 77; }
done
. tests/lib/libvirt.sh
. tests/lib/uplink.sh

fails=0
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then echo "PASS: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}
not() { ! "$@"; }

T=$(mktemp -d /tmp/hvt-deb.XXXXXX)
OV=$T/ovl   # a tmpfs: the overlay's upper layer
R=$OV/root  # the throwaway root
MOUNTS=()
PIDS=()
cleanup() {
	local i p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	lv_down
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		umount "${MOUNTS[$i]}" 2>/dev/null || umount -l "${MOUNTS[$i]}"
	done
	[ -n "${HV_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- build ------------------------------------------------------------------
VERSION=$(cat VERSION)
if ! make --no-print-directory O="$HV_BUILD" deb >"$T/make.log" 2>&1; then
	echo "FAIL: make deb"
	tail -n 20 "$T/make.log"
	exit 1
fi
ARCH=$(dpkg --print-architecture)
DA=$HV_BUILD/deb/hvmeter_${VERSION}-1_$ARCH.deb
DR=$HV_BUILD/deb/hvmeter-rater_${VERSION}-1_$ARCH.deb
check "make deb builds $(basename "$DA") and $(basename "$DR")" test -s "$DA" -a -s "$DR"
[ -s "$DA" ] && [ -s "$DR" ] || exit 1

# ---- layout, without installing (dpkg-deb -c / -I) ---------------------------
# "MODE PATH" per entry: modes and paths are what the package promises.
list() { dpkg-deb -c "$1" | awk '{ p = $6; sub(/^\.\//, "/", p); print $1, p }'; }
list "$DA" >"$T/a.list"
list "$DR" >"$T/r.list"
has() { grep -qxF -- "$2 $3" "$T/$1.list"; }
for e in "-rwxr-xr-x /usr/sbin/hvmeterd" "-rwxr-xr-x /usr/sbin/hvmeter" \
	"-rw-r--r-- /lib/systemd/system/hvmeterd.service" "-rw-r----- /etc/hvmeter/hvmeterd.conf" \
	"drwxr-x--- /var/lib/hvmeter/" "-rw-r--r-- /usr/share/man/man8/hvmeterd.8.gz" \
	"-rw-r--r-- /usr/share/man/man8/hvmeter.8.gz" "-rw-r--r-- /usr/share/man/man5/hvmeterd.conf.5.gz" \
	"-rw-r--r-- /usr/share/doc/hvmeter/examples/netclass.sample"; do
	check "hvmeter holds $e" has a "${e% *}" "${e#* }"
done
for m in firmware-configs/*.map; do
	check "hvmeter holds /usr/share/hvmeter/$m" has a "-rw-r--r--" "/usr/share/hvmeter/$m"
done
for e in "-rwxr-xr-x /usr/sbin/hvrater" "-rwxr-xr-x /usr/sbin/hvmeter-certs" \
	"-rw-r--r-- /lib/systemd/system/hvrater.service" "-rw-r--r-- /etc/hvmeter/hvrater.conf" \
	"drwxr-x--- /etc/hvrater/" "drwxr-x--- /var/lib/hvrater/" \
	"-rw-r--r-- /usr/share/man/man8/hvrater.8.gz" "-rw-r--r-- /usr/share/man/man8/hvmeter-certs.8.gz" \
	"-rw-r--r-- /usr/share/man/man5/hvrater.conf.5.gz"; do
	check "hvmeter-rater holds $e" has r "${e% *}" "${e#* }"
done
check "nothing outside /etc /lib /usr /var, no BPF object files, all root's" \
	sh -c '! cat "$1" "$2" | awk "{ print \$2 }" | grep -vE "^/(|etc/.*|lib/.*|usr/.*|var/.*)$" &&
		! grep -q "\.bpf\.o$" "$1" "$2" &&
		! dpkg-deb -c "$3" | awk "\$2 != \"root/root\"" | grep -q . &&
		! dpkg-deb -c "$4" | awk "\$2 != \"root/root\"" | grep -q .' _ "$T/a.list" "$T/r.list" "$DA" "$DR"
check "the two packages share no file (both can be installed)" \
	sh -c '! cat "$1" "$2" | grep -v "/$" | awk "{ print \$2 }" | sort | uniq -d | grep -q .' _ \
	"$T/a.list" "$T/r.list"
field() { dpkg-deb -f "$1" "$2"; }
check "versions are VERSION-1 ($VERSION-1)" \
	test "$(field "$DA" Version)" = "$VERSION-1" -a "$(field "$DR" Version)" = "$VERSION-1"
check "hvmeter depends on libvirt0 and libbpf1 (dpkg-shlibdeps)" \
	sh -c 'echo "$1" | grep -q "libvirt0" && echo "$1" | grep -q "libbpf1"' _ "$(field "$DA" Depends)"
check "hvmeter-rater depends on adduser and openssl, not on libvirt" \
	sh -c 'echo "$1" | grep -q "adduser" && echo "$1" | grep -q "openssl" && ! echo "$1" | grep -q libvirt' _ \
	"$(field "$DR" Depends)"
dpkg-deb --ctrl-tarfile "$DA" | tar -xO ./conffiles >"$T/a.conffiles"
dpkg-deb --ctrl-tarfile "$DR" | tar -xO ./conffiles >"$T/r.conffiles"
check "conffiles: /etc/hvmeter/hvmeterd.conf and /etc/hvmeter/hvrater.conf" \
	sh -c 'grep -qx /etc/hvmeter/hvmeterd.conf "$1" && grep -qx /etc/hvmeter/hvrater.conf "$2"' _ \
	"$T/a.conffiles" "$T/r.conffiles"

X=$T/x # both packages unpacked, for looking at file contents
mkdir -p "$X"
dpkg-deb -x "$DA" "$X" && dpkg-deb -x "$DR" "$X"
unit_has() { grep -qxF "$2" "$X/lib/systemd/system/$1"; }
for l in "CapabilityBoundingSet=CAP_BPF CAP_PERFMON CAP_SYS_ADMIN CAP_NET_ADMIN CAP_SETPCAP" \
	"AmbientCapabilities=" "NoNewPrivileges=yes" "ProtectSystem=strict" "StateDirectory=hvmeter" \
	"ReadWritePaths=/sys/fs/bpf" "ExecStart=/usr/sbin/hvmeterd -f -c /etc/hvmeter/hvmeterd.conf"; do
	check "hvmeterd.service: $l" unit_has hvmeterd.service "$l"
done
for l in "User=hvrater" "CapabilityBoundingSet=" "AmbientCapabilities=" "NoNewPrivileges=yes" \
	"ProtectSystem=strict" "StateDirectory=hvrater" \
	"ExecStart=/usr/sbin/hvrater serve -c /etc/hvmeter/hvrater.conf"; do
	check "hvrater.service: $l" unit_has hvrater.service "$l"
done
# bpftool embeds each program's ELF object in its skeleton header, so the
# section names of the programs are in the (stripped) binary.
check "the BPF programs are embedded in hvmeterd" \
	sh -c 'for s in tp_btf/sched_switch tp_btf/block_bio_queue; do grep -qaF "$s" "$1" || exit 1; done' _ \
	"$X/usr/sbin/hvmeterd"
check "packaged hvmeterd.conf is the sample" cmp -s "$X/etc/hvmeter/hvmeterd.conf" daemon/hvmeterd.conf.sample
check "packaged hvrater.conf is the sample with ca, cert, key and user set" \
	sh -c 'diff "$1" "$2" | grep "^>" | sort | tr "\n" "|" | grep -qxF "> ca = /etc/hvrater/ca.pem|> cert = /etc/hvrater/rater.pem|> key = /etc/hvrater/rater.key|> user = hvrater|"' _ \
	rater/hvrater.conf.sample "$X/etc/hvmeter/hvrater.conf"

# ---- man pages: clean roff, and true to the programs --------------------------
render() { zcat "$X/usr/share/man/man$2/$1.$2.gz" | groff -man -Tutf8 -ww 2>"$T/groff.err" | col -bx; }
for p in hvmeterd.8 hvmeter.8 hvmeterd.conf.5 hvrater.8 hvrater.conf.5 hvmeter-certs.8; do
	render "${p%.*}" "${p##*.}" >"$T/$p.txt"
	check "man $p renders without groff warnings, with NAME and SEE ALSO" \
		sh -c '[ ! -s "$1" ] && grep -q "^NAME" "$2" && grep -q "^SEE ALSO" "$2"' _ "$T/groff.err" "$T/$p.txt"
done
# every option a program's --help lists appears in its page
opts_in() { # opts_in PAGE: reads --help text on stdin
	local o missing=""
	for o in $(grep -oE '(^|[ [(,|])--?[a-zA-Z][a-z-]*' | grep -oE -- '--?[a-zA-Z][a-z-]*' | sort -u); do
		grep -qE -- "(^|[^a-z-])$o([^a-z-]|$)" "$T/$1.txt" || missing="$missing $o"
	done
	[ -z "$missing" ] || { echo "  $1 lacks:$missing"; return 1; }
}
check "hvmeterd(8) names every option of hvmeterd --help" opts_in hvmeterd.8 < <("$X/usr/sbin/hvmeterd" --help)
check "hvmeter(8) names every option of hvmeter --help" opts_in hvmeter.8 < <("$X/usr/sbin/hvmeter" --help)
check "hvmeter-certs(8) names every option of hvmeter-certs --help" \
	opts_in hvmeter-certs.8 < <("$X/usr/sbin/hvmeter-certs" --help)
RCMDS=$("$X/usr/sbin/hvrater" --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }')
check "hvrater --help lists commands" test -n "$RCMDS"
for c in $RCMDS; do
	check "hvrater(8) documents '$c' and every option of its --help" \
		sh -c 'grep -q "^ *$1\$" "$2" || grep -q "hvrater $1" "$2"' _ "$c" "$T/hvrater.8.txt"
	check "hvrater(8) names every option of hvrater $c --help" opts_in hvrater.8 < <("$X/usr/sbin/hvrater" "$c" --help)
done
# every section and key of a sample config appears in its page: "[section]"
# headings, and keys as "key =" (commented or not) at the start of a line
keys_in() { # keys_in SAMPLE PAGE
	local k missing=""
	for k in $(sed -nE 's/^\[([a-z_]+)\].*/[\1]/p; s/^[#;]? ?([a-z_]+) = .*/\1/p' "$1" | sort -u); do
		grep -qF -- "$k" "$T/$2.txt" || missing="$missing $k"
	done
	[ -z "$missing" ] || { echo "  $2 lacks:$missing"; return 1; }
}
check "hvmeterd.conf(5) documents every section and key of daemon/hvmeterd.conf.sample" \
	keys_in daemon/hvmeterd.conf.sample hvmeterd.conf.5
check "hvrater.conf(5) documents every section and key of rater/hvrater.conf.sample" \
	keys_in rater/hvrater.conf.sample hvrater.conf.5

# ---- install into a throwaway root --------------------------------------------
# An overlay of / whose upper layer is a tmpfs: dpkg, adduser and the
# maintainer scripts see this machine's files (so the packages' real
# dependencies are satisfied), and every write lands in the tmpfs.
mkdir -p "$OV"
if ! { mount -t tmpfs -o mode=0755 hvt-deb "$OV" 2>"$T/overlay.err" && MOUNTS+=("$OV") &&
	mkdir -p "$OV/u" "$OV/w" "$R" &&
	mount -t overlay -o "lowerdir=/,upperdir=$OV/u,workdir=$OV/w" hvt-deb-root "$R" 2>"$T/overlay.err"; }; then
	echo "SKIP: no overlayfs for a throwaway root ($(head -1 "$T/overlay.err")); unpacked binaries only"
	for b in hvmeterd hvmeter hvrater hvmeter-certs; do
		check "unpacked $b --version prints '$b $VERSION'" sh -c '"$1" --version | grep -qx "$2 $3"' _ \
			"$X/usr/sbin/$b" "$b" "$VERSION"
	done
	[ "$fails" -eq 0 ] || { echo "$fails checks failed"; exit 1; }
	exit 0
fi
MOUNTS+=("$R")
mount -t proc proc "$R/proc" && MOUNTS+=("$R/proc")
# no systemd in the root (maintainer scripts then leave systemctl alone),
# and nothing of this machine's /run or /tmp
mount -t tmpfs tmpfs "$R/run" && MOUNTS+=("$R/run")
mount -t tmpfs tmpfs "$R/tmp" && MOUNTS+=("$R/tmp")
in_root() { chroot "$R" "$@"; }
# as on a machine that never had the rater
in_root userdel hvrater >/dev/null 2>&1
in_root groupdel hvrater >/dev/null 2>&1
check "the throwaway root starts without user hvrater" sh -c '! chroot "$1" getent passwd hvrater >/dev/null' _ "$R"
# what the real system says, to compare after the install
host_state() {
	getent passwd hvrater
	dpkg-query -W -f '${Package} ${Status}\n' hvmeter hvmeter-rater 2>/dev/null
	ls -d /usr/sbin/hvmeterd /usr/sbin/hvrater /etc/hvmeter/hvmeterd.conf /var/lib/hvrater 2>/dev/null
}
HOST_BEFORE=$(host_state)

check "dpkg -i of both packages into the root" \
	sh -c 'dpkg --root="$1" --no-triggers -i "$2" "$3" >"$4" 2>&1 || { cat "$4"; exit 1; }' _ "$R" "$DA" "$DR" "$T/dpkg.log"
for b in hvmeterd hvmeter hvrater hvmeter-certs; do
	check "installed $b --version prints '$b $VERSION'" \
		sh -c 'chroot "$1" "$2" --version | grep -qx "$2 $3"' _ "$R" "$b" "$VERSION"
done
check "postinst made system user and group hvrater (nologin, home /var/lib/hvrater)" \
	sh -c 'e=$(chroot "$1" getent passwd hvrater) && u=$(echo "$e" | cut -d: -f3) && [ "$u" -lt 1000 ] &&
		echo "$e" | grep -q ":/var/lib/hvrater:/usr/sbin/nologin$" && chroot "$1" getent group hvrater >/dev/null' _ "$R"
check "/var/lib/hvrater is hvrater:hvrater 0750, /etc/hvrater root:hvrater 0750" \
	sh -c '[ "$(chroot "$1" stat -c "%U:%G %a" /var/lib/hvrater)" = "hvrater:hvrater 750" ] &&
		[ "$(chroot "$1" stat -c "%U:%G %a" /etc/hvrater)" = "root:hvrater 750" ]' _ "$R"
check "/var/lib/hvmeter is root:root 0750" sh -c '[ "$(stat -c "%U:%G %a" "$1/var/lib/hvmeter")" = "root:root 750" ]' _ "$R"
check "the real system is untouched (users, dpkg database, files)" test "$(host_state)" = "$HOST_BEFORE"
check "hvmeterd -n accepts the installed configuration" \
	sh -c 'chroot "$1" hvmeterd -n -c /etc/hvmeter/hvmeterd.conf | grep -q "^maps_dir = /usr/share/hvmeter/firmware-configs$"' _ "$R"
if command -v systemd-analyze >/dev/null; then
	check "systemd-analyze verify hvmeterd.service hvrater.service (binaries, man pages, syntax)" \
		sh -c 'chroot "$1" systemd-analyze verify /lib/systemd/system/hvmeterd.service \
			/lib/systemd/system/hvrater.service >"$2" 2>&1 || { cat "$2"; exit 1; }' _ "$R" "$T/verify.log"
	check "man finds hvmeterd(8) in the root" sh -c 'chroot "$1" man -w 8 hvmeterd >/dev/null 2>&1' _ "$R"
else
	echo "SKIP: systemd-analyze not installed: units not verified"
fi

# ---- certificates ---------------------------------------------------------------
H=hvt-deb-1
check "hvmeter-certs ca / rater / host" \
	sh -c 'chroot "$1" hvmeter-certs ca >"$2" && chroot "$1" hvmeter-certs rater localhost 127.0.0.1 >>"$2" &&
		chroot "$1" hvmeter-certs host "$3" >>"$2" || { cat "$2"; exit 1; }' _ "$R" "$T/certs.log" "$H"
P=$R/etc/hvrater
quiet() { "$@" >/dev/null 2>&1; }
check "openssl verify: host certificate against the CA" quiet openssl verify -CAfile "$P/ca.pem" "$P/hosts/$H.pem"
check "openssl verify: rater certificate against the CA" quiet openssl verify -CAfile "$P/ca.pem" "$P/rater.pem"
check "host certificate: CN=$H, clientAuth, EC P-256 key" \
	sh -c 'openssl x509 -in "$1" -noout -subject | grep -q "CN = $3\$" &&
		openssl x509 -in "$1" -noout -ext extendedKeyUsage | grep -q "TLS Web Client Authentication" &&
		openssl pkey -in "$2" -noout -text | grep -q "prime256v1"' _ "$P/hosts/$H.pem" "$P/hosts/$H.key" "$H"
check "keys: CA and host 0600 root, rater key group hvrater 0640" \
	sh -c '[ "$(chroot "$1" stat -c "%U:%G %a" /etc/hvrater/ca.key)" = "root:root 600" ] &&
		[ "$(chroot "$1" stat -c "%U:%G %a" /etc/hvrater/hosts/$2.key)" = "root:root 600" ] &&
		[ "$(chroot "$1" stat -c "%U:%G %a" /etc/hvrater/rater.key)" = "root:hvrater 640" ]' _ "$R" "$H"
# a CA of someone else, and a certificate it issued for the same host name
chroot "$R" hvmeter-certs -d /root/other ca >/dev/null &&
	chroot "$R" hvmeter-certs -d /root/other host "$H" >/dev/null
check "openssl verify refuses the other CA's certificate" \
	sh -c '! openssl verify -CAfile "$1" "$2" >/dev/null 2>&1' _ "$P/ca.pem" "$R/root/other/hosts/$H.pem"
check "hvmeter-certs refuses to overwrite a host certificate" \
	sh -c '! chroot "$1" hvmeter-certs host "$2" >/dev/null 2>&1' _ "$R" "$H"

# ---- the packaged rater, as its unit runs it --------------------------------------
PORT=$(uplink_port)
sed -i "s/^listen = .*/listen = 127.0.0.1:$PORT/" "$R/etc/hvmeter/hvrater.conf"
# User=hvrater, CapabilityBoundingSet= and NoNewPrivileges=yes of hvrater.service
chroot "$R" setpriv --reuid=hvrater --regid=hvrater --init-groups --bounding-set=-all \
	--inh-caps=-all --no-new-privs hvrater serve -c /etc/hvmeter/hvrater.conf >"$T/rater.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q 'listening on' "$T/rater.log" && break; sleep 0.1; done
check "the packaged rater starts as hvrater without capabilities, with the packaged config" \
	sh -c 'grep -q "listening on 127.0.0.1:$2" "$1" || { cat "$1"; exit 1; }' _ "$T/rater.log" "$PORT"
# The rater completes a TLS handshake, then refuses a client whose
# certificate does not verify against its CA and logs why: its log tells.
refusals() { grep -c "refused connection from" "$T/rater.log"; }
accepted() { # accepted CERT KEY: a TLS 1.2 session with the rater, not refused
	local n0
	n0=$(refusals)
	timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -tls1_2 -CAfile "$P/ca.pem" \
		-verify_return_error -cert "$1" -key "$2" </dev/null >"$T/s_client.log" 2>&1 || return 1
	for _ in $(seq 20); do
		[ "$(refusals)" -gt "$n0" ] && return 1
		sleep 0.1
	done
}
check "mutual TLS: the rater (its certificate verified against the CA) accepts the host certificate" \
	accepted "$P/hosts/$H.pem" "$P/hosts/$H.key"
check "mutual TLS: the rater refuses a certificate of another CA, and logs it" \
	not accepted "$R/root/other/hosts/$H.pem" "$R/root/other/hosts/$H.key"
grep "refused connection from" "$T/rater.log" | tail -n 1

# ---- the packaged agent uplinks to it --------------------------------------------
if lv_up 2>"$T/lv.err"; then
	AS=$T/agent.store
	mkdir -p "$R/etc/hvmeter"
	cp "$P/ca.pem" "$R/etc/hvmeter/ca.pem" && cp "$P/hosts/$H.pem" "$R/etc/hvmeter/host.pem" &&
		install -m 0600 "$P/hosts/$H.key" "$R/etc/hvmeter/host.key"
	cat >"$T/agent.conf" <<EOF
[agent]
host_id = $H
interval = 1
store = $AS
bpf = off
[bmc]
maps_dir = $R/usr/share/hvmeter/firmware-configs
[uplink]
rater = 127.0.0.1:$PORT
ca = $R/etc/hvmeter/ca.pem
cert = $R/etc/hvmeter/host.pem
key = $R/etc/hvmeter/host.key
EOF
	"$R/usr/sbin/hvmeterd" -f -c "$T/agent.conf" >"$T/agent.log" 2>&1 &
	PIDS+=($!)
	got=
	for _ in $(seq 200); do
		got=$(chroot "$R" hvrater hosts -c /etc/hvmeter/hvrater.conf --format csv 2>/dev/null |
			awk -F, -v h="$H" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
				$c["host"] == h && $c["frames"] > 0 { print $c["frames"] }')
		[ -n "$got" ] && break
		sleep 0.1
	done
	check "the packaged agent's frames reach the packaged rater (host $H, ${got:-0} frames)" test -n "$got"
	[ -n "$got" ] || { tail -n 5 "$T/agent.log"; tail -n 5 "$T/rater.log"; }
else
	echo "SKIP: agent-to-rater over the packaged certificates: libvirtd cannot run here ($(head -1 "$T/lv.err"))"
fi
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
PIDS=()

# ---- remove and purge ---------------------------------------------------------
check "dpkg --purge of both packages" \
	sh -c 'dpkg --root="$1" --purge hvmeter hvmeter-rater >"$2" 2>&1 || { cat "$2"; exit 1; }' _ "$R" "$T/purge.log"
check "purge removed binaries, units and configuration" \
	sh -c 'for f in usr/sbin/hvmeterd usr/sbin/hvrater usr/sbin/hvmeter-certs lib/systemd/system/hvmeterd.service \
		lib/systemd/system/hvrater.service etc/hvmeter/hvmeterd.conf etc/hvmeter/hvrater.conf; do
		[ ! -e "$1/$f" ] || { echo "  left: /$f"; exit 1; }; done' _ "$R"
check "purge dropped the ownership overrides, kept the rated store" \
	sh -c '! chroot "$1" dpkg-statoverride --list | grep -q hvrater && [ -s "$1/var/lib/hvrater/data.mdb" ]' _ "$R"

[ "$fails" -eq 0 ] || { echo "$fails checks failed"; exit 1; }
exit 0
