package kernel

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"testing"

	"gif/internal/tunnel"
	"gif/internal/wire"
	"gif/internal/wire/wiretest"
)

// outerPacket wraps inner as the peer sends it to us: from peer to local,
// with the protocol of inner's version and outer TOS tos.
func outerPacket(local, peer netip.Addr, tos uint8, inner []byte) []byte {
	proto := uint8(wire.ProtoIPv4)
	if wire.Version(inner) == 6 {
		proto = wire.ProtoIPv6
	}
	if local.Is4() {
		return wiretest.IPv4(peer.String(), local.String(), tos, 64, proto, inner)
	}
	return wiretest.IPv6(peer.String(), local.String(), tos, 64, proto, inner)
}

// TestIngressDecapsulates checks, for each IP mode and each pair of outer
// and inner ECN codepoints tunnel.Decap accepts, that gif_ingress redirects
// exactly the inner packet tunnel.Decap leaves (RFC 3168: outer CE marks an
// ECN-capable inner packet CE, the IPv4 checksum following; nothing else
// changes), behind an Ethernet header of the inner type, and counts it in
// if_counters.
func TestIngressDecapsulates(t *testing.T) {
	tb := newTestbed(t)
	var received, receivedBytes uint64
	ecns := []wire.ECN{wire.NotECT, wire.ECT1, wire.ECT0, wire.CE}
	for _, mode := range tunnelModes {
		for _, ecn := range []bool{true, false} {
			tb.addIngress(t, mode.src, mode.dst, ecn)
			for _, outerECN := range ecns {
				for _, innerECN := range ecns {
					name := fmt.Sprintf("%s/ecn=%t/outer %v/inner %v", mode.name, ecn, outerECN, innerECN)
					inner := innerPacket(mode.inner, wire.WithECN(0xb8, innerECN), 33)
					outer := outerPacket(mode.src, mode.dst, wire.WithECN(0x48, outerECN), inner)
					want := append([]byte(nil), inner...)
					proto := uint8(wire.ProtoIPv4)
					if mode.inner == 6 {
						proto = wire.ProtoIPv6
					}
					size, drop := tunnel.Decap(proto, wire.WithECN(0x48, outerECN), ecn, want)
					if drop != tunnel.DropNone {
						continue // TestIngressPasses covers the ECN drop
					}
					ret, out := tb.run(t, tb.objs.GifIngress, ethernet(hostMAC, outer), skbContext{})
					if ret != actRedirect {
						t.Errorf("%s: verdict %d, want TC_ACT_REDIRECT", name, int32(ret))
						continue
					}
					check(t, name, "ethertype", binary.BigEndian.Uint16(out[12:]), etherTypeOf(mode.inner))
					if got := out[wire.EthernetHeaderLen:]; string(got) != string(want[:size]) {
						t.Errorf("%s: inner packet\n got %x\nwant %x", name, got, want[:size])
					}
					if mode.inner == 4 {
						check(t, name, "inner checksum valid", wire.IPv4(out[wire.EthernetHeaderLen:]).ChecksumValid(), true)
					}
					received++
					receivedBytes += uint64(size)
				}
			}
		}
	}
	if got := tb.counters(t); got.Ipackets != received || got.Ibytes != receivedBytes || got.Opackets != 0 {
		t.Errorf("if_counters %+v, want %d packets in, %d bytes", got, received, receivedBytes)
	}
}

func etherTypeOf(version int) uint16 {
	if version == 4 {
		return 0x0800
	}
	return 0x86dd
}

