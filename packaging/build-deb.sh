#!/usr/bin/env bash
# build-deb.sh O — make the hvmeter (agent + CLI) and hvmeter-rater Debian
# packages from what `make O=O all man` built, into O/deb/.
#
# dpkg-deb on a staged tree instead of dpkg-buildpackage + debhelper: the
# Makefile already builds everything (a debian/ source package would only
# call it again), and this keeps the packaging to one readable script with
# no build dependency beyond dpkg-dev (for dpkg-shlibdeps, which computes
# the library dependencies as debhelper would). --root-owner-group makes
# every file root's without fakeroot; the rater's directories get their
# owner from dpkg-statoverride in postinst.
#
# The BPF programs are not installed as files: bpftool compiled each
# O/bpf/*.bpf.o into a skeleton header that daemon/*_bpf.c include, so the
# objects are embedded in hvmeterd.
set -euo pipefail
# dpkg-deb packs the modes found on disk: directories made here must not
# inherit a caller's umask 077.
umask 022
O=${1:?usage: build-deb.sh BUILD_DIR}
cd "$(dirname "$0")/.."
VERSION=${HV_VERSION:-$(cat VERSION)}
DEBVER=$VERSION-1
ARCH=$(dpkg --print-architecture)
OUT=$O/deb
STAGE=$OUT/stage
MAINTAINER="hvmeter developers <hvmeter@localhost>"

for f in "$O/bin/hvmeterd" "$O/bin/hvmeter" "$O/bin/hvrater" \
	"$O/man/hvmeterd.8" "$O/man/hvmeter.8" "$O/man/hvmeterd.conf.5" \
	"$O/man/hvrater.8" "$O/man/hvrater.conf.5" "$O/man/hvmeter-certs.8"; do
	[ -s "$f" ] || { echo "build-deb: $f is missing (make O=$O all man)" >&2; exit 1; }
done
for t in dpkg-deb dpkg-shlibdeps; do
	command -v "$t" >/dev/null || { echo "build-deb: $t not found (apt-get install dpkg-dev)" >&2; exit 1; }
done

rm -rf "$STAGE"
mkdir -p "$STAGE/debian"
A=$STAGE/debian/hvmeter
R=$STAGE/debian/hvmeter-rater

