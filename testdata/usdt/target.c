// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The binary usdt.bpf.c traces. For each number N read from stdin it fires
 * oxbpf:hello twice (N, -N * 1000000007, -N, then the constants 7, -8, 9) and, when a
 * tracer enabled its semaphore, oxbpf:ready (N); it prints whether ready was enabled.
 * Built by the tests (clang or cc, with <sys/sdt.h> from systemtap-sdt-dev).
 */
#include <stdio.h>
#include <sys/sdt.h>

int fire_ready(int n);

__attribute__((noinline)) static void hello(int n)
{
	long b = (long)n * -1000000007L;
	short c = (short)-n;
	DTRACE_PROBE3(oxbpf, hello, n, b, c);
}

__attribute__((noinline)) static void hello_constants(void)
{
	DTRACE_PROBE3(oxbpf, hello, 7, -8L, (short)9);
}

int main(void)
{
	int n;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("started\n");
	while (scanf("%d", &n) == 1) {
		hello(n);
		hello_constants();
		printf("ready %s\n", fire_ready(n) ? "enabled" : "disabled");
	}
	return 0;
}
