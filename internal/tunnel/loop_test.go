package tunnel

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"gif/internal/wire"
)

func tunnelConfig(src, dst string) *Config {
	c := NewConfig("gif0")
	c.Src, c.Dst = netip.MustParseAddr(src), netip.MustParseAddr(dst)
	return &c
}

// encapsulate wraps inner in the outer header of tunnel c as proto.
func encapsulate(c *Config, proto uint8, inner []byte) []byte {
	return ipPacket(0, 64, proto, c.Src, c.Dst, inner)
}

// etherIP returns an EtherIP payload carrying packet in an Ethernet frame.
func etherIP(etherType uint16, packet []byte) []byte {
	b := make([]byte, wire.EtherIPHeaderLen+wire.EthernetHeaderLen, wire.EtherIPHeaderLen+wire.EthernetHeaderLen+len(packet))
	wire.PutEtherIPHeader(b)
	copy(b[2:], []byte{0x02, 0, 0, 0, 0, 0xaa, 0x02, 0, 0, 0, 0, 0xbb})
	binary.BigEndian.PutUint16(b[2+12:], etherType)
	return append(b, packet...)
}

func TestLoops(t *testing.T) {
	gif0 := tunnelConfig("192.0.2.1", "198.51.100.1")
	gif1 := tunnelConfig("192.0.2.1", "198.51.100.2") // same source, other peer
	gif6 := tunnelConfig("2001:db8::1", "2001:db8::2")
	user4 := ipPacket(0, 64, protoUDP, innerSrc4, innerDst4, udpPayload)
	user6 := ipPacket(0, 64, protoUDP, innerSrc6, innerDst6, udpPayload)

	// A first fragment of gif1's outer packet: it carries gif0's outer
	// header but not all of gif0's packet.
	big := encapsulate(gif1, wire.ProtoIPv4, encapsulate(gif0, wire.ProtoIPv4, make([]byte, 200)))
	firstFragment := big[:100]
	binary.BigEndian.PutUint16(firstFragment[2:], 100)
	firstFragment[6] |= 0x20 // MF
	// A later fragment of gif0's own outer packet: its payload is not a
	// header, but its own header is gif0's.
	laterFragment := encapsulate(gif0, wire.ProtoIPv4, []byte("the middle of a packet"))
	binary.BigEndian.PutUint16(laterFragment[6:], 185) // offset 1480

	// gif6's outer packet as the host fragments it: a fragment header
	// between the IPv6 header and the inner packet.
	fragmented6 := func(offset uint16, data []byte) []byte {
		frag := make([]byte, wire.IPv6FragmentHeaderLen, wire.IPv6FragmentHeaderLen+len(data))
		frag[0] = wire.ProtoIPv4
		binary.BigEndian.PutUint16(frag[2:], offset|1)
		return encapsulate(gif6, wire.ProtoIPv6Fragment, append(frag, data...))
	}
	// Later fragments whose data happens to look like gif0's outer header:
	// data, not a header.
	lookalike := encapsulate(gif0, wire.ProtoIPv4, user4)
	laterFragmentLookalike := encapsulate(gif1, wire.ProtoIPv4, lookalike)
	binary.BigEndian.PutUint16(laterFragmentLookalike[6:], 185)

	tooDeep := encapsulate(gif0, wire.ProtoIPv4, user4)
	for range maxNesting {
		tooDeep = encapsulate(gif1, wire.ProtoIPv4, tooDeep)
	}
	deepEnough := encapsulate(gif0, wire.ProtoIPv4, user4)
	for range maxNesting - 1 {
		deepEnough = encapsulate(gif1, wire.ProtoIPv4, deepEnough)
	}

	unset := NewConfig("gif2")
	for _, tt := range []struct {
		name   string
		c      *Config
		packet []byte
		want   bool
	}{
		{"depth 1, IPv4 in IPv4", gif0, encapsulate(gif0, wire.ProtoIPv4, user4), true},
		{"depth 1, IPv6 in IPv4", gif0, encapsulate(gif0, wire.ProtoIPv6, user6), true},
		{"depth 1, EtherIP", gif0, encapsulate(gif0, wire.ProtoEtherIP, etherIP(wire.EtherTypeIPv4, user4)), true},
		{"depth 1, IPv6 outer", gif6, encapsulate(gif6, wire.ProtoIPv6, user6), true},
		{"depth 2", gif0, encapsulate(gif1, wire.ProtoIPv4, encapsulate(gif0, wire.ProtoIPv4, user4)), true},
		{"depth 2, IPv6 outside IPv4", gif0, encapsulate(gif6, wire.ProtoIPv4, encapsulate(gif0, wire.ProtoIPv6, user6)), true},
		{"depth 2, IPv4 outside IPv6", gif6, encapsulate(gif0, wire.ProtoIPv6, encapsulate(gif6, wire.ProtoIPv4, user4)), true},
		{"depth 2, through EtherIP", gif0, encapsulate(gif1, wire.ProtoEtherIP,
			etherIP(wire.EtherTypeIPv4, encapsulate(gif0, wire.ProtoIPv4, user4))), true},
		{"depth 2, through EtherIP over IPv6", gif0, encapsulate(gif6, wire.ProtoEtherIP,
			etherIP(wire.EtherTypeIPv4, encapsulate(gif0, wire.ProtoIPv4, user4))), true},
		{"depth maxNesting", gif0, deepEnough, true},
		{"first fragment at depth 2", gif0, firstFragment, true},
		{"later fragment", gif0, laterFragment, true},
		{"IPv6 first fragment", gif6, fragmented6(0, user4), true},
		{"IPv6 later fragment", gif6, fragmented6(1448, user4), true},
		{"IPv6 first fragment at depth 2", gif0, fragmented6(0, lookalike), true},

		{"user traffic", gif0, user4, false},
		{"user traffic between the tunnel addresses", gif0, ipPacket(0, 64, protoUDP, gif0.Src, gif0.Dst, udpPayload), false},
		{"other tunnel's pair", gif0, encapsulate(gif1, wire.ProtoIPv4, user4), false},
		{"other tunnel nested in another", gif0, encapsulate(gif1, wire.ProtoIPv4, encapsulate(gif6, wire.ProtoIPv4, user4)), false},
		{"from the peer", gif0, ipPacket(0, 64, wire.ProtoIPv4, gif0.Dst, gif0.Src, user4), false},
		{"IPv6 outer, IPv4 tunnel", gif0, encapsulate(gif6, wire.ProtoIPv4, user4), false},
		{"beyond maxNesting", gif0, tooDeep, false},
		{"IPv6 later fragment, lookalike data", gif0, fragmented6(1448, lookalike), false},
		{"IPv4 later fragment, lookalike data", gif0, laterFragmentLookalike, false},
		{"EtherIP with ARP", gif0, encapsulate(gif1, wire.ProtoEtherIP,
			etherIP(0x0806, encapsulate(gif0, wire.ProtoIPv4, user4))), false},
		{"EtherIP with bad version", gif0, encapsulate(gif1, wire.ProtoEtherIP,
			append([]byte{0x40, 0}, etherIP(wire.EtherTypeIPv4, encapsulate(gif0, wire.ProtoIPv4, user4))[2:]...)), false},
		{"EtherIP frame cut", gif0, encapsulate(gif1, wire.ProtoEtherIP, etherIP(wire.EtherTypeIPv4, nil)[:10]), false},
		{"no tunnel", &unset, encapsulate(gif0, wire.ProtoIPv4, user4), false},
		{"empty", gif0, nil, false},
		{"IPv4 header cut", gif0, encapsulate(gif0, wire.ProtoIPv4, user4)[:19], false},
		{"IPv6 header cut", gif6, encapsulate(gif6, wire.ProtoIPv4, user4)[:39], false},
		{"garbage", gif0, []byte{0x00, 0x01, 0x02}, false},
	} {
		if got := Loops(tt.c, tt.packet); got != tt.want {
			t.Errorf("%s: Loops = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestLoopsDoesNotAllocate(t *testing.T) {
	gif0 := tunnelConfig("192.0.2.1", "198.51.100.1")
	gif1 := tunnelConfig("192.0.2.1", "198.51.100.2")
	user := ipPacket(0, 64, protoUDP, innerSrc4, innerDst4, udpPayload)
	looping := encapsulate(gif1, wire.ProtoEtherIP, etherIP(wire.EtherTypeIPv4, encapsulate(gif0, wire.ProtoIPv4, user)))
	bad := encapsulate(gif1, wire.ProtoEtherIP, []byte{0x40, 0})
	if n := testing.AllocsPerRun(100, func() {
		Loops(gif0, user)
		Loops(gif0, looping)
		Loops(gif0, bad)
	}); n != 0 {
		t.Errorf("Loops allocates %v times", n)
	}
}

func FuzzLoops(f *testing.F) {
	gif0 := tunnelConfig("192.0.2.1", "198.51.100.1")
	gif6 := tunnelConfig("2001:db8::1", "2001:db8::2")
	user := ipPacket(0, 64, protoUDP, innerSrc4, innerDst4, udpPayload)
	f.Add(encapsulate(gif6, wire.ProtoEtherIP, etherIP(wire.EtherTypeIPv4, encapsulate(gif0, wire.ProtoIPv4, user))))
	f.Add(encapsulate(gif6, wire.ProtoIPv6Fragment, []byte{4, 0, 0, 1, 0, 0, 0, 1}))
	f.Add(user)
	f.Fuzz(func(t *testing.T, b []byte) {
		// Only the answer for a packet that is itself gif0's can be known;
		// anything else must merely not panic.
		if Loops(gif0, b) || Loops(gif6, b) {
			return
		}
		if ip, err := wire.CheckIPv4(b); err == nil && ip.Src() == gif0.Src && ip.Dst() == gif0.Dst &&
			(ip.Protocol() == wire.ProtoIPv4 || ip.Protocol() == wire.ProtoIPv6 || ip.Protocol() == wire.ProtoEtherIP) {
			t.Fatalf("missed gif0's own outer packet %x", b)
		}
	})
}
