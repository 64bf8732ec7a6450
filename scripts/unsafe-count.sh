#!/bin/sh
# Counts `unsafe` blocks, functions and impls per Rust file of the library crates
# (issue 17 reports it before and after the sys rework). Usage: scripts/unsafe-count.sh
cd "$(dirname "$0")/.."
for f in $(find uapi obj sys maps prog loader cli -path '*/target' -prune -o -name '*.rs' -print | sort); do
	b=$(grep -o 'unsafe *{' "$f" | wc -l)
	n=$(grep -o 'unsafe fn' "$f" | wc -l)
	i=$(grep -o 'unsafe impl' "$f" | wc -l)
	t=$((b + n + i))
	[ "$t" -gt 0 ] && printf '%-40s blocks %3d  fns %2d  impls %2d\n' "$f" "$b" "$n" "$i"
done
find uapi obj sys maps prog loader cli -path '*/target' -prune -o -name '*.rs' -print | xargs cat | awk '/unsafe *\{/{b++} /unsafe fn/{n++} /unsafe impl/{i++} END{printf "total: blocks %d, fns %d, impls %d\n", b, n, i}'
