#!/bin/sh
# Builds the Linux kernel's BPF selftest programs (tools/testing/selftests/bpf/progs/*.c)
# as a corpus of objects for the differential check (scripts/conformance.sh selftests):
# from Debian's linux-source-6.12, with clang-19 and the selftests Makefile's flags
# (the default test_progs flavour: -mcpu=v3, -DENABLE_ATOMICS_TESTS, the per-file
# CFLAGS it sets), against the running kernel's vmlinux.h, plus the multi-file objects
# the Makefile links with `bpftool gen object` (LINKED_SKELS).
#
#   sudo scripts/selftests-corpus.sh           build (or bring up to date) the corpus
#   sudo scripts/selftests-corpus.sh --clean   remove it
#
# Everything lives under $OXBPF_SELFTESTS_DIR (default /var/tmp/oxbpf-selftests): the
# sources and objects are derived, never committed. Objects go to obj/ (obj/MANIFEST
# lists them); a source that no longer compiles against this kernel's vmlinux.h is
# skipped and listed with its first error in compile-failures.txt, a link that fails in
# link-failures.txt. Installs clang-19, bpftool and python3 if missing. Linked objects
# are rebuilt on every run.
set -eu
SELF=$(readlink -f "$0")
DIR=${OXBPF_SELFTESTS_DIR:-/var/tmp/oxbpf-selftests}
VERSION=6.12
# One source: its per-file flags (`progs/NAME.c-CFLAGS := ...`, `NAME.o: BPF_CFLAGS +=`)
# read from the Makefile, then clang as CLANG_BPF_BUILD_RULE runs it.
compile_one() {
	src=$1
	name=$(basename "$src" .c)
	out="$OBJ/$name.bpf.o"
	[ "$out" -nt "$src" ] && return 0
	extra=$(sed -n "s|^progs/$name\.c-CFLAGS := ||p; s|^\$(OUTPUT)/$name\.o: BPF_CFLAGS += ||p" "$ST/Makefile")
	# shellcheck disable=SC2086
	if ! clang-19 $CFLAGS $extra -O2 --target=bpf -mcpu=v3 -c "$src" -o "$out.tmp" 2> "$out.err"; then
		echo "$name: $(grep -m1 'error:' "$out.err" | sed "s|^$ST/||")" >> "$DIR/compile-failures.txt.new"
		rm -f "$out.tmp" "$out.err"
		return 0
	fi
	mv "$out.tmp" "$out"
	rm -f "$out.err"
}

case "${1:-}" in
--one) compile_one "$2"; exit 0 ;; # one source, for the parallel run below
--clean) rm -rf "$DIR"; exit 0 ;;
-h|--help) sed -n '2,16p' "$0"; exit 0 ;;
esac
started=$(date +%s)
log() { echo "selftests-corpus: $*" >&2; }

export DEBIAN_FRONTEND=noninteractive
for tool in clang-19 bpftool python3; do
	command -v "$tool" >/dev/null 2>&1 && continue
	case $tool in clang-19) pkg="clang-19 llvm-19" ;; *) pkg=$tool ;; esac
	log "installing $pkg"
	apt-get update -qq && apt-get install -y -qq $pkg >/dev/null
done

mkdir -p "$DIR"
cd "$DIR"
SRC="$DIR/linux-source-$VERSION"
# The sources: only the parts the programs are built from.
if [ ! -d "$SRC/tools/testing/selftests/bpf/progs" ]; then
	ls linux-source-"$VERSION"_*.deb >/dev/null 2>&1 || {
		log "downloading linux-source-$VERSION"
		apt-get download "linux-source-$VERSION" >/dev/null 2>&1
	}
	log "extracting tools/testing/selftests/bpf, tools/lib/bpf, tools/include"
	dpkg-deb --fsys-tarfile linux-source-"$VERSION"_*.deb |
		tar -xO "./usr/src/linux-source-$VERSION.tar.xz" |
		tar -xJ --wildcards "linux-source-$VERSION/tools/testing/selftests/bpf/*" \
			"linux-source-$VERSION/tools/lib/bpf/*" "linux-source-$VERSION/tools/include/*" \
			"linux-source-$VERSION/tools/arch/*" \
			"linux-source-$VERSION/scripts/bpf_doc.py"
fi
ST="$SRC/tools/testing/selftests/bpf"

