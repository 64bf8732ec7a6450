// SPDX-License-Identifier: GPL-2.0
/*
 * One program of each networking kind the section table must classify: cgroup_skb
 * ingress/egress, tc and tcx, sk_msg and sk_skb with the sockmap they attach to,
 * cgroup/connect4, sk_lookup, flow_dissector and xdp.frags.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} sock_map SEC(".maps");

__u64 egress_bytes;

SEC("cgroup_skb/egress")
int cgroup_egress(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&egress_bytes, skb->len);
	return 1;
}

SEC("cgroup_skb/ingress")
int cgroup_ingress(struct __sk_buff *skb)
{
	return 1;
}

SEC("tc")
int tc_pass(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

SEC("tcx/ingress")
int tcx_ingress_pass(struct __sk_buff *skb)
{
	return 0; /* TCX_PASS */
}

SEC("tcx/egress")
int tcx_egress_pass(struct __sk_buff *skb)
{
	return 0; /* TCX_PASS */
}

SEC("sk_msg")
int msg_verdict(struct sk_msg_md *msg)
{
	return SK_PASS;
}

SEC("sk_skb/stream_verdict")
int skb_verdict(struct __sk_buff *skb)
{
	return bpf_sk_redirect_map(skb, &sock_map, 0, 0);
}

SEC("cgroup/connect4")
int connect4_allow(struct bpf_sock_addr *ctx)
{
	return 1;
}

SEC("sk_lookup")
int lookup_pass(struct bpf_sk_lookup *ctx)
{
	return SK_PASS;
}

SEC("flow_dissector")
int dissect(struct __sk_buff *skb)
{
	return BPF_OK;
}

SEC("xdp.frags")
int xdp_frags_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
