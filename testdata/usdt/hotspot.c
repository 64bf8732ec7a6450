// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The four garbage-collection probes of the HotSpot JVM's libjvm.so, as libbpf-tools'
 * javagc attaches to them (hotspot:gc__begin, gc__end, mem__pool__gc__begin,
 * mem__pool__gc__end), fired once per number read from stdin: a stand-in JVM for
 * the tests. Built by the tests with <sys/sdt.h> (systemtap-sdt-dev).
 */
#include <stdio.h>
#include <sys/sdt.h>
#include <unistd.h>

int main(void)
{
	int n;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("started\n");
	while (scanf("%d", &n) == 1) {
		DTRACE_PROBE1(hotspot, gc__begin, n != 0);
		usleep(2000);
		DTRACE_PROBE(hotspot, gc__end);
		DTRACE_PROBE4(hotspot, mem__pool__gc__begin, "G1", 2, "Eden", 4);
		usleep(2000);
		DTRACE_PROBE4(hotspot, mem__pool__gc__end, "G1", 2, "Eden", 4);
		printf("collected\n");
	}
	return 0;
}
