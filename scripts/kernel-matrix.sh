#!/bin/sh
# Runs oxbpf's kernel-facing tests (the loader's `it` test binary) inside other kernels:
# Debian's cloud kernels under qemu with software emulation, one boot per kernel, a
# static test binary in a busybox initramfs. Prints one line per kernel with the
# passed/failed counts, then each failure.
#
#   sudo scripts/kernel-matrix.sh [--arch arm64] [KERNEL...] [-- TEST-FILTER...]
#   sudo scripts/kernel-matrix.sh --conformance [KERNEL...]
#
# --arch arm64 boots Debian's cloud-arm64 kernels under qemu-system-aarch64 (`-M virt
# -cpu max`, software emulation) with the tests cross-built for aarch64-unknown-linux-musl
# (rustup's standard library, linked by the toolchain's rust-lld), an arm64 busybox and
# an arm64 USDT target (gcc-aarch64-linux-gnu). arm64 packages are read through a
# private apt state directory (APT::Architecture=arm64): the host's dpkg architectures
# are not changed.
#
# --conformance runs the differential check against libbpf (oxbpf-conformance) in the
# guests instead of the tests, on testdata and on the selftest objects whose programs
# this machine cannot load (tracing programs without BPF trampolines, kprobes: the
# objects in which the last `scripts/conformance.sh selftests` run saw EPERM), so that
# those are compared where they load.
#
# KERNEL: 5.10, 6.1, 6.12 or newest (the newest trixie-backports kernel); all four by
# default. TEST-FILTER: names passed to the test binary (default: every test; the
# oracle tests that compare with clang, llvm-objdump or bpftool, which the guest lacks,
# skip saying so). Kernels and packages are cached under
# $OXBPF_KERNELS_DIR (default /var/tmp/oxbpf-kernels). Needs root (apt-get). The host's
# apt sources are not touched for foreign suites: bullseye and trixie are read through
# a private apt state directory. qemu 10 comes from bookworm-backports (bookworm's 7.2
# double-faults some 6.12 kernels under TCG), added in a file of its own.
set -eu
cd "$(dirname "$0")/.."
REPO=$(pwd)
WORK=${OXBPF_KERNELS_DIR:-/var/tmp/oxbpf-kernels}
mkdir -p "$WORK"

kernels=""
filter=""
conformance=""
arch=amd64
while [ $# -gt 0 ]; do
	case "$1" in
	--) shift; filter="$*"; break ;;
	--conformance) conformance=1 ;;
	--arch)
		arch=${2:?--arch needs amd64 or arm64}
		shift
		case "$arch" in amd64 | x86_64) arch=amd64 ;; arm64 | aarch64) arch=arm64 ;;
		*) echo "kernel-matrix: --arch $arch: amd64 or arm64" >&2; exit 2 ;; esac ;;
	*) kernels="$kernels $1" ;;
	esac
	shift
done
[ -n "$kernels" ] || kernels="5.10 6.1 6.12 newest"
if [ -n "$conformance" ] && [ "$arch" != amd64 ]; then
	# The check links libbpf (glibc, libelf, zlib) for the host: no arm64 build of it.
	echo "kernel-matrix: --conformance runs on amd64 kernels only" >&2
	exit 2
fi
# Where each kernel is unpacked: k-NAME for amd64 (as before), k-arm64-NAME for arm64.
kdir() { if [ "$arch" = amd64 ]; then echo "$WORK/k-$1"; else echo "$WORK/k-$arch-$1"; fi; }
# ...and the file naming its vmlinuz.
vmfile() { if [ "$arch" = amd64 ]; then echo "$WORK/vmlinuz-$1"; else echo "$WORK/vmlinuz-$arch-$1"; fi; }

log() { echo "kernel-matrix: $*" >&2; }

# --- host packages -------------------------------------------------------------------
case "$arch" in
amd64) qemu=qemu-system-x86_64 qemu_pkg=qemu-system-x86 ;;
arm64) qemu=qemu-system-aarch64 qemu_pkg=qemu-system-arm ;;
esac
need_qemu() {
	$qemu --version 2>/dev/null | grep -q "version 1[0-9]" && return
	log "installing $qemu_pkg from bookworm-backports, busybox-static, cpio"
	cat > /etc/apt/sources.list.d/oxbpf-bookworm-backports.sources <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports "$qemu_pkg" >&2
}
need_qemu
command -v busybox >/dev/null && command -v cpio >/dev/null ||
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static cpio >&2

