#!/bin/sh
# Runs the test suite twice while another process on the machine holds programs, maps
# and links with the names the tests use (issue 20: tests check the ids they create,
# never names machine-wide). The decoy lives in mount and network namespaces of its
# own (its bpffs pins and veth pair go with it) and reads no trace pipe, so it takes
# nothing the tests need; only its programs, maps and links are visible machine-wide.
#
#   sudo scripts/shared-machine-check.sh [ROUNDS]     (default 2)
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-2}
cargo build -q -p oxbpf-cli
bin=$PWD/target/debug/oxbpf
ready=$(mktemp)
# shellcheck disable=SC2016
unshare --mount --net --propagation private sh -c '
set -e
cd testdata
d=$(mktemp -d)
mount -t bpf bpf "$d"
ip link add dx0 type veth peer name dx1
ip link set dx0 up; ip link set dx1 up
"$0" attach bootstrap.bpf.o --pin "$d/bootstrap"
"$0" attach minimal.bpf.o --pin "$d/minimal"
"$0" attach attach.bpf.o --only on_getppid --only xdp_count --only tc_count --iface dx0 --pin "$d/attach"
"$0" attach demo.bpf.o --iface dx1 --pin "$d/demo"
"$0" load sockex1.bpf.o --pin "$d/sockex1" --pin-maps "$d/sockex1"
"$0" load xdp_stats_legacy.bpf.o --pin "$d/xdp_stats" --pin-maps "$d/xdp_stats"
"$0" load maps_btf.bpf.o --pin-maps "$d/maps_btf"
echo ready > "$1"
exec sleep 100000
' "$bin" "$ready" > /tmp/oxbpf-decoy.log 2>&1 &
decoy=$!
trap 'kill $decoy 2>/dev/null || true; rm -f "$ready"' EXIT
for _ in $(seq 100); do
	[ -s "$ready" ] && break
	kill -0 $decoy 2>/dev/null || { cat /tmp/oxbpf-decoy.log; exit 1; }
	sleep 0.2
done
[ -s "$ready" ] || { echo "the decoy did not start:"; cat /tmp/oxbpf-decoy.log; exit 1; }
echo "decoy $decoy holds:"
"$bin" prog list | grep -E ' (handle_exec|handle_exit|handle_tp|on_getppid|xdp_count|tc_count|whoami|count_and_filte|bpf_prog1|xdp_stats_pass) ' || true
for round in $(seq "$rounds"); do
	echo "== round $round"
	CI=true cargo test
done
echo "the tests passed $rounds times beside the decoy"