# ---- files ------------------------------------------------------------------
bin() { # bin SRC DEST: a stripped executable (Debian ships no debug info in the main package)
	install -D -m 0755 "$1" "$2"
	strip --strip-unneeded --remove-section=.comment --remove-section=.note "$2"
}
manpage() { # manpage PKGROOT PAGE: gzip -n, so the package does not change with the time of day
	local sect=${2##*.}
	mkdir -p "$1/usr/share/man/man$sect"
	gzip -9n <"$O/man/$2" >"$1/usr/share/man/man$sect/$2.gz"
}
doc() { # doc PKGROOT PKG SRC [NAME]
	local dest=$1/usr/share/doc/$2/${4:-$(basename "$3")}.gz
	mkdir -p "$(dirname "$dest")"
	gzip -9n <"$3" >"$dest"
}

bin "$O/bin/hvmeterd" "$A/usr/sbin/hvmeterd"
bin "$O/bin/hvmeter" "$A/usr/sbin/hvmeter"
install -D -m 0644 packaging/hvmeterd.service "$A/lib/systemd/system/hvmeterd.service"
# 0640: the file may come to hold the BMC password.
install -D -m 0640 daemon/hvmeterd.conf.sample "$A/etc/hvmeter/hvmeterd.conf"
mkdir -p "$A/usr/share/hvmeter/firmware-configs"
install -m 0644 firmware-configs/*.map "$A/usr/share/hvmeter/firmware-configs/"
install -d -m 0750 "$A/var/lib/hvmeter"
manpage "$A" hvmeterd.8
manpage "$A" hvmeter.8
manpage "$A" hvmeterd.conf.5
doc "$A" hvmeter README.md
doc "$A" hvmeter firmware-configs/README.md firmware-configs.md
# Examples are read only when a configuration names them: not in /etc.
install -D -m 0644 daemon/netclass.sample "$A/usr/share/doc/hvmeter/examples/netclass.sample"

bin "$O/bin/hvrater" "$R/usr/sbin/hvrater"
install -D -m 0755 packaging/hvmeter-certs "$R/usr/sbin/hvmeter-certs"
sed -i "s/@VERSION@/$VERSION/" "$R/usr/sbin/hvmeter-certs"
install -D -m 0644 packaging/hvrater.service "$R/lib/systemd/system/hvrater.service"
# The sample, with its suggested certificate paths and user switched on:
# they are where hvmeter-certs puts the files and the account postinst
# makes, so the rater starts once the certificates exist.
install -D -m 0644 rater/hvrater.conf.sample "$R/etc/hvmeter/hvrater.conf"
sed -i -E -e 's,^# (ca|cert|key) = (/etc/hvrater/[a-z]+\.(pem|key))$,\1 = \2,' \
	-e 's,^# user = hvrater$,user = hvrater,' "$R/etc/hvmeter/hvrater.conf"
n=$(grep -cE '^((ca|cert|key) = /etc/hvrater/|user = hvrater$)' "$R/etc/hvmeter/hvrater.conf" || true)
if [ "$n" != 4 ]; then
	echo "build-deb: rater/hvrater.conf.sample no longer suggests ca, cert, key in /etc/hvrater and user hvrater ($n of 4)" >&2
	exit 1
fi
install -d -m 0750 "$R/etc/hvrater" "$R/var/lib/hvrater"
manpage "$R" hvrater.8
manpage "$R" hvrater.conf.5
manpage "$R" hvmeter-certs.8
for f in rater/*.md; do
	doc "$R" hvmeter-rater "$f"
done
mkdir -p "$R/usr/share/doc/hvmeter-rater/examples"
for f in rater/*.sample.json; do
	if [ -e "$f" ]; then
		install -m 0644 "$f" "$R/usr/share/doc/hvmeter-rater/examples/"
	fi
done

# ---- control ----------------------------------------------------------------
# dpkg-shlibdeps wants a debian/control naming the packages it works for.
printf 'Source: hvmeter\n\nPackage: hvmeter\nArchitecture: any\n\nPackage: hvmeter-rater\nArchitecture: any\n' \
	>"$STAGE/debian/control"
shlibs() { # shlibs BINARY...: the Depends line for the libraries the binaries link
	(cd "$STAGE" && dpkg-shlibdeps -O "$@" 2>/dev/null) | sed -n 's/^shlibs:Depends=//p'
}
DEP_A=$(shlibs debian/hvmeter/usr/sbin/hvmeterd debian/hvmeter/usr/sbin/hvmeter)
DEP_R=$(shlibs debian/hvmeter-rater/usr/sbin/hvrater)
if [ -z "$DEP_A" ] || [ -z "$DEP_R" ]; then
	echo "build-deb: dpkg-shlibdeps gave no dependencies" >&2
	exit 1
fi

control() { # control PKGROOT PACKAGE DEPENDS [EXTRA-FIELDS]  (description on stdin)
	local size
	mkdir -p "$1/DEBIAN"
	size=$(du -sk --exclude=DEBIAN "$1" | cut -f1)
	{
		echo "Package: $2"
		echo "Version: $DEBVER"
		echo "Architecture: $ARCH"
		echo "Maintainer: $MAINTAINER"
		echo "Installed-Size: $size"
		echo "Depends: $3"
		[ -z "${4:-}" ] || printf '%b' "$4"
		echo "Section: admin"
		echo "Priority: optional"
		cat
	} >"$1/DEBIAN/control"
	(cd "$1" && find etc -type f | sed 's|^|/|' | sort) >"$1/DEBIAN/conffiles"
	install -m 0755 "packaging/$2"/postinst "packaging/$2"/prerm "packaging/$2"/postrm "$1/DEBIAN/"
	(cd "$1" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) \
		>"$1/DEBIAN/md5sums"
}

control "$A" hvmeter "$DEP_A" 'Recommends: libvirt-daemon-system\n' <<'EOF'
Description: per-VM usage metering for KVM hypervisors (agent and CLI)
 hvmeterd meters what every virtual machine on a KVM host uses (CPU by
 eBPF sched_switch accounting, allocations, memory, disk, network by traffic
 class, energy from the BMC) into a local, hash-chained LMDB ledger, and
 ships deltas over mutual TLS to an hvrater. The BPF programs are built
 into hvmeterd. hvmeter inspects, dumps and verifies the ledger and reads
 the BMC's sensors.
EOF
control "$R" hvmeter-rater "$DEP_R, adduser, openssl" <<'EOF'
Description: central rater for hvmeter (TLS ingest and CloudKitty-style pricing)
 hvrater accepts hypervisors running hvmeterd over mutual TLS, stores their
 frames exactly once per host and sequence, and prices usage the way
 OpenStack CloudKitty's hashmap module does. hvmeter-certs issues the CA,
 rater and host certificates.
EOF

mkdir -p "$OUT"
rm -f "$OUT"/*.deb
for p in "$A" "$R"; do
	dpkg-deb --root-owner-group -Zxz --build "$p" "$OUT/$(basename "$p")_${DEBVER}_$ARCH.deb" >/dev/null
	echo "  DEB     $OUT/$(basename "$p")_${DEBVER}_$ARCH.deb"
done
