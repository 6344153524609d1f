#!/usr/bin/env bash
# build.sh BUILD_DIR — builds the benchmarks' own C programs into
# BUILD_DIR/bench from the libraries the Makefile makes there, with the
# Makefile's warning list (store_commit.sh builds bench_store itself).
set -u
B=${1:-build}
cd "$(dirname "$0")/../.."
WARN="-Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter -Wvla"
make --no-print-directory O="$B" "$B/libhvstore.a" "$B/libhvwire.a" >/dev/null || exit 1
mkdir -p "$B/bench"
if [ ! -x "$B/bench/bench_wire" ] || [ tests/bench/bench_wire.c -nt "$B/bench/bench_wire" ] ||
	[ "$B/libhvwire.a" -nt "$B/bench/bench_wire" ] || [ "$B/libhvstore.a" -nt "$B/bench/bench_wire" ]; then
	# shellcheck disable=SC2086
	cc -std=gnu11 -O2 -g -D_GNU_SOURCE $WARN -I. -I"$B" tests/bench/bench_wire.c \
		"$B/libhvstore.a" "$B/libhvwire.a" -llmdb -lmbedtls -lmbedx509 -lmbedcrypto -lpthread \
		-o "$B/bench/bench_wire" || exit 1
fi