# --- apt for a suite the host does not list -------------------------------------------
# private_apt SUITE URI: apt options reading only that suite (for $arch when not the
# host's amd64), state under $WORK.
private_apt() {
	dir="$WORK/apt-$1"
	archopt=""
	if [ "$arch" != amd64 ]; then
		dir="$WORK/apt-$arch-$1"
		archopt="-o APT::Architecture=$arch -o APT::Architectures::=$arch"
	fi
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	touch "$dir/status"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $2 $1 main" > "$dir/sources.list"
	echo "$archopt -o Dir::State::Lists=$dir/lists -o Dir::Etc::SourceList=$dir/sources.list -o Dir::Etc::SourceParts=/dev/null -o Dir::Cache=$dir/cache -o Dir::State::Status=$dir/status"
}

# fetch NAME: unpacks the kernel NAME under $WORK/k-NAME and prints its vmlinuz path.
fetch() {
	name=$1
	dest=$(kdir "$name")
	found=$(find "$dest" -name 'vmlinuz*' 2>/dev/null | head -1)
	mods=$(find "$dest" -path '*/modules/*/kernel' -type d 2>/dev/null | head -1)
	if [ -n "$found" ] && [ -n "$mods" ]; then echo "$found"; return; fi
	meta="linux-image-cloud-$arch"
	update=1
	case "$arch/$name" in
	amd64/6.1) opts="" update=""; meta="$meta=$(apt-cache madison "$meta" | awk '$3 ~ /^6\.1\./ {print $3; exit}')" ;;
	amd64/6.12) opts="-t bookworm-backports" update="" ;;
	arm64/6.1) opts=$(private_apt bookworm-security http://deb.debian.org/debian-security) ;;
	arm64/6.12) opts=$(private_apt bookworm-backports http://deb.debian.org/debian) ;;
	*/5.10) opts=$(private_apt bullseye-security http://deb.debian.org/debian-security) ;;
	*/newest) opts=$(private_apt trixie-backports http://deb.debian.org/debian) ;;
	*) log "unknown kernel $name (5.10, 6.1, 6.12, newest)"; return 1 ;;
	esac
	if [ -n "$update" ]; then
		# shellcheck disable=SC2086
		apt-get $opts update -qq >&2
	fi
	# shellcheck disable=SC2086
	pkg=$(apt-cache $opts depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	[ -n "$pkg" ] || { log "$name: no kernel package found"; return 1; }
	log "$name: downloading $pkg"
	mkdir -p "$dest"
	(cd "$WORK" && rm -f ./*.deb &&
		# shellcheck disable=SC2086
		apt-get $opts download "$pkg" >&2 &&
		dpkg-deb -x ./*.deb "$dest") || { log "$name: cannot download $pkg"; return 1; }
	# From 7.x the image package is a stub: the kernel is in linux-binary-VER, its
	# config in linux-base-VER (what the tests expect is read from it), its modules
	# (veth, sch_ingress, cls_bpf) in linux-modules-VER. Each fetched if missing.
	found=$(find "$dest" -name 'vmlinuz*' | head -1)
	for part in binary base modules; do
		case $part in
		binary) [ -z "$found" ] || continue ;;
		base) [ -z "$(find "$dest" -name 'config*' | head -1)" ] || continue ;;
		modules) [ -z "$(find "$dest" -path '*/modules/*/kernel' -type d | head -1)" ] || continue ;;
		esac
		p=$(echo "$pkg" | sed "s/linux-image-/linux-$part-/")
		# shellcheck disable=SC2086
		(cd "$WORK" && rm -f ./*.deb && apt-get $opts download "$p" >&2 && dpkg-deb -x ./*.deb "$dest") ||
			log "$name: no $p"
	done
	found=$(find "$dest" -name 'vmlinuz*' | head -1)
	echo "$found"
}

# --- the kernels, first: the initramfs carries each one's modules --------------------------
for k in $kernels; do
	fetch "$k" > "$(vmfile "$k")" || rm -f "$(vmfile "$k")"
done

# --- the payload: the loader's kernel tests, static (or the differential check) -----------
if [ -n "$conformance" ]; then
	cargo build --release -q -p oxbpf-conformance
	tests="$REPO/target/release/oxbpf-conformance"
elif [ "$arch" = arm64 ]; then
	# Cross-built as scripts/build-static.sh --target aarch64 builds oxbpf: rustup's
	# aarch64 musl standard library, the toolchain's rust-lld, no C cross-compiler.
	target="aarch64-unknown-linux-musl"
	rustup target list --installed 2>/dev/null | grep -qx "$target" || rustup target add "$target" >&2
	cross="-C linker=rust-lld -C linker-flavor=ld.lld"
	tests=$(RUSTFLAGS="$cross" cargo test -p oxbpf-loader --test it --no-run --target "$target" \
		--message-format=json 2>/dev/null | grep -o '"executable":"[^"]*"' | tail -1 | cut -d'"' -f4)
	RUSTFLAGS="$cross" cargo build -q -p oxbpf-cli --target "$target" || log "could not build the arm64 oxbpf"
	cli="$REPO/target/$target/debug/oxbpf"
else
target="x86_64-unknown-linux-musl"
rustup target list --installed 2>/dev/null | grep -qx "$target" ||
	rustup target add "$target" >/dev/null 2>&1 || target=""
if [ -n "$target" ]; then
	tests=$(cargo test -p oxbpf-loader --test it --no-run --target "$target" --message-format=json 2>/dev/null |
		grep -o '"executable":"[^"]*"' | tail -1 | cut -d'"' -f4)
else
	target="x86_64-unknown-linux-gnu"
	tests=$(RUSTFLAGS="-C target-feature=+crt-static" cargo test -p oxbpf-loader --test it --no-run \
		--target "$target" --message-format=json 2>/dev/null |
		grep -o '"executable":"[^"]*"' | tail -1 | cut -d'"' -f4)
fi
# The command line too, static: tests that run it as a user does find it through
# OXBPF_CLI (the sched_ext test runs `oxbpf run` until SIGINT).
RUSTFLAGS="-C target-feature=+crt-static" cargo build -q -p oxbpf-cli --target "$target" ||
	log "could not build the static oxbpf"
cli="$REPO/target/$target/debug/oxbpf"
fi
[ -x "$tests" ] || { log "could not build the test binary"; exit 1; }

# The initramfs: busybox, the test binary, the testdata where the binary looks for it
# (its compile-time source path), and an /init that mounts what the tests use.
root="$WORK/initramfs-$arch"
rm -rf "$root"
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$REPO/loader"
mkdir -p "$root$REPO/loader"
if [ "$arch" = amd64 ]; then
	cp "$(command -v busybox)" "$root/bin/busybox"
else
	# Debian's static busybox for arm64, from bookworm through the private apt state.
	bb="$WORK/busybox-$arch"
	if [ ! -x "$bb" ]; then
		opts=$(private_apt bookworm http://deb.debian.org/debian)
		# shellcheck disable=SC2086
		apt-get $opts update -qq >&2
		rm -rf "$WORK/bb" && mkdir -p "$WORK/bb"
		# shellcheck disable=SC2086
		(cd "$WORK/bb" && apt-get $opts download busybox-static >&2 && dpkg-deb -x ./*.deb .)
		cp "$WORK/bb/bin/busybox" "$bb"
	fi
	cp "$bb" "$root/bin/busybox"
fi
cp "$tests" "$root/it"
[ -z "$conformance" ] && [ -x "$cli" ] && { strip -o "$root/oxbpf" "$cli" 2>/dev/null || cp "$cli" "$root/oxbpf"; }
# (strip of the host's binutils cannot read an arm64 binary: then it goes in unstripped.)
cp -r "$REPO/testdata" "$root$REPO/testdata"
mkdir -p "$root$REPO/fuzz" "$root/boot"
cp -r "$REPO/fuzz/regressions" "$root$REPO/fuzz/regressions"
# The modules the network tests need (veth pairs, the clsact qdisc, cls_bpf), per kernel
# release, decompressed: the guest loads the ones for the kernel it runs.
for k in $kernels; do for d in "$(kdir "$k")"/lib/modules/* "$(kdir "$k")"/usr/lib/modules/*; do
	[ -d "$d/kernel" ] || continue
	rel=$(basename "$d")
	mkdir -p "$root/modules/$rel"
	for m in veth sch_ingress cls_bpf; do
		f=$(find "$d/kernel" -name "$m.ko*" | head -1)
		case "$f" in
		*.xz) xz -dc "$f" > "$root/modules/$rel/$m.ko" ;;
		*.zst) zstd -dcq "$f" > "$root/modules/$rel/$m.ko" 2>/dev/null || true ;;
		*.ko) cp "$f" "$root/modules/$rel/" ;;
		esac
	done
done; done
# Each kernel's config where libbpf (and oxbpf) look for it, for `.kconfig` externs.
for k in $kernels; do for c in "$(kdir "$k")"/boot/config-* "$(kdir "$k")"/usr/lib/modules/*/config; do
	[ -f "$c" ] || continue
	case "$c" in
	*/boot/config-*) cp "$c" "$root/boot/" ;;
	*) cp "$c" "$root/boot/config-$(basename "$(dirname "$c")")" ;;
	esac
