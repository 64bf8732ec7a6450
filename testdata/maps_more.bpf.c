// SPDX-License-Identifier: GPL-2.0
/*
 * The map types maps_btf.bpf.c does not cover, most used by a program so the verifier
 * checks the pairing: per-CPU and LRU per-CPU hash, stack, hash of maps, cgroup array,
 * task, socket, inode and cgroup local storage (BTF key/value, no prealloc), sockmap and
 * sockhash, devmap and devmap_hash, cpumap, xskmap; a map on NUMA node 0
 * (BPF_F_NUMA_NODE), one whose 27-character name the kernel cuts to 15, a hash
 * whose values hold a bpf_spin_lock (for BPF_F_LOCK from user space), and a ring
 * buffer and a user ring buffer of sizes the kernel refuses (1000 and 8 bytes), which
 * the loader rounds up to a power-of-2 number of pages as libbpf does.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

typedef __u32 u32;
typedef __u64 u64;
struct task_struct;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, u32);
	__type(value, u64);
} percpu_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, u32);
	__type(value, u64);
} lru_percpu_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 8);
	__type(value, u64);
} value_stack SEC(".maps");

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, u32);
	__array(values, struct inner);
} hash_of_maps SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u32);
} cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, u64);
} task_store SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, u64);
} sk_store SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_INODE_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, u64);
} inode_store SEC(".maps");

struct {
	__uint(type, 32); /* BPF_MAP_TYPE_CGRP_STORAGE (6.2), newer than the UAPI headers here */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, u64);
} cgrp_store SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u64);
} sock_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u64);
} sock_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u32);
} dev_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u32);
} dev_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u32);
} cpu_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u32);
} xsk_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NUMA_NODE);
	__uint(numa_node, 0);
	__type(key, u32);
	__type(value, u64);
} on_node_zero SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} a_map_with_a_very_long_name SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1000);
} odd_ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 8);
} odd_user_ring SEC(".maps");

struct locked_value {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 count;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, struct locked_value);
} locked SEC(".maps");

SEC("xdp")
int xdp_redirects(struct xdp_md *ctx)
{
	u32 key = 0;
	u64 one = 1, *v;

	bpf_map_update_elem(&percpu_hash, &key, &one, BPF_ANY);
	bpf_map_update_elem(&lru_percpu_hash, &key, &one, BPF_ANY);
	bpf_map_push_elem(&value_stack, &one, BPF_ANY);
	if (bpf_map_lookup_elem(&hash_of_maps, &key))
		return XDP_DROP;
	v = bpf_map_lookup_elem(&on_node_zero, &key);
	if (v)
		*v += 1;
	v = bpf_map_lookup_elem(&a_map_with_a_very_long_name, &key);
	if (v)
		*v += 1;
	if (ctx->rx_queue_index == 1)
		return bpf_redirect_map(&dev_map, 0, XDP_PASS);
	if (ctx->rx_queue_index == 2)
		return bpf_redirect_map(&dev_hash, 0, XDP_PASS);
	if (ctx->rx_queue_index == 3)
		return bpf_redirect_map(&cpu_map, 0, XDP_PASS);
	return bpf_redirect_map(&xsk_map, ctx->rx_queue_index, XDP_PASS);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(storage_on_fork, struct task_struct *parent, struct task_struct *child)
{
	u64 *v = bpf_task_storage_get(&task_store, child, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (v)
		*v = 1;
	return 0;
}

SEC("cgroup_skb/egress")
int egress_storage(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	u64 *v;

	if (!sk)
		return 1;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return 1;
	v = bpf_sk_storage_get(&sk_store, sk, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (v)
		*v += 1;
	return 1;
}

SEC("tc")
int tc_in_cgroup(struct __sk_buff *skb)
{
	return bpf_skb_under_cgroup(skb, &cgroups, 0) == 1 ? 2 /* TC_ACT_SHOT */ : 0;
}

SEC("sk_msg")
int msg_redirect(struct sk_msg_md *msg)
{
	u32 key = 0;

	if (msg->remote_port == 1)
		return bpf_msg_redirect_hash(msg, &sock_hash, &key, 0);
	return bpf_msg_redirect_map(msg, &sock_map, 0, 0);
}

char LICENSE[] SEC("license") = "GPL";
