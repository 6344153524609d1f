#!/usr/bin/env bash
# Builds the ipmi_sim DCMI module (dcmi_sim.c) into OUT (default
# ${HV_BUILD:-build}/sim/dcmi_sim.so). Test-only; never committed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-${HV_BUILD:-build}/sim/dcmi_sim.so}
mkdir -p "$(dirname "$out")"
if [ ! -f /usr/include/OpenIPMI/mcserv.h ]; then
	echo "dcmi_sim: OpenIPMI/mcserv.h missing (install libopenipmi-dev)" >&2
	exit 1
fi
if [ -f "$out" ] && [ "$out" -nt "$here/dcmi_sim.c" ]; then
	exit 0
fi
${CC:-cc} -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -fPIC -shared \
	-o "$out.tmp" "$here/dcmi_sim.c"
mv "$out.tmp" "$out"
