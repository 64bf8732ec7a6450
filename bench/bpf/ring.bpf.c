// SPDX-License-Identifier: GPL-2.0
/*
 * The ring buffer benchmark's producer: each run writes one 16-byte record (a sequence
 * number and a constant) into a 64 MiB ring, without waking the consumer, so
 * BPF_PROG_TEST_RUN with a repeat count fills the ring as fast as the kernel can; the
 * consumers are then timed reading it.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 20);
} rb SEC(".maps");

__u64 produced;
__u64 dropped;

SEC("xdp")
int produce(struct xdp_md *ctx)
{
	__u64 *e = bpf_ringbuf_reserve(&rb, 16, 0);

	if (!e) {
		dropped++;
		return XDP_PASS;
	}
	e[0] = ++produced;
	e[1] = 0x0123456789abcdef;
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
