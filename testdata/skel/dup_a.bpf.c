// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* With dup_b.bpf.c: two different `struct config` in one linked object
 * (skel_dup.bpf.o), which its skeleton must name apart. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct config {
	int a;
};

struct config config_a = { .a = 1 };

SEC("tp/syscalls/sys_enter_getppid")
int read_a(void *ctx)
{
	return config_a.a;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
