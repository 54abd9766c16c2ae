package ifconfig

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gif/internal/tunnel"
)

func op(kind tunnel.OpKind, token string) tunnel.Op { return tunnel.Op{Kind: kind, Token: token} }

func intOp(kind tunnel.OpKind, token string, n int) tunnel.Op {
	return tunnel.Op{Kind: kind, Token: token, Int: n}
}

func boolOp(kind tunnel.OpKind, token string, b bool) tunnel.Op {
	return tunnel.Op{Kind: kind, Token: token, Bool: b}
}

func tunnelOp(token, src, dst string) tunnel.Op {
	return tunnel.Op{Kind: tunnel.OpTunnel, Token: token, Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst)}
}

// addrOp is an address operation; peer may be "".
func addrOp(kind tunnel.OpKind, token, prefix, peer string) tunnel.Op {
	o := tunnel.Op{Kind: kind, Token: token, Addr: tunnel.Addr{Prefix: netip.MustParsePrefix(prefix)}}
	if peer != "" {
		o.Addr.Peer = netip.MustParseAddr(peer)
	}
	return o
}

func add(token, prefix, peer string) tunnel.Op { return addrOp(tunnel.OpAddAddr, token, prefix, peer) }
func del(token, prefix, peer string) tunnel.Op {
	return addrOp(tunnel.OpDeleteAddr, token, prefix, peer)
}

// same is one operation parsed from its own token.
func same(o tunnel.Op) parseCase { return parseCase{strings.Fields(o.Token), []tunnel.Op{o}} }

type parseCase struct {
	args []string
	want []tunnel.Op
}

// parseCases are the accepted commands, by the interface they are for.
var parseCases = []struct {
	ifname string
	cases  []parseCase
}{{"gif0", gifCases}, {"bridge0", bridgeCases}, {"eth1", linkCases}}

