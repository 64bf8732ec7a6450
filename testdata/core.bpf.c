// SPDX-License-Identifier: GPL-2.0
/*
 * CO-RE reads of the current task: BPF_CORE_READ through pointers, a bitfield through
 * BPF_CORE_READ_BITFIELD, field/type existence (with a `___old` flavor for the field
 * `state` that became `__state` in 5.14), an enum value, and a type-matches check.
 * `bpf_core_type_matches` on two types, one that matches and one that does not.
 * A raw_tp program, so BPF_PROG_TEST_RUN can run it in the test's own task; results go
 * to .bss for user space to check against its own pid and comm.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_struct___old {
	long state;
} __attribute__((preserve_access_index));

struct oxbpf_no_such_type {
	int x;
} __attribute__((preserve_access_index));

int core_pid;
int core_tgid;
int core_ppid;
char core_comm[16];
unsigned int core_contributes;
int has_state_field;
int has_new_state_field;
int has_missing_type;
int pidtype_pgid;
int tgid_enum_exists;
int sys_enter_matches;
int list_head_matches;
unsigned int task_comm_size;

SEC("raw_tp/sys_enter")
int core_read_task(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	core_pid = BPF_CORE_READ(task, pid);
	core_tgid = BPF_CORE_READ(task, tgid);
	core_ppid = BPF_CORE_READ(task, real_parent, tgid);
	BPF_CORE_READ_STR_INTO(&core_comm, task, comm);
	core_contributes = BPF_CORE_READ_BITFIELD_PROBED(task, sched_contributes_to_load);
	task_comm_size = bpf_core_field_size(task->comm);

	has_state_field = bpf_core_field_exists(((struct task_struct___old *)task)->state);
	has_new_state_field = bpf_core_field_exists(task->__state);
	has_missing_type = bpf_core_type_exists(struct oxbpf_no_such_type);
	pidtype_pgid = bpf_core_enum_value(enum pid_type, PIDTYPE_PGID);
	tgid_enum_exists = bpf_core_enum_value_exists(enum pid_type, PIDTYPE_TGID);
	/* trace_entry does not "match" a gcc-built kernel's: clang names its first member's
	 * type "unsigned short", pahole "short unsigned int", and type matching compares
	 * integer names (libbpf's rule). list_head, all pointers, does match. */
	sys_enter_matches = bpf_core_type_matches(struct trace_entry);
	list_head_matches = bpf_core_type_matches(struct list_head);
	return 0;
}

unsigned int btf_contributes;
int btf_pid;

/* tp_btf gives typed pointers, so the bitfield is read directly (no probe helper). */
SEC("tp_btf/sys_enter")
int core_bitfield_btf(void *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();

	btf_contributes = BPF_CORE_READ_BITFIELD(task, sched_contributes_to_load);
	btf_pid = task->pid;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
