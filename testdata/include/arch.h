/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What differs between the architectures the testdata objects are built for
 * (build.sh: NAME.bpf.o with __TARGET_ARCH_x86, arm64/NAME.bpf.o with
 * __TARGET_ARCH_arm64): the getppid syscall's number and the kernel functions that
 * implement it. x86_64 enters through __x64_sys_getppid, which calls __do_sys_getppid;
 * arm64's SYSCALL_DEFINE0 makes one function, __arm64_sys_getppid. And the registers a
 * kprobe or uprobe program reads.
 */
#ifndef __OXBPF_ARCH_H__
#define __OXBPF_ARCH_H__

#if defined(__TARGET_ARCH_arm64)
/* What bpf_tracing.h's PT_REGS macros read on arm64 (x86's struct pt_regs is in
 * vmlinux.h); a CO-RE record like the rest. Include after vmlinux.h. */
struct user_pt_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
} __attribute__((preserve_access_index));

#define NR_GETPPID 173
#define GETPPID_ENTRY "__arm64_sys_getppid"
#define GETPPID_BODY_GLOB "__arm64_sys_getpp?d"
#elif defined(__TARGET_ARCH_x86)
#define NR_GETPPID 110
#define GETPPID_ENTRY "__x64_sys_getppid"
#define GETPPID_BODY_GLOB "__do_sys_getpp?d"
#else
#error "build with -D__TARGET_ARCH_x86 or -D__TARGET_ARCH_arm64"
#endif

#endif