done; done
echo "$filter" > "$root/filter"
# The USDT tests' traced program, static (the guest has no C compiler or libc): the tests
# find it through OXBPF_USDT_TARGET. Needs <sys/sdt.h> (systemtap-sdt-dev).
if [ -z "$conformance" ] && [ "$arch" = amd64 ]; then
	cc -O2 -static "$REPO/testdata/usdt/target.c" "$REPO/testdata/usdt/semaphore.c" \
		-o "$root/usdt_target" 2>"$WORK/usdt.log" ||
		log "no static USDT target (apt-get install systemtap-sdt-dev): $(head -1 "$WORK/usdt.log")"
elif [ -z "$conformance" ]; then
	# arm64: Debian's cross gcc and its arm64 glibc; <sys/sdt.h> is the host's (it picks
	# the probe's operand syntax by the compiler's target), copied alone so the host's
	# other multiarch headers stay out.
	command -v aarch64-linux-gnu-gcc >/dev/null ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc-aarch64-linux-gnu libc6-dev-arm64-cross >&2
	sdt="$WORK/sdt-include"
	mkdir -p "$sdt/sys"
	cp /usr/include/x86_64-linux-gnu/sys/sdt.h /usr/include/x86_64-linux-gnu/sys/sdt-config.h "$sdt/sys/" 2>"$WORK/usdt.log" &&
		aarch64-linux-gnu-gcc -O2 -static -I"$sdt" "$REPO/testdata/usdt/target.c" "$REPO/testdata/usdt/semaphore.c" \
			-o "$root/usdt_target" 2>>"$WORK/usdt.log" ||
		log "no static arm64 USDT target (systemtap-sdt-dev, gcc-aarch64-linux-gnu): $(head -1 "$WORK/usdt.log")"
