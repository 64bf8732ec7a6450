#!/bin/sh
# Builds the Linux kernel's BPF selftest programs (tools/testing/selftests/bpf/progs/*.c)
# as a corpus of objects for the differential check (scripts/conformance.sh selftests):
# from Debian's linux-source-6.12, with clang-19 and the selftests Makefile's flags for
# the default test_progs flavour, against the running kernel's vmlinux.h, plus the
# multi-file objects the Makefile links with `bpftool gen object` (its LINKED_SKELS).
#
#   sudo scripts/selftests-corpus.sh           build (or bring up to date) the corpus
#   sudo scripts/selftests-corpus.sh --clean   remove it
#   sudo scripts/selftests-corpus.sh --help    this text
#
# Everything lives under $OXBPF_SELFTESTS_DIR (default /var/tmp/oxbpf-selftests): the
# sources and objects are derived, never committed. Objects go to obj/ (obj/MANIFEST
# lists them; NAME.bpf.o per source, SKEL.linked.bpf.o per linked object). A source that
# does not compile against this kernel's vmlinux.h is skipped and listed with its first
# error in compile-failures.txt, a failed link in link-failures.txt. $OXBPF_BPF_LINKER
# replaces `bpftool gen object` (same arguments: OUTPUT INPUT...). Installs clang-19,
# bpftool and python3 if missing.
set -eu
SELF=$(readlink -f "$0")
DIR=${OXBPF_SELFTESTS_DIR:-/var/tmp/oxbpf-selftests}
VERSION=6.12

# One source, as CLANG_BPF_BUILD_RULE builds it: the flavour's flags, then the file's
# own `progs/NAME.c-CFLAGS := ...` from the Makefile. (Its `$(OUTPUT)/NAME.o: BPF_CFLAGS
# += -fno-inline` lines are dead in 6.12: they name .o, not .bpf.o targets, and
# TRUNNER_BPF_CFLAGS is expanded with :=. Not applied; the objects come out the same.)
compile_one() {
	src=$1
	name=$(basename "$src" .c)
	out="$OBJ/$name.bpf.o"
	# Up to date: newer than its source and than the flags/vmlinux.h stamp.
	[ "$out" -nt "$src" ] && [ "$out" -nt "$DIR/inputs" ] && return 0
	extra=$(sed -n "s|^progs/$name\.c-CFLAGS := ||p" "$ST/Makefile")
	cd "$ST" # relative progs/NAME.c, as make passes it (file names in DWARF and errors)
	# shellcheck disable=SC2086
	if clang-19 $CFLAGS $extra -O2 --target=bpf -c "progs/$name.c" -mcpu=v3 \
		-o "$out.tmp" 2> "$out.err"; then
		mv "$out.tmp" "$out"
	else
		rm -f "$out" "$out.tmp"
		err=$(grep -m1 'error:' "$out.err" || tail -n1 "$out.err")
		echo "$name: $err" >> "$DIR/compile-failures.txt.new"
	fi
	rm -f "$out.err"
}

case "${1:-}" in
--one) compile_one "$2"; exit 0 ;; # one source, for the parallel run below
--clean) rm -rf "$DIR"; exit 0 ;;
-h|--help) sed -n '2,18p' "$SELF" | sed 's/^# \{0,1\}//'; exit 0 ;;
"") ;;
*) echo "usage: $0 [--clean|--help]" >&2; exit 2 ;;
esac
started=$(date +%s)
log() { echo "selftests-corpus: $*" >&2; }

export DEBIAN_FRONTEND=noninteractive
for tool in clang-19 bpftool python3; do
	command -v "$tool" >/dev/null 2>&1 && continue
	case $tool in clang-19) pkg="clang-19 llvm-19" ;; *) pkg=$tool ;; esac
	log "installing $pkg"
	apt-get update -qq && apt-get install -y -qq $pkg >/dev/null </dev/null
done

mkdir -p "$DIR"
cd "$DIR"
SRC="$DIR/linux-source-$VERSION"
ST="$SRC/tools/testing/selftests/bpf"
# The sources: only what the programs are built from. tools/include/uapi is the
# Makefile's $(APIDIR); tools/include also serves progs' "../../../include/linux/filter.h";
# bpf_doc.py generates libbpf's bpf_helper_defs.h. The stamp marks a finished extraction.
if [ ! -f "$SRC/.extracted" ]; then
	deb=$(ls -t linux-source-"$VERSION"_*.deb 2>/dev/null | head -n1)
	if [ -z "$deb" ]; then
		log "downloading linux-source-$VERSION"
		apt-get download "linux-source-$VERSION" </dev/null >/dev/null 2>&1 || {
			apt-get update -qq </dev/null
			apt-get download "linux-source-$VERSION" </dev/null >/dev/null
		}
		deb=$(ls -t linux-source-"$VERSION"_*.deb | head -n1)
	fi
	log "extracting from $deb: tools/testing/selftests/bpf, tools/lib/bpf, tools/include, scripts/bpf_doc.py"
	rm -rf "$SRC"
	dpkg-deb --fsys-tarfile "$deb" |
		tar -xO "./usr/src/linux-source-$VERSION.tar.xz" |
		tar -xJ --wildcards "linux-source-$VERSION/tools/testing/selftests/bpf/*" \
			"linux-source-$VERSION/tools/lib/bpf/*" "linux-source-$VERSION/tools/include/*" \
			"linux-source-$VERSION/scripts/bpf_doc.py"
	touch "$SRC/.extracted"
fi

