// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * gif's kernel data plane: two tc programs that carry the four IP modes of
 * gif(4) (IPv4/IPv6 in IPv4/IPv6, protocols 4 and 41) in the kernel, with
 * the same bytes on the wire as the userspace plane (tunnel.Encap and the
 * raw sockets; tunnel.Decap and the checks of claimIP).
 *
 * gif_egress runs on the egress of each gif TUN device: it encapsulates what
 * the kernel routes into the gif and redirects it to the underlay.
 * gif_ingress runs on the ingress of the underlay interfaces: it
 * decapsulates what arrives for a known tunnel and redirects the inner
 * packet into the gif's ingress. Whatever either cannot carry exactly goes
 * on unchanged (TC_ACT_UNSPEC: the next tc program, then the TUN or the
 * kernel stack, i.e. the userspace plane), with the reason counted in
 * pass_reasons.
 *
 * What is attached is a thin entry of each (at the end of this file) that
 * tail-calls the program doing the work, gif_encap or gif_decap, through
 * the program array plane, which only the daemon holds: when it ends,
 * even killed, the kernel empties the array, and whatever entries it
 * leaves attached (clsact filters outlive their process) pass everything.
 *
 * Kernel versions (the oldest that has each): tc BPF programs and
 * bpf_skb_load_bytes 4.1, bpf_skb_change_head 4.10, bpf_fib_lookup 4.18,
 * bpf_skb_load_bytes_relative 4.18 (tc 5.0), BPF_F_ADJ_ROOM_ENCAP_L3_* and
 * FIXED_GSO with BPF_ADJ_ROOM_MAC 5.2, __sk_buff.gso_segs 5.1 and gso_size
 * 5.7, bpf_redirect_neigh 5.10, BPF_FIB_LOOKUP_SKIP_NEIGH 6.3,
 * BPF_F_ADJ_ROOM_DECAP_L3_* 6.3 (only used when the families differ),
 * BPF_FIB_LOOKUP_MARK 6.10 (only used for a tunneldomain other than 0). An
 * older kernel answers an unknown flag with -EINVAL at run time: the packet
 * is passed and counted (PASS_FIB_ERROR, PASS_ENCAP_FAILED,
 * PASS_DECAP_FAILED), never lost.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Flags newer than Debian 12's UAPI headers (linux-libc-dev 6.1). */
#ifndef BPF_F_ADJ_ROOM_DECAP_L3_IPV4
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7) /* 6.3 */
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV6 (1ULL << 8) /* 6.3 */
#endif
#define FIB_LOOKUP_MARK (1U << 5) /* BPF_FIB_LOOKUP_MARK, 6.10 */

#define IPV4_HLEN 20 /* without options: gif sends none, passes any */
#define IPV6_HLEN 40
#define TCP_MIN_HLEN 20
#define IP_MAX_LEN 0xffff
#define IPV4_DF 0x4000
#define IPV4_MF 0x2000
#define IPV4_OFFSET_MASK 0x1fff
#define IPV6_NEXT_FRAGMENT 44
#define LOOPBACK_IFINDEX 1 /* lo is 1 in every namespace */

#define ECN_MASK 0x03
#define ECN_NOT_ECT 0x00
#define ECN_ECT0 0x02
#define ECN_CE 0x03

/* Address families of struct bpf_fib_lookup (the libc value; no UAPI
 * header a BPF build can include defines them). */
#define AF_INET 2
#define AF_INET6 10

#define FAMILY_IPV4 4
#define FAMILY_IPV6 6
#define IPIP_ALLOW_NO_SPOOF_CHECK 2 /* net.inet.ipip.allow=2 */

/* Map sizes: at most this many gifs and local addresses per namespace. */
#define MAX_TUNNELS 16384
#define MAX_LOCAL_ADDRS 65536

/* The maps' layouts are shared with maps_linux.go (bpf2go's gif* types); addresses are in
 * network byte order, IPv4 in a[0] and the rest 0. */
struct gif_addr {
	__u32 a[4];
};