fi
if [ -n "$conformance" ]; then
	# The check is linked with glibc, libelf and zlib (libbpf): its libraries go in at
	# their paths. The objects: those whose programs the host could not load.
	for lib in $(ldd "$tests" | grep -o '/[^ ]*'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
	mv "$root/it" "$root/conformance"
	cp "$REPO/conformance/expected.txt" "$root/expected.txt"
	# (testdata is found as conformance/../testdata: the directory must exist.)
	mkdir -p "$root/corpus" "$root/sys/fs/bpf" "$root$REPO/conformance"
	results=/var/tmp/oxbpf-conformance/results.tsv
	st=${OXBPF_SELFTESTS_DIR:-/var/tmp/oxbpf-selftests}/obj
	if [ -f "$results" ] && [ -d "$st" ]; then
		awk -F'\t' '$1 == "selftests" && ($4 ~ /Operation not permitted|permission error/) {print $2}' "$results" |
			sort -u | while read -r o; do cp "$st/$o" "$root/corpus/"; done
	fi
	log "conformance: testdata and $(ls "$root/corpus" | wc -l) selftest objects"
fi
# Real-world objects, where the host has them (CI installs both): xdp-tools' objects
# (/usr/lib/x86_64-linux-gnu/bpf, from libxdp1 and xdp-tools) and
# cilium/ebpf's test objects, at their paths, with the dpkg file lists the tests find
# them through. Not libbpf-tools: Debian's build reads tracepoint arguments with the
# prototypes of the kernel it targets (biosnoop's tp_btf/block_rq_insert), and its user
# space picks among variants per kernel; loading every program on every kernel tests
# the tools, not the loader. Its test runs on the host.
for p in xdp-tools libxdp1:amd64 golang-github-cilium-ebpf-dev; do
	list="/var/lib/dpkg/info/$p.list"
	[ -f "$list" ] || continue
	mkdir -p "$root/var/lib/dpkg/info"
	cp "$list" "$root/var/lib/dpkg/info/"
	while read -r f; do
		[ -f "$f" ] && [ ! -L "$f" ] || continue
		mkdir -p "$root$(dirname "$f")"
		cp "$f" "$root$f"
	done < "$list"
done

# features CONFIG: what the kernel of that config has, in the tests' words.
features() {
	f=""
	grep -q '^CONFIG_KPROBES=y' "$1" && f="$f,kprobes"
	grep -q '^CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS=y' "$1" && grep -q '^CONFIG_BPF_JIT=y' "$1" && f="$f,trampolines"
	grep -q '^CONFIG_BPF_LSM=y' "$1" && f="$f,bpf_lsm"
	grep -q '^CONFIG_FPROBE=y' "$1" && f="$f,kprobe_multi"
	grep -q '^CONFIG_SCHED_CLASS_EXT=y' "$1" && f="$f,sched_ext"
	echo "${f#,}"
}
cat > "$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t bpf bpf /sys/fs/bpf
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
mkdir -p /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup
ip link set lo up
for m in /modules/$(uname -r)/*.ko; do [ -f "$m" ] && insmod "$m" 2>/dev/null; done
# What these kernels have, so a test that finds one missing fails instead of skipping.
# (the host reads them from each kernel's config and passes them on the command line).
features=$(sed -n 's/.*oxbpf_features=\([^ ]*\).*/\1/p' /proc/cmdline | tr ',' ' ')
export OXBPF_EXPECT_FEATURES="$features"
[ -x /usdt_target ] && export OXBPF_USDT_TARGET=/usdt_target
[ -x /oxbpf ] && export OXBPF_CLI=/oxbpf
echo "OXBPF-KERNEL $(uname -r)"
echo "OXBPF-BOOTED $(cut -d' ' -f1 /proc/uptime)"
if [ -x /conformance ]; then
	corpora=testdata
	[ -n "$(ls /corpus)" ] && corpora="testdata /corpus"
	/conformance check --jobs 2 --timeout 900 --expected /expected.txt $corpora 2>/tmp/progress
	status=$?
	tail -3 /tmp/progress
	(exit $status)
else
	/it --test-threads=1 $(cat /filter) 2>&1
fi
echo "OXBPF-EXIT $?"
poweroff -f
EOF
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1 > "$WORK/initramfs-$arch.gz")

