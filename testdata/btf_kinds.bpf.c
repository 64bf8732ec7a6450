// SPDX-License-Identifier: GPL-2.0
/*
 * BTF kinds older kernels do not know, for the loader's sanitization: DECL_TAG (5.16)
 * on a global, a member, a function and its parameter; TYPE_TAG (5.17) on a pointer;
 * ENUM64 and a signed enum (6.0); FLOAT (5.13). On a kernel without them the loader
 * rewrites each into something it knows (as libbpf does), and the program must load
 * and run the same everywhere.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define __decl_tag(x) __attribute__((btf_decl_tag(x)))
#define __type_tag(x) __attribute__((btf_type_tag(x)))

enum big { BIG_ONE = 1, BIG_HUGE = 0x100000000ULL };
enum small_signed { NEG = -1, POS = 1 };

struct holder {
	int counted __decl_tag("member");
	int __type_tag("user") *ptr;
	float ratio;
	enum big big;
	enum small_signed sign;
};

struct holder seen __decl_tag("global");

__attribute__((noinline)) int __decl_tag("func") add_one(int x __decl_tag("param"))
{
	return x + 1;
}

SEC("xdp")
int kinds(struct xdp_md *ctx)
{
	seen.counted = add_one(ctx->data_end > ctx->data);
	seen.big = BIG_HUGE;
	seen.sign = NEG;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
