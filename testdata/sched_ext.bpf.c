// SPDX-License-Identifier: GPL-2.0
/*
 * A sched_ext scheduler: a global FIFO, as the kernel's tools/sched_ext/scx_simple.bpf.c
 * (unweighted) schedules, written against the kfuncs of today's kernels
 * (scx_bpf_dsq_insert and scx_bpf_dsq_move_to_local, 6.13 on) without the scx headers.
 *
 * select_cpu puts a waking task straight on an idle CPU's local queue; enqueue puts the
 * others on one shared queue, created by the (sleepable) init callback; dispatch moves
 * the oldest to the CPU asking. exit records why the scheduler stopped. Counters show
 * which callbacks ran. The struct below declares only the members used: the loader
 * fills the kernel's struct sched_ext_ops by member name, as libbpf does.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char _license[] SEC("license") = "GPL";

#define SHARED_DSQ 0
/* enum scx_dsq_id_flags and enum scx_public_consts of the kernel. */
#define SCX_DSQ_LOCAL ((1ULL << 63) | 2)
#define SCX_SLICE_DFL 20000000ULL

/* CO-RE: read where the running kernel has it. An enum, as the kernel's: CO-RE does not
 * take an int for an enum field (libbpf's rule). */
enum scx_exit_kind {
	SCX_EXIT_UNREG = 64,
};

struct scx_exit_info {
	enum scx_exit_kind kind;
} __attribute__((preserve_access_index));

struct sched_ext_ops {
	s32 (*select_cpu)(struct task_struct *p, s32 prev_cpu, u64 wake_flags);
	void (*enqueue)(struct task_struct *p, u64 enq_flags);
	void (*dispatch)(s32 cpu, struct task_struct *prev);
	s32 (*init)(void);
	void (*exit)(struct scx_exit_info *ei);
	char name[128];
};

extern s32 scx_bpf_create_dsq(u64 dsq_id, s32 node) __ksym;
extern void scx_bpf_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice, u64 enq_flags) __ksym;
extern bool scx_bpf_dsq_move_to_local(u64 dsq_id) __ksym;
extern s32 scx_bpf_select_cpu_dfl(struct task_struct *p, s32 prev_cpu, u64 wake_flags,
				  bool *is_idle) __ksym;

__u64 local_inserts;
__u64 enqueued;
__u64 dispatched;
__s64 exit_kind = -1;

SEC("struct_ops/oxsimple_select_cpu")
s32 BPF_PROG(oxsimple_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);

	if (is_idle) {
		__sync_fetch_and_add(&local_inserts, 1);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, SCX_SLICE_DFL, 0);
	}
	return cpu;
}

SEC("struct_ops/oxsimple_enqueue")
void BPF_PROG(oxsimple_enqueue, struct task_struct *p, u64 enq_flags)
{
	__sync_fetch_and_add(&enqueued, 1);
	scx_bpf_dsq_insert(p, SHARED_DSQ, SCX_SLICE_DFL, enq_flags);
}

SEC("struct_ops/oxsimple_dispatch")
void BPF_PROG(oxsimple_dispatch, s32 cpu, struct task_struct *prev)
{
	if (scx_bpf_dsq_move_to_local(SHARED_DSQ))
		__sync_fetch_and_add(&dispatched, 1);
}

SEC("struct_ops.s/oxsimple_init")
s32 BPF_PROG(oxsimple_init)
{
	return scx_bpf_create_dsq(SHARED_DSQ, -1);
}

SEC("struct_ops/oxsimple_exit")
void BPF_PROG(oxsimple_exit, struct scx_exit_info *ei)
{
	exit_kind = ei->kind;
}

SEC(".struct_ops.link")
struct sched_ext_ops oxsimple = {
	.select_cpu = (void *)oxsimple_select_cpu,
	.enqueue = (void *)oxsimple_enqueue,
	.dispatch = (void *)oxsimple_dispatch,
	.init = (void *)oxsimple_init,
	.exit = (void *)oxsimple_exit,
	.name = "oxsimple",
};
