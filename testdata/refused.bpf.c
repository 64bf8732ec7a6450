// SPDX-License-Identifier: GPL-2.0
/*
 * Programs every kernel refuses, for the tests of what oxbpf says about refusals. All
 * in `?` sections, so loading the object loads none of them unless asked.
 * - `future_helper` calls helper #4242, which no kernel defines (how a program built for
 *   a newer kernel looks to an older one).
 * - `in_absent_module` attaches (fentry) to a function of a module no kernel has,
 *   named the libbpf way: `fentry/MODULE:FUNC`.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("?socket")
int future_helper(struct __sk_buff *skb)
{
	asm volatile("call 4242" ::: "r0", "r1", "r2", "r3", "r4", "r5");
	return 0;
}

SEC("?fentry/oxbpf_no_such_module:oxbpf_func")
int in_absent_module(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
