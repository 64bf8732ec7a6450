#!/bin/sh
# Runs oxbpf's kernel-facing tests (the loader's `it` test binary) inside other kernels:
# Debian's cloud kernels under qemu with software emulation, one boot per kernel, a
# static test binary in a busybox initramfs. Prints one line per kernel with the
# passed/failed counts, then each failure.
#
#   sudo scripts/kernel-matrix.sh [KERNEL...] [-- TEST-FILTER...]
#   sudo scripts/kernel-matrix.sh --conformance [KERNEL...]
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
while [ $# -gt 0 ]; do
	case "$1" in
	--) shift; filter="$*"; break ;;
	--conformance) conformance=1 ;;
	*) kernels="$kernels $1" ;;
	esac
	shift
done
[ -n "$kernels" ] || kernels="5.10 6.1 6.12 newest"

log() { echo "kernel-matrix: $*" >&2; }

# --- host packages -------------------------------------------------------------------
need_qemu() {
	qemu-system-x86_64 --version 2>/dev/null | grep -q "version 1[0-9]" && return
	log "installing qemu from bookworm-backports, busybox-static, cpio"
	cat > /etc/apt/sources.list.d/oxbpf-bookworm-backports.sources <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports qemu-system-x86 >&2
}
need_qemu
command -v busybox >/dev/null && command -v cpio >/dev/null ||
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static cpio >&2

# --- apt for a suite the host does not list -------------------------------------------
# private_apt SUITE URI: an apt-get wrapper reading only that suite, state under $WORK.
private_apt() {
	dir="$WORK/apt-$1"
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $2 $1 main" > "$dir/sources.list"
	echo "-o Dir::State::Lists=$dir/lists -o Dir::Etc::SourceList=$dir/sources.list -o Dir::Etc::SourceParts=/dev/null -o Dir::Cache=$dir/cache -o Dir::State::Status=$dir/status"
}

# fetch NAME: unpacks the kernel NAME under $WORK/k-NAME and prints its vmlinuz path.
fetch() {
	name=$1
	dest="$WORK/k-$name"
	found=$(find "$dest" -name 'vmlinuz*' 2>/dev/null | head -1)
	mods=$(find "$dest" -path '*/modules/*/kernel' -type d 2>/dev/null | head -1)
	if [ -n "$found" ] && [ -n "$mods" ]; then echo "$found"; return; fi
	case "$name" in
	6.1) opts=""; meta="linux-image-cloud-amd64=$(apt-cache madison linux-image-cloud-amd64 | awk '$3 ~ /^6\.1\./ {print $3; exit}')" ;;
	6.12) opts="-t bookworm-backports"; meta="linux-image-cloud-amd64" ;;
	5.10) opts=$(private_apt bullseye-security http://deb.debian.org/debian-security); meta="linux-image-cloud-amd64" ;;
	newest) opts=$(private_apt trixie-backports http://deb.debian.org/debian); meta="linux-image-cloud-amd64" ;;
	*) log "unknown kernel $name (5.10, 6.1, 6.12, newest)"; return 1 ;;
	esac
	case "$name" in 5.10|newest)
		touch "$WORK/apt-$( [ "$name" = 5.10 ] && echo bullseye-security || echo trixie-backports)/status"
		# shellcheck disable=SC2086
		apt-get $opts update -qq >&2 ;;
	esac
	# shellcheck disable=SC2086
	pkg=$(apt-cache $opts depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	[ -n "$pkg" ] || { log "$name: no kernel package found"; return 1; }
	log "$name: downloading $pkg"
	mkdir -p "$dest"
	(cd "$WORK" && rm -f ./*.deb &&
		# shellcheck disable=SC2086
		apt-get $opts download "$pkg" >&2 &&
		dpkg-deb -x ./*.deb "$dest")
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
	fetch "$k" > "$WORK/vmlinuz-$k" || rm -f "$WORK/vmlinuz-$k"
done

# --- the payload: the loader's kernel tests, static (or the differential check) -----------
if [ -n "$conformance" ]; then
	cargo build --release -q -p oxbpf-conformance
	tests="$REPO/target/release/oxbpf-conformance"
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
root="$WORK/initramfs"
rm -rf "$root"
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$REPO/loader"
mkdir -p "$root$REPO/loader"
cp "$(command -v busybox)" "$root/bin/busybox"
cp "$tests" "$root/it"
[ -z "$conformance" ] && [ -x "$cli" ] && { strip -o "$root/oxbpf" "$cli" 2>/dev/null || cp "$cli" "$root/oxbpf"; }
cp -r "$REPO/testdata" "$root$REPO/testdata"
mkdir -p "$root$REPO/fuzz" "$root/boot"
cp -r "$REPO/fuzz/regressions" "$root$REPO/fuzz/regressions"
# The modules the network tests need (veth pairs, the clsact qdisc, cls_bpf), per kernel
# release, decompressed: the guest loads the ones for the kernel it runs.
for d in "$WORK"/k-*/lib/modules/* "$WORK"/k-*/usr/lib/modules/*; do
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
done
# Each kernel's config where libbpf (and oxbpf) look for it, for `.kconfig` externs.
for c in "$WORK"/k-*/boot/config-* "$WORK"/k-*/usr/lib/modules/*/config; do
	[ -f "$c" ] || continue
	case "$c" in
	*/boot/config-*) cp "$c" "$root/boot/" ;;
	*) cp "$c" "$root/boot/config-$(basename "$(dirname "$c")")" ;;
	esac
