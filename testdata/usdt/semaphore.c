// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* oxbpf:ready, a probe with a semaphore: its note records the semaphore's address, and
 * the kernel counts the uprobes attached there, so the program can skip work nobody
 * traces (as language runtimes do). */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

unsigned short oxbpf_ready_semaphore __attribute__((section(".probes")));

int fire_ready(int n)
{
	if (!oxbpf_ready_semaphore)
		return 0;
	DTRACE_PROBE1(oxbpf, ready, n);
	return 1;
}
