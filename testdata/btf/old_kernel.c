// SPDX-License-Identifier: GPL-2.0
/*
 * Not a program: the types of an imaginary older kernel, for CO-RE tests and
 * `oxbpf check --btf testdata/btf/old_kernel.btf`. build.sh compiles it with -g and
 * keeps only the .BTF section, the raw-BTF form btfhub ships for kernels without
 * /sys/kernel/btf. Against include/vmlinux.h it differs on purpose:
 * - task_struct: fields in another order and at other offsets; `state` instead of
 *   `__state` (renamed in 5.14); no `tgid`; the bitfields moved; `comm` shorter;
 * - enum pid_type: no PIDTYPE_TGID (added in 4.19), so later values moved;
 * - trace_event_raw_sched_process_exec: an extra field before the filename.
 */
typedef int pid_t;

struct list_head {
	struct list_head *next, *prev;
};

struct task_struct {
	long state;
	void *stack;
	unsigned int flags;
	unsigned int ptrace;
	unsigned int unused: 5;
	unsigned int sched_reset_on_fork: 1;
	unsigned int sched_contributes_to_load: 1;
	int exit_code;
	struct task_struct *real_parent;
	struct list_head tasks;
	pid_t pid;
	char comm[12];
	unsigned long long start_time;
};

enum pid_type {
	PIDTYPE_PID,
	PIDTYPE_PGID,
	PIDTYPE_SID,
	PIDTYPE_MAX,
};

struct trace_entry {
	unsigned short type;
	unsigned char flags;
	unsigned char preempt_count;
	int pid;
};

struct trace_event_raw_sched_process_exec {
	struct trace_entry ent;
	unsigned int padding;
	unsigned int __data_loc_filename;
	pid_t pid;
	pid_t old_pid;
	char __data[0];
};

/* Variables so clang emits the types. */
struct task_struct old_kernel_task;
enum pid_type old_kernel_pid_type;
struct trace_event_raw_sched_process_exec old_kernel_exec;