// TestIngressPasses checks that gif_ingress hands every packet it must not
// carry to the stack unchanged (TC_ACT_UNSPEC) and counts why, and that a
// spoofed inner source is carried with net.inet.ipip.allow=2.
func TestIngressPasses(t *testing.T) {
	tb := newTestbed(t)
	tb.addIngress(t, local4, peer4, true)
	tb.addIngress(t, local6, peer6, true)
	inner4 := innerPacket(4, 0, 64)
	inner6 := innerPacket(6, 0, 64)
	good4 := outerPacket(local4, peer4, 0, inner4)
	good6 := outerPacket(local6, peer6, 0, inner6)
	broadcast := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

	edit := func(p []byte, f func(b []byte)) []byte {
		b := append([]byte(nil), p...)
		f(b)
		return b
	}
	// fixChecksum recomputes an outer IPv4 header checksum after an edit.
	fixChecksum := func(b []byte) {
		binary.BigEndian.PutUint16(b[10:], 0)
		binary.BigEndian.PutUint16(b[10:], ^wire.Checksum(b[:wire.IPv4MinHeaderLen], 0))
	}
	for _, c := range []struct {
		name   string
		frame  []byte
		reason PassReason
	}{
		{"unknown pair", ethernet(hostMAC, outerPacket(local4, netip.MustParseAddr("192.0.2.9"), 0, inner4)), PassUnknownPair},
		{"unknown pair IPv6", ethernet(hostMAC, outerPacket(local6, netip.MustParseAddr("2001:db8::9"), 0, inner6)), PassUnknownPair},
		{"IPv6 in protocol 4", ethernet(hostMAC, edit(good4, func(b []byte) {
			copy(b[20:], inner6[:20]) // version 6 where 4 is due
			fixChecksum(b)
		})), PassFamily},
		{"IPv4 in protocol 41", ethernet(hostMAC, edit(good6, func(b []byte) { b[40] = 0x45 })), PassFamily},
		{"fragment", ethernet(hostMAC, edit(good4, func(b []byte) {
			binary.BigEndian.PutUint16(b[6:], 0x2000) // MF
			fixChecksum(b)
		})), PassFragment},
		{"fragment offset", ethernet(hostMAC, edit(good4, func(b []byte) {
			binary.BigEndian.PutUint16(b[6:], 0x0001)
			fixChecksum(b)
		})), PassFragment},
		{"IPv6 fragment", ethernet(hostMAC, wiretest.IPv6(peer6.String(), local6.String(), 0, 64, wire.ProtoIPv6Fragment,
			append([]byte{wire.ProtoIPv6, 0, 0, 1, 0, 0, 0, 1}, inner6...))), PassFragment},
		{"IPv4 options", ethernet(hostMAC, func() []byte {
			b := make([]byte, 24+len(inner4))
			copy(b, good4[:20])
			b[0] = 0x46
			binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
			copy(b[24:], inner4)
			binary.BigEndian.PutUint16(b[10:], 0)
			binary.BigEndian.PutUint16(b[10:], ^wire.Checksum(b[:24], 0))
			return b
		}()), PassOptions},
		{"bad checksum", ethernet(hostMAC, edit(good4, func(b []byte) { b[10] ^= 0xff })), PassChecksum},
		{"outer length too long", ethernet(hostMAC, edit(good4, func(b []byte) {
			binary.BigEndian.PutUint16(b[2:], uint16(len(b)+1))
			fixChecksum(b)
		})), PassLength},
		{"outer length too short", ethernet(hostMAC, edit(good4, func(b []byte) {
			binary.BigEndian.PutUint16(b[2:], uint16(len(b)-1))
			fixChecksum(b)
		})), PassLength},
		{"IPv6 payload length", ethernet(hostMAC, edit(good6, func(b []byte) {
			binary.BigEndian.PutUint16(b[4:], uint16(len(b)))
		})), PassLength},
		{"inner length", ethernet(hostMAC, edit(good4, func(b []byte) {
			binary.BigEndian.PutUint16(b[22:], uint16(len(inner4)+4))
		})), PassBadInner},
		{"not for this host", ethernet(broadcast, good4), PassNotHost},
		{"not for this host IPv6", ethernet(broadcast, good6), PassNotHost},
		{"CE over Not-ECT", ethernet(hostMAC, outerPacket(local4, peer4, uint8(wire.CE), inner4)), PassECN},
		{"spoofed inner source", ethernet(hostMAC, outerPacket(local4, peer4, 0,
			innerFrom(4, "192.0.2.1"))), PassSpoof},
		{"spoofed inner source IPv6", ethernet(hostMAC, outerPacket(local6, peer6, 0,
			innerFrom(6, "2001:db8::1"))), PassSpoof},
	} {
		if c.name == "spoofed inner source" {
			tb.addLocal(t, local4)
			tb.addLocal(t, local6)
		}
		before := tb.passed(t, c.reason)
		ret, out := tb.run(t, tb.objs.GifIngress, c.frame, skbContext{})
		if ret != actUnspec {
			t.Errorf("%s: verdict %d, want TC_ACT_UNSPEC", c.name, int32(ret))
		}
		if string(out) != string(c.frame) {
			t.Errorf("%s: packet changed\n got %x\nwant %x", c.name, out, c.frame)
		}
		if got := tb.passed(t, c.reason) - before; got != 1 {
			t.Errorf("%s: pass_reasons[%v] grew by %d, want 1", c.name, c.reason, got)
		}
	}
	if got := tb.counters(t); got.Ipackets != 0 {
		t.Errorf("if_counters %+v after passed packets only, want none in", got)
	}

	// net.inet.ipip.allow=2 skips the spoof check.
	if err := tb.objs.Settings.Put(uint32(0), gifSettings{IpipAllow: 2}); err != nil {
		t.Fatalf("put settings: %v", err)
	}
	for _, frame := range [][]byte{
		ethernet(hostMAC, outerPacket(local4, peer4, 0, innerFrom(4, "192.0.2.1"))),
		ethernet(hostMAC, outerPacket(local6, peer6, 0, innerFrom(6, "2001:db8::1"))),
	} {
		if ret, _ := tb.run(t, tb.objs.GifIngress, frame, skbContext{}); ret != actRedirect {
			t.Errorf("spoofed inner source with ipip_allow=2: verdict %d, want TC_ACT_REDIRECT", int32(ret))
		}
	}
}

