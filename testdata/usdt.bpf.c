// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * USDT programs as libbpf-tools write them: usdt.bpf.h reads each argument of a
 * probe wherever the compiler of the traced binary put it (a register, the stack, a
 * constant), from the spec the loader wrote for that probe site. The traced binary is
 * usdt/target.c: probe oxbpf:hello has two sites (arguments in registers at one,
 * constants at the other), probe oxbpf:ready has a semaphore.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "arch.h" /* struct user_pt_regs for arm64, before usdt.bpf.h uses it */
#include <bpf/usdt.bpf.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

__u64 hello_hits;
__s64 hello_sum_a;
__s64 hello_sum_b;
__s64 hello_sum_c;
__u64 hello_sum_args;
__u64 hello_cookie;
__u64 ready_hits;
__s64 ready_last;

/* Attached by the caller to whichever binary it names (Loaded::attach_usdt). */
SEC("usdt")
int BPF_USDT(on_hello, int a, long b, short c)
{
	__sync_fetch_and_add(&hello_hits, 1);
	__sync_fetch_and_add(&hello_sum_a, a);
	__sync_fetch_and_add(&hello_sum_b, b);
	__sync_fetch_and_add(&hello_sum_c, c);
	__sync_fetch_and_add(&hello_sum_args, bpf_usdt_arg_cnt(ctx));
	hello_cookie = bpf_usdt_cookie(ctx);
	return 0;
}

/* Attached from its section: the binary is ./usdt_target, relative to the directory
 * oxbpf runs in (as libbpf reads a path with a slash). */
SEC("usdt/./usdt_target:oxbpf:ready")
int BPF_USDT(on_ready, int n)
{
	__sync_fetch_and_add(&ready_hits, 1);
	ready_last = n;
	return 0;
}