struct egress_tunnel {
	struct gif_addr src, dst; /* outer source (local) and destination */
	__u32 domain;             /* tunneldomain: the FIB lookup's mark */
	__u8 family;              /* outer family: 4 or 6 */
	__u8 ttl;                 /* 1..255, 0 = copy the inner TTL */
	__u8 df;                  /* 1: IPv4 DF set */
	__u8 ecn;                 /* 1: RFC 3168 full functionality */
};

struct ingress_key {
	struct gif_addr local, remote; /* outer destination, outer source */
	__u8 family;
	__u8 pad[3];
};

struct ingress_tunnel {
	__u32 ifindex;
	__u8 ecn;
	__u8 pad[3];
};

struct local_addr {
	struct gif_addr addr;
	__u8 family;
	__u8 pad[3];
};

struct settings {
	__u32 ipip_allow; /* net.inet.ipip.allow */
};

struct if_counters {
	__u64 ipackets, ibytes, opackets, obytes;
};

/* Why a packet went to the userspace plane; mirrored in pass_reasons.go. */
enum pass_reason {
	PASS_INNER_NOT_IP,     /* egress: neither IPv4 nor IPv6 inside */
	PASS_GSO_NOT_TCP,      /* egress: a GSO packet that is not TCP */
	PASS_TOO_BIG,          /* egress: a segment does not fit the route MTU */
	PASS_NO_ROUTE,         /* egress: no unicast route to the peer */
	PASS_FORWARDING_OFF,   /* egress: forwarding is off, the FIB helper refuses */
	PASS_FIB_ERROR,        /* egress: the FIB helper failed (old kernel?) */
	PASS_LOOP,             /* egress: the route leads into a gif */
	PASS_ENCAP_FAILED,     /* egress: the kernel could not make room */
	PASS_NOT_HOST,         /* ingress: not addressed to this host */
	PASS_BAD_HEADER,       /* ingress: outer header malformed or cut short */
	PASS_OPTIONS,          /* ingress: outer IPv4 options */
	PASS_CHECKSUM,         /* ingress: outer IPv4 header checksum */
	PASS_LENGTH,           /* ingress: outer length is not the packet's */
	PASS_FRAGMENT,         /* ingress: outer fragment */
	PASS_UNKNOWN_PAIR,     /* ingress: no tunnel for the address pair */
	PASS_FAMILY,           /* ingress: inner version is not the protocol's */
	PASS_BAD_INNER,        /* ingress: inner header malformed or cut short */
	PASS_ECN,              /* ingress: outer CE over an inner Not-ECT */
	PASS_SPOOF,            /* ingress: inner source is an address of this host */
	PASS_DECAP_FAILED,     /* ingress: the kernel could not remove the header */
	PASS_REASONS,
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_TUNNELS);
	__type(key, __u32); /* gif ifindex */
	__type(value, struct egress_tunnel);
} egress_tunnels SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_TUNNELS);
	__type(key, struct ingress_key);
	__type(value, struct ingress_tunnel);
} ingress_tunnels SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_LOCAL_ADDRS);
	__type(key, struct local_addr);
	__type(value, __u8);
} local_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct settings);
} settings SEC(".maps");

/* Not preallocated: a gif that carries nothing costs nothing per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, MAX_TUNNELS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32); /* gif ifindex */
	__type(value, struct if_counters);
} if_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PASS_REASONS);
	__type(key, __u32);
	__type(value, __u64);
} pass_reasons SEC(".maps");

/* Header layouts, as on the wire (linux/ip.h and linux/ipv6.h would pull in
 * architecture headers a BPF build does not have). */
struct ipv4_header {
	__u8 version_ihl;
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__sum16 check;
	__be32 saddr, daddr;
};

struct ipv6_header {
	__be32 version_tc_flow;
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u32 saddr[4], daddr[4];
};

union ip_header {
	__u8 version_byte; /* the version in the high nibble */
	struct ipv4_header v4;
	struct ipv6_header v6;
};

