package tunnel

import (
	"bytes"
	"net/netip"
	"testing"

	"gif/internal/wire"
)

var (
	innerSrc4 = netip.MustParseAddr("203.0.113.10")
	innerDst4 = netip.MustParseAddr("203.0.113.20")
	innerSrc6 = netip.MustParseAddr("2001:db8:1::10")
	innerDst6 = netip.MustParseAddr("2001:db8:1::20")
)

// ipPacket returns an IPv4 or IPv6 packet, by the family of src, carrying
// payload as protocol proto.
func ipPacket(tos, ttl, proto uint8, src, dst netip.Addr, payload []byte) []byte {
	if src.Is4() {
		b := make([]byte, wire.IPv4MinHeaderLen+len(payload))
		wire.IPv4(b).Encode(wire.IPv4Fields{
			TOS: tos, TotalLength: uint16(len(b)), ID: 0x4242, TTL: ttl, Protocol: proto, Src: src, Dst: dst,
		})
		copy(b[wire.IPv4MinHeaderLen:], payload)
		return b
	}
	b := make([]byte, wire.IPv6HeaderLen+len(payload))
	wire.IPv6(b).Encode(wire.IPv6Fields{
		TrafficClass: tos, FlowLabel: 0x12345, PayloadLength: uint16(len(payload)),
		NextHeader: proto, HopLimit: ttl, Src: src, Dst: dst,
	})
	copy(b[wire.IPv6HeaderLen:], payload)
	return b
}

const protoUDP = 17

var udpPayload = []byte("01234567 a UDP datagram")

func TestEncapECN(t *testing.T) {
	const dscp = 0xb8 // EF
	for _, family := range []struct {
		name     string
		src, dst netip.Addr
		proto    uint8
	}{
		{"IPv4", innerSrc4, innerDst4, wire.ProtoIPv4},
		{"IPv6", innerSrc6, innerDst6, wire.ProtoIPv6},
	} {
		for _, tt := range []struct {
			ecn   bool
			inner wire.ECN
			outer uint8
		}{
			{true, wire.NotECT, 0xb8},
			{true, wire.ECT1, 0xb9},
			{true, wire.ECT0, 0xba},
			{true, wire.CE, 0xba}, // RFC 3168 full functionality: CE is not copied
			{false, wire.NotECT, 0xb8},
			{false, wire.ECT1, 0xb8},
			{false, wire.ECT0, 0xb8},
			{false, wire.CE, 0xb8},
		} {
			c := NewConfig("gif0")
			c.ECN = tt.ecn
			inner := ipPacket(dscp|uint8(tt.inner), 17, protoUDP, family.src, family.dst, udpPayload)
			o, drop := Encap(&c, inner)
			if drop != DropNone || o.Proto != family.proto || o.TOS != tt.outer {
				t.Errorf("%s, ecn %v, inner %v: got %+v, %v; want proto %d, TOS %#x",
					family.name, tt.ecn, tt.inner, o, drop, family.proto, tt.outer)
			}
		}
	}
}

func TestEncapTTLAndDF(t *testing.T) {
	for _, tt := range []struct {
		name      string
		ttl       int
		df        bool
		innerTTL  uint8
		wantTTL   uint8
		src, dst  netip.Addr
		wantProto uint8
	}{
		{"default", DefaultTTL, false, 17, 64, innerSrc4, innerDst4, wire.ProtoIPv4},
		{"set", 1, true, 17, 1, innerSrc4, innerDst4, wire.ProtoIPv4},
		{"max", 255, false, 17, 255, innerSrc6, innerDst6, wire.ProtoIPv6},
		{"copy IPv4", TTLCopy, true, 17, 17, innerSrc4, innerDst4, wire.ProtoIPv4},
		{"copy IPv6 hop limit", TTLCopy, false, 3, 3, innerSrc6, innerDst6, wire.ProtoIPv6},
		{"copy 255", TTLCopy, false, 255, 255, innerSrc4, innerDst4, wire.ProtoIPv4},
	} {
		c := NewConfig("gif0")
		c.TTL, c.DF = tt.ttl, tt.df
		o, drop := Encap(&c, ipPacket(0, tt.innerTTL, protoUDP, tt.src, tt.dst, udpPayload))
		if want := (Outer{Proto: tt.wantProto, TTL: tt.wantTTL, DF: tt.df}); drop != DropNone || o != want {
			t.Errorf("%s: got %+v, %v; want %+v", tt.name, o, drop, want)
		}
	}
}

func TestEncapKeepsDSCP(t *testing.T) {
	c := NewConfig("gif0")
	for _, ecn := range []bool{true, false} {
		c.ECN = ecn
		for dscp := range 64 {
			tos := uint8(dscp<<2) | uint8(wire.ECT0)
			for _, p := range [][]byte{
				ipPacket(tos, 64, protoUDP, innerSrc4, innerDst4, udpPayload),
				ipPacket(tos, 64, protoUDP, innerSrc6, innerDst6, udpPayload),
			} {
				if o, _ := Encap(&c, p); o.TOS>>2 != uint8(dscp) {
					t.Fatalf("ecn %v, DSCP %d: outer TOS %#x", ecn, dscp, o.TOS)
				}
			}
		}
	}
}

