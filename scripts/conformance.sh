#!/bin/sh
# The differential check: every program of a corpus loaded by oxbpf and by libbpf 1.7,
# compared per program (verdict, tag, kept instructions, maps, func/line info); see
# conformance/src/main.rs. Exits 1 on a difference conformance/expected.txt does not list.
#
#   sudo scripts/conformance.sh                       testdata and Debian's tools (CI, ~1 min)
#   sudo scripts/conformance.sh selftests             the kernel's selftests (builds them first)
#   sudo scripts/conformance.sh --report testdata debian selftests
#                                                     the same, and rewrites docs/conformance.md
#
# Needs root (CAP_BPF, CAP_SYS_ADMIN for the children's private bpffs). Installs what it
# needs: libelf/zlib/pkg-config to build libbpf-sys (the reference, linked by this tool
# only), and the corpora's packages. Per-program results go to /var/tmp/oxbpf-conformance.
set -eu
cd "$(dirname "$0")/.."

report=
if [ "${1:-}" = "--report" ]; then
	report=docs/conformance.md
	shift
fi
[ $# -gt 0 ] || set -- testdata debian

export DEBIAN_FRONTEND=noninteractive
need=
for p in libelf-dev zlib1g-dev pkg-config; do
	dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
case " $* " in *" debian "*)
	for p in xdp-tools libbpf-tools golang-github-cilium-ebpf-dev; do
		dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
	done
esac
if [ -n "$need" ]; then
	echo "conformance.sh: installing$need"
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq $need >/dev/null
fi
case " $* " in *" selftests "*)
	[ -f "${OXBPF_SELFTESTS_DIR:-/var/tmp/oxbpf-selftests}/obj/MANIFEST" ] || sh scripts/selftests-corpus.sh
esac

cargo build --release -q -p oxbpf-conformance
out=/var/tmp/oxbpf-conformance
mkdir -p "$out"
set -- --expected conformance/expected.txt --results "$out/results.tsv" "$@"
[ -z "$report" ] || set -- --report "$report" "$@"
exec ./target/release/oxbpf-conformance check "$@"
