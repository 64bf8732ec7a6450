#!/bin/bash
# Measures libbpf-bootstrap's "bootstrap" user space written three ways (docs/comparison.md):
# with libbpf-rs (docs/comparison/libbpf-rs), aya (docs/comparison/aya) and oxbpf
# (docs/comparison/oxbpf, the same behaviour as the other two), plus oxbpf's own
# example as it is today (oxbpf/examples/bootstrap.rs, built as a standalone crate).
# Each is copied into its own cargo project under $COMPARE_DIR (default /var/tmp/compare),
# outside the workspace, its crates fetched by cargo, then built from clean with cargo's
# default release profile, and statically. Prints a markdown table; raw figures go to
# $COMPARE_DIR/results.tsv, build logs beside them.
#
# Usage: [BUILD_RUNS=N] scripts/compare-bootstrap.sh [--run] [--install]
#   --run      also run each binary against the running kernel (root): in a private mount
#              namespace (tracefs mounted there when the machine has none), each prints the
#              events of a few /bin/true and `sh -c 'exit 3'` runs, then gets SIGINT.
#   --install  apt-get the build needs of the libbpf-rs version (clang-19 libelf-dev
#              zlib1g-dev pkg-config) and cloc when missing (root).
#
# Needs: cargo with the x86_64-unknown-linux-musl target, cloc, and for the libbpf-rs
# version clang (CLANG, default clang-19), a C compiler, pkg-config, libelf and zlib
# headers and static libraries. oxbpf's bootstrap example runs on its committed skeleton
# (oxbpf/examples/skel/), copied beside it by `lay_out_oxbpf_example`; the same-behaviour
# oxbpf version generates its skeleton in build.rs (oxbpf-build, no clang).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${COMPARE_DIR:-/var/tmp/compare}
CLANG=${CLANG:-clang-19}
MUSL=x86_64-unknown-linux-musl
GNU=x86_64-unknown-linux-gnu
export CLANG

RUN=0
INSTALL=0
for a in "$@"; do
	case $a in
	--run) RUN=1 ;;
	--install) INSTALL=1 ;;
	--in-namespace) ;; # internal: see run_all
	*) echo "usage: $0 [--run] [--install]" >&2; exit 2 ;;
	esac
done

# The four projects: name, directory, and the user-space files whose lines are counted.
NAMES=(libbpf-rs aya oxbpf oxbpf-example)
declare -A DIR=(
	[libbpf-rs]=$WORK/libbpf-rs-bootstrap
	[aya]=$WORK/aya-bootstrap
	[oxbpf]=$WORK/oxbpf-bootstrap
	[oxbpf-example]=$WORK/oxbpf-example-bootstrap
)
declare -A SOURCES=(
	[libbpf-rs]="src/main.rs build.rs"
	[aya]="src/main.rs"
	[oxbpf]="src/main.rs build.rs"
	[oxbpf-example]="src/main.rs"
)
declare -A BIN=(
	[libbpf-rs]=bootstrap-libbpf-rs
	[aya]=bootstrap-aya
	[oxbpf]=bootstrap-oxbpf
	[oxbpf-example]=bootstrap-oxbpf-example
)

# --- running the binaries (inside a private mount namespace) -------------------------
run_one() { # name binary [cwd]
	local name=$1 bin=$2 cwd=${3:-/}
	echo "### $name: $bin"
	if [ "$name" = oxbpf-example ]; then
		# The example runs /bin/true itself and exits after its exit event (2 s at most).
		(cd "$cwd" && "$bin") 2>&1 | tail -n 20
		return
	fi
	local out
	out=$(mktemp)
	(cd "$cwd" && timeout --preserve-status -s INT 5 "$bin" >"$out" 2>&1; echo "exit status after SIGINT: $?" >>"$out") &
	sleep 2
	/bin/true; /bin/true; sh -c 'exit 3' || true
	wait || true
	# Other processes on the machine show up too: keep the header, ours, and the status.
	grep -E 'TIME|EXEC  true|EXIT  true|/usr/bin/sh|EXIT  sh .*\[3\]|exit status|rror' "$out" | head -n 20 || true
	rm -f "$out"
}

run_all() {
	if [ ! -d /sys/kernel/tracing/events ]; then
		mount -t tracefs none /sys/kernel/tracing
	fi
	run_one libbpf-rs "$WORK/bin/libbpf-rs.static"
	run_one aya "$WORK/bin/aya.static"
	run_one oxbpf "$WORK/bin/oxbpf.static"
	run_one oxbpf-example "$WORK/bin/oxbpf-example.static" "$ROOT/testdata"
}

if [ "${1:-}" = --in-namespace ]; then
	run_all
	exit 0