/* inner is what parse_inner learns of the packet inside. */
struct inner {
	__u8 version;
	__u8 tos; /* IPv4 TOS or IPv6 traffic class */
	__u8 ttl; /* IPv4 TTL or IPv6 hop limit */
	__u8 l4_protocol;
	__u32 hlen;     /* IP header length */
	__u32 tot_len;  /* IP total length, from the header */
	struct gif_addr src;
};

static __always_inline __u8 ipv6_traffic_class(const struct ipv6_header *ip)
{
	return bpf_ntohl(ip->version_tc_flow) >> 20;
}

static __always_inline void count_pass(enum pass_reason reason)
{
	__u32 key = reason;
	__u64 *n = bpf_map_lookup_elem(&pass_reasons, &key);

	if (n)
		(*n)++;
}

/* pass hands the packet on unchanged: the next tc program, then the TUN or
 * the kernel stack (under tcx, TC_ACT_OK would skip the programs after us). */
static __always_inline int pass(enum pass_reason reason)
{
	count_pass(reason);
	return TC_ACT_UNSPEC;
}

/* network_offset returns where the IP header starts in the packet as the
 * program sees it: 0 on an L3 device (a TUN, WireGuard), ETH_HLEN on an
 * Ethernet one (and in BPF_PROG_TEST_RUN), or -1 if neither. tc gives no
 * field for it, so compare the network header, read relative to itself,
 * with what each offset holds. */
static __always_inline bool same_header(const __u32 *a, const __u32 *b)
{
	/* clang has no inline memcmp for BPF. */
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4];
}

static __always_inline int network_offset(struct __sk_buff *skb)
{
	__u32 net[IPV4_HLEN / 4], at[IPV4_HLEN / 4];

	if (bpf_skb_load_bytes_relative(skb, 0, net, sizeof(net), BPF_HDR_START_NET))
		return -1;
	if (bpf_skb_load_bytes(skb, 0, at, sizeof(at)) == 0 && same_header(net, at))
		return 0;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, at, sizeof(at)) == 0 && same_header(net, at))
		return ETH_HLEN;
	return -1;
}

/* parse_inner reads the inner IP header at off; false if it is not a
 * whole IPv4 or IPv6 header. */
static __always_inline bool parse_inner(struct __sk_buff *skb, __u32 off, struct inner *in)
{
	union ip_header h;

	if (bpf_skb_load_bytes(skb, off, &h, 1))
		return false;
	in->version = h.version_byte >> 4;
	if (in->version == 4) {
		if (bpf_skb_load_bytes(skb, off, &h.v4, sizeof(h.v4)))
			return false;
		in->hlen = (h.v4.version_ihl & 0x0f) * 4;
		in->tot_len = bpf_ntohs(h.v4.tot_len);
		if (in->hlen < IPV4_HLEN || in->tot_len < in->hlen)
			return false;
		in->tos = h.v4.tos;
		in->ttl = h.v4.ttl;
		in->l4_protocol = h.v4.protocol;
		in->src = (struct gif_addr){{h.v4.saddr}};
		return true;
	}
	if (in->version == 6) {
		if (bpf_skb_load_bytes(skb, off, &h.v6, sizeof(h.v6)))
			return false;
		in->hlen = IPV6_HLEN;
		in->tot_len = IPV6_HLEN + bpf_ntohs(h.v6.payload_len);
		in->tos = ipv6_traffic_class(&h.v6);
		in->ttl = h.v6.hop_limit;
		in->l4_protocol = h.v6.nexthdr;
		__builtin_memcpy(in->src.a, h.v6.saddr, sizeof(in->src.a));
		return true;
	}
	return false;
}

/* segment_headers returns the inner IP + TCP header length that GSO repeats
 * in every segment, or 0 if the GSO packet is not TCP (UDP GSO, or a TCP
 * behind IPv6 extension headers: the userspace plane splits those). */
static __always_inline __u32 segment_headers(struct __sk_buff *skb, __u32 off, const struct inner *in)
{
	__u8 doff;

	if (in->l4_protocol != IPPROTO_TCP)
		return 0;
	/* TCP's data offset is the high nibble of its 13th byte. */
	if (bpf_skb_load_bytes(skb, off + in->hlen + 12, &doff, 1))
		return 0;
	if ((doff >> 4) * 4 < TCP_MIN_HLEN)
		return 0;
	return in->hlen + (doff >> 4) * 4;
}

