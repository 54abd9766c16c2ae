package tunnel

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"

	"gif/internal/wire"
)

// inner ECN codepoints in table order; "drop" means DropECN.
var ecnOrder = [4]wire.ECN{wire.NotECT, wire.ECT1, wire.ECT0, wire.CE}

func TestDecapECN(t *testing.T) {
	// want[outer][inner] with tunnelecn, rows and columns in ecnOrder.
	withECN := [4][4]string{
		/* outer Not-ECT */ {"Not-ECT", "ECT(1)", "ECT(0)", "CE"},
		/* outer ECT(1) */ {"Not-ECT", "ECT(1)", "ECT(0)", "CE"},
		/* outer ECT(0) */ {"Not-ECT", "ECT(1)", "ECT(0)", "CE"},
		/* outer CE */ {"drop", "CE", "CE", "CE"},
	}
	const innerDSCP, outerDSCP = 0xb8, 0x28 // EF inside, AF11 outside
	for _, family := range []struct {
		name     string
		proto    uint8
		src, dst netip.Addr
		tos      func([]byte) uint8
	}{
		{"IPv4", wire.ProtoIPv4, innerSrc4, innerDst4, func(b []byte) uint8 { return wire.IPv4(b).TOS() }},
		{"IPv6", wire.ProtoIPv6, innerSrc6, innerDst6, func(b []byte) uint8 { return wire.IPv6(b).TrafficClass() }},
	} {
		for _, ecn := range []bool{true, false} {
			for o, outer := range ecnOrder {
				for i, inner := range ecnOrder {
					want := inner.String()
					if ecn {
						want = withECN[o][i]
					}
					p := ipPacket(innerDSCP|uint8(inner), 9, protoUDP, family.src, family.dst, udpPayload)
					before := bytes.Clone(p)
					n, drop := Decap(family.proto, outerDSCP|uint8(outer), ecn, p)
					name := fmt.Sprintf("%s, ecn %v, outer %v, inner %v", family.name, ecn, outer, inner)
					if want == "drop" {
						if drop != DropECN || n != 0 || !bytes.Equal(p, before) {
							t.Errorf("%s: got %d, %v; want %v and the packet untouched", name, n, drop, DropECN)
						}
						continue
					}
					tos := family.tos(p)
					if drop != DropNone || n != len(p) || wire.ECNOf(tos).String() != want || tos&^3 != innerDSCP {
						t.Errorf("%s: got %d, %v, TOS %#x; want %d, %s with DSCP %#x",
							name, n, drop, tos, len(p), want, innerDSCP)
					}
					if family.proto == wire.ProtoIPv4 && !wire.IPv4(p).ChecksumValid() {
						t.Errorf("%s: bad IPv4 checksum after decapsulation", name)
					}
					if wire.ECNOf(tos) == inner && !bytes.Equal(p, before) {
						t.Errorf("%s: packet changed although its ECN field did not", name)
					}
				}
			}
		}
	}
}

func TestDecapKeepsTTLAndTrims(t *testing.T) {
	for _, tt := range []struct {
		name     string
		proto    uint8
		src, dst netip.Addr
	}{
		{"IPv4", wire.ProtoIPv4, innerSrc4, innerDst4},
		{"IPv6", wire.ProtoIPv6, innerSrc6, innerDst6},
	} {
		p := ipPacket(0x01, 1, protoUDP, tt.src, tt.dst, udpPayload)
		n := len(p)
		p = append(p, 0xde, 0xad, 0xbe, 0xef) // e.g. Ethernet padding
		got, drop := Decap(tt.proto, 0x03, true, p)
		if drop != DropNone || got != n {
			t.Errorf("%s: got %d, %v; want %d", tt.name, got, drop, n)
		}
		if wire.Version(p) == 4 && wire.IPv4(p).TTL() != 1 || wire.Version(p) == 6 && wire.IPv6(p).HopLimit() != 1 {
			t.Errorf("%s: TTL changed", tt.name)
		}
	}
}

func TestDecapDrops(t *testing.T) {
	v4 := ipPacket(0, 64, protoUDP, innerSrc4, innerDst4, udpPayload)
	v6 := ipPacket(0, 64, protoUDP, innerSrc6, innerDst6, udpPayload)
	with := func(b []byte, i int, v byte) []byte {
		b = bytes.Clone(b)
		b[i] = v
		return b
	}
	for _, tt := range []struct {
		name  string
		proto uint8
		inner []byte
		want  Drop
	}{
		{"IPv6 in protocol 4", wire.ProtoIPv4, v6, DropFamily},
		{"IPv4 in protocol 41", wire.ProtoIPv6, v4, DropFamily},
		{"EtherIP protocol", wire.ProtoEtherIP, v4, DropFamily},
		{"UDP protocol", protoUDP, v4, DropFamily},
		{"version 0 in protocol 4", wire.ProtoIPv4, with(v4, 0, 0x05), DropFamily},
		{"IHL 4", wire.ProtoIPv4, with(v4, 0, 0x44), DropFamily},
		{"total length below header", wire.ProtoIPv4, with(v4, 3, 10), DropFamily},
		{"empty in protocol 4", wire.ProtoIPv4, nil, DropShort},
		{"empty in protocol 41", wire.ProtoIPv6, []byte{}, DropShort},
		{"IPv4 header cut", wire.ProtoIPv4, v4[:19], DropShort},
		{"IPv4 payload cut", wire.ProtoIPv4, v4[:len(v4)-1], DropShort},
		{"IPv4 options cut", wire.ProtoIPv4, with(v4, 0, 0x4f)[:40], DropShort},
		{"IPv6 header cut", wire.ProtoIPv6, v6[:39], DropShort},
		{"IPv6 payload cut", wire.ProtoIPv6, v6[:len(v6)-1], DropShort},
	} {
		if n, drop := Decap(tt.proto, 0, true, tt.inner); drop != tt.want || n != 0 {
			t.Errorf("%s: got %d, %v; want %v", tt.name, n, drop, tt.want)
		}
	}
}