fi

# --- what the builds need ---------------------------------------------------------------
need() { # command package
	if ! command -v "$1" >/dev/null 2>&1; then
		MISSING="$MISSING $2"
	fi
}
MISSING=""
need cloc cloc
need "$CLANG" clang-19
need pkg-config pkg-config
need cc gcc
pkg-config --exists libelf 2>/dev/null || MISSING="$MISSING libelf-dev"
pkg-config --exists zlib 2>/dev/null || MISSING="$MISSING zlib1g-dev"
if [ -n "$MISSING" ]; then
	if [ "$INSTALL" = 1 ]; then
		apt-get update
		# shellcheck disable=SC2086
		apt-get install -y $MISSING
	else
		echo "missing:$MISSING (apt-get install -y$MISSING, or run with --install)" >&2
		exit 1
	fi
fi
if ! rustup target list --installed 2>/dev/null | grep -qx "$MUSL"; then
	echo "the $MUSL Rust target is not installed (rustup target add $MUSL)" >&2
	exit 1
fi

# --- laying out the projects --------------------------------------------------------------
lay_out() { # name source-dir
	rm -rf "${DIR[$1]}"
	mkdir -p "${DIR[$1]}"
	cp -r "$2"/. "${DIR[$1]}"/
}

lay_out libbpf-rs "$ROOT/docs/comparison/libbpf-rs"
mkdir -p "${DIR[libbpf-rs]}/src/bpf"
cp "$ROOT/testdata/bootstrap.bpf.c" "$ROOT/testdata/include/vmlinux.h" "${DIR[libbpf-rs]}/src/bpf/"

lay_out aya "$ROOT/docs/comparison/aya"
cp "$ROOT/testdata/bootstrap.bpf.o" "${DIR[aya]}/src/"

lay_out oxbpf "$ROOT/docs/comparison/oxbpf"
cp "$ROOT/testdata/bootstrap.bpf.o" "${DIR[oxbpf]}/src/"
sed -i "s|path = \"../../../oxbpf|path = \"$ROOT/oxbpf|" "${DIR[oxbpf]}/Cargo.toml"

lay_out_oxbpf_example() {
	local d=${DIR[oxbpf-example]}
	rm -rf "$d"
	mkdir -p "$d/src"
	cp "$ROOT/oxbpf/examples/bootstrap.rs" "$d/src/main.rs"
	cp -r "$ROOT/oxbpf/examples/common" "$d/src/" 2>/dev/null || true
	# Its committed skeleton (generated, not counted, like libbpf-rs's), embedding the
	# object by a path relative to the repository: made absolute here.
	mkdir -p "$d/src/skel"
	sed "s|include_bytes!(\"../../../testdata/|include_bytes!(\"$ROOT/testdata/|" \
		"$ROOT/oxbpf/examples/skel/bootstrap_skel.rs" >"$d/src/skel/bootstrap_skel.rs"
	cat >"$d/Cargo.toml" <<-EOF
		# oxbpf/examples/bootstrap.rs as a standalone binary (scripts/compare-bootstrap.sh).
		[package]
		name = "bootstrap-oxbpf-example"
		version = "0.1.0"
		edition = "2024"
		publish = false

		[dependencies]
		oxbpf = { path = "$ROOT/oxbpf" }

		[workspace]
	EOF
}
lay_out_oxbpf_example

mkdir -p "$WORK/bin" "$WORK/logs"
RESULTS=$WORK/results.tsv
: >"$RESULTS"
put() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RESULTS"; }
get() { awk -F'\t' -v n="$1" -v k="$2" '$1 == n && $2 == k { print $3 }' "$RESULTS"; }

# Extra environment of each build: the libbpf-rs one needs clang; its static build links
# Debian's libelf.a and libz.a (libbpf-sys's `static` feature) into a static-pie glibc
# binary. musl is not possible for it here: libbpf-sys's `vendored` feature builds elfutils,
# whose configure needs argp, fts and obstack, which musl lacks and Debian ships no musl
# build of.
static_build() { # name target-dir log
	local name=$1 tdir=$2 log=$3
	case $name in
	libbpf-rs)
		LIBBPF_SYS_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu RUSTFLAGS="-C target-feature=+crt-static" \
			cargo build --release --offline --features static --target "$GNU" --target-dir "$tdir" >"$log" 2>&1
		echo "$tdir/$GNU/release"
		;;
	*)
		cargo build --release --offline --target "$MUSL" --target-dir "$tdir" >"$log" 2>&1
		echo "$tdir/$MUSL/release"
		;;
	esac
}

