#!/bin/sh
# Rebuild every testdata object from its C source with Debian's clang-19, the way
# libbpf-style projects build them (-O2 -g --target=bpf). The objects are committed, so
# tests never need clang; run this after changing a source.
#
# Objects:   NAME.bpf.c -> NAME.bpf.o     (little-endian, what the kernel here runs)
#            link/NAME.bpf.c -> link/NAME.bpf.o (inputs of the static linker's tests)
#            skel/dup_{a,b}.bpf.c -> skel_dup.bpf.o (linked with `oxbpf link`)
#            NAME.bpf.c -> NAME.bpfeb.o   (big-endian, for the listed parser tests only)
#            NAME.bpf.c -> arm64/NAME.bpf.o (__TARGET_ARCH_arm64, for the listed
#                                            architecture-dependent sources)
set -eu
cd "$(dirname "$0")"

CLANG=${CLANG:-clang-19}
if ! command -v "$CLANG" >/dev/null 2>&1 || [ ! -f /usr/include/bpf/bpf_helpers.h ]; then
	echo "build.sh: installing $CLANG and the libbpf headers (libbpf-dev; headers only, never linked)"
	if [ "$(id -u)" -ne 0 ]; then
		echo "build.sh: need root to install packages: apt-get install -y clang-19 llvm-19 libbpf-dev" >&2
		exit 1
	fi
	apt-get update
	apt-get install -y clang-19 llvm-19 libbpf-dev
fi

# The classic examples include the kernel's UAPI headers (linux/bpf.h, linux/ip.h...),
# which need the multiarch asm/ directory that --target=bpf does not search by itself.
MULTIARCH=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
CFLAGS="-O2 -g -Wall -Werror -D__TARGET_ARCH_x86 -Iinclude -I/usr/include/$MULTIARCH"

# Sources built in both byte orders (the others use x86-only headers or are LE-only).
BIG_ENDIAN="multi_prog maps_btf"

for src in *.bpf.c; do
	name=${src%.bpf.c}
	echo "  CLANG  $name.bpf.o"
	$CLANG $CFLAGS --target=bpfel -c "$src" -o "$name.bpf.o"
	case " $BIG_ENDIAN " in
	*" $name "*)
		echo "  CLANG  $name.bpfeb.o"
		$CLANG $CFLAGS --target=bpfeb -c "$src" -o "$name.bpfeb.o"
		;;
	esac
done

# The objects whose code depends on the target architecture (bpf_tracing.h's PT_REGS
# macros, usdt.bpf.h's PT_REGS_IP, the syscall numbers and functions of include/arch.h)
# again for arm64, as arm64/NAME.bpf.o: the tests built for aarch64 load these instead.
ARCH_DEPENDENT="attach progtypes_trace usdt"
ARM64_CFLAGS=$(echo "$CFLAGS" | sed 's/-D__TARGET_ARCH_x86/-D__TARGET_ARCH_arm64/')
mkdir -p arm64
for name in $ARCH_DEPENDENT; do
	echo "  CLANG  arm64/$name.bpf.o"
	$CLANG $ARM64_CFLAGS --target=bpfel -c "$name.bpf.c" -o "arm64/$name.bpf.o"
done

# Halves of programs for the static linker (oxbpf link): link/NAME.bpf.c -> .bpf.o; the
# tests link them (loader/tests/it/link.rs, obj/src/link/tests.rs).
for src in link/*.bpf.c; do
	name=${src%.bpf.c}
	echo "  CLANG  $name.bpf.o"
	$CLANG $CFLAGS --target=bpfel -c "$src" -o "$name.bpf.o"
done

# Halves of skel_dup.bpf.o, linked by oxbpf's own static linker (two different `struct
# config` in one object, for the skeleton generator's naming; oxbpf-skel-tests).
for src in skel/*.bpf.c; do
	name=${src%.bpf.c}
	echo "  CLANG  $name.bpf.o"
	$CLANG $CFLAGS --target=bpfel -c "$src" -o "$name.bpf.o"
done
echo "  LINK   skel_dup.bpf.o"
cargo run -q -p oxbpf-cli -- link skel_dup.bpf.o skel/dup_a.bpf.o skel/dup_b.bpf.o >/dev/null

# usdt.bpf.c again with libbpf 1.7's usdt.bpf.h, whose argument specs are 24 bytes (with
# scale-index-base arguments) where Debian's libbpf 1.1 has 16: the loader writes specs
# in the layout the object was built with. The header comes from a kernel source tree's
# tools/lib/bpf (LIBBPF_SRC; Debian's linux-source-6.12 has it); the rest from Debian's.
LIBBPF_SRC=${LIBBPF_SRC:-/var/tmp/oxbpf-selftests/linux-source-6.12/tools/lib/bpf}
if [ -f "$LIBBPF_SRC/usdt.bpf.h" ]; then
	echo "  CLANG  usdt_libbpf17.bpf.o"
	inc=$(mktemp -d)
	mkdir "$inc/bpf"
	cp "$LIBBPF_SRC/usdt.bpf.h" "$inc/bpf/"
	$CLANG $CFLAGS -I"$inc" -I/usr/include/bpf --target=bpfel -c usdt.bpf.c -o usdt_libbpf17.bpf.o
	echo "  CLANG  arm64/usdt_libbpf17.bpf.o"
	$CLANG $ARM64_CFLAGS -I"$inc" -I/usr/include/bpf --target=bpfel -c usdt.bpf.c -o arm64/usdt_libbpf17.bpf.o
	rm -rf "$inc"
else
	echo "build.sh: no $LIBBPF_SRC/usdt.bpf.h: usdt_libbpf17.bpf.o kept as committed" >&2
fi

# Target BTFs for CO-RE tests: types only, kept as raw BTF (.BTF section).
for src in btf/*.c; do
	name=${src%.c}
	echo "  BTF    $name.btf"
	$CLANG $CFLAGS --target=bpfel -c "$src" -o "$name.tmp.o"
	${OBJCOPY:-llvm-objcopy-19} --dump-section .BTF="$name.btf" "$name.tmp.o" "$name.tmp.o"
	rm -f "$name.tmp.o"
done
