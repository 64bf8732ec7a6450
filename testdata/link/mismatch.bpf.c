// SPDX-License-Identifier: GPL-2.0
/*
 * Declares link2.bpf.c's `int shared_base` as a `long long`: linking the two must fail,
 * naming the symbol and both files (obj/src/link/tests.rs).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern long long shared_base;

long long seen;

SEC("xdp")
int mismatch(struct xdp_md *ctx)
{
	seen = shared_base;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
