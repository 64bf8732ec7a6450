// SPDX-License-Identifier: GPL-2.0
/*
 * One program of each tracing kind the section table must classify: fentry, fexit,
 * fmod_ret, a sleepable fentry (`.s`), tp_btf, raw_tp, lsm, a task iterator, kprobe,
 * kretprobe, uprobe and perf_event. fentry/fexit and the kprobes hook vfs_unlink, a
 * function every kernel from 5.10 to 7.x has (do_unlinkat is gone from 7.x's BTF); the
 * sleepable fentry stays on do_unlinkat, which older kernels allow sleeping on.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "arch.h"

__u64 fentry_calls;
__u64 fexit_calls;
__u64 kprobe_calls;
__u64 tp_btf_calls;
__u64 raw_tp_calls;
__u64 lsm_calls;
__u64 perf_samples;
__u64 uprobe_calls;

SEC("fentry/vfs_unlink")
int BPF_PROG(fentry_unlinkat, int dfd, struct filename *name)
{
	fentry_calls++;
	return 0;
}

SEC("fexit/vfs_unlink")
int BPF_PROG(fexit_unlinkat, int dfd, struct filename *name, long ret)
{
	fexit_calls++;
	return 0;
}

SEC("fmod_ret/security_file_open")
int BPF_PROG(fmod_file_open, struct file *file, int ret)
{
	return ret;
}

/* Sleepable fentry is allowed only on functions on the error-injection list (syscall
 * entry points are), so only on kernels with CONFIG_FUNCTION_ERROR_INJECTION. */
SEC("fentry.s/" GETPPID_ENTRY)
int BPF_PROG(fentry_sleepable, struct pt_regs *regs)
{
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(tp_btf_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	tp_btf_calls++;
	return 0;
}

SEC("raw_tp/sched_switch")
int raw_tp_switch(void *ctx)
{
	raw_tp_calls++;
	return 0;
}

SEC("lsm/file_open")
int BPF_PROG(lsm_file_open, struct file *file)
{
	lsm_calls++;
	return 0;
}

SEC("iter/task")
int iter_tasks(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;

	if (!task)
		return 0;
	BPF_SEQ_PRINTF(seq, "%d %s\n", task->pid, task->comm);
	return 0;
}

SEC("kprobe/vfs_unlink")
int BPF_KPROBE(kprobe_unlinkat, int dfd, struct filename *name)
{
	kprobe_calls++;
	return 0;
}

SEC("kretprobe/vfs_unlink")
int BPF_KRETPROBE(kretprobe_unlinkat, long ret)
{
	return 0;
}

SEC("uprobe//proc/self/exe:oxbpf_uprobe_target")
int BPF_KPROBE(uprobe_target, int arg)
{
	uprobe_calls++;
	return 0;
}

SEC("perf_event")
int perf_sample(void *ctx)
{
	perf_samples++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