/* count_carried adds a carried packet to its gif's counters as the
 * userspace plane counts it: one per segment, each segment's inner bytes. */
static __always_inline void count_carried(__u32 ifindex, bool inbound, __u32 len, __u32 segs, __u32 headers)
{
	struct if_counters zero = {}, *c;
	__u64 bytes = len;

	if (segs > 1)
		bytes += (__u64)(segs - 1) * headers;
	else
		segs = 1;
	c = bpf_map_lookup_elem(&if_counters, &ifindex);
	if (!c) {
		bpf_map_update_elem(&if_counters, &ifindex, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&if_counters, &ifindex);
		if (!c)
			return;
	}
	if (inbound) {
		c->ipackets += segs;
		c->ibytes += bytes;
	} else {
		c->opackets += segs;
		c->obytes += bytes;
	}
}

/* ---- egress ---- */

/* outer_tos applies RFC 3168 full functionality on encapsulation, as
 * tunnel.Encap: copy the TOS, inner CE becomes outer ECT(0); without ECN
 * the outer packet is Not-ECT. */
static __always_inline __u8 outer_tos(const struct egress_tunnel *t, __u8 tos)
{
	__u8 ecn = tos & ECN_MASK;

	if (!t->ecn)
		ecn = ECN_NOT_ECT;
	else if (ecn == ECN_CE)
		ecn = ECN_ECT0;
	return (tos & ~ECN_MASK) | ecn;
}

static __always_inline __u16 fold_checksum(__s64 sum)
{
	__u32 s = (__u32)sum;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/* route looks the outer packet up in the FIB as the raw socket's send
 * would be routed: the policy rules with the tunnel's domain as the mark
 * (tunneldomain's "fwmark N lookup N"), the lookup made as for a packet
 * from lo (rules with "iif lo" match local output), and the route's MTU
 * checked against one outer segment of outer_len bytes. On success fib
 * holds the device. SKIP_NEIGH: an unresolved neighbour is no reason to
 * pass, bpf_redirect_neigh resolves it. */
static __always_inline int route(struct __sk_buff *skb, const struct egress_tunnel *t,
				 __u8 proto, __u8 tos, __u32 outer_len, struct bpf_fib_lookup *fib)
{
	__u32 flags = BPF_FIB_LOOKUP_SKIP_NEIGH;
	long ret;

	*fib = (struct bpf_fib_lookup){};
	fib->l4_protocol = proto;
	fib->tot_len = outer_len;
	fib->ifindex = LOOPBACK_IFINDEX;
	if (t->family == FAMILY_IPV4) {
		fib->family = AF_INET;
		fib->tos = tos;
		fib->ipv4_src = t->src.a[0];
		fib->ipv4_dst = t->dst.a[0];
	} else {
		fib->family = AF_INET6;
		__builtin_memcpy(fib->ipv6_src, t->src.a, sizeof(fib->ipv6_src));
		__builtin_memcpy(fib->ipv6_dst, t->dst.a, sizeof(fib->ipv6_dst));
	}
	if (t->domain) {
		/* The mark (6.10) shares smac's place in struct
		 * bpf_fib_lookup; Debian 12's header predates it. */
		__builtin_memcpy(fib->smac, &t->domain, sizeof(t->domain));
		flags |= FIB_LOOKUP_MARK;
	}
	ret = bpf_fib_lookup(skb, fib, sizeof(*fib), flags);
	if (ret < 0)
		return PASS_FIB_ERROR;
	switch (ret) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		break;
	case BPF_FIB_LKUP_RET_FRAG_NEEDED:
		return PASS_TOO_BIG;
	case BPF_FIB_LKUP_RET_FWD_DISABLED:
		return PASS_FORWARDING_OFF;
	default:
		return PASS_NO_ROUTE;
	}
	/* A route back into a gif would loop: the userspace plane drops
	 * and logs it (tunnel.Loops). */
	if (bpf_map_lookup_elem(&egress_tunnels, &fib->ifindex))
		return PASS_LOOP;
	return -1;
}