# What the Makefile's $(INCLUDE_DIR) holds: libbpf's headers of the same tree (with the
# generated bpf_helper_defs.h) and vmlinux.h of the running kernel.
INC="$DIR/include"
if [ ! -f "$INC/vmlinux.h" ] || [ /sys/kernel/btf/vmlinux -nt "$INC/vmlinux.h" ]; then
	mkdir -p "$INC/bpf"
	for h in bpf.h libbpf.h btf.h libbpf_common.h libbpf_legacy.h bpf_helpers.h \
		bpf_tracing.h bpf_endian.h bpf_core_read.h skel_internal.h libbpf_version.h usdt.bpf.h; do
		cp "$SRC/tools/lib/bpf/$h" "$INC/bpf/"
	done
	python3 "$SRC/scripts/bpf_doc.py" --header --file "$SRC/tools/include/uapi/linux/bpf.h" \
		> "$INC/bpf/bpf_helper_defs.h"
	bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$INC/vmlinux.h.tmp"
	mv "$INC/vmlinux.h.tmp" "$INC/vmlinux.h"
fi

# BPF_CFLAGS and CLANG_SYS_INCLUDES as the Makefile computes them. For its
# `make headers_install` output (kernel uapi headers cleaned for user space), the tree's
# tools/include/uapi, then Debian's linux-libc-dev (the raw include/uapi does not compile
# outside the kernel: __force, __attribute_const__).
sys_includes=$(clang-19 -v -E - </dev/null 2>&1 |
	sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')
CFLAGS="-g -Wall -Werror -D__TARGET_ARCH_x86 -mlittle-endian -I$INC -I$ST -I$SRC/tools/include/uapi \
-Wno-compare-distinct-pointer-types $sys_includes -DENABLE_ATOMICS_TESTS"

OBJ="$DIR/obj"
mkdir -p "$OBJ"
: > "$DIR/compile-failures.txt.new"
export CFLAGS ST OBJ DIR
total=$(ls "$ST"/progs/*.c | wc -l)
log "compiling $total sources, 2 at a time"
# Sources already up to date keep their line from the last run.
touch "$DIR/compile-failures.txt"
ls "$ST"/progs/*.c | xargs -P2 -n1 sh "$SELF" --one
# A failure stays listed until its source compiles (its .o then exists).
sort -u "$DIR/compile-failures.txt.new" "$DIR/compile-failures.txt" |
	while IFS= read -r line; do
		[ -f "$OBJ/${line%%:*}.bpf.o" ] || echo "$line"
	done > "$DIR/compile-failures.txt.sorted"
mv "$DIR/compile-failures.txt.sorted" "$DIR/compile-failures.txt"
rm -f "$DIR/compile-failures.txt.new"

# The multi-file objects: `NAME.skel.h-deps := A.bpf.o B.bpf.o ...` for each of
# LINKED_SKELS, linked as the Makefile does (bpftool gen object, the inputs in order).
# $OXBPF_BPF_LINKER (scripts/conformance.sh passes libbpf 1.7's, through
# `oxbpf-conformance link`), else Debian's bpftool, whose libbpf 1.1 linker gets weak
# map overrides wrong.
LINKER=${OXBPF_BPF_LINKER:-bpftool gen object}
: > "$DIR/link-failures.txt"
linked=0
grep -E '^[a-z_0-9]+\.skel\.h-deps := ' "$ST/Makefile" | while read -r skel _ deps; do
	name=${skel%.skel.h-deps}
	set -- $deps
	[ $# -ge 2 ] || continue # one input: nothing is linked
	inputs=""
	for d in "$@"; do inputs="$inputs $OBJ/$d"; done
	out="$OBJ/$name.linked.bpf.o"
	# shellcheck disable=SC2086
	if ! $LINKER "$out" $inputs 2> "$out.err"; then
		echo "$name: $(grep -v '^$' "$out.err" | tail -1)" >> "$DIR/link-failures.txt"
		rm -f "$out"
	fi
	rm -f "$out.err"
done

(cd "$OBJ" && ls ./*.bpf.o | sed 's|^\./||' | sort > MANIFEST)
objects=$(wc -l < "$OBJ/MANIFEST")
failed=$(wc -l < "$DIR/compile-failures.txt")
linkfail=$(wc -l < "$DIR/link-failures.txt")
linked=$(grep -c '\.linked\.bpf\.o$' "$OBJ/MANIFEST" || true)
log "$total sources: $((total - failed)) compiled, $failed do not (compile-failures.txt);" \
	"$linked linked objects built, $linkfail failed (link-failures.txt);" \
	"$objects objects in $OBJ; $(( $(date +%s) - started )) s"
