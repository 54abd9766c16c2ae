package kernel

import (
	"net/netip"
	"testing"

	"gif/internal/tunnel"
	"gif/internal/wire"
	"gif/internal/wire/wiretest"
)

// tcpPacket returns an inner IPv4 packet carrying TCP, size bytes long.
func tcpPacket(size int) []byte {
	tcp := make([]byte, size-wire.IPv4MinHeaderLen)
	tcp[12] = 5 << 4 // data offset: 20 bytes
	return wiretest.IPv4("198.51.100.1", "198.51.100.2", 0, 64, 6, tcp)
}

// TestEgressPasses checks that gif_egress hands to the TUN, unchanged
// (TC_ACT_UNSPEC), what it cannot carry exactly, and counts why: no route,
// a route into a gif, a packet or a GSO segment too big for the route's
// MTU, GSO that is not TCP, an inner packet that is not IP; and that
// tunneldomain's policy rules route the outer packet.
func TestEgressPasses(t *testing.T) {
	tb := newTestbed(t)
	cfg := func(dst string, domain int) *tunnel.Config {
		return &tunnel.Config{Src: local4, Dst: netip.MustParseAddr(dst), TTL: 64, ECN: true, Domain: domain}
	}
	gso := func(segs, size uint32) skbContext { return skbContext{GSOSegs: segs, GSOSize: size} }
	for _, c := range []struct {
		name   string
		tunnel *tunnel.Config
		inner  []byte
		ctx    skbContext
		reason PassReason
	}{
		{"no route", cfg("203.0.113.9", 0), innerPacket(4, 0, 64), skbContext{}, PassNoRoute},
		{"route into a gif", cfg("198.51.100.99", 0), innerPacket(4, 0, 64), skbContext{}, PassLoop},
		{"domain 0 does not see table 7", cfg("198.51.100.7", 0), innerPacket(4, 0, 64), skbContext{}, PassNoRoute},
		{"domain 7 has no route to the veth's peer", cfg("192.0.2.2", 7), innerPacket(4, 0, 64), skbContext{}, PassNoRoute},
		{"too big", cfg("192.0.2.2", 0), tcpPacket(1481), skbContext{}, PassTooBig},
		{"GSO segment too big", cfg("192.0.2.2", 0), tcpPacket(200), gso(3, 1461), PassTooBig},
		{"GSO not TCP", cfg("192.0.2.2", 0), innerPacket(4, 0, 64), gso(3, 1000), PassGSONotTCP},
		{"inner not IP", cfg("192.0.2.2", 0), make([]byte, 40), skbContext{}, PassInnerNotIP},
	} {
		tb.addEgress(t, c.tunnel)
		frame := ethernet(hostMAC, c.inner)
		c.ctx.Ifindex = tb.gif
		before := tb.passed(t, c.reason)
		ret, out := tb.run(t, tb.objs.GifEgress, frame, c.ctx)
		if ret != actUnspec {
			t.Errorf("%s: verdict %d, want TC_ACT_UNSPEC", c.name, int32(ret))
		}
		if string(out) != string(frame) {
			t.Errorf("%s: packet changed", c.name)
		}
		if got := tb.passed(t, c.reason) - before; got != 1 {
			t.Errorf("%s: pass_reasons[%v] grew by %d, want 1", c.name, c.reason, got)
		}
	}

	// What fits is carried: the largest packet, a GSO packet whose
	// segments fit, and a peer routed only in tunneldomain 7's table.
	for _, c := range []struct {
		name   string
		tunnel *tunnel.Config
		inner  []byte
		ctx    skbContext
	}{
		{"largest packet", cfg("192.0.2.2", 0), tcpPacket(1480), skbContext{Mark: 5}},
		{"domain 7", cfg("198.51.100.7", 7), innerPacket(4, 0, 64), skbContext{}},
	} {
		tb.addEgress(t, c.tunnel)
		c.ctx.Ifindex = tb.gif
		if ret, _ := tb.run(t, tb.objs.GifEgress, ethernet(hostMAC, c.inner), c.ctx); ret != actRedirect {
			t.Errorf("%s: verdict %d, want TC_ACT_REDIRECT", c.name, int32(ret))
		}
		// The outer packet is marked with the domain, as the raw
		// socket's SO_MARK marks it.
		if got := tb.lastCtx.Mark; got != uint32(c.tunnel.Domain) {
			t.Errorf("%s: mark %d, want %d", c.name, got, c.tunnel.Domain)
		}
	}
	// A GSO packet whose segments fit gets past the MTU check; test-run
	// cannot make it a TCP GSO packet the kernel would encapsulate.
	tb.addEgress(t, cfg("192.0.2.2", 0))
	before := tb.passed(t, PassTooBig)
	tb.run(t, tb.objs.GifEgress, ethernet(hostMAC, tcpPacket(200)), skbContext{Ifindex: tb.gif, GSOSegs: 3, GSOSize: 1440})
	if got := tb.passed(t, PassTooBig) - before; got != 0 {
		t.Errorf("GSO packet of 1,440-byte segments: passed as too big")
	}
}

// TestEgressNeedsForwarding documents what the FIB helper requires: with
// forwarding off it refuses, and the packet goes the userspace way.
func TestEgressNeedsForwarding(t *testing.T) {
	tb := newTestbed(t)
	tb.setForwarding(t, false)
	tb.addEgress(t, &tunnel.Config{Src: local4, Dst: peer4, TTL: 64, ECN: true})
	ret, _ := tb.run(t, tb.objs.GifEgress, ethernet(hostMAC, innerPacket(4, 0, 64)), skbContext{Ifindex: tb.gif})
	if ret != actUnspec || tb.passed(t, PassForwardingOff) != 1 {
		t.Errorf("forwarding off: verdict %d, pass_reasons[forwarding off] = %d; want TC_ACT_UNSPEC, 1", int32(ret), tb.passed(t, PassForwardingOff))
	}
}

// TestEgressLeavesOtherGifs checks that a device without an egress_tunnels
// entry keeps its packets, uncounted.
func TestEgressLeavesOtherGifs(t *testing.T) {
	tb := newTestbed(t)
	frame := ethernet(hostMAC, innerPacket(4, 0, 64))
	ret, out := tb.run(t, tb.objs.GifEgress, frame, skbContext{Ifindex: tb.gif})
	if ret != actUnspec || string(out) != string(frame) {
		t.Errorf("verdict %d, changed %t; want TC_ACT_UNSPEC, unchanged", int32(ret), string(out) != string(frame))
	}
	for r := range NumPassReasons {
		if n := tb.passed(t, r); n != 0 {
			t.Errorf("pass_reasons[%v] = %d, want 0", r, n)
		}
	}
}