/* write_outer_ipv4 writes the outer IPv4 header at off, as the raw
 * socket's kernel would: random ID, DF as configured, header checksum. */
static __always_inline int write_outer_ipv4(struct __sk_buff *skb, __u32 off, const struct egress_tunnel *t,
					    __u8 proto, __u8 tos, __u8 ttl, __u32 inner_len)
{
	struct ipv4_header ip = {
		.version_ihl = 0x45,
		.tos = tos,
		.tot_len = bpf_htons(IPV4_HLEN + inner_len),
		.id = (__be16)bpf_get_prandom_u32(),
		.frag_off = t->df ? bpf_htons(IPV4_DF) : 0,
		.ttl = ttl,
		.protocol = proto,
		.saddr = t->src.a[0],
		.daddr = t->dst.a[0],
	};

	ip.check = fold_checksum(bpf_csum_diff(NULL, 0, (__be32 *)&ip, sizeof(ip), 0));
	return bpf_skb_store_bytes(skb, off, &ip, sizeof(ip), 0);
}

/* write_outer_ipv6 writes the outer IPv6 header at off: flow label 0, as
 * the raw socket sends with IPV6_AUTOFLOWLABEL off. */
static __always_inline int write_outer_ipv6(struct __sk_buff *skb, __u32 off, const struct egress_tunnel *t,
					    __u8 proto, __u8 tos, __u8 ttl, __u32 inner_len)
{
	struct ipv6_header ip = {
		.version_tc_flow = bpf_htonl(6U << 28 | (__u32)tos << 20),
		.payload_len = bpf_htons(inner_len),
		.nexthdr = proto,
		.hop_limit = ttl,
	};

	__builtin_memcpy(ip.saddr, t->src.a, sizeof(ip.saddr));
	__builtin_memcpy(ip.daddr, t->dst.a, sizeof(ip.daddr));
	return bpf_skb_store_bytes(skb, off, &ip, sizeof(ip), 0);
}

/* encap inserts and writes the outer header. FIXED_GSO keeps gso_size, the
 * inner segment size, and marks the GSO packet for IP-in-IP segmentation
 * (without it the kernel would shrink each segment by the outer header). */
static __always_inline int encap(struct __sk_buff *skb, __u32 off, const struct egress_tunnel *t,
				 __u8 proto, __u8 tos, __u8 ttl, __u32 inner_len)
{
	__u32 outer_hlen = t->family == FAMILY_IPV4 ? IPV4_HLEN : IPV6_HLEN;
	__u64 flags = BPF_F_ADJ_ROOM_FIXED_GSO;

	flags |= t->family == FAMILY_IPV4 ? BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 : BPF_F_ADJ_ROOM_ENCAP_L3_IPV6;
	if (bpf_skb_adjust_room(skb, outer_hlen, BPF_ADJ_ROOM_MAC, flags))
		return -1;
	if (t->family == FAMILY_IPV4)
		return write_outer_ipv4(skb, off, t, proto, tos, ttl, inner_len);
	return write_outer_ipv6(skb, off, t, proto, tos, ttl, inner_len);
}

/* set_ethernet gives the packet the Ethernet header bpf_redirect_neigh
 * expects in front of the network header: an L3 device (the TUN) has
 * none, and without one the packet is silently dropped. Neighbour output
 * rewrites it. */
static __always_inline int set_ethernet(struct __sk_buff *skb, __u32 off, __u8 family)
{
	__be16 proto = bpf_htons(family == FAMILY_IPV4 ? ETH_P_IP : ETH_P_IPV6);

	if (off == 0 && bpf_skb_change_head(skb, ETH_HLEN, 0))
		return -1;
	return bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_proto), &proto, sizeof(proto), 0);
}

