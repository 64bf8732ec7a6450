// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* The other half of skel_dup.bpf.o: a `struct config` unlike dup_a.bpf.c's. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct config {
	long long b;
	char c;
};

struct config config_b = { .b = 2, .c = 'c' };

SEC("tp/syscalls/sys_enter_getppid")
int read_b(void *ctx)
{
	return config_b.c;
}
