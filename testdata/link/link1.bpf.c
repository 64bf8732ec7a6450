// SPDX-License-Identifier: GPL-2.0
/*
 * The first half of a program split over two files, linked by `oxbpf link` (as
 * `bpftool gen object` links them): entry1 calls a global function and a hidden one
 * defined in link2.bpf.c, a weak function link2.bpf.c overrides, reads a variable
 * link2.bpf.c defines, and writes a map both files declare. Its static `twice` has the
 * name of link2.bpf.c's, which does something else: each file keeps its own.
 * Expected after entry1 runs: result1 = 172 (see loader/tests/it/link.rs).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct shared_map_t {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 4);
};

/* Defined here; link2.bpf.c declares it extern. */
struct shared_map_t shared_map SEC(".maps");

/* Defined in link2.bpf.c. */
extern int add_in_two(int x);
extern int shared_base;
__attribute__((visibility("hidden"))) extern int scale(int x);

/* Overridden by link2.bpf.c's strong definition. */
__weak int pick(int x)
{
	return x + 1;
}

static __noinline int twice(int x)
{
	return x * 3; /* not twice: link2.bpf.c's twice doubles */
}

int result1;

SEC("xdp")
int entry1(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 seven = 7;

	bpf_map_update_elem(&shared_map, &key, &seven, 0);
	/* 17 + 12 + 100 + 3 + 40 */
	result1 = add_in_two(5) + pick(10) + shared_base + twice(1) + scale(4);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
