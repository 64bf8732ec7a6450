// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * What a generated Rust skeleton must get right (oxbpf-build, `oxbpf gen skeleton`):
 * C names that are Rust keywords (members, globals, a map, a program), a struct named
 * like a Rust primitive, anonymous structs and unions (as members, typedef'd, as a
 * global's type), bitfields (signed, enum-typed, with an unnamed gap), a union, an enum
 * with a negative enumerator, padding, a packed struct, a static variable between
 * globals. The program changes some of them so a test sees the kernel's view.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum color { RED = 1, GREEN = 2, NEGATIVE = -1 };

struct keywords {
	int type;
	int match;
	long self;
	char fn[3];
};

struct flags {
	unsigned int a : 3;
	int b : 5;
	enum color c : 4;
	unsigned long long big;
	unsigned short d : 10, : 6, e : 16;
};

union value {
	unsigned long long u;
	int i[2];
	struct {
		short lo, hi;
	} parts;
};

struct packed_rec {
	char tag;
	unsigned long long v;
} __attribute__((packed));

struct nested {
	struct {
		int x;
		int y;
	} point;
	union {
		int as_int;
		float as_float;
	};
	struct keywords kw[2];
};

typedef struct {
	int a;
} anon_typedef_t;

/* Named like a Rust primitive: must not shadow `u32` in the generated module. */
struct u32 {
	int shadow;
};

struct keywords keywords_var;
struct flags flags_var = { .a = 5, .b = -3, .c = GREEN, .big = 7, .d = 1000, .e = 65535 };
union value value_var = { .u = 0x0102030405060708ULL };
struct packed_rec packed_var = { .tag = 'p', .v = 0x1122334455667788ULL };
struct nested nested_var;
anon_typedef_t typedef_var = { .a = 11 };
struct u32 shadow_var;
const volatile enum color color_setting = NEGATIVE;
/* Only this process's calls count (others on the machine call getppid too). */
const volatile int target_tgid = 0;
int type = 3;
static volatile int hidden_static = 42;
struct {
	int anon_global_field;
} anon_var = { .anon_global_field = 9 };
char chars[3] = "hi";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, struct keywords);
	__type(value, union value);
} kw_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flags);
} match SEC(".maps");

SEC("tp/syscalls/sys_enter_getppid")
int self(void *ctx)
{
	__u32 zero = 0;

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	flags_var.big++;
	flags_var.e = 12345;
	value_var.parts.hi = (short)color_setting;
	type += hidden_static;
	nested_var.point.x = typedef_var.a + anon_var.anon_global_field;
	bpf_map_update_elem(&match, &zero, &flags_var, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