func TestDecapDoesNotAllocate(t *testing.T) {
	v4 := ipPacket(0x02, 64, protoUDP, innerSrc4, innerDst4, udpPayload)
	v6 := ipPacket(0x02, 64, protoUDP, innerSrc6, innerDst6, udpPayload)
	if n := testing.AllocsPerRun(100, func() {
		Decap(wire.ProtoIPv4, 0x03, true, v4)
		Decap(wire.ProtoIPv6, 0x03, true, v6)
		Decap(wire.ProtoIPv4, 0x03, true, v6)      // family
		Decap(wire.ProtoIPv6, 0x03, true, v6[:41]) // short
		v4[1], v6[1] = 0, 0                        // Not-ECT
		Decap(wire.ProtoIPv4, 0x03, true, v4)      // ECN
	}); n != 0 {
		t.Errorf("Decap allocates %v times", n)
	}
}

func FuzzDecap(f *testing.F) {
	for _, tos := range []uint8{0x00, 0x01, 0x02, 0x03} {
		f.Add(uint8(wire.ProtoIPv4), uint8(0x03), true, ipPacket(0xb8|tos, 9, protoUDP, innerSrc4, innerDst4, udpPayload))
		f.Add(uint8(wire.ProtoIPv6), uint8(0x03), true, ipPacket(0xb8|tos, 9, protoUDP, innerSrc6, innerDst6, udpPayload))
	}
	f.Add(uint8(wire.ProtoIPv4), uint8(0), false, []byte{0x45})
	f.Add(uint8(wire.ProtoEtherIP), uint8(0), false, []byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, proto, outerTOS uint8, ecn bool, inner []byte) {
		before := bytes.Clone(inner)
		n, drop := Decap(proto, outerTOS, ecn, inner)
		outerCE := ecn && wire.ECNOf(outerTOS) == wire.CE
		if drop != DropNone {
			if n != 0 || !bytes.Equal(inner, before) {
				t.Fatalf("%v: returned %d and changed the packet", drop, n)
			}
			if drop == DropECN && (!outerCE || wire.ECNOf(tosOf(inner)) != wire.NotECT) {
				t.Fatalf("DropECN for outer TOS %#x, ecn %v, inner %x", outerTOS, ecn, inner)
			}
			return
		}
		var tos, beforeTOS uint8
		switch proto {
		case wire.ProtoIPv4:
			ip, err := wire.ParseIPv4(inner[:n])
			if err != nil || len(ip) != n {
				t.Fatalf("accepted %x, which does not parse: %v", before, err)
			}
			if ip.ChecksumValid() != wire.IPv4(before).ChecksumValid() {
				t.Fatalf("checksum validity of %x changed", before)
			}
			tos, beforeTOS = ip.TOS(), wire.IPv4(before).TOS()
		case wire.ProtoIPv6:
			ip, err := wire.ParseIPv6(inner[:n])
			if err != nil || len(ip) != n {
				t.Fatalf("accepted %x, which does not parse: %v", before, err)
			}
			tos, beforeTOS = ip.TrafficClass(), wire.IPv6(before).TrafficClass()
		default:
			t.Fatalf("accepted protocol %d", proto)
		}
		wantTOS := beforeTOS
		if outerCE {
			wantTOS = wire.WithECN(beforeTOS, wire.CE)
		}
		if tos != wantTOS {
			t.Fatalf("TOS %#x became %#x, want %#x (outer %#x, ecn %v)", beforeTOS, tos, wantTOS, outerTOS, ecn)
		}
		// Only the TOS or traffic class, and the IPv4 checksum, may change.
		for i := range inner {
			if inner[i] != before[i] && !(i < 2 || proto == wire.ProtoIPv4 && (i == 10 || i == 11)) {
				t.Fatalf("byte %d changed: %x became %x", i, before, inner)
			}
		}
	})
}

// tosOf returns the TOS or traffic class of an IPv4 or IPv6 header.
func tosOf(b []byte) uint8 {
	if wire.Version(b) == 4 {
		return wire.IPv4(b).TOS()
	}
	return wire.IPv6(b).TrafficClass()
}
