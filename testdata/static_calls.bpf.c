// SPDX-License-Identifier: GPL-2.0
/*
 * Calls between static functions of one section carry no ELF relocation: clang writes
 * the distance from the call to the callee in its imm and leaves it at that. The
 * loader must follow that distance (libbpf: sec_insn_off + insn_idx + imm + 1) when it
 * moves the functions into a program. Each function here leaves a distinct mark in its
 * result, so a call that reaches another function gives another number. An exception
 * callback, which nothing calls, is appended to the program whose BTF names it.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

int results[7];
int layouts[3];
/* A section holding only a hidden variable: its map is not mmapable (libbpf makes a data
 * map BPF_F_MMAPABLE only for variables user space can reach). */
__attribute__((visibility("hidden"))) int calls_seen SEC(".data.hidden") = 1;

static __noinline int sub3(int x)
{
	return x * 1000 + 3;
}

static __noinline int sub5(int x)
{
	return x * 1000 + 5;
}

/* sub2 calls sub5, not its neighbour sub3. */
static __noinline int sub2(int x)
{
	return sub5(x) * 10 + 2;
}

/* sub4 calls sub3, which sits before it. */
static __noinline int sub4(int x)
{
	return sub3(x) * 10 + 4;
}

static int add_index(__u32 index, void *data)
{
	*(int *)data += index + 1;
	return 0;
}

/* A static function passing a static callback to bpf_loop. */
static __noinline int looped(int n)
{
	int sum = 0;

	bpf_loop(n, add_index, &sum, 0);
	return sum;
}

/* A global function calling static ones of its own section. */
__noinline int chain(int x)
{
	return sub2(x) + sub4(x);
}

SEC("xdp")
int calls_in_text(struct xdp_md *ctx)
{
	calls_seen++;
	results[0] = sub2(1);
	results[1] = sub4(2);
	results[2] = chain(3);
	return XDP_PASS;
}

SEC("tc")
int calls_from_another_section(struct __sk_buff *skb)
{
	results[3] = sub4(5);
	results[4] = chain(1);
	return 0;
}

/* bpf_loop (Linux 5.17) in a program of its own. */
SEC("xdp")
int callback_in_text(struct xdp_md *ctx)
{
	results[5] = looped(4);
	return XDP_PASS;
}

/*
 * Global and static functions mixed, one declared before it is defined: calls to the
 * global ones carry relocations, calls to the static ones do not. Each program links a
 * different set, so the functions land in different places in each; a loader that
 * keeps a static call's distance from the section reaches some other function.
 */
__noinline int one(int x)
{
	return x * 100 + 1;
}

static __noinline int five(int v);

__noinline int two(int y)
{
	return five(y) * 100 + 2;
}

static __noinline int three(int z)
{
	return (z + one(4)) * 100 + 3;
}

static __noinline int four(int w)
{
	return (three(w) + one(6)) * 100 + 4;
}

static __noinline int five(int v)
{
	return one(v) * 100 + 5;
}

SEC("tc")
int layout_a(struct __sk_buff *skb)
{
	layouts[0] = one(1) + three(2);
	return 0;
}

SEC("tc")
int layout_b(struct __sk_buff *skb)
{
	layouts[1] = two(3) + three(4);
	return 0;
}

SEC("tc")
int layout_c(struct __sk_buff *skb)
{
	layouts[2] = four(7) + one(8);
	return 0;
}

/* Called by the kernel when the program throws (bpf_throw, Linux 6.7); no call leads
 * here, so the loader appends it because of the program's decl tag. */
__noinline int exception_cb(__u64 cookie)
{
	return cookie + 1;
}

__attribute__((btf_decl_tag("exception_callback:exception_cb")))
SEC("xdp")
int with_exception_callback(struct xdp_md *ctx)
{
	results[6] = sub3(7);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
