// SPDX-License-Identifier: GPL-2.0
/*
 * Trace connect(2): for every call, send the caller's PID, comm and the socket address
 * family and bytes to user space through a ring buffer.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct connect_event {
	u32 pid;
	int fd;
	u16 family;
	u8 addr[14];
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

/* Keeps `struct connect_event` in the object's BTF (a type only locals use is not
 * described there), so `oxbpf run` prints the records as typed fields. */
const struct connect_event *unused_event __attribute__((unused));

SEC("tp/syscalls/sys_enter_connect")
int trace_connect(struct trace_event_raw_sys_enter *ctx)
{
	struct sockaddr *uaddr = (struct sockaddr *)ctx->args[1];
	struct connect_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;

	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->fd = (int)ctx->args[0];
	e->family = 0;
	__builtin_memset(e->addr, 0, sizeof(e->addr));
	bpf_probe_read_user(&e->family, sizeof(e->family), &uaddr->sa_family);
	bpf_probe_read_user(e->addr, sizeof(e->addr), uaddr->sa_data);
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
