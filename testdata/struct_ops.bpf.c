// SPDX-License-Identifier: GPL-2.0
/*
 * A TCP congestion control as a struct_ops object, like the kernel's bpf_dctcp and
 * bpf_cubic selftests but minimal: Reno through the kernel's tcp_reno_* kfuncs, with
 * counters that show which callbacks ran.
 *
 * Two maps fill the kernel's struct tcp_congestion_ops: `oxcc` in .struct_ops.link
 * (registered through a bpf_link) and `oxcc_plain` in .struct_ops (registered by the map
 * update alone). The struct below declares only the members used, in another order
 * than the kernel's: the loader matches members by name, as libbpf does.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char _license[] SEC("license") = "GPL";

/* A struct, not a forward declaration: the kfuncs' prototypes are checked against the
 * kernel's as libbpf checks them, and a FWD does not match a STRUCT there. */
struct sock {
	int __opaque;
};

struct tcp_congestion_ops {
	char name[16];
	__u32 (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);
	__u32 (*undo_cwnd)(struct sock *sk);
	void (*init)(struct sock *sk);
	__u32 flags;
};

extern void tcp_reno_cong_avoid(struct sock *sk, __u32 ack, __u32 acked) __ksym;
extern __u32 tcp_reno_ssthresh(struct sock *sk) __ksym;
extern __u32 tcp_reno_undo_cwnd(struct sock *sk) __ksym;

__u64 init_calls;
__u64 cong_avoid_calls;
__u64 ssthresh_calls;

SEC("struct_ops/oxcc_init")
void BPF_PROG(oxcc_init, struct sock *sk)
{
	__sync_fetch_and_add(&init_calls, 1);
}

SEC("struct_ops/oxcc_cong_avoid")
void BPF_PROG(oxcc_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	__sync_fetch_and_add(&cong_avoid_calls, 1);
	tcp_reno_cong_avoid(sk, ack, acked);
}

SEC("struct_ops/oxcc_ssthresh")
__u32 BPF_PROG(oxcc_ssthresh, struct sock *sk)
{
	__sync_fetch_and_add(&ssthresh_calls, 1);
	return tcp_reno_ssthresh(sk);
}

SEC("struct_ops/oxcc_undo_cwnd")
__u32 BPF_PROG(oxcc_undo_cwnd, struct sock *sk)
{
	return tcp_reno_undo_cwnd(sk);
}

SEC(".struct_ops.link")
struct tcp_congestion_ops oxcc = {
	.init = (void *)oxcc_init,
	.cong_avoid = (void *)oxcc_cong_avoid,
	.ssthresh = (void *)oxcc_ssthresh,
	.undo_cwnd = (void *)oxcc_undo_cwnd,
	.name = "oxcc",
};

SEC(".struct_ops")
struct tcp_congestion_ops oxcc_plain = {
	.cong_avoid = (void *)oxcc_cong_avoid,
	.ssthresh = (void *)oxcc_ssthresh,
	.undo_cwnd = (void *)oxcc_undo_cwnd,
	.name = "oxcc_plain",
};
