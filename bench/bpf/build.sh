#!/bin/sh
# Rebuilds the benchmark's BPF objects (committed; run after changing a source).
set -eu
cd "$(dirname "$0")"
MULTIARCH=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
for src in *.bpf.c; do
	clang-19 -O2 -g -Wall -Werror -I"/usr/include/$MULTIARCH" --target=bpfel -c "$src" -o "${src%.c}.o"
done
