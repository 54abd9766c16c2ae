package kernel

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"gif/internal/tunnel"
	"gif/internal/wire"
	"gif/internal/wire/wiretest"
)

// FuzzIngress runs gif_ingress on arbitrary bytes behind an Ethernet header
// (IPv4 or IPv6 by the first nibble) and checks its contract: either the
// packet goes on unchanged (TC_ACT_UNSPEC) with one pass reason counted
// (none for traffic that is no IP-in-IP), or the outer header was a valid
// one for this host, of a known pair, and the program redirects exactly
// what tunnel.Decap makes of the inner packet. ecn is the tunnel's ECN
// setting; repair sets the outer length (and the IPv4 checksum) to match
// the bytes, so that mutations reach the inner packet's checks: the
// fuzzer sees the coverage of Go code only, not of the program.
func FuzzIngress(f *testing.F) {
	for _, mode := range tunnelModes {
		for _, ecn := range []wire.ECN{wire.NotECT, wire.ECT0, wire.CE} {
			inner := innerPacket(mode.inner, wire.WithECN(0xb8, wire.ECT1), 33)
			f.Add(outerPacket(mode.src, mode.dst, wire.WithECN(0x48, ecn), inner), true, true)
			f.Add(outerPacket(mode.src, mode.dst, wire.WithECN(0x48, ecn), innerPacket(mode.inner, 0, 33)), false, false)
		}
	}
	good4 := outerPacket(local4, peer4, 0, innerPacket(4, 0, 64))
	good6 := outerPacket(local6, peer6, 0, innerPacket(6, 0, 64))
	for _, malformed := range [][]byte{
		good4[:wire.IPv4MinHeaderLen],
		good4[:30],
		good6[:wire.IPv6HeaderLen],
		good6[:50],
		append(append([]byte(nil), good4...), 0), // outer length short of the packet
		outerPacket(local4, peer4, 0, innerFrom(4, local4.String())),                    // spoofed
		outerPacket(local4, netip.MustParseAddr("192.0.2.9"), 0, innerPacket(4, 0, 64)), // unknown pair
		wiretest.IPv6(peer6.String(), local6.String(), 0, 64, wire.ProtoIPv6Fragment, append([]byte{wire.ProtoIPv6, 0, 0, 1, 0, 0, 0, 1}, good6[40:]...)),
		wiretest.IPv4(peer4.String(), local4.String(), 0, 64, 17, []byte("udp payload.....")), // no IP-in-IP
	} {
		f.Add(malformed, true, false)
	}

	// One test bed per fuzzing process: loading the programs dominates.
	tb := newTestbed(f)
	tb.addLocal(f, local4)
	tb.addLocal(f, local6)
	if err := tb.objs.Settings.Put(uint32(0), gifSettings{IpipAllow: 1}); err != nil {
		f.Fatalf("put settings: %v", err)
	}
	f.Fuzz(func(t *testing.T, ip []byte, ecn, repair bool) {
		if len(ip) < minHeaderLen(ip) || len(ip) > maxFuzzPacket {
			return // BPF_PROG_TEST_RUN refuses a frame without a whole IP header, or bigger than a page
		}
		if repair {
			repairOuter(ip)
		}
		tb.addIngress(t, local4, peer4, ecn)
		tb.addIngress(t, local6, peer6, ecn)
		frame := ethernet(hostMAC, ip)
		passedBefore := tb.passedTotal(t)
		ret, out := tb.run(t, tb.objs.GifIngress, frame, skbContext{})
		passed := tb.passedTotal(t) - passedBefore
		checkVerdict(t, ret, frame, out, passed, passReasonsCounted(ip), func() { checkDecapsulated(t, ip, ecn, out) })
	})
}

// maxFuzzPacket is the longest packet the fuzz targets run: more than
// an Ethernet MTU, and with the Ethernet header less than the page
// (without the kernel's head- and tailroom) BPF_PROG_TEST_RUN takes.
const maxFuzzPacket = 2048

// checkVerdict checks a program's contract on frame: either TC_ACT_UNSPEC,
// out unchanged and wantPassed pass reasons counted, or TC_ACT_REDIRECT,
// none counted, and out as checkRedirected sees fit.
func checkVerdict(t *testing.T, ret uint32, frame, out []byte, passed, wantPassed uint64, checkRedirected func()) {
	t.Helper()
	switch ret {
	case actUnspec:
		if string(out) != string(frame) {
			t.Fatalf("passed packet changed\n got %x\nwant %x", out, frame)
		}
		if passed != wantPassed {
			t.Fatalf("passed packet counted %d times in pass_reasons, want %d", passed, wantPassed)
		}
	case actRedirect:
		if passed != 0 {
			t.Fatalf("redirected packet counted %d times in pass_reasons", passed)
		}
		checkRedirected()
	default:
		t.Fatalf("verdict %d, want TC_ACT_UNSPEC or TC_ACT_REDIRECT", int32(ret))
	}
}