// TestIngressLeavesOtherTraffic checks that packets that are no IP-in-IP
// go on unchanged and are not counted as passed.
func TestIngressLeavesOtherTraffic(t *testing.T) {
	tb := newTestbed(t)
	frames := [][]byte{
		ethernet(hostMAC, wiretest.IPv4(peer4.String(), local4.String(), 0, 64, 17, []byte("udp payload....."))),
		ethernet(hostMAC, wiretest.IPv6(peer6.String(), local6.String(), 0, 64, 6, make([]byte, 20))),
		wiretest.Ethernet(hostMAC, hostMAC, 0x0806, make([]byte, 28)), // ARP
	}
	for _, frame := range frames {
		ret, out := tb.run(t, tb.objs.GifIngress, frame, skbContext{})
		if ret != actUnspec || string(out) != string(frame) {
			t.Errorf("frame %x: verdict %d, changed %t; want TC_ACT_UNSPEC, unchanged", frame, int32(ret), string(out) != string(frame))
		}
	}
	for r := range NumPassReasons {
		if n := tb.passed(t, r); n != 0 {
			t.Errorf("pass_reasons[%v] = %d, want 0", r, n)
		}
	}
}

// innerFrom returns an inner packet of version v from src.
func innerFrom(v int, src string) []byte {
	if v == 4 {
		return wiretest.IPv4(src, "198.51.100.2", 0, 64, 17, []byte("0123456789abcdef"))
	}
	return wiretest.IPv6(src, "2001:db8:1::2", 0, 64, 17, []byte("0123456789abcdef"))
}

// addLocal makes a an address of this host for the spoof check.
func (tb *testbed) addLocal(t testing.TB, a netip.Addr) {
	t.Helper()
	var k gifLocalAddr
	k.Addr.A, k.Family = gifAddr(a), family(a)
	if err := tb.objs.LocalAddrs.Put(k, uint8(1)); err != nil {
		t.Fatalf("put local address: %v", err)
	}
}
