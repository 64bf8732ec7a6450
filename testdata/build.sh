#!/bin/sh
# Rebuild every testdata object from its C source with Debian's clang-19, the way
# libbpf-style projects build them (-O2 -g --target=bpf). The objects are committed, so
# tests never need clang; run this after changing a source.
#
# Objects:   NAME.bpf.c -> NAME.bpf.o     (little-endian, what the kernel here runs)
#            NAME.bpf.c -> NAME.bpfeb.o   (big-endian, for the listed parser tests only)
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

# Target BTFs for CO-RE tests: types only, kept as raw BTF (.BTF section).
for src in btf/*.c; do
	name=${src%.c}
	echo "  BTF    $name.btf"
	$CLANG $CFLAGS --target=bpfel -c "$src" -o "$name.tmp.o"
	${OBJCOPY:-llvm-objcopy-19} --dump-section .BTF="$name.btf" "$name.tmp.o" "$name.tmp.o"
	rm -f "$name.tmp.o"
done
