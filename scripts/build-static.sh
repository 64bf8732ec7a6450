#!/bin/sh
# Builds a fully static, stripped `oxbpf` for small boxes: no shared library, no libelf,
# no zlib, nothing but the kernel. musl when the Rust target for it can be had (the
# smallest binary), static glibc otherwise; the `small` profile (the release profile
# optimized for size). Extra arguments go to cargo (`-p oxbpf-bench-minimal` builds the
# minimal loader too). Prints the path of the binary (under CARGO_TARGET_DIR if set).
#
#   sh scripts/build-static.sh [--target aarch64|x86_64] [--build-std|--stable-std] [CARGO ARGS...]
#
# --target aarch64 cross-builds for arm64 from an x86_64 machine: rustup's
# aarch64-unknown-linux-musl standard library (with its self-contained musl CRT
# objects) linked by the rust-lld that ships with the toolchain, so no C
# cross-compiler, sysroot or Debian arm64 package is needed.
#
# Rust's standard library is rebuilt for size when it can be (cargo's -Zbuild-std with
# std's `optimize_for_size` feature and -Zlocation-detail=none), which needs rustup's
# nightly toolchain with its rust-src component and the musl target (added through
# rustup when missing): the precompiled std is built for speed and carries ~300 KiB the
# smaller build drops (bench/RESULTS.md has both sizes). Panics still print their
# message, without its source location. Where nightly cannot be had, the script says
# so and builds with stable Rust's precompiled std. --build-std insists on the rebuilt
# std (an error without nightly); --stable-std never tries it.
set -eu
cd "$(dirname "$0")/.."
arch=$(uname -m)
build_std=auto
while [ $# -gt 0 ]; do
	case "$1" in
	--target)
		arch=${2:?--target needs aarch64 or x86_64}
		shift 2 ;;
	--build-std)
		build_std=yes
		shift ;;
	--stable-std)
		build_std=no
		shift ;;
	*) break ;;
	esac
done
case "$arch" in
aarch64 | arm64) arch=aarch64 ;;
x86_64 | amd64) arch=x86_64 ;;
*) echo "build-static.sh: --target $arch: aarch64 or x86_64" >&2; exit 2 ;;
esac
target="$arch-unknown-linux-musl"
# Nightly, with the standard library's sources and the musl target's self-contained C
# runtime objects; std is then compiled with the `small` profile like the rest.
toolchain=nightly
if [ "$build_std" != no ] && ! { rustup component add rust-src --toolchain "$toolchain" >/dev/null 2>&1 &&
	rustup target add "$target" --toolchain "$toolchain" >/dev/null 2>&1; }; then
	if [ "$build_std" = yes ]; then
		echo "build-static.sh: --build-std needs rustup's nightly toolchain with rust-src and $target" >&2
		exit 1
	fi
	echo "build-static.sh: no nightly toolchain with rust-src and $target to rebuild std for size; building with stable Rust's std (about 300 KiB larger)" >&2
	build_std=no
fi
if [ "$build_std" != no ]; then
	# -Zlocation-detail=none: a panic's message without its source file and line
	# (~35 KiB of file names and line tables).
	flags="-Zlocation-detail=none -C link-arg=-Wl,-z,pack-relative-relocs"
	if [ "$arch" != "$(uname -m)" ]; then
		flags="-Zlocation-detail=none -C linker=rust-lld -C linker-flavor=ld.lld -C link-arg=-zpack-relative-relocs"
	fi
	RUSTFLAGS="${RUSTFLAGS:-} $flags" cargo "+$toolchain" build --profile small --target "$target" \
		-Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size -p oxbpf-cli "$@" >&2
	echo "${CARGO_TARGET_DIR:-target}/$target/small/oxbpf"
	exit 0
fi
if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
	rustup target add "$target" >/dev/null 2>&1 || target=""
fi
if [ -n "$target" ] && [ "$arch" != "$(uname -m)" ]; then
	# Cross: rust-lld links against the target's self-contained musl.
	RUSTFLAGS="${RUSTFLAGS:-} -C linker=rust-lld -C linker-flavor=ld.lld -C link-arg=-zpack-relative-relocs" \
		cargo build --profile small --target "$target" -p oxbpf-cli "$@" >&2
elif [ -n "$target" ]; then
	# A static-pie binary relocates itself at start; RELR (`-z pack-relative-relocs`,
	# read by musl >= 1.2.4) stores its ~2000 relative relocations in under 1 KiB
	# instead of 24 bytes each (47 KiB). The binary stays position-independent.
	RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-Wl,-z,pack-relative-relocs" \
		cargo build --profile small --target "$target" -p oxbpf-cli "$@" >&2
elif [ "$arch" = "$(uname -m)" ]; then
	target="$arch-unknown-linux-gnu"
	RUSTFLAGS="-C target-feature=+crt-static" \
		cargo build --profile small --target "$target" -p oxbpf-cli "$@" >&2
else
	echo "build-static.sh: no Rust standard library for $arch-unknown-linux-musl (rustup target add failed)" >&2
	exit 1
fi
# Where cargo put it: CARGO_TARGET_DIR when set (relative to the repository, as cargo
# reads it from here), else target/.
echo "${CARGO_TARGET_DIR:-target}/$target/small/oxbpf"
