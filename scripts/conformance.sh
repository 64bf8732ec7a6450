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
cargo build --release -q -p oxbpf-conformance
case " $* " in *" selftests "*)
	# Brought up to date (quick when it is), the multi-file objects linked by libbpf 1.7.
	OXBPF_BPF_LINKER="$(pwd)/target/release/oxbpf-conformance link" sh scripts/selftests-corpus.sh
esac

out=/var/tmp/oxbpf-conformance
mkdir -p "$out"
set -- --expected conformance/expected.txt --results "$out/results.tsv" "$@"
[ -z "$report" ] || set -- --report "$report" "$@"
status=0
./target/release/oxbpf-conformance check "$@" || status=$?
# The report ends with the last runs in other kernels (scripts/kernel-matrix.sh
# --conformance), where the programs this machine cannot load are compared.
if [ -n "$report" ]; then
	guests=$(grep -la "^/corpus: " "${OXBPF_KERNELS_DIR:-/var/tmp/oxbpf-kernels}"/out-*.txt 2>/dev/null || true)
	if [ -n "$guests" ]; then
		{
			echo
			echo "## In other kernels"
			echo
			echo "\`sudo scripts/kernel-matrix.sh --conformance [KERNEL...]\` runs the same check inside"
			echo "Debian's kernels under qemu, on testdata and on the selftest objects in which this"
			echo "machine refused a program with EPERM (tracing programs: no BPF trampolines or"
			echo "kprobes here). The last run of each kernel (\`/corpus\`: those selftest objects):"
			echo
			echo '```'
			for f in $guests; do
				grep -a -e "^OXBPF-KERNEL" -e "^testdata: " -e "^/corpus: " -e "^  [a-z-]* *[0-9]* unexpected" \
					-e "differences, .* unexpected" "$f" | tr -d '\r'
			done
			echo '```'
		} >> "$report"
	fi
fi
exit $status