var gifCases = []parseCase{
	same(op(tunnel.OpCreate, "create")),
	same(op(tunnel.OpDestroy, "destroy")),
	same(op(tunnel.OpUp, "up")),
	same(op(tunnel.OpDown, "down")),
	same(intOp(tunnel.OpMTU, "mtu 1400", 1400)),
	// The model checks the range.
	same(intOp(tunnel.OpMTU, "mtu 1279", 1279)),
	same(intOp(tunnel.OpMTU, "mtu 0", 0)),
	{[]string{"description", "to the branch office"},
		[]tunnel.Op{{Kind: tunnel.OpDescription, Token: "description to the branch office", Text: "to the branch office"}}},
	{[]string{"descr", "x"}, []tunnel.Op{{Kind: tunnel.OpDescription, Token: "descr x", Text: "x"}}},
	{[]string{"description", "up"}, []tunnel.Op{{Kind: tunnel.OpDescription, Token: "description up", Text: "up"}}},
	{[]string{"description", strings.Repeat("d", MaxDescriptionLen)},
		[]tunnel.Op{{Kind: tunnel.OpDescription, Token: "description " + strings.Repeat("d", MaxDescriptionLen), Text: strings.Repeat("d", MaxDescriptionLen)}}},
	{[]string{"description", ""}, []tunnel.Op{op(tunnel.OpDescription, "description ")}},
	same(op(tunnel.OpDescription, "-description")),
	same(op(tunnel.OpDescription, "-descr")),

	same(tunnelOp("tunnel 192.0.2.1 198.51.100.1", "192.0.2.1", "198.51.100.1")),
	same(tunnelOp("giftunnel 2001:db8::1 2001:db8:1::1", "2001:db8::1", "2001:db8:1::1")),
	same(tunnelOp("tunnel fe80::1 fe80::2", "fe80::1", "fe80::2")),
	same(op(tunnel.OpDeleteTunnel, "-tunnel")),
	same(op(tunnel.OpDeleteTunnel, "deletetunnel")),

	same(add("inet 192.0.2.1 192.0.2.2", "192.0.2.1/32", "192.0.2.2")),
	same(add("inet 192.0.2.1/24", "192.0.2.1/24", "")),
	same(add("inet 192.0.2.1 netmask 255.255.255.0", "192.0.2.1/24", "")),
	same(add("inet 192.0.2.1 netmask 0xffffff00", "192.0.2.1/24", "")),
	same(add("inet 192.0.2.1 netmask 0XFFFFFFFC", "192.0.2.1/30", "")),
	same(add("inet 192.0.2.1 netmask 255.255.255.255", "192.0.2.1/32", "")),
	same(add("inet 192.0.2.1", "192.0.2.1/32", "")),
	same(add("inet 192.0.2.1 192.0.2.2 netmask 255.255.255.252", "192.0.2.1/30", "192.0.2.2")),
	same(add("inet 192.0.2.1 netmask 255.255.255.252 192.0.2.2", "192.0.2.1/30", "192.0.2.2")),
	same(add("inet 192.0.2.1/30 192.0.2.2", "192.0.2.1/30", "192.0.2.2")),
	same(add("inet 192.0.2.1 prefixlen 24", "192.0.2.1/24", "")),
	// netstart's form of "inet ADDR MASK DEST" in hostname.if.
	same(add("inet 192.0.2.1 netmask 255.255.255.252 broadcast 192.0.2.2", "192.0.2.1/30", "192.0.2.2")),
	same(add("inet alias 192.0.2.1", "192.0.2.1/32", "")),
	same(add("inet 192.0.2.1 192.0.2.2 alias", "192.0.2.1/32", "192.0.2.2")),
	same(del("inet 192.0.2.1 delete", "192.0.2.1/32", "")),
	same(del("inet 192.0.2.1/24 delete", "192.0.2.1/24", "")),
	same(del("inet 192.0.2.1 -alias", "192.0.2.1/32", "")),
	same(del("inet delete 192.0.2.1", "192.0.2.1/32", "")),
	same(del("inet -alias 192.0.2.1 192.0.2.2", "192.0.2.1/32", "192.0.2.2")),
	same(del("inet 192.0.2.1 192.0.2.2 delete", "192.0.2.1/32", "192.0.2.2")),
	same(add("192.0.2.1 192.0.2.2", "192.0.2.1/32", "192.0.2.2")),
	same(add("192.0.2.1/24", "192.0.2.1/24", "")),

	same(add("inet6 2001:db8::1", "2001:db8::1/64", "")),
	same(add("inet6 2001:db8::1/48", "2001:db8::1/48", "")),
	same(add("inet6 2001:db8::1 prefixlen 56", "2001:db8::1/56", "")),
	same(add("inet6 2001:db8::1 2001:db8::2", "2001:db8::1/128", "2001:db8::2")),
	same(add("inet6 2001:db8::1 2001:db8::2 prefixlen 128", "2001:db8::1/128", "2001:db8::2")),
	same(add("inet6 2001:db8::1/128 2001:db8::2", "2001:db8::1/128", "2001:db8::2")),
	same(add("inet6 2001:db8::1 broadcast 2001:db8::2", "2001:db8::1/128", "2001:db8::2")),
	same(add("inet6 alias 2001:db8::1 prefixlen 64", "2001:db8::1/64", "")),
	same(add("inet6 fe80::1%gif0", "fe80::1/64", "")),
	same(add("inet6 fe80::1", "fe80::1/64", "")),
	same(add("inet6 fe80::1 fe80::2%gif0", "fe80::1/128", "fe80::2")),
	same(del("inet6 2001:db8::1 delete", "2001:db8::1/64", "")),
	same(del("inet6 2001:db8::1/56 -alias", "2001:db8::1/56", "")),
	// A delete matches on the address only, so the kernel's prefix length
	// rule does not apply.
	same(del("inet6 2001:db8::1 2001:db8::2 prefixlen 64 delete", "2001:db8::1/64", "2001:db8::2")),
	same(add("2001:db8::1/64", "2001:db8::1/64", "")),
	same(add("2001:db8::1 2001:db8::2", "2001:db8::1/128", "2001:db8::2")),
	same(op(tunnel.OpNoInet6, "-inet6")),

	same(intOp(tunnel.OpTunnelTTL, "tunnelttl 1", 1)),
	same(intOp(tunnel.OpTunnelTTL, "tunnelttl 255", 255)),
	same(intOp(tunnel.OpTunnelTTL, "tunnelttl copy", tunnel.TTLCopy)),
	same(boolOp(tunnel.OpTunnelDF, "tunneldf", true)),
	same(boolOp(tunnel.OpTunnelDF, "-tunneldf", false)),
	same(boolOp(tunnel.OpTunnelECN, "tunnelecn", true)),
	same(boolOp(tunnel.OpTunnelECN, "-tunnelecn", false)),
	same(boolOp(tunnel.OpFastpath, "fastpath", true)),
	same(boolOp(tunnel.OpFastpath, "-fastpath", false)),
	same(intOp(tunnel.OpTunnelDomain, "tunneldomain 0", 0)),
	same(intOp(tunnel.OpTunnelDomain, "tunneldomain 252", 252)),
	same(intOp(tunnel.OpTunnelDomain, "tunneldomain 256", 256)),
	same(intOp(tunnel.OpTunnelDomain, "tunneldomain 2147483647", tunnel.MaxDomain)),
	same(intOp(tunnel.OpTunnelDomain, "-tunneldomain", 0)),
	same(tunnel.Op{Kind: tunnel.OpLLAddr, Token: "lladdr 02:00:5e:00:53:01", LLAddr: tunnel.LLAddr{2, 0, 0x5e, 0, 0x53, 1}}),
	same(tunnel.Op{Kind: tunnel.OpLLAddr, Token: "lladdr fe:A:0:0:53:ff", LLAddr: tunnel.LLAddr{0xfe, 0xa, 0, 0, 0x53, 0xff}}),
	same(op(tunnel.OpLLAddr, "lladdr random")),

	{nil, nil},
	{strings.Fields("create tunnel 192.0.2.1 198.51.100.1 inet 10.0.0.1 10.0.0.2 netmask 255.255.255.255 mtu 1400 tunnelttl copy -tunnelecn up"),
		[]tunnel.Op{
			op(tunnel.OpCreate, "create"),
			tunnelOp("tunnel 192.0.2.1 198.51.100.1", "192.0.2.1", "198.51.100.1"),
			add("inet 10.0.0.1 10.0.0.2 netmask 255.255.255.255", "10.0.0.1/32", "10.0.0.2"),
			intOp(tunnel.OpMTU, "mtu 1400", 1400),
			intOp(tunnel.OpTunnelTTL, "tunnelttl copy", tunnel.TTLCopy),
			boolOp(tunnel.OpTunnelECN, "-tunnelecn", false),
			op(tunnel.OpUp, "up"),
		}},
	{strings.Fields("inet 192.0.2.1 inet6 2001:db8::1 -inet6 down"),
		[]tunnel.Op{
			add("inet 192.0.2.1", "192.0.2.1/32", ""),
			add("inet6 2001:db8::1", "2001:db8::1/64", ""),
			op(tunnel.OpNoInet6, "-inet6"),
			op(tunnel.OpDown, "down"),
		}},
}