done
echo "$filter" > "$root/filter"
# The USDT tests' traced program, static (the guest has no C compiler or libc): the tests
# find it through OXBPF_USDT_TARGET. Needs <sys/sdt.h> (systemtap-sdt-dev).
if [ -z "$conformance" ]; then
	cc -O2 -static "$REPO/testdata/usdt/target.c" "$REPO/testdata/usdt/semaphore.c" \
		-o "$root/usdt_target" 2>"$WORK/usdt.log" ||
		log "no static USDT target (apt-get install systemtap-sdt-dev): $(head -1 "$WORK/usdt.log")"
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
(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1 > "$WORK/initramfs.gz")

# --- boot each kernel ----------------------------------------------------------------------
summary=""
failures=""
for k in $kernels; do
	vmlinuz=$(cat "$WORK/vmlinuz-$k" 2>/dev/null) && [ -n "$vmlinuz" ] || {
		summary="$summary
$k: could not fetch the kernel"
		failures="$failures
$k: (no kernel)"
		continue
	}
	out="$WORK/out-$k.txt"
	config=$(find "$WORK/k-$k" \( -name 'config-*' -o -path '*/modules/*/config' \) | head -1)
	feats=$( [ -n "$config" ] && features "$config" || true)
	start=$(date +%s)
	timeout 900 qemu-system-x86_64 -accel tcg -M pc -m 1024 -smp 2 -nodefaults -no-user-config \
		-display none -serial stdio -no-reboot -kernel "$vmlinuz" -initrd "$WORK/initramfs.gz" \
		-append "console=ttyS0 panic=-1 quiet lsm=lockdown,capability,yama,apparmor,bpf oxbpf_features=$feats" \
		</dev/null > "$out" 2>&1 || true
	secs=$(( $(date +%s) - start ))
	release=$(sed -n 's/^OXBPF-KERNEL //p' "$out" | tr -d '\r')
	result=$(grep -a "^test result:" "$out" | tail -1 | tr -d '\r')
	[ -z "$conformance" ] || result=$(grep -a "differences, .* unexpected" "$out" | tail -1 | tr -d '\r')
	if ! grep -aq "^OXBPF-EXIT" "$out"; then
		summary="$summary
$k: no result (boot failed or hung; see $out) [${secs} s]"
		failures="$failures
$k: (no result)"
		continue
	fi
	summary="$summary
$k ($release; expects: $feats): ${result#test result: } [${secs} s]"
	# A test that re-runs itself in new namespaces fails twice (inner and outer run).
	failed=$(grep -a '^test [^ ]* \.\.\. FAILED' "$out" | sed 's/^test \([^ ]*\) .*/\1/' | tr -d '\r' | sort -u)
	[ -z "$conformance" ] || failed=$(grep -a '^UNEXPECTED ' "$out" | cut -d' ' -f2-4 | tr ' \r' '/ ')
	grep -aq "^OXBPF-EXIT 0" "$out" || [ -n "$failed" ] || failed="exit-status"
	for f in $failed; do
		failures="$failures
$k: $f"
	done
done
echo "kernel matrix:$summary"
if [ -n "$failures" ]; then
	echo "failures (the guest output is in $WORK/out-KERNEL.txt):$failures"
	exit 1
fi
