// SPDX-License-Identifier: GPL-2.0
/*
 * The example `oxbpf demo` loads (it is embedded in the binary): every stage of a real
 * load in two small programs.
 * - `whoami` (raw_tp): reads the task that runs it with CO-RE (pid, tgid, parent's
 *   tgid, comm), so the field offsets come from the running kernel's BTF, not from the
 *   headers this file was built with. Results go to .bss.
 * - `count_and_filter` (xdp): counts packets per IP protocol in a hash map, and drops
 *   UDP to the port set in .rodata before load (`const volatile`, how libbpf-tools take
 *   their options).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#define ETH_P_IP 0x0800
#define PROTO_UDP 17

const volatile __u16 blocked_udp_port = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u8);
	__type(value, __u64);
	__uint(max_entries, 256);
} packets_per_proto SEC(".maps");

int who_pid;
int who_tgid;
int who_ppid;
char who_comm[16];

SEC("raw_tp/sys_enter")
int whoami(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	who_pid = BPF_CORE_READ(task, pid);
	who_tgid = BPF_CORE_READ(task, tgid);
	who_ppid = BPF_CORE_READ(task, real_parent, tgid);
	BPF_CORE_READ_STR_INTO(&who_comm, task, comm);
	return 0;
}

SEC("xdp")
int count_and_filter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	__u64 one = 1, *n;
	__u8 proto;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	proto = ip->protocol;
	n = bpf_map_lookup_elem(&packets_per_proto, &proto);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&packets_per_proto, &proto, &one, BPF_NOEXIST);
	/* Options-less IPv4 only: enough for a demo. */
	if (proto == PROTO_UDP && blocked_udp_port && (void *)(udp + 1) <= end &&
	    udp->dest == bpf_htons(blocked_udp_port))
		return XDP_DROP;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
