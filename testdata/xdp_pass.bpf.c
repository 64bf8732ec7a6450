// SPDX-License-Identifier: GPL-2.0
/* The "hello world" of XDP: pass every packet and say so in the trace pipe. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	bpf_printk("xdp_pass: packet of %d bytes", (int)(ctx->data_end - ctx->data));
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