func TestParse(t *testing.T) {
	for _, g := range parseCases {
		for _, tc := range g.cases {
			got, err := Parse(g.ifname, tc.args)
			if err != nil {
				t.Errorf("Parse(%s, %q): %v", g.ifname, tc.args, err)
				continue
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse(%s, %q)\n got %+v\nwant %+v", g.ifname, tc.args, got, tc.want)
			}
		}
	}
}

type errorCase struct {
	args []string
	want string
}

var longDescription = strings.Repeat("d", MaxDescriptionLen+1)

// errorCases are refused commands, by the interface they are for.
var errorCases = []struct {
	ifname string
	cases  []errorCase
}{{"gif0", gifErrors}, {"bridge0", bridgeErrors}, {"eth1", linkErrors}}

var gifErrors = []errorCase{
	{strings.Fields("mtu"), `argument 1 "mtu": missing value (want a number 1280..8192)`},
	{strings.Fields("up down mtu"), `argument 3 "mtu": missing value (want a number 1280..8192)`},
	{strings.Fields("mtu abc"), `argument 1 "mtu abc": "abc" is not a number 1280..8192`},
	{strings.Fields("mtu -1"), `argument 1 "mtu -1": "-1" is not a number 1280..8192`},
	{strings.Fields("mtu +1400"), `argument 1 "mtu +1400": "+1400" is not a number 1280..8192`},
	{strings.Fields("mtu 2147483648"), `argument 1 "mtu 2147483648": "2147483648" is not a number 1280..8192`},
	{strings.Fields("description"), `argument 1 "description": missing value (want one argument; quote text with spaces)`},
	{[]string{"description", longDescription}, `argument 1 "description ` + longDescription + `": description is 64 bytes, more than 63`},
	{[]string{"description", "a\x00b"}, `argument 1 "description a\x00b": description contains a NUL byte`},

	{strings.Fields("tunnel"), `argument 1 "tunnel": missing address (want tunnel SRC DST)`},
	{strings.Fields("up tunnel 192.0.2.1"), `argument 2 "tunnel 192.0.2.1": missing address (want tunnel SRC DST)`},
	{strings.Fields("tunnel 192.0.2.1 2001:db8::1"), `argument 1 "tunnel 192.0.2.1 2001:db8::1": source is IPv4 but destination is IPv6`},
	{strings.Fields("giftunnel 2001:db8::1 192.0.2.1"), `argument 1 "giftunnel 2001:db8::1 192.0.2.1": source is IPv6 but destination is IPv4`},
	{strings.Fields("tunnel 192.0.2.1/32 198.51.100.1"), `argument 1 "tunnel 192.0.2.1/32 198.51.100.1": source 192.0.2.1/32 has a prefix length; a tunnel endpoint is one address`},
	{strings.Fields("tunnel fe80::1 fe80::2%em0"), `argument 1 "tunnel fe80::1 fe80::2%em0": destination fe80::2%em0 has a zone; a tunnel endpoint takes none`},
	{strings.Fields("tunnel 0.0.0.0 198.51.100.1"), `argument 1 "tunnel 0.0.0.0 198.51.100.1": source 0.0.0.0 is unspecified`},
	{strings.Fields("tunnel 2001:db8::1 ::"), `argument 1 "tunnel 2001:db8::1 ::": destination :: is unspecified`},
	{strings.Fields("tunnel 192.0.2.1 224.0.0.1"), `argument 1 "tunnel 192.0.2.1 224.0.0.1": destination 224.0.0.1 is multicast`},
	{strings.Fields("tunnel ff02::1 2001:db8::1"), `argument 1 "tunnel ff02::1 2001:db8::1": source ff02::1 is multicast`},
	{strings.Fields("tunnel 192.0.2.1 255.255.255.255"), `argument 1 "tunnel 192.0.2.1 255.255.255.255": destination 255.255.255.255 is the broadcast address`},
	{strings.Fields("tunnel ::ffff:192.0.2.1 2001:db8::1"), `argument 1 "tunnel ::ffff:192.0.2.1 2001:db8::1": source ::ffff:192.0.2.1 is an IPv4-mapped IPv6 address; write it as IPv4`},
	{strings.Fields("tunnel gw.example.net 198.51.100.1"), `argument 1 "tunnel gw.example.net 198.51.100.1": source "gw.example.net" is not a numeric IP address`},

	{strings.Fields("inet"), `argument 1 "inet": missing address (want inet ADDR[/LEN] [DEST] [netmask MASK])`},
	{strings.Fields("inet6"), `argument 1 "inet6": missing address (want inet6 ADDR[/LEN] [DEST] [prefixlen N])`},
	{strings.Fields("inet up"), `argument 1 "inet": missing address (want inet ADDR[/LEN] [DEST] [netmask MASK])`},
	{strings.Fields("inet alias"), `argument 1 "inet alias": missing address (want inet ADDR[/LEN] [DEST] [netmask MASK])`},
	{strings.Fields("inet 2001:db8::1"), `argument 1 "inet 2001:db8::1": 2001:db8::1 is IPv6; inet takes an IPv4 address`},
	{strings.Fields("inet6 192.0.2.1"), `argument 1 "inet6 192.0.2.1": 192.0.2.1 is IPv4; inet6 takes an IPv6 address`},
	{strings.Fields("inet 192.0.2.300"), `argument 1 "inet 192.0.2.300": "192.0.2.300" is not an IPv4 address`},
	{strings.Fields("inet 010.0.0.1"), `argument 1 "inet 010.0.0.1": "010.0.0.1" is not an IPv4 address`},
	{strings.Fields("inet host.example"), `argument 1 "inet host.example": "host.example" is not an IPv4 address`},
	{strings.Fields("192.0.2.300"), `argument 1 "192.0.2.300": "192.0.2.300" is not an IP address`},
	{strings.Fields("inet 192.0.2.1/33"), `argument 1 "inet 192.0.2.1/33": prefix length "33" is not a number 1..32`},
	{strings.Fields("inet 192.0.2.1/0"), `argument 1 "inet 192.0.2.1/0": prefix length "0" is not a number 1..32`},
	{strings.Fields("inet 192.0.2.1/"), `argument 1 "inet 192.0.2.1/": prefix length "" is not a number 1..32`},
	{strings.Fields("inet6 2001:db8::1/129"), `argument 1 "inet6 2001:db8::1/129": prefix length "129" is not a number 1..128`},
	{strings.Fields("inet 192.0.2.1 netmask"), `argument 1 "inet 192.0.2.1 netmask": missing value after netmask (want a mask such as 255.255.255.0 or 0xffffff00)`},
	{strings.Fields("inet 192.0.2.1 netmask 255.0.255.0"), `argument 1 "inet 192.0.2.1 netmask 255.0.255.0": netmask 255.0.255.0 is not contiguous`},
	{strings.Fields("inet 192.0.2.1 netmask 0xff00ff00"), `argument 1 "inet 192.0.2.1 netmask 0xff00ff00": netmask 0xff00ff00 is not contiguous`},
	{strings.Fields("inet 192.0.2.1 netmask 0.0.0.0"), `argument 1 "inet 192.0.2.1 netmask 0.0.0.0": netmask 0.0.0.0 has no network bits`},
	{strings.Fields("inet 192.0.2.1 netmask 0xzz"), `argument 1 "inet 192.0.2.1 netmask 0xzz": netmask "0xzz" is not a mask such as 255.255.255.0 or 0xffffff00`},
	{strings.Fields("inet 192.0.2.1 netmask 0x1ffffffff"), `argument 1 "inet 192.0.2.1 netmask 0x1ffffffff": netmask "0x1ffffffff" is not a mask such as 255.255.255.0 or 0xffffff00`},
	{strings.Fields("inet 192.0.2.1 netmask ffff::"), `argument 1 "inet 192.0.2.1 netmask ffff::": netmask "ffff::" is not a mask such as 255.255.255.0 or 0xffffff00`},
	{strings.Fields("inet 192.0.2.1/24 netmask 255.255.255.0"), `argument 1 "inet 192.0.2.1/24 netmask 255.255.255.0": prefix length given twice`},
	{strings.Fields("inet 192.0.2.1 prefixlen 24 netmask 255.255.255.0"), `argument 1 "inet 192.0.2.1 prefixlen 24 netmask 255.255.255.0": prefix length given twice`},
	{strings.Fields("inet 192.0.2.1 prefixlen"), `argument 1 "inet 192.0.2.1 prefixlen": missing value after prefixlen (want 1..32)`},
	{strings.Fields("inet6 2001:db8::1 prefixlen 0"), `argument 1 "inet6 2001:db8::1 prefixlen 0": prefix length "0" is not a number 1..128`},
	{strings.Fields("inet6 2001:db8::1 netmask ffff::"), `argument 1 "inet6 2001:db8::1 netmask": netmask is for inet; use prefixlen N`},
	{strings.Fields("inet6 2001:db8::1 2001:db8::2 prefixlen 64"), `argument 1 "inet6 2001:db8::1 2001:db8::2 prefixlen 64": prefix length must be 128 with a destination address, not 64`},
	{strings.Fields("inet6 2001:db8::1/64 2001:db8::2 up"), `argument 1 "inet6 2001:db8::1/64 2001:db8::2": prefix length must be 128 with a destination address, not 64`},
	{strings.Fields("inet 192.0.2.1 192.0.2.2 192.0.2.3"), `argument 1 "inet 192.0.2.1 192.0.2.2 192.0.2.3": second destination address 192.0.2.3`},
	{strings.Fields("inet 192.0.2.1 192.0.2.2 broadcast 192.0.2.3"), `argument 1 "inet 192.0.2.1 192.0.2.2 broadcast 192.0.2.3": second destination address 192.0.2.3`},
	{strings.Fields("inet 192.0.2.1 broadcast"), `argument 1 "inet 192.0.2.1 broadcast": missing value after broadcast (want the destination address)`},
	{strings.Fields("inet 192.0.2.1 192.0.2.2/32"), `argument 1 "inet 192.0.2.1 192.0.2.2/32": destination 192.0.2.2/32 has a prefix length; it is one address`},
	{strings.Fields("inet 192.0.2.1 2001:db8::2"), `argument 1 "inet 192.0.2.1 2001:db8::2": destination 2001:db8::2 is IPv6; inet takes an IPv4 address`},
	{strings.Fields("inet 192.0.2.1 224.0.0.1"), `argument 1 "inet 192.0.2.1 224.0.0.1": destination 224.0.0.1 is multicast`},
	{strings.Fields("inet 224.0.0.1"), `argument 1 "inet 224.0.0.1": 224.0.0.1 is multicast`},
	{strings.Fields("inet 0.0.0.0/8"), `argument 1 "inet 0.0.0.0/8": 0.0.0.0 is unspecified`},
	{strings.Fields("inet6 ::ffff:192.0.2.1"), `argument 1 "inet6 ::ffff:192.0.2.1": ::ffff:192.0.2.1 is an IPv4-mapped IPv6 address; write it as IPv4`},
	{strings.Fields("inet6 fe80::1%gif1"), `argument 1 "inet6 fe80::1%gif1": fe80::1%gif1 has zone "gif1", not this interface gif0`},
	{strings.Fields("inet6 2001:db8::1%gif0"), `argument 1 "inet6 2001:db8::1%gif0": 2001:db8::1%gif0 has a zone, which only a link-local address may have`},
	{strings.Fields("inet6 fe80::1 fe80::2%em0"), `argument 1 "inet6 fe80::1 fe80::2%em0": destination fe80::2%em0 has zone "em0", not this interface gif0`},
	{strings.Fields("inet 192.0.2.1 delete alias"), `argument 1 "inet 192.0.2.1 delete alias": alias after delete (give one of alias, -alias or delete)`},
	{strings.Fields("inet alias 192.0.2.1 -alias"), `argument 1 "inet alias 192.0.2.1 -alias": -alias after alias (give one of alias, -alias or delete)`},

	{strings.Fields("tunnelttl"), `argument 1 "tunnelttl": missing value (TTL must be 1..255 or copy)`},
	{strings.Fields("tunnelttl 0"), `argument 1 "tunnelttl 0": TTL must be 1..255 or copy`},
	{strings.Fields("tunnelttl 256"), `argument 1 "tunnelttl 256": TTL must be 1..255 or copy`},
	{strings.Fields("tunnelttl Copy"), `argument 1 "tunnelttl Copy": TTL must be 1..255 or copy`},
	{strings.Fields("tunneldomain"), `argument 1 "tunneldomain": missing value (want a routing table ` + tunnel.DomainRange + `)`},
	{strings.Fields("tunneldomain 253"), `argument 1 "tunneldomain 253": "253" is not a routing table ` + tunnel.DomainRange},
	{strings.Fields("tunneldomain 254"), `argument 1 "tunneldomain 254": "254" is not a routing table ` + tunnel.DomainRange},
	{strings.Fields("tunneldomain 255"), `argument 1 "tunneldomain 255": "255" is not a routing table ` + tunnel.DomainRange},
	{strings.Fields("tunneldomain 2147483648"), `argument 1 "tunneldomain 2147483648": "2147483648" is not a routing table ` + tunnel.DomainRange},
	{strings.Fields("lladdr"), `argument 1 "lladdr": missing address (want lladdr XX:XX:XX:XX:XX:XX or lladdr random)`},
	{strings.Fields("lladdr 01:00:5e:00:00:01"), `argument 1 "lladdr 01:00:5e:00:00:01": 01:00:5e:00:00:01 is a multicast address (the low bit of its first byte is set); an interface's address is unicast`},
	{strings.Fields("lladdr ff:ff:ff:ff:ff:ff"), `argument 1 "lladdr ff:ff:ff:ff:ff:ff": ff:ff:ff:ff:ff:ff is a multicast address (the low bit of its first byte is set); an interface's address is unicast`},
	{strings.Fields("lladdr 0:0:0:0:0:0"), `argument 1 "lladdr 0:0:0:0:0:0": 00:00:00:00:00:00 is no interface's address`},
	{strings.Fields("lladdr 02:00:5e:00:53"), `argument 1 "lladdr 02:00:5e:00:53": "02:00:5e:00:53" is not an Ethernet address (want six hex bytes separated by colons, as 02:00:5e:00:53:01)`},
	{strings.Fields("lladdr 02-00-5e-00-53-01"), `argument 1 "lladdr 02-00-5e-00-53-01": "02-00-5e-00-53-01" is not an Ethernet address (want six hex bytes separated by colons, as 02:00:5e:00:53:01)`},
	{strings.Fields("lladdr 02:00:5e:00:53:100"), `argument 1 "lladdr 02:00:5e:00:53:100": "02:00:5e:00:53:100" is not an Ethernet address: byte 6 "100" is not one or two hex digits`},
	{strings.Fields("lladdr 02::5e:00:53:01"), `argument 1 "lladdr 02::5e:00:53:01": "02::5e:00:53:01" is not an Ethernet address: byte 2 "" is not one or two hex digits`},
	{strings.Fields("lladdr Random"), `argument 1 "lladdr Random": "Random" is not an Ethernet address (want six hex bytes separated by colons, as 02:00:5e:00:53:01)`},
	{strings.Fields("tunneldomain main"), `argument 1 "tunneldomain main": "main" is not a routing table ` + tunnel.DomainRange},

	{strings.Fields("tunel 192.0.2.1 198.51.100.1"), `argument 1 "tunel": unknown parameter (did you mean "tunnel"?)`},
	{strings.Fields("up tunnelttll 3"), `argument 2 "tunnelttll": unknown parameter (did you mean "tunnelttl"?)`},
	{strings.Fields("dwon"), `argument 1 "dwon": unknown parameter (did you mean "down"?)`},
	{strings.Fields("xyzzy"), `argument 1 "xyzzy": unknown parameter`},
	{[]string{""}, `argument 1 "": unknown parameter`},
	{strings.Fields("netmask 255.0.0.0"), `argument 1 "netmask": must follow an address, as in "inet ADDR netmask"`},
	{strings.Fields("tunnel 192.0.2.1 198.51.100.1 delete"), `argument 4 "delete": must follow an address, as in "inet ADDR delete"`},
	{strings.Fields("-inet"), `argument 1 "-inet": removing every IPv4 address at once is not supported; remove each with "inet ADDR delete"`},
	{strings.Fields("txprio payload"), `argument 1 "txprio": an OpenBSD parameter this gif does not support`},
	{strings.Fields("create up mtu 1400 rdomain 1"), `argument 5 "rdomain": an OpenBSD parameter this gif does not support`},
	{strings.Fields("link2"), `argument 1 "link2": an OpenBSD parameter this gif does not support`},
	{strings.Fields("up add eth1"), `argument 2 "add": a bridge parameter; use "ifconfig bridgeN add gif0"`},
	{strings.Fields("del eth1"), `argument 1 "del": a bridge parameter; use "ifconfig bridgeN del gif0"`},
	// Suggestions come from gif's words only.
	{strings.Fields("lnk2"), `argument 1 "lnk2": unknown parameter`},
	{strings.Fields("ad eth1"), `argument 1 "ad": unknown parameter`},
}

