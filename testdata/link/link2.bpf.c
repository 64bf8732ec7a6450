// SPDX-License-Identifier: GPL-2.0
/*
 * The second half of link1.bpf.c's program: the definitions it uses, a strong `pick`
 * over its weak one, and the map it defines, declared extern here.
 * Expected after entry1 then entry2 run: result2 = 12 (see loader/tests/it/link.rs).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct shared_map_t {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 4);
};

extern struct shared_map_t shared_map SEC(".maps");

int shared_base = 100;

int pick(int x)
{
	return x + 2;
}

static __noinline int twice(int x)
{
	return x * 2;
}

int add_in_two(int x)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&shared_map, &key);

	return twice(x) + (v ? (int)*v : 0);
}

__attribute__((visibility("hidden"))) int scale(int x)
{
	return x * 10;
}

int result2;

SEC("xdp")
int entry2(struct xdp_md *ctx)
{
	/* 3 + 9 */
	result2 = pick(1) + add_in_two(1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