SEC("tc")
int gif_encap(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct egress_tunnel *t = bpf_map_lookup_elem(&egress_tunnels, &ifindex);
	struct bpf_fib_lookup fib;
	struct inner in;
	__u32 segs = skb->gso_segs; /* read first: making room zeroes it */
	__u32 inner_len, segment, headers = 0, outer_hlen;
	__u8 proto, tos, ttl;
	int off, reason;

	if (!t)
		return TC_ACT_UNSPEC; /* not on the kernel plane */
	off = network_offset(skb);
	if (off < 0 || !parse_inner(skb, off, &in))
		return pass(PASS_INNER_NOT_IP);
	proto = in.version == 4 ? IPPROTO_IPIP : IPPROTO_IPV6;
	tos = outer_tos(t, in.tos);
	ttl = t->ttl ? t->ttl : in.ttl;
	outer_hlen = t->family == FAMILY_IPV4 ? IPV4_HLEN : IPV6_HLEN;
	inner_len = skb->len - off;

	/* tc sees GSO packets before segmentation: check the MTU per
	 * segment, which the kernel cuts after us. */
	segment = inner_len;
	if (segs > 1) {
		headers = segment_headers(skb, off, &in);
		if (!headers)
			return pass(PASS_GSO_NOT_TCP);
		segment = headers + skb->gso_size;
	}
	if (inner_len + (t->family == FAMILY_IPV4 ? IPV4_HLEN : 0) > IP_MAX_LEN)
		return pass(PASS_TOO_BIG);
	reason = route(skb, t, proto, tos, outer_hlen + segment, &fib);
	if (reason >= 0)
		return pass(reason);

	if (encap(skb, off, t, proto, tos, ttl, inner_len) || set_ethernet(skb, off, t->family))
		return pass(PASS_ENCAP_FAILED);
	count_carried(ifindex, false, inner_len, segs, headers);

	/* The outer packet carries the domain as its mark, as the raw
	 * socket's SO_MARK does. No next hop is given to
	 * bpf_redirect_neigh: with one, the packet keeps the route that led
	 * into the gif, and a packet queued while the neighbour resolves is
	 * sent by that route's neighbour, back into the gif, and lost.
	 * Without one, the kernel routes again (mark, output device) and
	 * sets the route it found. */
	skb->mark = t->domain;
	return bpf_redirect_neigh(fib.ifindex, NULL, 0, 0);
}

/* ---- ingress ---- */

/* outer is what check_outer learns of the outer header. */
struct outer {
	struct ingress_key key;
	__u32 hlen;
	__u8 proto;
	__u8 tos;
};

/* check_outer repeats the checks ip_rcv/ipv6_rcv have not made yet when
 * tc ingress runs, and returns the reason to pass, -1 for a packet to
 * decapsulate, or PASS_REASONS for one that is no IP-in-IP at all. */
