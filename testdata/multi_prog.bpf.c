// SPDX-License-Identifier: GPL-2.0
/*
 * Loader edge cases in one object:
 * - two programs in one section (SEC("xdp")) and two in another (SEC("tc"));
 * - a static and a global subprogram in .text, each called from several programs;
 * - a bpf_loop callback (a function address in an ld_imm64, BPF_PSEUDO_FUNC);
 * - global data in .data, .rodata, .bss and custom .data.foo / .rodata.bar sections,
 *   plus a static (local) variable;
 * - a section that is not autoloaded (`?tc`) and a section name nobody knows.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

int data_counter = 5;                              /* .data */
const volatile int rodata_limit = 7;               /* .rodata */
int bss_hits;                                      /* .bss */
static int static_bss_total;                       /* .bss, local symbol */
int foo_value SEC(".data.foo") = 3;                /* custom data section */
const volatile int bar_value SEC(".rodata.bar") = 4; /* custom read-only section */

/* A static subprogram: verified as part of each caller. */
static __attribute__((noinline)) int static_scale(int x)
{
	return x * rodata_limit + bar_value;
}

/* A global subprogram: the verifier checks it once, on its own. */
__attribute__((noinline)) int global_bump(int x)
{
	bss_hits++;
	static_bss_total += x;
	return x + data_counter + foo_value;
}

struct loop_ctx {
	int sum;
};

static int loop_step(__u32 index, void *data)
{
	struct loop_ctx *lc = data;

	lc->sum += index;
	return 0;
}

SEC("xdp")
int xdp_first(struct xdp_md *ctx)
{
	return static_scale(1) + global_bump(2) > 0 ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int xdp_second(struct xdp_md *ctx)
{
	struct loop_ctx lc = { 0 };

	bpf_loop(10, loop_step, &lc, 0);
	return lc.sum == 45 ? XDP_PASS : XDP_ABORTED;
}

SEC("tc")
int tc_first(struct __sk_buff *skb)
{
	return global_bump(static_scale(3)) > 0 ? TC_ACT_OK : TC_ACT_SHOT;
}

SEC("tc")
int tc_second(struct __sk_buff *skb)
{
	return static_scale(skb->len) > 0 ? TC_ACT_OK : TC_ACT_SHOT;
}

SEC("?tc")
int tc_optional(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

SEC("mystery/unknown_kind")
int mystery_prog(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
