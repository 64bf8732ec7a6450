// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * The smallest useful static loader with libbpf, for the size comparison: open the
 * object named on the command line, load every program, say how many, exit.
 */
#include <stdio.h>
#include <bpf/libbpf.h>

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	int n = 0, err;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OBJ\n", argv[0]);
		return 2;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		perror("open");
		return 1;
	}
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "load: %d\n", err);
		bpf_object__close(obj);
		return 1;
	}
	bpf_object__for_each_program(prog, obj)
		n++;
	printf("%d programs loaded\n", n);
	bpf_object__close(obj);
	return 0;
}
