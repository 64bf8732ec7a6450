// SPDX-License-Identifier: GPL-2.0
/*
 * A socket filter, after bcc's http_filter, that keeps only packets carrying the start of
 * an HTTP GET or POST request: Ethernet, IPv4, TCP, then "GET " or "POST" as the first
 * payload bytes. Returning -1 keeps the whole packet, 0 drops it.
 */
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define KEEP -1
#define DROP 0

SEC("socket")
int http_filter(struct __sk_buff *skb)
{
	struct ethhdr eth;
	struct iphdr ip;
	struct tcphdr tcp;
	char payload[4];
	__u32 ip_off = sizeof(eth), tcp_off, payload_off;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0)
		return DROP;
	if (eth.h_proto != bpf_htons(ETH_P_IP))
		return DROP;
	if (bpf_skb_load_bytes(skb, ip_off, &ip, sizeof(ip)) < 0)
		return DROP;
	if (ip.protocol != IPPROTO_TCP)
		return DROP;

	tcp_off = ip_off + ip.ihl * 4;
	if (bpf_skb_load_bytes(skb, tcp_off, &tcp, sizeof(tcp)) < 0)
		return DROP;

	payload_off = tcp_off + tcp.doff * 4;
	if (bpf_skb_load_bytes(skb, payload_off, payload, sizeof(payload)) < 0)
		return DROP;

	if (payload[0] == 'G' && payload[1] == 'E' && payload[2] == 'T' && payload[3] == ' ')
		return KEEP;
	if (payload[0] == 'P' && payload[1] == 'O' && payload[2] == 'S' && payload[3] == 'T')
		return KEEP;
	return DROP;
}

char LICENSE[] SEC("license") = "GPL";