func TestEncapDrops(t *testing.T) {
	v4 := ipPacket(0, 64, protoUDP, innerSrc4, innerDst4, udpPayload)
	v6 := ipPacket(0, 64, protoUDP, innerSrc6, innerDst6, udpPayload)
	for _, tt := range []struct {
		name  string
		inner []byte
		want  Drop
	}{
		{"empty", nil, DropShort},
		{"IPv4 header cut", v4[:wire.IPv4MinHeaderLen-1], DropShort},
		{"IPv6 header cut", v6[:wire.IPv6HeaderLen-1], DropShort},
		{"one IPv4 byte", v4[:1], DropShort},
		{"version 0", []byte{0x00, 1, 2, 3}, DropFamily},
		{"version 5", append([]byte{0x55}, v4[1:]...), DropFamily},
		{"Ethernet frame", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 8, 6}, DropFamily},
		{"bare IPv4 header", v4[:wire.IPv4MinHeaderLen], DropNone},
		{"bare IPv6 header", v6[:wire.IPv6HeaderLen], DropNone},
	} {
		c := NewConfig("gif0")
		o, drop := Encap(&c, tt.inner)
		if drop != tt.want || drop != DropNone && o != (Outer{}) {
			t.Errorf("%s: got %+v, %v; want %v", tt.name, o, drop, tt.want)
		}
	}
}

func TestEncapLeavesInnerAlone(t *testing.T) {
	c := NewConfig("gif0")
	c.TTL = TTLCopy
	for _, p := range [][]byte{
		ipPacket(0xbb, 1, protoUDP, innerSrc4, innerDst4, udpPayload),
		ipPacket(0xbb, 1, protoUDP, innerSrc6, innerDst6, udpPayload),
	} {
		before := bytes.Clone(p)
		Encap(&c, p)
		if !bytes.Equal(p, before) {
			t.Errorf("Encap changed % x into % x", before, p)
		}
	}
}

func TestEncapDoesNotAllocate(t *testing.T) {
	c := NewConfig("gif0")
	v4 := ipPacket(0xbb, 64, protoUDP, innerSrc4, innerDst4, udpPayload)
	v6 := ipPacket(0xbb, 64, protoUDP, innerSrc6, innerDst6, udpPayload)
	if n := testing.AllocsPerRun(100, func() {
		Encap(&c, v4)
		Encap(&c, v6)
		Encap(&c, v6[:3])
	}); n != 0 {
		t.Errorf("Encap allocates %v times", n)
	}
}

func FuzzEncap(f *testing.F) {
	f.Add(ipPacket(0xbb, 7, protoUDP, innerSrc4, innerDst4, udpPayload), 64, true, true)
	f.Add(ipPacket(0x03, 7, protoUDP, innerSrc6, innerDst6, udpPayload), -1, false, false)
	f.Add([]byte{}, 1, false, true)
	f.Add([]byte{0x45}, 255, false, true)
	f.Fuzz(func(t *testing.T, inner []byte, ttl int, df, ecn bool) {
		if ttl != TTLCopy {
			ttl = 1 + (ttl&0xff)%255
		}
		c := Config{TTL: ttl, DF: df, ECN: ecn}
		before := bytes.Clone(inner)
		o, drop := Encap(&c, inner)
		if !bytes.Equal(inner, before) {
			t.Fatal("Encap changed the inner packet")
		}
		var want Outer
		switch {
		case wire.Version(inner) == 4 && len(inner) >= wire.IPv4MinHeaderLen:
			want = Outer{Proto: wire.ProtoIPv4, TOS: inner[1], TTL: inner[8]}
		case wire.Version(inner) == 6 && len(inner) >= wire.IPv6HeaderLen:
			want = Outer{Proto: wire.ProtoIPv6, TOS: inner[0]<<4 | inner[1]>>4, TTL: inner[7]}
		case len(inner) == 0 || wire.Version(inner) == 4 || wire.Version(inner) == 6:
			if drop != DropShort {
				t.Fatalf("Encap(%x) = %v, want %v", inner, drop, DropShort)
			}
			return
		default:
			if drop != DropFamily {
				t.Fatalf("Encap(%x) = %v, want %v", inner, drop, DropFamily)
			}
			return
		}
		if drop != DropNone {
			t.Fatalf("Encap(%x) = %v", inner, drop)
		}
		if ttl != TTLCopy {
			want.TTL = uint8(ttl)
		}
		want.DF = df
		innerECN := wire.ECNOf(want.TOS)
		switch {
		case !ecn:
			want.TOS = wire.WithECN(want.TOS, wire.NotECT)
		case innerECN == wire.CE:
			want.TOS = wire.WithECN(want.TOS, wire.ECT0)
		}
		if o != want {
			t.Fatalf("Encap(%x) = %+v, want %+v", inner, o, want)
		}
	})
}
