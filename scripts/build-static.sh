#!/bin/sh
# Builds a fully static, stripped `oxbpf` for small boxes: no shared library, no libelf,
# no zlib, nothing but the kernel. musl when the Rust target for it can be had (the
# smallest binary), static glibc otherwise; the `small` profile (the release profile
# optimized for size). Extra arguments go to cargo (`-p oxbpf-bench-minimal` builds the
# minimal loader too). Prints the path of the binary (under CARGO_TARGET_DIR if set).
set -eu
cd "$(dirname "$0")/.."
arch=$(uname -m)
target="$arch-unknown-linux-musl"
if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
	rustup target add "$target" >/dev/null 2>&1 || target=""
fi
if [ -n "$target" ]; then
	# A static-pie binary relocates itself at start; RELR (`-z pack-relative-relocs`,
	# read by musl >= 1.2.4) stores its ~2000 relative relocations in under 1 KiB
	# instead of 24 bytes each (47 KiB). The binary stays position-independent.
	RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-Wl,-z,pack-relative-relocs" \
		cargo build --profile small --target "$target" -p oxbpf-cli "$@" >&2
else
	target="$arch-unknown-linux-gnu"
	RUSTFLAGS="-C target-feature=+crt-static" \
		cargo build --profile small --target "$target" -p oxbpf-cli "$@" >&2
fi
# Where cargo put it: CARGO_TARGET_DIR when set (relative to the repository, as cargo
# reads it from here), else target/.
echo "${CARGO_TARGET_DIR:-target}/$target/small/oxbpf"
