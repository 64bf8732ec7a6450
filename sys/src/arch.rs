//! What differs by the architecture this binary runs on, in one place, so no other code
//! assumes x86_64. (Syscall numbers and struct layouts come from `libc` per target; the
//! registers of USDT arguments are in `oxbpf-prog`'s `attach::usdt::arg`, which reads
//! binaries of either architecture.)

/// The prefix of the kernel's syscall wrappers on this architecture (`__x64` in
/// `__x64_sys_bpf`, `__arm64` in `__arm64_sys_bpf`), as libbpf's
/// `arch_specific_syscall_pfx` names them; `None` where libbpf names none (the kernel
/// then has no wrappers oxbpf knows of, and `sys_NAME` is the function).
pub fn syscall_wrapper_prefix() -> Option<&'static str> {
    if cfg!(target_arch = "x86_64") {
        Some("__x64")
    } else if cfg!(target_arch = "aarch64") {
        Some("__arm64")
    } else if cfg!(target_arch = "s390x") {
        Some("__s390x")
    } else if cfg!(target_arch = "riscv64") {
        Some("__riscv")
    } else if cfg!(target_arch = "arm") {
        Some("__arm")
    } else if cfg!(target_arch = "powerpc64") {
        Some("__powerpc64")
    } else if cfg!(target_arch = "loongarch64") {
        Some("__loongarch")
    } else {
        None
    }
}

/// Debian's multiarch directory name for this architecture (`/usr/lib/TRIPLET`), where
/// a library named without a directory is found (libbpf's `arch_specific_lib_paths`);
/// `None` on architectures oxbpf is not built for.
pub fn multiarch_triplet() -> Option<&'static str> {
    if cfg!(target_arch = "x86_64") {
        Some("x86_64-linux-gnu")
    } else if cfg!(target_arch = "aarch64") {
        Some("aarch64-linux-gnu")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_wrapper_prefix_is_this_architectures() {
        let expected = if cfg!(target_arch = "x86_64") {
            Some("__x64")
        } else if cfg!(target_arch = "aarch64") {
            Some("__arm64")
        } else {
            return;
        };
        assert_eq!(super::syscall_wrapper_prefix(), expected);
    }
}
