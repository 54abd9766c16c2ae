package kernel

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"

	"gif/internal/tunnel"
	"gif/internal/wire"
)

// TestEgressEncapsulates checks, for each IP mode, TTL setting, DF, ECN
// switch and inner ECN codepoint, that gif_egress redirects the packet
// with exactly the outer header tunnel.Encap asks for (protocol, TOS, TTL,
// DF; IPv4 checksum and length, IPv6 flow label 0 and payload length),
// followed by the unchanged inner packet, and counts it in if_counters.
func TestEgressEncapsulates(t *testing.T) {
	tb := newTestbed(t)
	var sent, sentBytes uint64
	for _, mode := range tunnelModes {
		for _, ttl := range []int{64, 1, tunnel.TTLCopy} {
			for _, df := range []bool{false, true} {
				for _, ecn := range []bool{true, false} {
					for _, innerECN := range []wire.ECN{wire.NotECT, wire.ECT1, wire.ECT0, wire.CE} {
						c := tunnel.Config{Src: mode.src, Dst: mode.dst, TTL: ttl, DF: df, ECN: ecn}
						name := fmt.Sprintf("%s/ttl%d/df=%t/ecn=%t/%v", mode.name, ttl, df, ecn, innerECN)
						inner := innerPacket(mode.inner, wire.WithECN(0xb8, innerECN), 33)
						want, drop := tunnel.Encap(&c, inner)
						if drop != tunnel.DropNone {
							t.Fatalf("%s: tunnel.Encap drops: %v", name, drop)
						}
						tb.addEgress(t, &c)
						ret, out := tb.run(t, tb.objs.GifEgress, ethernet(hostMAC, inner), skbContext{Ifindex: tb.gif})
						if ret != actRedirect {
							t.Errorf("%s: verdict %d, want TC_ACT_REDIRECT", name, int32(ret))
							continue
						}
						checkOuter(t, name, &c, want, out, inner)
						sent++
						sentBytes += uint64(len(inner))
					}
				}
			}
		}
	}
	if got := tb.counters(t); got.Opackets != sent || got.Obytes != sentBytes || got.Ipackets != 0 {
		t.Errorf("if_counters %+v, want %d packets out, %d bytes", got, sent, sentBytes)
	}
}

// checkOuter compares the Ethernet frame out with what the userspace plane
// would send for inner: the outer header of want, then inner unchanged.
func checkOuter(t *testing.T, name string, c *tunnel.Config, want tunnel.Outer, out, inner []byte) {
	t.Helper()
	if len(out) < wire.EthernetHeaderLen {
		t.Fatalf("%s: %d bytes out", name, len(out))
	}
	etherType := binary.BigEndian.Uint16(out[12:])
	ip := out[wire.EthernetHeaderLen:]
	var hlen int
	var src, dst netip.Addr
	if c.Src.Is4() {
		outer, err := wire.ParseIPv4(ip)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		hlen = outer.HeaderLen()
		check(t, name, "ethertype", etherType, uint16(0x0800))
		check(t, name, "protocol", outer.Protocol(), want.Proto)
		check(t, name, "TOS", outer.TOS(), want.TOS)
		check(t, name, "TTL", outer.TTL(), want.TTL)
		check(t, name, "DF", outer.DF(), want.DF)
		check(t, name, "MF", outer.MF(), false)
		check(t, name, "fragment offset", outer.FragmentOffset(), uint16(0))
		check(t, name, "header length", hlen, wire.IPv4MinHeaderLen)
		check(t, name, "total length", int(outer.TotalLength()), len(ip))
		check(t, name, "checksum valid", outer.ChecksumValid(), true)
		src, dst = outer.Src(), outer.Dst()
	} else {
		outer, err := wire.ParseIPv6(ip)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		hlen = wire.IPv6HeaderLen
		check(t, name, "ethertype", etherType, uint16(0x86dd))
		check(t, name, "next header", outer.NextHeader(), want.Proto)
		check(t, name, "traffic class", outer.TrafficClass(), want.TOS)
		check(t, name, "hop limit", outer.HopLimit(), want.TTL)
		check(t, name, "flow label", outer.FlowLabel(), uint32(0))
		check(t, name, "payload length", int(outer.PayloadLength()), len(ip)-hlen)
		src, dst = outer.Src(), outer.Dst()
	}
	check(t, name, "source", src, c.Src)
	check(t, name, "destination", dst, c.Dst)
	if got := ip[hlen:]; string(got) != string(inner) {
		t.Errorf("%s: inner packet\n got %x\nwant %x", name, got, inner)
	}
}

func check[T comparable](t *testing.T, name, field string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s: %s = %v, want %v", name, field, got, want)
	}
}
