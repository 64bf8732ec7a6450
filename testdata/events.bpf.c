// SPDX-License-Identifier: GPL-2.0
/*
 * A known sequence of events for the ring buffer and perf buffer consumers: each run
 * of `emit` numbers itself (1, 2, 3, ...) and writes a record of 8 to 40 bytes holding
 * that number, to a ring buffer and to a perf event array. Records of varying size
 * make the consumers wrap around their rings at every offset; discarded ring records
 * (every 7th number) must be skipped.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16384);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} pb SEC(".maps");

__u64 seq;

struct event {
	__u64 seq;
	__u64 fill[7];
};

SEC("xdp")
int emit(struct xdp_md *ctx)
{
	struct event e = {};
	__u64 size;

	/* Test runs come one at a time, so a plain increment numbers them. (A fetching
	 * atomic, __sync_fetch_and_add's result, needs Linux 5.12; this object is loaded
	 * on 5.10 too.) */
	e.seq = ++seq;
	e.fill[0] = e.fill[1] = e.fill[2] = e.fill[3] = e.seq;
	/* The mask is for the verifier: sizes stay within the 64-byte event. */
	size = (8 + (e.seq % 5) * 8) & 0x3f;
	/* Every 7th number, a record reserved and then discarded first: the consumer
	 * must step over it without showing it. */
	if (e.seq % 7 == 0) {
		void *r = bpf_ringbuf_reserve(&rb, 16, 0);

		if (r)
			bpf_ringbuf_discard(r, 0);
	}
	bpf_ringbuf_output(&rb, &e, size, 0);
	bpf_perf_event_output(ctx, &pb, BPF_F_CURRENT_CPU, &e, size);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