# The Makefile's $(INCLUDE_DIR): libbpf's installed headers of the same tree (its
# SRC_HDRS, and bpf_helper_defs.h generated as tools/lib/bpf/Makefile does, from
# tools/include/uapi/linux/bpf.h), and vmlinux.h of the running kernel.
INC="$DIR/include"
if [ ! -f "$INC/bpf/bpf_helper_defs.h" ]; then
	mkdir -p "$INC/bpf"
	for h in bpf.h libbpf.h btf.h libbpf_common.h libbpf_legacy.h bpf_helpers.h \
		bpf_tracing.h bpf_endian.h bpf_core_read.h skel_internal.h libbpf_version.h usdt.bpf.h; do
		cp "$SRC/tools/lib/bpf/$h" "$INC/bpf/"
	done
	python3 "$SRC/scripts/bpf_doc.py" --header --file "$SRC/tools/include/uapi/linux/bpf.h" \
		> "$INC/bpf/bpf_helper_defs.h.tmp"
	mv "$INC/bpf/bpf_helper_defs.h.tmp" "$INC/bpf/bpf_helper_defs.h"
fi
# Replaced only when the kernel's BTF changed, so a re-run does not rebuild everything.
bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$INC/vmlinux.h.tmp"
if cmp -s "$INC/vmlinux.h.tmp" "$INC/vmlinux.h"; then
	rm "$INC/vmlinux.h.tmp"
else
	mv "$INC/vmlinux.h.tmp" "$INC/vmlinux.h"
fi

# TRUNNER_BPF_CFLAGS of test_progs: BPF_CFLAGS, CLANG_CFLAGS (clang's system include dirs
# as -idirafter) and -DENABLE_ATOMICS_TESTS. Its -I$(OUTPUT)/../usr/include is left out:
# nothing in 6.12 fills tools/testing/selftests/usr/include, so uapi headers missing
# from tools/include/uapi come from the system's (Debian's linux-libc-dev), there as here.
sys_includes=$(clang-19 -v -E - </dev/null 2>&1 |
	sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }' | tr '\n' ' ')
CFLAGS="-g -Wall -Werror -D__TARGET_ARCH_x86 -mlittle-endian -I$INC -I$ST \
-I$SRC/tools/include/uapi -Wno-compare-distinct-pointer-types $sys_includes -DENABLE_ATOMICS_TESTS"
# Objects older than this stamp are rebuilt: it changes with the flags, clang or vmlinux.h.
{ clang-19 --version | head -n1; echo "$CFLAGS"; cksum < "$INC/vmlinux.h"; } > inputs.new
if cmp -s inputs.new inputs; then rm inputs.new; else mv inputs.new inputs; fi

OBJ="$DIR/obj"
mkdir -p "$OBJ"
: > compile-failures.txt.new
export CFLAGS ST OBJ DIR
total=$(ls "$ST"/progs/*.c | wc -l)
log "compiling $total sources (those not up to date), 2 at a time"
# Failed sources have no object, so they are retried, and listed anew, on every run.
ls "$ST"/progs/*.c | xargs -P2 -n1 sh "$SELF" --one
sort compile-failures.txt.new > compile-failures.txt
rm compile-failures.txt.new

# LINKED_SKELS, each as the Makefile links it: `gen object` of its -deps in order
# (linked1), twice more (linked2, linked3), linked2 and linked3 must be identical; the
# final linked3 is kept as SKEL.linked.bpf.o. Relinked on every run (seconds): the
# linker may differ from the last run's (scripts/conformance.sh passes libbpf 1.7's
# through `oxbpf-conformance link`; Debian's bpftool has libbpf 1.1's linker).
LINKER=${OXBPF_BPF_LINKER:-bpftool gen object}
flat=$(sed -e ':a' -e '/\\$/{N; s/\\\n/ /; ba' -e '}' "$ST/Makefile")
skels=$(printf '%s\n' "$flat" | sed -n 's/^LINKED_SKELS := //p')
tmp=$(mktemp -d "$DIR/link.XXXXXX") # intermediates out of obj/, which is scanned
: > link-failures.txt
for skel in $skels; do
	name=${skel%.skel.h}
	inputs=""
	for d in $(printf '%s\n' "$flat" | sed -n "s/^$name\.skel\.h-deps := //p"); do
		inputs="$inputs $OBJ/$d"
	done
	out="$OBJ/$name.linked.bpf.o"
	rm -f "$out"
	# shellcheck disable=SC2086
	if $LINKER "$tmp/$name.linked1.o" $inputs 2> "$tmp/err" &&
		$LINKER "$tmp/$name.linked2.o" "$tmp/$name.linked1.o" 2> "$tmp/err" &&
		$LINKER "$tmp/$name.linked3.o" "$tmp/$name.linked2.o" 2> "$tmp/err"; then
		if cmp -s "$tmp/$name.linked2.o" "$tmp/$name.linked3.o"; then
			mv "$tmp/$name.linked3.o" "$out"
		else
			echo "$name: linked2 and linked3 differ (the linker is not idempotent)" >> link-failures.txt
		fi
	else
		err=$(grep -m1 -i 'error' "$tmp/err" || grep -v '^$' "$tmp/err" | tail -n1)
		echo "$name: $err" >> link-failures.txt
	fi
done
rm -rf "$tmp"

(cd "$OBJ" && ls | grep '\.bpf\.o$' | sort > MANIFEST || true)
objects=$(wc -l < "$OBJ/MANIFEST")
failed=$(wc -l < compile-failures.txt)
nlinks=$(echo $skels | wc -w)
linkfail=$(wc -l < link-failures.txt)
log "$total sources found: $((total - failed)) compiled, $failed failed (compile-failures.txt);" \
	"$((nlinks - linkfail)) linked objects built, $linkfail failed (link-failures.txt);" \
	"$objects objects in $OBJ (MANIFEST); $(($(date +%s) - started)) s"
