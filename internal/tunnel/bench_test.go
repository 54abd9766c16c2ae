package tunnel

import (
	"fmt"
	"net/netip"
	"testing"

	"gif/internal/wire"
)

// The per-packet rules of the data path, for `make bench`: each reports its
// time and its allocations per packet, which must stay 0.

// benchPayload is the payload of the inner packets: a full 1500-byte IPv4
// packet's worth of UDP data.
var benchPayload = make([]byte, 1500-wire.IPv4MinHeaderLen-8)

func BenchmarkEncap(b *testing.B) {
	c := tunnelConfig("192.0.2.1", "198.51.100.1")
	c.ECN = true
	for _, tc := range []struct {
		family   int
		src, dst string
	}{{4, "203.0.113.10", "203.0.113.20"}, {6, "2001:db8:1::1", "2001:db8:1::2"}} {
		inner := ipPacket(0x02, 64, protoUDP, netip.MustParseAddr(tc.src), netip.MustParseAddr(tc.dst), benchPayload)
		b.Run(fmt.Sprintf("IPv%d", tc.family), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(inner)))
			for b.Loop() {
				if Loops(c, inner) {
					b.Fatal("loops")
				}
				if _, drop := Encap(c, inner); drop != DropNone {
					b.Fatal(drop)
				}
			}
		})
	}
}

func BenchmarkDecap(b *testing.B) {
	for _, tc := range []struct {
		family   int
		proto    uint8
		src, dst string
	}{{4, wire.ProtoIPv4, "203.0.113.10", "203.0.113.20"}, {6, wire.ProtoIPv6, "2001:db8:1::1", "2001:db8:1::2"}} {
		inner := ipPacket(0x02, 64, protoUDP, netip.MustParseAddr(tc.src), netip.MustParseAddr(tc.dst), benchPayload)
		ect0 := inner[:wire.IPv4MinHeaderLen:wire.IPv4MinHeaderLen]
		ect0 = append([]byte(nil), ect0...)
		b.Run(fmt.Sprintf("IPv%d", tc.family), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(inner)))
			for b.Loop() {
				// Outer CE on ECT(0): Decap marks the inner packet CE and
				// fixes its checksum, the most work it does.
				copy(inner, ect0)
				if _, drop := Decap(tc.proto, 0x03, true, inner); drop != DropNone {
					b.Fatal(drop)
				}
			}
		})
	}
}

func BenchmarkEtherIP(b *testing.B) {
	c := tunnelConfig("192.0.2.1", "198.51.100.1")
	packet := etherIP(wire.EtherTypeIPv4, ipPacket(0, 64, protoUDP, innerSrc4, innerDst4, benchPayload))
	b.ReportAllocs()
	b.SetBytes(int64(len(packet)))
	for b.Loop() {
		if LoopsFrame(c, packet[wire.EtherIPHeaderLen:]) {
			b.Fatal("loops")
		}
		EncapEtherIP(c)
		if _, drop := DecapEtherIP(packet); drop != DropNone {
			b.Fatal(drop)
		}
	}
}
