#!/bin/sh
# The static linkers compared: each multi-file object of the kernel's BPF selftests (the
# Makefile's LINKED_SKELS, e.g. linked_funcs from linked_funcs1.bpf.o and
# linked_funcs2.bpf.o) linked by libbpf 1.7 and loaded by libbpf, and linked by
# `oxbpf link` and loaded by oxbpf: same verdict and same tag per program
# (`oxbpf-conformance check-linked`), and oxbpf's link relinked gives it back byte for
# byte. Objects whose inputs the corpus lacks are skipped and said so.
#
#   sudo scripts/link-check.sh     (after scripts/selftests-corpus.sh built the corpus)
#
# Needs root (the loads). Exits 1 on a difference conformance/expected.txt does not list.
set -eu
cd "$(dirname "$0")/.."
DIR=${OXBPF_SELFTESTS_DIR:-/var/tmp/oxbpf-selftests}
ST="$DIR/linux-source-6.12/tools/testing/selftests/bpf"
OBJ="$DIR/obj"
[ -f "$ST/Makefile" ] || { echo "link-check.sh: no selftests in $DIR; run scripts/selftests-corpus.sh" >&2; exit 2; }
cargo build --release -q -p oxbpf-conformance
tool="${CARGO_TARGET_DIR:-target}/release/oxbpf-conformance"
flat=$(sed -e ':a' -e '/\\$/{N; s/\\\n/ /; ba' -e '}' "$ST/Makefile")
skels=$(printf '%s\n' "$flat" | sed -n 's/^LINKED_SKELS := //p')
status=0
checked=0
skipped=""
for skel in $skels; do
	name=${skel%.skel.h}
	inputs=""
	missing=""
	for d in $(printf '%s\n' "$flat" | sed -n "s/^$name\.skel\.h-deps := //p"); do
		if [ -f "$OBJ/$d" ]; then inputs="$inputs $OBJ/$d"; else missing="$missing $d"; fi
	done
	if [ -n "$missing" ] || [ -z "$inputs" ]; then
		skipped="$skipped $name(missing:$missing)"
		continue
	fi
	echo "== $name:$inputs"
	# shellcheck disable=SC2086
	"$tool" check-linked --expected conformance/expected.txt "$name" $inputs || status=1
	checked=$((checked + 1))
done
echo "link-check.sh: $checked linked objects compared${skipped:+; skipped:$skipped}"
exit $status