# Clean builds are timed BUILD_RUNS times (default 2) and the fastest kept: other builds
# on the machine slow some runs down.
BUILD_RUNS=${BUILD_RUNS:-2}
min() { if [ -z "$1" ] || [ "$2" -lt "$1" ]; then echo "$2"; else echo "$1"; fi; }
seconds_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }'; }

for name in "${NAMES[@]}"; do
	d=${DIR[$name]}
	echo "== $name ($d)" >&2
	cd "$d"
	cargo fetch -q # downloads are not part of the build time
	# Lines of code: cloc's "code" column (no blank, no comment lines), Rust files.
	loc=0
	for f in ${SOURCES[$name]}; do
		n=$(cloc --quiet --csv "$f" | awk -F, '$2 == "Rust" { print $5 }')
		put "$name" "loc:$f" "$n"
		loc=$((loc + n))
	done
	put "$name" loc "$loc"
	# `unsafe` in the user space (blocks, impls, fns; comment lines left out).
	put "$name" unsafe "$(cat ${SOURCES[$name]} | grep -v '^ *//' | grep -ow 'unsafe' | wc -l)"
	# Crates: the package itself not counted; `(*)` marks a crate already listed.
	crates() { cargo tree --prefix none -e "$1" | sed 's/ (\*)$//' | sort -u | grep -vc "^${BIN[$name]} "; }
	normal=$(crates normal)
	all=$(crates normal,build)
	put "$name" crates-normal "$normal"
	put "$name" crates-build-only "$((all - normal))"
	if cargo tree -e normal,build -i cc >/dev/null 2>&1; then cc_crate=yes; else cc_crate=no; fi
	put "$name" compiles-c "$cc_crate"

	tdir=$WORK/target/$name
	best=""
	for _ in $(seq "$BUILD_RUNS"); do
		rm -rf "$tdir"
		t0=$(date +%s.%N)
		cargo build --release --offline --target-dir "$tdir" >"$WORK/logs/$name.release.log" 2>&1
		best=$(min "$best" "$(seconds_since "$t0")")
	done
	put "$name" build-seconds "$best"
	put "$name" crates-compiled "$(grep -c '^ *Compiling ' "$WORK/logs/$name.release.log")"
	strip -o "$WORK/bin/$name" "$tdir/release/${BIN[$name]}"
	put "$name" size "$(stat -c %s "$WORK/bin/$name")"
	put "$name" needed "$(readelf -d "$WORK/bin/$name" | awk -F'[][]' '/NEEDED/ { printf "%s ", $2 }')"

	stdir=$WORK/target/$name-static
	best=""
	for _ in $(seq "$BUILD_RUNS"); do
		rm -rf "$stdir"
		t0=$(date +%s.%N)
		out=$(static_build "$name" "$stdir" "$WORK/logs/$name.static.log")
		best=$(min "$best" "$(seconds_since "$t0")")
	done
	put "$name" static-build-seconds "$best"
	strip -o "$WORK/bin/$name.static" "$out/${BIN[$name]}"
	put "$name" static-size "$(stat -c %s "$WORK/bin/$name.static")"
	put "$name" static-kind "$(file -b "$WORK/bin/$name.static" | grep -o 'static[-a-z]* linked' || echo dynamic)"
done
cd "$ROOT"

kib() { awk -v b="$1" 'BEGIN { printf "%.0f KiB", b / 1024 }'; }
echo
echo "| | libbpf-rs | aya | oxbpf (same behaviour) | oxbpf example as is |"
echo "|---|---|---|---|---|"
row() { # label key [formatter]
	local label=$1 key=$2 fmt=${3:-} line="| $1 |"
	for name in "${NAMES[@]}"; do
		v=$(get "$name" "$key")
		[ -n "$fmt" ] && v=$($fmt "$v")
		line="$line $v |"
	done
	echo "$line"
}
row "user-space lines (cloc code)" loc
row "  of which build.rs" "loc:build.rs"
row "\`unsafe\` in the user space" unsafe
row "crates at run time (-e normal)" crates-normal
row "crates only at build time" crates-build-only
row "crates compiled, clean release build" crates-compiled
row "C compiled by a build script (cc crate)" compiles-c
row "clean release build, s" build-seconds
row "release binary, stripped" size kib
row "shared libraries needed" needed
row "static binary, stripped" static-size kib
row "static build" static-kind
row "clean static build, s" static-build-seconds
echo
echo "oxbpf $(git -C "$ROOT" rev-parse --short HEAD); $(rustc --version); $(nproc) cores; builds timed best of $BUILD_RUNS; raw figures: $RESULTS"

if [ "$RUN" = 1 ]; then
	echo
	unshare -m bash "$0" --in-namespace
fi
