// SPDX-License-Identifier: GPL-2.0
/*
 * Externs the loader resolves: .kconfig values (the kernel version, a CONFIG_ bool, a
 * tristate, a weak one that no kernel has, LINUX_HAS_BPF_COOKIE), a typed __ksym
 * per-CPU variable, typeless __ksym addresses (one present, one weak and absent), and
 * kfunc calls (weak: bpf_task_from_pid came in 6.2, and the rest of the object loads
 * on older kernels; the program calling them is loaded where they exist), and kfunc
 * addresses (bpf_ksym_exists: a BTF id, or 0 for a weak kfunc the kernel lacks).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

extern u32 LINUX_KERNEL_VERSION __kconfig;
extern bool CONFIG_BPF_SYSCALL __kconfig;
extern enum libbpf_tristate CONFIG_IPV6 __kconfig;
extern bool CONFIG_OXBPF_NO_SUCH_OPTION __kconfig __weak;
extern bool LINUX_HAS_BPF_COOKIE __kconfig;

/* Typed: a per-CPU variable (weak: vmlinux BTF describes variables since 5.11). */
extern const int bpf_prog_active __ksym __weak;
/* Typeless: an address from /proc/kallsyms. A function, because kernels built without
 * CONFIG_KALLSYMS_ALL list no data symbols there. */
extern const void schedule __ksym;
extern const void oxbpf_no_such_symbol __ksym __weak;

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym __weak;
extern void bpf_task_release(struct task_struct *p) __ksym __weak;
extern void oxbpf_no_such_kfunc(void) __ksym __weak;

/* libbpf's bpf_ksym_exists (bpf_helpers.h since libbpf 1.2; Debian 12 has 1.1). */
#define ksym_exists(sym) ({ \
	_Static_assert(!__builtin_constant_p(!!sym), #sym " should be marked as __weak"); \
	!!sym; \
})

u32 seen_version;
int seen_bpf_syscall;
int seen_ipv6;
int seen_missing;
int seen_cookie;
int seen_prog_active;
u64 seen_schedule;
u64 seen_missing_symbol;
int seen_task_pid;
int seen_kfunc_exists;
int seen_missing_kfunc_exists;

SEC("tp_btf/sched_process_fork")
int BPF_PROG(externs_fork, struct task_struct *parent, struct task_struct *child)
{
	seen_version = LINUX_KERNEL_VERSION;
	seen_bpf_syscall = CONFIG_BPF_SYSCALL;
	seen_ipv6 = CONFIG_IPV6;
	seen_missing = CONFIG_OXBPF_NO_SUCH_OPTION;
	seen_cookie = LINUX_HAS_BPF_COOKIE;
	seen_schedule = (u64)&schedule;
	seen_missing_symbol = (u64)&oxbpf_no_such_symbol;
	return 0;
}

/* Kfunc calls, in a program of their own that is loaded only where they exist (6.2+). */
SEC("?tp_btf/sched_process_fork")
int BPF_PROG(kfunc_fork, struct task_struct *parent, struct task_struct *child)
{
	struct task_struct *t = bpf_task_from_pid(parent->pid);

	if (t) {
		seen_task_pid = t->pid;
		bpf_task_release(t);
	}
	return 0;
}

/* Kfunc addresses (Linux 6.4 lets a program take one): present and absent. */
SEC("?tp_btf/sched_process_fork")
int BPF_PROG(kfunc_exists, struct task_struct *parent, struct task_struct *child)
{
	seen_kfunc_exists = ksym_exists(bpf_task_from_pid);
	seen_missing_kfunc_exists = ksym_exists(oxbpf_no_such_kfunc);
	return 0;
}

/*
 * Typed __ksym variables are resolved by the kernel through kallsyms, which lists data
 * symbols only with CONFIG_KALLSYMS_ALL. Kept in its own, not autoloaded, program so
 * the rest of the object loads on kernels without it.
 */
SEC("?tp_btf/sched_process_fork")
int BPF_PROG(ksym_percpu, struct task_struct *parent, struct task_struct *child)
{
	const int *active = bpf_this_cpu_ptr(&bpf_prog_active);

	seen_prog_active = *active;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
