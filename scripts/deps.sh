#!/usr/bin/env bash
# Install every Debian package hvmeter needs to build, test and demo;
# --bench adds the agents make bench measures hvmeter against (Ceilometer,
# RabbitMQ, the Prometheus libvirt exporter: a large Python stack that the
# tests do not need). Idempotent: skips apt when everything is installed.
set -euo pipefail

PKGS=(
  # build
  build-essential pkg-config clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
  libvirt-dev libfreeipmi-dev libipmimonitoring-dev libnl-3-dev libnl-route-3-dev
  libnl-genl-3-dev liblmdb-dev lmdb-utils libmbedtls-dev libgmp-dev libcmocka-dev libinih-dev libjansson-dev libxml2-dev libclang-rt-14-dev
  # run and test: libvirtd + qemu, BMC simulator, guest kernel and initramfs
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86
  freeipmi-tools openipmi libopenipmi-dev linux-image-amd64 busybox-static
  cpio xz-utils iproute2 iputils-ping procps valgrind
  nftables  # tests/chaos cuts the uplink with a firewall rule on loopback
  prometheus tmux jq curl  # prom_scrape.sh scrapes the agent; top_tmux.sh drives hvmeter top
  dpkg-dev groff-base man-db bsdextrautils openssl adduser systemd  # make deb (dpkg-shlibdeps), deb_install.sh (man pages, hvmeter-certs, systemd-analyze verify)
)
BENCH_PKGS=(
  ceilometer-agent-compute ceilometer-agent-notification python3-libvirt rabbitmq-server prometheus-libvirt-exporter stress-ng linux-perf  # the peers side by side (tests/bench/agents.sh)
)
[ "${1:-}" = --bench ] && PKGS+=("${BENCH_PKGS[@]}")

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PKGS[@]} packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: need root to install: ${missing[*]}" >&2
  exit 1
fi
echo "deps: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