func TestParseErrors(t *testing.T) {
	for _, g := range errorCases {
		for _, tc := range g.cases {
			ops, err := Parse(g.ifname, tc.args)
			if err == nil {
				t.Errorf("Parse(%s, %q) = %+v, want error %s", g.ifname, tc.args, ops, tc.want)
				continue
			}
			if err.Error() != tc.want {
				t.Errorf("Parse(%s, %q) error\n got %s\nwant %s", g.ifname, tc.args, err, tc.want)
			}
			if ops != nil {
				t.Errorf("Parse(%s, %q) returned ops %+v with its error", g.ifname, tc.args, ops)
			}
		}
	}
}

func TestArgError(t *testing.T) {
	_, err := Parse("gif0", strings.Fields("create up mtu abc"))
	var ae *ArgError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *ArgError", err, err)
	}
	want := ArgError{Pos: 3, Token: "mtu abc", Reason: `"abc" is not a number 1280..8192`}
	if *ae != want {
		t.Errorf("got %+v, want %+v", *ae, want)
	}

	_, err = Parse("bridge0", strings.Fields("add gif0 add"))
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *ArgError", err, err)
	}
	want = ArgError{Pos: 3, Token: "add", Reason: "missing interface (want add IF)"}
	if *ae != want {
		t.Errorf("got %+v, want %+v", *ae, want)
	}
}

