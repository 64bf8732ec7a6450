#!/bin/sh
# Every benchmark, side by side with libbpf and aya, in one run; writes the table to
# bench/RESULTS.md. Needs root (it loads programs) and installs what it needs: gcc and
# the static libbpf/libelf/zlib for the C loader, libelf/zlib/pkg-config for building
# libbpf-sys, bpftool and xdp-tools (measured objects and binaries), GNU time.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "bench/run.sh: run as root (the benchmarks load BPF programs)" >&2
	exit 1
fi
missing=""
for p in gcc libc6-dev libbpf-dev libelf-dev zlib1g-dev pkg-config bpftool xdp-tools time; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
	apt-get update
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y $missing
fi
exec cargo run --release -p oxbpf-bench -- --write bench/RESULTS.md "$@"
