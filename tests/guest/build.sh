#!/usr/bin/env bash
# Build the hvmeter test guest into $HV_BUILD/guest (default build/guest):
#   vmlinux            the newest installed Debian kernel as an uncompressed ELF
#                      (QEMU boots it directly via PVH: 8-12 s under TCG instead
#                      of 20-35 s for the bzImage); falls back to the bzImage
#   initramfs.cpio.gz  busybox-static, the virtio modules, tests/guest/init
#   kver               the kernel release the two match
# Idempotent: a stamp of every input's hash makes a re-run a no-op.
# Env: HV_GUEST_KVER=RELEASE picks a kernel instead of the newest one.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${HV_BUILD:-build}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
out="$build/guest"

# Wanted modules; build.sh adds their dependencies from modules.dep and
# orders them so that each comes after what it needs.
MODULES=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
         virtio_blk failover net_failover virtio_net)

die() { echo "guest/build.sh: $*" >&2; exit 1; }

# ---- pick the kernel ---------------------------------------------------------
if [ -n "${HV_GUEST_KVER:-}" ]; then
	kver=$HV_GUEST_KVER
else
	kver=""
	# Newest first, and only kernels whose modules are installed too.
	for f in $(ls /boot/vmlinuz-*-amd64 2>/dev/null | sort -V -r); do
		k=${f#/boot/vmlinuz-}
		if [ -d "/lib/modules/$k" ]; then kver=$k; break; fi
	done
	[ -n "$kver" ] || die "no /boot/vmlinuz-*-amd64 with /lib/modules; install linux-image-amd64 (scripts/deps.sh)"
fi
bzimage=/boot/vmlinuz-$kver
moddir=/lib/modules/$kver
[ -r "$bzimage" ] || die "$bzimage missing or unreadable"
[ -d "$moddir" ] || die "$moddir missing"
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || die "busybox not found; install busybox-static"
# The initramfs has no libc: a dynamic busybox (package busybox) cannot run.
case "$(readelf -l "$busybox" 2>/dev/null)" in
*"program interpreter"*) die "$busybox is dynamically linked; install busybox-static" ;;
esac

# ---- resolve modules ---------------------------------------------------------
declare -A mpath=()   # name -> path relative to $moddir
while IFS=: read -r p _; do
	n=${p##*/}; n=${n%%.ko*}
	mpath[$n]=$p
	mpath[${n//-/_}]=$p
done <"$moddir/modules.dep"
declare -A deps=()
while IFS=: read -r p d; do
	n=${p##*/}; n=${n%%.ko*}
	deps[$n]=$d
done <"$moddir/modules.dep"

order=()
declare -A seen=()
visit() {   # depth-first: dependencies before the module itself
	local n=$1 d dn
	[ -z "${seen[$n]:-}" ] || return 0
	seen[$n]=1
	for d in ${deps[$n]:-}; do
		dn=${d##*/}; dn=${dn%%.ko*}
		visit "$dn"
	done
	order+=("$n")
}
builtin_list=()
for m in "${MODULES[@]}"; do
	if [ -n "${mpath[$m]:-}" ]; then
		visit "$m"
	elif grep -qE "/$m\.ko$" "$moddir/modules.builtin" 2>/dev/null; then
		builtin_list+=("$m")   # built into this kernel: nothing to load
	else
		die "module $m neither in $moddir/modules.dep nor modules.builtin"
	fi
done

# ---- up to date? ---------------------------------------------------------------
inputs() {
	echo "kver $kver"
	sha256sum "$bzimage" "$busybox" "$here/init" "$here/build.sh"
	for n in "${order[@]}"; do sha256sum "$moddir/${mpath[$n]}"; done
}
stamp=$(inputs | sha256sum | cut -d' ' -f1)
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] &&
   [ -s "$out/vmlinux" ] && [ -s "$out/initramfs.cpio.gz" ]; then
	echo "guest: up to date ($kver)"
	exit 0
fi

mkdir -p "$out"
tmp=$(mktemp -d "$out/.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# ---- vmlinux: the XZ payload of the bzImage ------------------------------------
# The bzImage is a setup stub + decompressor + compressed ELF. Try each XZ magic
# (fd 37 7a 58 5a 00) in turn: the first that decompresses to an ELF wins.
# --single-stream stops at the end of the payload and ignores what follows.
kernel_kind=bzImage
for off in $(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$bzimage" | cut -d: -f1); do
	# Not a pipe: xz stops reading early and pipefail would count tail's SIGPIPE.
	if xz -dc --single-stream <(tail -c +"$((off + 1))" "$bzimage") >"$tmp/vmlinux" 2>/dev/null &&
	   [ "$(head -c 4 "$tmp/vmlinux" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
		kernel_kind=elf
		break
	fi
done
if [ $kernel_kind = elf ]; then
	# QEMU only boots an ELF directly when it carries the PVH entry note.
	if ! readelf -n "$tmp/vmlinux" 2>/dev/null | grep -q 'Xen.*(0x00000012)'; then
		echo "guest: warning: $kver ELF has no PVH note, using the bzImage" >&2
		kernel_kind=bzImage
	fi
fi
if [ $kernel_kind != elf ]; then
	echo "guest: warning: could not extract an ELF from $bzimage; using the bzImage (slower boot)" >&2
	cp "$bzimage" "$tmp/vmlinux"
fi

# ---- initramfs -----------------------------------------------------------------
r=$tmp/root
mkdir -p "$r"/{bin,dev,proc,sys,tmp,lib/modules}
cp "$busybox" "$r/bin/busybox"
for a in $("$busybox" --list); do
	[ "$a" = busybox ] || ln -s busybox "$r/bin/$a"
done
install -m 0755 "$here/init" "$r/init"
# The kernel opens /dev/console for init before /init can mount devtmpfs.
mknod "$r/dev/console" c 5 1 2>/dev/null || echo "guest: note: cannot mknod /dev/console (not root); /init reopens it" >&2
for n in "${order[@]}"; do
	src=$moddir/${mpath[$n]}
	# busybox insmod reads only plain .ko files.
	case "$src" in
	*.ko.xz)  xz -dc "$src" >"$r/lib/modules/$n.ko" ;;
	*.ko.zst) zstd -qdc "$src" >"$r/lib/modules/$n.ko" ;;
	*.ko.gz)  gzip -dc "$src" >"$r/lib/modules/$n.ko" ;;
	*.ko)     cp "$src" "$r/lib/modules/$n.ko" ;;
	*)        die "unknown module file $src" ;;
	esac
done
printf '%s\n' "${order[@]}" >"$r/lib/modules/order"
# Reproducible archive: fixed order, owners and times.
(cd "$r" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9n >"$tmp/initramfs.cpio.gz"

echo "$kver" >"$tmp/kver"
echo "$kernel_kind" >"$tmp/kernel_kind"
chmod 0644 "$tmp/vmlinux" "$tmp/initramfs.cpio.gz" "$tmp/kver" "$tmp/kernel_kind"
# A new kernel may boot differently under KVM: then lv_accel decides again.
cmp -s "$tmp/vmlinux" "$out/vmlinux" 2>/dev/null || rm -f "$out/accel"
for f in vmlinux initramfs.cpio.gz kver kernel_kind; do mv -f "$tmp/$f" "$out/$f"; done
echo "$stamp" >"$out/stamp"
echo "guest: built $out ($kver, kernel=$kernel_kind, modules: ${order[*]}${builtin_list:+, builtin: ${builtin_list[*]}}, initramfs $(stat -c %s "$out/initramfs.cpio.gz") bytes)"