// TestGrammars checks that each grammar's words are distinct and that the
// OpenBSD words it lacks are refused as unsupported, not unknown.
func TestGrammars(t *testing.T) {
	for _, g := range []struct {
		ifname      string
		grammar     *grammar
		unsupported []string
		reason      string
	}{
		{"gif0", &gifGrammar, gifUnsupported, "an OpenBSD parameter this gif does not support"},
		{"bridge0", &bridgeGrammar, bridgeUnsupported, "an OpenBSD parameter not supported by gif's bridges"},
	} {
		seen := map[string]bool{}
		for _, prm := range g.grammar.params {
			if seen[prm.word] {
				t.Errorf("%s: %q is a parameter twice", g.ifname, prm.word)
			}
			seen[prm.word] = true
		}
		for _, w := range g.unsupported {
			if g.grammar.has(w) {
				t.Errorf("%s: %q is both a parameter and unsupported", g.ifname, w)
			}
			want := fmt.Sprintf("argument 1 %q: %s", w, g.reason)
			if _, err := Parse(g.ifname, []string{w}); err == nil || err.Error() != want {
				t.Errorf("%s: unsupported %q: error %v, want %s", g.ifname, w, err, want)
			}
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "up", 2},
		{"tunel", "tunnel", 1},
		{"dwon", "down", 2},
		{"kitten", "sitting", 3},
		{"mtu", "mtu", 0},
	}
	for _, tc := range tests {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := editDistance(tc.b, tc.a); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.b, tc.a, got, tc.want)
		}
	}
}

// TestGrammarNamesEveryParameter keeps the help text (Grammar) in step with
// the parser: each parameter word a grammar takes is in it.
func TestGrammarNamesEveryParameter(t *testing.T) {
	words := strings.FieldsFunc(Grammar, func(r rune) bool { return strings.ContainsRune(" ,()[]|\n", r) })
	refused := map[string]bool{"-inet": true} // parsed only to say why not
	for _, g := range []*grammar{&gifGrammar, &bridgeGrammar, &linkGrammar} {
		for _, prm := range g.params {
			if !refused[prm.word] && !slices.Contains(words, prm.word) {
				t.Errorf("Grammar does not name %q", prm.word)
			}
		}
	}
}