static __always_inline int check_outer(struct __sk_buff *skb, __u32 off, struct outer *o)
{
	union ip_header h;
	__u32 len = skb->len - off;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		if (bpf_skb_load_bytes(skb, off, &h.v4, sizeof(h.v4)))
			return PASS_REASONS;
		if (h.v4.protocol != IPPROTO_IPIP && h.v4.protocol != IPPROTO_IPV6)
			return PASS_REASONS;
		if (h.v4.version_ihl >> 4 != 4 || (h.v4.version_ihl & 0x0f) < 5)
			return PASS_BAD_HEADER;
		if ((h.v4.version_ihl & 0x0f) != 5)
			return PASS_OPTIONS;
		if (skb->pkt_type != PACKET_HOST)
			return PASS_NOT_HOST;
		if (fold_checksum(bpf_csum_diff(NULL, 0, (__be32 *)&h.v4, sizeof(h.v4), 0)) != 0)
			return PASS_CHECKSUM;
		if (bpf_ntohs(h.v4.tot_len) != len)
			return PASS_LENGTH;
		if (bpf_ntohs(h.v4.frag_off) & (IPV4_MF | IPV4_OFFSET_MASK))
			return PASS_FRAGMENT;
		o->hlen = IPV4_HLEN;
		o->proto = h.v4.protocol;
		o->tos = h.v4.tos;
		o->key.family = FAMILY_IPV4;
		o->key.local.a[0] = h.v4.daddr;
		o->key.remote.a[0] = h.v4.saddr;
		return -1;
	}
	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		if (bpf_skb_load_bytes(skb, off, &h.v6, sizeof(h.v6)))
			return PASS_REASONS;
		if (h.v6.nexthdr == IPV6_NEXT_FRAGMENT) {
			__u8 next;

			/* A fragment of IP-in-IP: its header's first byte. */
			if (bpf_skb_load_bytes(skb, off + IPV6_HLEN, &next, 1) ||
			    (next != IPPROTO_IPIP && next != IPPROTO_IPV6))
				return PASS_REASONS;
			return PASS_FRAGMENT;
		}
		/* Other extension headers: what follows them is unknown
		 * without walking the chain; the stack decides. */
		if (h.v6.nexthdr != IPPROTO_IPIP && h.v6.nexthdr != IPPROTO_IPV6)
			return PASS_REASONS;
		if (bpf_ntohl(h.v6.version_tc_flow) >> 28 != 6)
			return PASS_BAD_HEADER;
		if (skb->pkt_type != PACKET_HOST)
			return PASS_NOT_HOST;
		if (IPV6_HLEN + bpf_ntohs(h.v6.payload_len) != len)
			return PASS_LENGTH;
		o->hlen = IPV6_HLEN;
		o->proto = h.v6.nexthdr;
		o->tos = ipv6_traffic_class(&h.v6);
		o->key.family = FAMILY_IPV6;
		__builtin_memcpy(o->key.local.a, h.v6.daddr, sizeof(o->key.local.a));
		__builtin_memcpy(o->key.remote.a, h.v6.saddr, sizeof(o->key.remote.a));
		return -1;
	}
	return PASS_REASONS;
}

/* ecn_drops applies the RFC 3168 egress rule's drop, as tunnel.Decap:
 * outer CE over an inner Not-ECT packet, which the userspace plane drops
 * and counts. */
static __always_inline bool ecn_drops(const struct outer *o, const struct inner *in)
{
	return (o->tos & ECN_MASK) == ECN_CE && (in->tos & ECN_MASK) == ECN_NOT_ECT;
}

/* mark_ce applies the rest of the rule: outer CE marks an ECN-capable
 * inner packet CE (the IPv4 checksum follows). */
static __always_inline int mark_ce(struct __sk_buff *skb, __u32 off, const struct outer *o, const struct inner *in)
{
	__u8 tos = in->tos | ECN_CE;

	if ((o->tos & ECN_MASK) != ECN_CE || (in->tos & ECN_MASK) == ECN_CE)
		return 0;
	if (in->version == 4) {
		/* The checksum covers the 16-bit word version/IHL + TOS. */
		__u16 vihl = (0x40 | in->hlen / 4) << 8;
		__be16 old = bpf_htons(vihl | in->tos), new = bpf_htons(vihl | tos);

		if (bpf_l3_csum_replace(skb, off + offsetof(struct ipv4_header, check), old, new, sizeof(new)))
			return -1;
		return bpf_skb_store_bytes(skb, off + offsetof(struct ipv4_header, tos), &tos, 1, 0);
	}
	/* The traffic class straddles the first two bytes. */
	__u8 b[2];

	if (bpf_skb_load_bytes(skb, off, b, sizeof(b)))
		return -1;
	b[0] = (b[0] & 0xf0) | tos >> 4;
	b[1] = (b[1] & 0x0f) | (tos & 0x0f) << 4;
	return bpf_skb_store_bytes(skb, off, b, sizeof(b), 0);
}

/* spoofed reports an inner source that is an address of this host
 * (ipips_spoof), unless net.inet.ipip.allow is 2. */
static __always_inline bool spoofed(const struct inner *in)
{
	__u32 zero = 0;
	struct settings *s = bpf_map_lookup_elem(&settings, &zero);
	struct local_addr key = {.addr = in->src, .family = in->version};

	if (s && s->ipip_allow == IPIP_ALLOW_NO_SPOOF_CHECK)
		return false;
	return bpf_map_lookup_elem(&local_addrs, &key) != NULL;
}

