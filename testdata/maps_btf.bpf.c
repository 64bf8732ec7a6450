// SPDX-License-Identifier: GPL-2.0
/*
 * BTF-defined maps of many kinds: hash, per-CPU array, LRU hash, LPM trie (no prealloc),
 * ring buffer, perf event array sized by the loader, stack trace map, queue, bloom filter
 * (map_extra), an array of maps with two inner maps given as initial values, a prog array
 * initialised with two programs in .maps, and a map pinned by name.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct lpm_key {
	__u32 prefixlen;
	__u32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} hash_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} percpu_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 128);
	__type(key, __u64);
	__type(value, __u32);
} lru_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u32);
} lpm_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(int));
	__uint(value_size, sizeof(int));
} perf_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16);
	__uint(key_size, sizeof(__u32));
	/* 127 frames; libbpf-tools leave this to their user space instead. */
	__uint(value_size, 127 * sizeof(__u64));
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, __u32);
} queue SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 32);
	__uint(map_extra, 3);
	__type(value, __u32);
} bloom SEC(".maps");

struct inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner_map);
} outer SEC(".maps") = {
	.values = { &inner_a, &inner_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pinned_counts SEC(".maps");

SEC("xdp")
int tail_a(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int tail_b(struct xdp_md *ctx)
{
	return XDP_DROP;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));
	__array(values, int (void *));
} jump_table SEC(".maps") = {
	.values = {
		[0] = (void *)&tail_a,
		[1] = (void *)&tail_b,
	},
};

SEC("xdp")
int xdp_maps(struct xdp_md *ctx)
{
	__u32 key = 0, one = 1, *inner_val;
	__u64 *v, init = 1;
	struct lpm_key lk = { .prefixlen = 32, .addr = 0x0100007f };
	void *inner;

	v = bpf_map_lookup_elem(&hash_map, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&hash_map, &key, &init, BPF_NOEXIST);

	v = bpf_map_lookup_elem(&percpu_counts, &key);
	if (v)
		(*v)++;

	bpf_map_update_elem(&lru_map, &init, &one, BPF_ANY);
	if (bpf_map_lookup_elem(&lpm_map, &lk))
		key = 1;
	bpf_map_push_elem(&queue, &one, BPF_ANY);
	/* Bloom filters came in 5.16. Before, the loader leaves the map out (skip_maps,
	 * libbpf's autocreate off) and this branch is dead: a CO-RE check resolved
	 * against the kernel's BTF, so the verifier never reaches the poisoned load. */
	if (bpf_core_enum_value_exists(enum bpf_map_type, BPF_MAP_TYPE_BLOOM_FILTER))
		bpf_map_push_elem(&bloom, &one, BPF_ANY);

	inner = bpf_map_lookup_elem(&outer, &key);
	if (inner) {
		inner_val = bpf_map_lookup_elem(inner, &key);
		if (inner_val)
			(*inner_val)++;
	}
	v = bpf_map_lookup_elem(&pinned_counts, &key);

	bpf_ringbuf_output(&ring, &key, sizeof(key), 0);
	bpf_perf_event_output(ctx, &perf_events, BPF_F_CURRENT_CPU, &key, sizeof(key));

	bpf_tail_call(ctx, &jump_table, key);
	return XDP_PASS;
}

SEC("tp/syscalls/sys_enter_getpid")
int stack_user(void *ctx)
{
	__u32 id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);

	bpf_map_update_elem(&hash_map, &id, &(__u64){ 1 }, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
