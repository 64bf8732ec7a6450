// SPDX-License-Identifier: GPL-2.0
/*
 * A BPF arena, as the kernel's arena_list selftest uses one: memory shared by the
 * programs and user space at the same addresses, where a program builds a linked list
 * with real pointers and user space walks it.
 *
 * `__arena` globals live in the arena (the `.addr_space.1` section: its initial
 * contents are copied into the arena at load, as libbpf does); `build_list`, a
 * sleepable syscall program run with BPF_PROG_TEST_RUN, allocates a page from the
 * arena, links `count` elements holding 1..count into it, sums them into `total`
 * (which starts at its initial value), and sets `head`.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char _license[] SEC("license") = "GPL";

#define __arena __attribute__((address_space(1)))
/* Newer than Debian's libbpf 1.1 headers and this directory's vmlinux.h. */
#define BPF_MAP_TYPE_ARENA 33
#define BPF_F_MMAPABLE (1U << 10)
#ifndef __ulong
#define __ulong(name, val) enum { ___bpf_concat(__unique_value, __COUNTER__) = val } name
#endif
#define NUMA_NO_NODE (-1)

struct {
	__uint(type, BPF_MAP_TYPE_ARENA);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 4); /* pages */
	__ulong(map_extra, 1ull << 44); /* where user space sees it */
} arena SEC(".maps");

void __arena *bpf_arena_alloc_pages(void *map, void __arena *addr, __u32 page_cnt,
				    int node_id, __u64 flags) __ksym;

struct elem {
	struct elem __arena *next;
	long value;
};

struct elem __arena *__arena head;
long __arena total = 1000;
int __arena count = 10;
int __arena built;

SEC("syscall")
int build_list(void *ctx)
{
	struct elem __arena *page, *e;
	int i;

	page = bpf_arena_alloc_pages(&arena, NULL, 1, NUMA_NO_NODE, 0);
	if (!page)
		return 1;
	for (i = 0; i < count && i < 64; i++) {
		e = page + i;
		e->value = i + 1;
		e->next = head;
		head = e;
		total += e->value;
	}
	built = i;
	return 0;
}