/* decap removes the outer header. FIXED_GSO keeps a GRO packet's gso_size;
 * DECAP_L3 (6.3) tells the kernel the family changes, and is left out
 * when it does not, for older kernels. */
static __always_inline int decap(struct __sk_buff *skb, __u32 off, const struct outer *o, const struct inner *in)
{
	__u64 flags = BPF_F_ADJ_ROOM_FIXED_GSO;
	__be16 proto;

	if (in->version != o->key.family)
		flags |= in->version == 4 ? BPF_F_ADJ_ROOM_DECAP_L3_IPV4 : BPF_F_ADJ_ROOM_DECAP_L3_IPV6;
	if (bpf_skb_adjust_room(skb, -(__s32)o->hlen, BPF_ADJ_ROOM_MAC, flags))
		return -1;
	if (off == 0 || in->version == o->key.family)
		return 0;
	/* An Ethernet header stays in front: give it the inner type. */
	proto = bpf_htons(in->version == 4 ? ETH_P_IP : ETH_P_IPV6);
	return bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_proto), &proto, sizeof(proto), 0);
}

SEC("tc")
int gif_decap(struct __sk_buff *skb)
{
	struct ingress_tunnel *t;
	struct outer o = {};
	struct inner in;
	__u32 segs = skb->gso_segs, headers = 0, inner_off;
	__u8 version;
	int off, reason;

	off = network_offset(skb);
	if (off < 0)
		return TC_ACT_UNSPEC;
	reason = check_outer(skb, off, &o);
	if (reason == PASS_REASONS)
		return TC_ACT_UNSPEC; /* no IP-in-IP: not ours */
	if (reason >= 0)
		return pass(reason);
	t = bpf_map_lookup_elem(&ingress_tunnels, &o.key);
	if (!t)
		return pass(PASS_UNKNOWN_PAIR);

	/* The version first, as tunnel.Decap: protocol 4 carries IPv4, 41
	 * IPv6; then the rest of the inner header. */
	inner_off = off + o.hlen;
	if (bpf_skb_load_bytes(skb, inner_off, &version, 1))
		return pass(PASS_BAD_INNER);
	if (version >> 4 != (o.proto == IPPROTO_IPIP ? 4 : 6))
		return pass(PASS_FAMILY);
	if (!parse_inner(skb, inner_off, &in) || in.tot_len != skb->len - inner_off)
		return pass(PASS_BAD_INNER);
	if (t->ecn && ecn_drops(&o, &in))
		return pass(PASS_ECN);
	if (spoofed(&in))
		return pass(PASS_SPOOF);
	if (t->ecn && mark_ce(skb, inner_off, &o, &in))
		return pass(PASS_DECAP_FAILED);
	if (segs > 1)
		headers = segment_headers(skb, inner_off, &in);

	if (decap(skb, off, &o, &in))
		return pass(PASS_DECAP_FAILED);
	count_carried(t->ifindex, true, in.tot_len, segs, headers);
	return bpf_redirect(t->ifindex, BPF_F_INGRESS);
}

/* ---- entries ---- */

enum plane_program {
	PLANE_ENCAP,
	PLANE_DECAP,
	PLANE_PROGRAMS,
};

/* plane holds the programs that do the work; loading fills it from the
 * initializer below, New and the tests alike (loadGifObjects). Only
 * user space's references keep it filled: when the last one closes (the
 * daemon ends, however), the kernel empties it, though the programs that
 * use it hold it still (kernel/bpf/arraymap.c, prog_array_map_clear). */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, PLANE_PROGRAMS);
	__type(key, __u32);
	__type(value, __u32);
	__array(values, int(struct __sk_buff *));
} plane SEC(".maps") = {
	.values = {
		[PLANE_ENCAP] = (void *)&gif_encap,
		[PLANE_DECAP] = (void *)&gif_decap,
	},
};

/* The entries, attached to the gifs' devices and the underlay. Without the
 * daemon, the tail call finds no program and the packet goes on. */
SEC("tc")
int gif_egress(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &plane, PLANE_ENCAP);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int gif_ingress(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &plane, PLANE_DECAP);
	return TC_ACT_UNSPEC;
}
