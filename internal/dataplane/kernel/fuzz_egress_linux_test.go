package kernel

import (
	"testing"

	"gif/internal/tunnel"
	"gif/internal/wire"
)

// FuzzEgress runs gif_egress on arbitrary inner packets sent on a gif
// whose tunnel (outer IPv4 or IPv6, TTL, DF, ECN from the fuzzer; ttl 0
// is TTLCopy) has a route to its peer, and checks its contract: either the
// packet goes on unchanged (TC_ACT_UNSPEC) with one pass reason counted,
// or it is redirected with exactly the outer header tunnel.Encap asks for
// in front of the unchanged inner packet.
func FuzzEgress(f *testing.F) {
	for _, mode := range tunnelModes {
		for _, ecn := range []wire.ECN{wire.NotECT, wire.ECT1, wire.CE} {
			inner := innerPacket(mode.inner, wire.WithECN(0xb8, ecn), 33)
			f.Add(inner, mode.src.Is6(), uint8(64), true, true)
			f.Add(inner, mode.src.Is6(), uint8(0), false, false)
		}
	}
	for _, malformed := range [][]byte{
		make([]byte, wire.IPv4MinHeaderLen), // version 0
		append([]byte{0x4f}, make([]byte, 19)...),
		append([]byte{0x60}, make([]byte, 39)...),
		append(innerPacket(4, 0, 64), make([]byte, 1500)...), // too big for the route MTU
	} {
		f.Add(malformed, false, uint8(64), true, true)
	}

	// One test bed per fuzzing process: loading the programs dominates.
	tb := newTestbed(f)
	f.Fuzz(func(t *testing.T, inner []byte, outer6 bool, ttl uint8, df, ecn bool) {
		if len(inner) < minHeaderLen(inner) || len(inner) > maxFuzzPacket {
			return // BPF_PROG_TEST_RUN refuses a frame without a whole IP header, or bigger than a page
		}
		c := tunnel.Config{Src: local4, Dst: peer4, TTL: int(ttl), DF: df, ECN: ecn}
		if outer6 {
			c.Src, c.Dst = local6, peer6
		}
		if ttl == 0 {
			c.TTL = tunnel.TTLCopy
		}
		tb.addEgress(t, &c)
		frame := ethernet(hostMAC, inner)
		passedBefore := tb.passedTotal(t)
		ret, out := tb.run(t, tb.objs.GifEgress, frame, skbContext{Ifindex: tb.gif})
		passed := tb.passedTotal(t) - passedBefore
		// Every packet of a gif on the kernel plane that is not carried
		// is passed for a reason.
		checkVerdict(t, ret, frame, out, passed, 1, func() {
			want, drop := tunnel.Encap(&c, inner)
			if drop != tunnel.DropNone {
				t.Fatalf("redirected a packet tunnel.Encap drops (%v)", drop)
			}
			checkOuter(t, "redirected", &c, want, out, inner)
		})
	})
}
