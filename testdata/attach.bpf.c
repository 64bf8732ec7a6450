// SPDX-License-Identifier: GPL-2.0
/*
 * One program per kind of hook, for the attach tests: each counts, in .bss, the events
 * it sees from the process whose tgid user space puts in `target_tgid` (.rodata) before
 * load, so other processes on the machine do not disturb the counts. getppid(2) is the
 * syscall the tests make: nothing else calls it often. The cgroup programs count
 * everything in the cgroup the test attaches them to (it holds only the test's child).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "arch.h" /* NR_GETPPID, GETPPID_BODY_GLOB */
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

const volatile int target_tgid = 0;

__u64 tp_calls;
__u64 raw_tp_calls;
__u64 tp_btf_calls;
__u64 uprobe_calls;
int uprobe_arg;
__u64 uretprobe_calls;
int uretprobe_ret;
__u64 perf_samples;
__u64 egress_packets;
__u64 xdp_packets;
__u64 tc_packets;
__u64 multi_calls;
__u64 sock_creates;
__u64 connect4_calls;
__u64 sysctl_reads;
__u64 device_opens;
__u64 kprobe_calls;
__u64 setsockopt_calls;
__u64 getsockopt_calls;
__u64 kretprobe_calls;
__u64 kmulti_calls;
__u64 ksyscall_calls;
__u64 kretsyscall_calls;

static __always_inline int mine(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

SEC("tp/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	if (mine())
		__sync_fetch_and_add(&tp_calls, 1);
	return 0;
}

SEC("raw_tp/sys_enter")
int on_sys_enter(unsigned long long *ctx)
{
	if (mine() && ctx[1] == NR_GETPPID)
		__sync_fetch_and_add(&raw_tp_calls, 1);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter_btf, struct pt_regs *regs, long id)
{
	if (mine() && id == NR_GETPPID)
		__sync_fetch_and_add(&tp_btf_calls, 1);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(on_call, int arg)
{
	if (mine()) {
		__sync_fetch_and_add(&uprobe_calls, 1);
		uprobe_arg = arg;
	}
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(on_return, int ret)
{
	if (mine()) {
		__sync_fetch_and_add(&uretprobe_calls, 1);
		uretprobe_ret = ret;
	}
	return 0;
}

SEC("uprobe.multi//proc/self/exe:oxbpf_multi_target_*")
int on_multi(void *ctx)
{
	if (mine())
		__sync_fetch_and_add(&multi_calls, 1);
	return 0;
}

/* The kprobe kinds hook the getppid syscall (kprobe.multi its body: ftrace, which
 * kprobe_multi uses, cannot hook the x86_64 entry wrapper); the test
 * attaches the plain ones by hand, in each probe mode. */
SEC("kprobe")
int on_kcall(void *ctx)
{
	if (mine())
		__sync_fetch_and_add(&kprobe_calls, 1);
	return 0;
}

SEC("kretprobe")
int on_kreturn(void *ctx)
{
	if (mine())
		__sync_fetch_and_add(&kretprobe_calls, 1);
	return 0;
}

SEC("kprobe.multi/" GETPPID_BODY_GLOB)
int on_kmulti(void *ctx)
{
	if (mine())
		__sync_fetch_and_add(&kmulti_calls, 1);
	return 0;
}

/* ksyscall names the syscall, not the function: the loader finds the function that
 * implements it on this kernel and architecture (__x64_sys_getppid, __arm64_sys_getppid). */
SEC("ksyscall/getppid")
int on_ksyscall(void *ctx)
{
	if (mine())
		__sync_fetch_and_add(&ksyscall_calls, 1);
	return 0;
}

SEC("kretsyscall/getppid")
int on_kretsyscall(void *ctx)
{
	if (mine())
		__sync_fetch_and_add(&kretsyscall_calls, 1);
	return 0;
}

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx)
{
	if (mine())
		__sync_fetch_and_add(&perf_samples, 1);
	return 0;
}

SEC("cgroup_skb/egress")
int on_egress(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&egress_packets, 1);
	return 1; /* let it through */
}

SEC("cgroup/sock_create")
int on_sock_create(struct bpf_sock *sk)
{
	__sync_fetch_and_add(&sock_creates, 1);
	return 1;
}

SEC("cgroup/connect4")
int on_connect4(struct bpf_sock_addr *ctx)
{
	__sync_fetch_and_add(&connect4_calls, 1);
	return 1;
}

SEC("cgroup/sysctl")
int on_sysctl(struct bpf_sysctl *ctx)
{
	__sync_fetch_and_add(&sysctl_reads, 1);
	return 1;
}

SEC("cgroup/dev")
int on_device(struct bpf_cgroup_dev_ctx *ctx)
{
	__sync_fetch_and_add(&device_opens, 1);
	return 1;
}

/* The two fields read here; CO-RE moves them to the kernel's offsets. */
struct bpf_sockopt {
	int level;
	int optname;
} __attribute__((preserve_access_index));

/* SOL_SOCKET/SO_RCVBUF: what the test's child sets and reads back. */
SEC("cgroup/setsockopt")
int on_setsockopt(struct bpf_sockopt *ctx)
{
	if (ctx->level == 1 && ctx->optname == 8)
		__sync_fetch_and_add(&setsockopt_calls, 1);
	return 1;
}

SEC("cgroup/getsockopt")
int on_getsockopt(struct bpf_sockopt *ctx)
{
	if (ctx->level == 1 && ctx->optname == 8)
		__sync_fetch_and_add(&getsockopt_calls, 1);
	return 1;
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	__sync_fetch_and_add(&xdp_packets, 1);
	return XDP_PASS;
}

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("tc")
int tc_count(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&tc_packets, 1);
	return TC_ACT_OK;
}

SEC("tc")
int tc_drop(struct __sk_buff *skb)
{
	return TC_ACT_SHOT;
}

SEC("iter/task")
int list_tasks(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;

	if (!task)
		return 0;
	if (task->tgid == target_tgid && task->pid == task->tgid)
		BPF_SEQ_PRINTF(seq, "%d %s\n", task->tgid, task->comm);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