// repairOuter sets the length of the outer header ip (and the checksum of
// an IPv4 one) to match the packet.
func repairOuter(ip []byte) {
	if wire.Version(ip) == 6 {
		binary.BigEndian.PutUint16(ip[4:], uint16(len(ip)-wire.IPv6HeaderLen))
		return
	}
	hlen := min(int(ip[0]&0x0f)*4, len(ip))
	binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
	binary.BigEndian.PutUint16(ip[10:], 0)
	binary.BigEndian.PutUint16(ip[10:], ^wire.Checksum(ip[:max(hlen, wire.IPv4MinHeaderLen)], 0))
}

// minHeaderLen is the length of the header ethernet's EtherType announces
// for ip: the least the kernel's test run accepts.
func minHeaderLen(ip []byte) int {
	if wire.Version(ip) == 6 {
		return wire.IPv6HeaderLen
	}
	return wire.IPv4MinHeaderLen
}

// passReasonsCounted is how many pass reasons gif_ingress counts for an
// IP packet (a whole header at least) it passes: none for one that is no
// IP-in-IP (another protocol, an IPv6 fragment of something else), one
// otherwise.
func passReasonsCounted(ip []byte) uint64 {
	ipInIP := func(proto byte) bool { return proto == wire.ProtoIPv4 || proto == wire.ProtoIPv6 }
	if wire.Version(ip) != 6 {
		if ipInIP(ip[9]) {
			return 1
		}
		return 0
	}
	switch {
	case ip[6] == wire.ProtoIPv6Fragment:
		if len(ip) > wire.IPv6HeaderLen && ipInIP(ip[wire.IPv6HeaderLen]) {
			return 1
		}
		return 0
	case ipInIP(ip[6]):
		return 1
	}
	return 0
}

// checkDecapsulated checks a redirected packet: its outer header ip was a
// whole, unfragmented one without options, from a known peer to this
// host, and out is tunnel.Decap's inner packet behind the frame's MAC
// addresses and the inner EtherType.
func checkDecapsulated(t *testing.T, ip []byte, ecn bool, out []byte) {
	t.Helper()
	var hlen int
	var proto, tos uint8
	var local, peer netip.Addr
	if wire.Version(ip) == 4 {
		if ip[0] != 0x45 {
			t.Fatalf("redirected an outer IPv4 header of version/IHL %#x", ip[0])
		}
		outer := wire.IPv4(ip)
		switch {
		case !outer.ChecksumValid():
			t.Fatalf("redirected an outer IPv4 header with a bad checksum")
		case int(binary.BigEndian.Uint16(ip[2:])) != len(ip):
			t.Fatalf("redirected an outer IPv4 packet of total length %d, %d bytes", binary.BigEndian.Uint16(ip[2:]), len(ip))
		case binary.BigEndian.Uint16(ip[6:])&0x3fff != 0:
			t.Fatalf("redirected an outer IPv4 fragment")
		}
		hlen, proto, tos = wire.IPv4MinHeaderLen, ip[9], ip[1]
		local, peer = netip.AddrFrom4([4]byte(ip[16:20])), netip.AddrFrom4([4]byte(ip[12:16]))
	} else {
		if n := wire.IPv6HeaderLen + int(binary.BigEndian.Uint16(ip[4:])); n != len(ip) {
			t.Fatalf("redirected an outer IPv6 packet of length %d, %d bytes", n, len(ip))
		}
		hlen, proto, tos = wire.IPv6HeaderLen, ip[6], uint8(binary.BigEndian.Uint16(ip[0:])>>4)
		local, peer = netip.AddrFrom16([16]byte(ip[24:40])), netip.AddrFrom16([16]byte(ip[8:24]))
	}
	if !(local == local4 && peer == peer4) && !(local == local6 && peer == peer6) {
		t.Fatalf("redirected a packet from %v to %v, no tunnel's pair", peer, local)
	}
	if proto != wire.ProtoIPv4 && proto != wire.ProtoIPv6 {
		t.Fatalf("redirected outer protocol %d", proto)
	}
	want := append([]byte(nil), ip[hlen:]...)
	size, drop := tunnel.Decap(proto, tos, ecn, want)
	if drop != tunnel.DropNone {
		t.Fatalf("redirected a packet tunnel.Decap drops (%v)", drop)
	}
	if size != len(want) {
		t.Fatalf("redirected an inner packet of %d bytes whose header says %d", len(want), size)
	}
	if src := innerSource(want); src == local4 || src == local6 {
		t.Fatalf("redirected an inner packet from this host's %v", src)
	}
	wantFrame := ethernet(hostMAC, want)
	if string(out) != string(wantFrame) {
		t.Fatalf("redirected\n got %x\nwant %x", out, wantFrame)
	}
}

// innerSource returns the source address of an IPv4 or IPv6 packet that
// tunnel.Decap accepted.
func innerSource(ip []byte) netip.Addr {
	if wire.Version(ip) == 4 {
		return netip.AddrFrom4([4]byte(ip[12:16]))
	}
	return netip.AddrFrom16([16]byte(ip[8:24]))
}

// passedTotal returns how many packets pass_reasons holds, over the
// reasons and the CPUs.
func (tb *testbed) passedTotal(t *testing.T) uint64 {
	t.Helper()
	var n uint64
	for r := range NumPassReasons {
		n += tb.passed(t, r)
	}
	return n
}