# --- boot each kernel ----------------------------------------------------------------------
summary=""
failures=""
for k in $kernels; do
	label=$k
	[ "$arch" = amd64 ] || label="$arch $k"
	vmlinuz=$(cat "$(vmfile "$k")" 2>/dev/null) && [ -n "$vmlinuz" ] || {
		summary="$summary
$label: could not fetch the kernel"
		failures="$failures
$label: (no kernel)"
		continue
	}
	out="$WORK/out-$k.txt"
	[ "$arch" = amd64 ] || out="$WORK/out-$arch-$k.txt"
	config=$(find "$(kdir "$k")" \( -name 'config-*' -o -path '*/modules/*/config' \) | head -1)
	feats=$( [ -n "$config" ] && features "$config" || true)
	start=$(date +%s)
	append="panic=-1 quiet lsm=lockdown,capability,yama,apparmor,bpf oxbpf_features=$feats"
	case "$arch" in
	amd64) machine="-M pc" console=ttyS0 ;;
	# pauth-impdef: TCG's cheap pointer-authentication hash instead of QARMA (much faster).
	arm64) machine="-M virt -cpu max,pauth-impdef=on" console=ttyAMA0 ;;
	esac
	# shellcheck disable=SC2086
	timeout 900 $qemu -accel tcg $machine -m 1024 -smp 2 -nodefaults -no-user-config \
		-display none -serial stdio -no-reboot -kernel "$vmlinuz" -initrd "$WORK/initramfs-$arch.gz" \
		-append "console=$console $append" </dev/null > "$out" 2>&1 || true
	secs=$(( $(date +%s) - start ))
	release=$(sed -n 's/^OXBPF-KERNEL //p' "$out" | tr -d '\r')
	booted=$(sed -n 's/^OXBPF-BOOTED //p' "$out" | tr -d '\r')
	result=$(grep -a "^test result:" "$out" | tail -1 | tr -d '\r')
	[ -z "$conformance" ] || result=$(grep -a "differences, .* unexpected" "$out" | tail -1 | tr -d '\r')
	if ! grep -aq "^OXBPF-EXIT" "$out"; then
		summary="$summary
$label: no result (boot failed or hung; see $out) [${secs} s]"
		failures="$failures
$label: (no result)"
		continue
	fi
	summary="$summary
$label ($release; expects: $feats): ${result#test result: } [${secs} s, booted in ${booted:-?} s]"
	# A test that re-runs itself in new namespaces fails twice (inner and outer run).
	failed=$(grep -a '^test [^ ]* \.\.\. FAILED' "$out" | sed 's/^test \([^ ]*\) .*/\1/' | tr -d '\r' | sort -u)
	[ -z "$conformance" ] || failed=$(grep -a '^UNEXPECTED ' "$out" | cut -d' ' -f2-4 | tr ' \r' '/ ')
	grep -aq "^OXBPF-EXIT 0" "$out" || [ -n "$failed" ] || failed="exit-status"
	for f in $failed; do
		failures="$failures
$label: $f"
	done
done
echo "kernel matrix:$summary"
if [ -n "$failures" ]; then
	echo "failures (the guest output is in $WORK/out-KERNEL.txt, out-arm64-KERNEL.txt for arm64):$failures"
	exit 1
fi
