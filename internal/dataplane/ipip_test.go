package dataplane_test

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"gif/internal/ipsec"
	"gif/internal/tunnel"
	"gif/internal/wire"
	"gif/internal/wire/wiretest"
)

// TestEncapsulate checks the outer packet of each mode: the transport by
// tunnel family and inner version, and the header fields by the rules of
// tunnel.Encap.
func TestEncapsulate(t *testing.T) {
	v4 := func(tos, ttl uint8) []byte {
		return ipv4Packet("192.0.2.1", "192.0.2.2", tos, ttl, []byte("inner IPv4"))
	}
	v6 := func(tc, hops uint8) []byte {
		return ipv6Packet("2001:db8::1", "2001:db8::2", tc, hops, []byte("inner IPv6"))
	}
	tests := []struct {
		name     string
		command  string
		inner    []byte
		family   int
		proto    uint8
		src, dst netip.Addr
		tos, ttl uint8
		mark     uint32
	}{{
		name:    "IPv4 over IPv4, CE becomes ECT(0)",
		command: "gif0 tunnel 198.51.100.1 203.0.113.1",
		inner:   v4(0xb8|byte(wire.CE), 5), family: 4, proto: wire.ProtoIPv4,
		src: local, dst: peer, tos: 0xb8 | byte(wire.ECT0), ttl: tunnel.DefaultTTL,
	}, {
		name:    "IPv6 over IPv4, ECT(1) kept",
		command: "gif0 tunnel 198.51.100.1 203.0.113.1",
		inner:   v6(0x28|byte(wire.ECT1), 5), family: 4, proto: wire.ProtoIPv6,
		src: local, dst: peer, tos: 0x28 | byte(wire.ECT1), ttl: tunnel.DefaultTTL,
	}, {
		name:    "IPv4 over IPv6",
		command: "gif0 tunnel 2001:db8:1::1 2001:db8:2::1",
		inner:   v4(0x10, 5), family: 6, proto: wire.ProtoIPv4,
		src: local6, dst: peer6, tos: 0x10, ttl: tunnel.DefaultTTL,
	}, {
		name:    "IPv6 over IPv6",
		command: "gif0 tunnel 2001:db8:1::1 2001:db8:2::1",
		inner:   v6(0xe0|byte(wire.CE), 5), family: 6, proto: wire.ProtoIPv6,
		src: local6, dst: peer6, tos: 0xe0 | byte(wire.ECT0), ttl: tunnel.DefaultTTL,
	}, {
		name:    "tunnelttl copy",
		command: "gif0 tunnel 198.51.100.1 203.0.113.1 tunnelttl copy",
		inner:   v4(0, 7), family: 4, proto: wire.ProtoIPv4,
		src: local, dst: peer, ttl: 7,
	}, {
		name:    "tunnelttl 200 over IPv6",
		command: "gif0 tunnel 2001:db8:1::1 2001:db8:2::1 tunnelttl 200",
		inner:   v6(0, 7), family: 6, proto: wire.ProtoIPv6,
		src: local6, dst: peer6, ttl: 200,
	}, {
		name:    "-tunnelecn clears ECN",
		command: "gif0 tunnel 198.51.100.1 203.0.113.1 -tunnelecn",
		inner:   v4(0xb8|byte(wire.CE), 5), family: 4, proto: wire.ProtoIPv4,
		src: local, dst: peer, tos: 0xb8, ttl: tunnel.DefaultTTL,
	}, {
		name:    "second address of this host",
		command: "gif0 tunnel 198.51.100.2 203.0.113.2",
		inner:   v4(0, 5), family: 4, proto: wire.ProtoIPv4,
		src: local2, dst: peer2, ttl: tunnel.DefaultTTL,
	}, {
		name:    "tunneldomain marks the outer packet",
		command: "gif0 tunnel 2001:db8:1::1 2001:db8:2::1 tunneldomain 7",
		inner:   v4(0, 5), family: 6, proto: wire.ProtoIPv4,
		src: local6, dst: peer6, ttl: tunnel.DefaultTTL, mark: 7,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlane(t)
			p.ifconfig(tt.command)
			p.device("gif0").Push(tt.inner)
			got := p.network(tt.family, tt.proto).next(t)
			if got.Src != tt.src || got.Dst != tt.dst || got.TOS != tt.tos || got.TTL != tt.ttl || got.Mark != tt.mark {
				t.Errorf("outer %s --> %s tos %#x ttl %d mark %d; want %s --> %s tos %#x ttl %d mark %d",
					got.Src, got.Dst, got.TOS, got.TTL, got.Mark, tt.src, tt.dst, tt.tos, tt.ttl, tt.mark)
			}
			if !bytes.Equal(got.Buf, tt.inner) {
				t.Errorf("payload %x; want the inner packet %x", got.Buf, tt.inner)
			}
			size := uint64(len(tt.inner))
			p.waitStats(t, "gif0", tunnel.InterfaceStats{OPackets: 1, OBytes: size})
			waitEqual(t, "ipip counters", tunnel.IPIPStats{OPackets: 1, OBytes: size}, func() tunnel.IPIPStats { return p.stats().IPIP })
			p.checkNothingSent(t)
		})
	}
}

// TestEncapsulateBatch pushes more packets than one Read takes, of both
// inner versions, and checks that each transport gets its own in order.
func TestEncapsulateBatch(t *testing.T) {
	p := newPlane(t)
	p.ifconfig("gif0 tunnel 198.51.100.1 203.0.113.1")
	var want4, want6 [][]byte
	dev := p.device("gif0")
	var bytesOut uint64
	for i := range 3*testBatchSize + 1 {
		var pkt []byte
		if i%3 == 0 {
			pkt = ipv6Packet("2001:db8::1", "2001:db8::2", 0, 64, []byte{byte(i)})
			want6 = append(want6, pkt)
		} else {
			pkt = ipv4Packet("192.0.2.1", "192.0.2.2", 0, 64, bytes.Repeat([]byte{byte(i)}, i))
			want4 = append(want4, pkt)
		}
		bytesOut += uint64(len(pkt))
		dev.Push(pkt)
	}
	for proto, want := range map[uint8][][]byte{wire.ProtoIPv4: want4, wire.ProtoIPv6: want6} {
		net := p.network(4, proto)
		for i, w := range want {
			if got := net.next(t); !bytes.Equal(got.Buf, w) {
				t.Errorf("protocol %d packet %d: %x; want %x", proto, i, got.Buf, w)
			}
		}
	}
	p.waitStats(t, "gif0", tunnel.InterfaceStats{OPackets: uint64(len(want4) + len(want6)), OBytes: bytesOut})
}

// TestEncapsulateDrops checks the packets that must not leave: from an
// interface that is not RUNNING, without a tunnel, or that would loop. Each
// drop is followed by a packet that goes out, which must be the first the
// network sees.
func TestEncapsulateDrops(t *testing.T) {
	inner := ipv4Packet("192.0.2.1", "192.0.2.2", 0, 64, []byte("payload"))
	tests := []struct {
		name string
		// command sets up gif0 so that inner is dropped; fix makes gif0 send.
		command, fix string
		want         tunnel.InterfaceStats
		unspec       uint64
		packet       []byte
	}{{
		name:    "source not local",
		command: "gif0 tunnel 198.51.100.9 203.0.113.1", fix: "gif0 tunnel 198.51.100.1 203.0.113.1",
		want:   tunnel.InterfaceStats{OErrors: 1},
		packet: inner,
	}, {
		name:    "down",
		command: "gif0 tunnel 198.51.100.1 203.0.113.1 down", fix: "gif0 up",
		want:   tunnel.InterfaceStats{OErrors: 1},
		packet: inner,
	}, {
		name:    "no tunnel",
		command: "gif0 up", fix: "gif0 tunnel 198.51.100.1 203.0.113.1",
		want:   tunnel.InterfaceStats{OErrors: 1},
		unspec: 1,
		packet: inner,
	}, {
		name:    "loop",
		command: "gif0 tunnel 198.51.100.1 203.0.113.1", fix: "gif0 tunnel 198.51.100.2 203.0.113.1",
		want: tunnel.InterfaceStats{Drops: map[string]uint64{"loop": 1}},
		// This tunnel's own outer packet, routed back into it.
		packet: wiretest.IPv4("198.51.100.1", "203.0.113.1", 0, 63, wire.ProtoIPv4, inner),
	}, {
		name:    "loop over IPv6",
		command: "gif0 tunnel 2001:db8:1::1 2001:db8:2::1", fix: "gif0 tunnel 198.51.100.1 203.0.113.1",
		want:   tunnel.InterfaceStats{Drops: map[string]uint64{"loop": 1}},
		packet: wiretest.IPv6("2001:db8:1::1", "2001:db8:2::1", 0, 63, wire.ProtoIPv4, inner),
	}, {
		name:    "not IP",
		command: "gif0 tunnel 198.51.100.1 203.0.113.1", fix: "gif0 up",
		want:   tunnel.InterfaceStats{OErrors: 1, Drops: map[string]uint64{"family": 1}},
		packet: []byte{0x10, 0, 0, 0},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlane(t)
			p.ifconfig(tt.command)
			dev := p.device("gif0")
			dev.Push(tt.packet)
			p.waitStats(t, "gif0", tt.want)
			if ipip := p.stats().IPIP; ipip.OPackets != 0 || ipip.Unspec != tt.unspec {
				t.Errorf("ipip counters %+v; want no packet out and unspec %d", ipip, tt.unspec)
			}

			p.ifconfig(tt.fix)
			marker := ipv4Packet("192.0.2.1", "192.0.2.2", 0, 64, []byte("marker"))
			dev.Push(marker)
			got := p.network(4, wire.ProtoIPv4).next(t)
			if !bytes.Equal(got.Buf, marker) {
				t.Errorf("the network got %x before the next packet; the dropped one went out", got.Buf)
			}
			p.checkNothingSent(t)
		})
	}
}

// TestDecapsulateDemux checks which interface receives an outer packet:
// the exact pair, the lowest unit among those that share it, never one that
// is down, and none for an unknown pair.
func TestDecapsulateDemux(t *testing.T) {
	p := newPlane(t)
	for _, cmd := range []string{
		"gif0 tunnel 198.51.100.1 203.0.113.1 down",
		"gif1 tunnel 198.51.100.1 203.0.113.2",
		"gif2 tunnel 198.51.100.1 203.0.113.1",
		"gif3 tunnel 198.51.100.2 203.0.113.1",
		"gif4 tunnel 198.51.100.1 203.0.113.1",
		"gif5 tunnel 2001:db8:1::1 2001:db8:2::1",
	} {
		p.ifconfig(cmd)
	}
	v4 := ipv4Packet("192.0.2.2", "192.0.2.1", 0, 9, []byte("inner IPv4"))
	v6 := ipv6Packet("2001:db8::2", "2001:db8::1", 0, 9, []byte("inner IPv6"))
	tests := []struct {
		family   int
		proto    uint8
		src, dst netip.Addr
		inner    []byte
		want     string // "" for none
	}{
		{4, wire.ProtoIPv4, peer, local, v4, "gif2"},
		{4, wire.ProtoIPv6, peer, local, v6, "gif2"},
		{4, wire.ProtoIPv4, peer2, local, v4, "gif1"},
		{4, wire.ProtoIPv4, peer, local2, v4, "gif3"},
		{4, wire.ProtoIPv4, peer2, local2, v4, ""},
		{4, wire.ProtoIPv4, local, peer, v4, ""},
		{6, wire.ProtoIPv4, peer6, local6, v4, "gif5"},
		{6, wire.ProtoIPv6, peer6, local6, v6, "gif5"},
		{6, wire.ProtoIPv6, local6, peer6, v6, ""},
	}
	var pdrops uint64
	received := make(map[string]uint64)
	for _, tt := range tests {
		p.network(tt.family, tt.proto).send(t, tt.src, tt.dst, 0, tt.inner)
		if tt.want == "" {
			pdrops++
			waitFor(t, "pdrops", func() bool { return p.stats().IPIP.PDrops == pdrops })
			continue
		}
		received[tt.want]++
		if got := p.device(tt.want).next(t); !bytes.Equal(got, tt.inner) {
			t.Errorf("%s --> %s protocol %d: %s got %x; want %x", tt.src, tt.dst, tt.proto, tt.want, got, tt.inner)
		}
	}
	waitFor(t, "input counters", func() bool { return p.stats().IPIP.IPackets == uint64(len(tests)) })
	for _, c := range p.state.Interfaces {
		if st := p.ifaceStats(c.Name); st.IPackets != received[c.Name] || st.IErrors != 0 {
			t.Errorf("%s counters %+v; want %d packets in", c.Name, st, received[c.Name])
		}
		if n := p.device(c.Name).Written(); n != 0 {
			t.Errorf("%s got %d packets more", c.Name, n)
		}
	}
	if st := p.ifaceStats("gif2"); st.IBytes != uint64(len(v4)+len(v6)) {
		t.Errorf("gif2 received %d bytes; want %d", st.IBytes, len(v4)+len(v6))
	}

	// Down, gif2 gives way to gif4; up again, it takes over again.
	for _, step := range []struct{ command, want string }{
		{"gif2 down", "gif4"},
		{"gif2 up", "gif2"},
		{"gif0 up", "gif0"},
	} {
		p.ifconfig(step.command)
		p.network(4, wire.ProtoIPv4).send(t, peer, local, 0, v4)
		if got := p.device(step.want).next(t); !bytes.Equal(got, v4) {
			t.Errorf("after %s: %s got %x", step.command, step.want, got)
		}
	}
}

// TestDecapsulateChecks checks the drops of the receive path and where
// they are counted, each followed by a packet that must be delivered
// first.
func TestDecapsulateChecks(t *testing.T) {
	v4 := func(src string, tos uint8) []byte {
		return ipv4Packet(src, "192.0.2.1", tos, 9, []byte("inner IPv4"))
	}
	v6 := func(tc uint8) []byte {
		return ipv6Packet("2001:db8::2", "2001:db8::1", tc, 9, []byte("inner IPv6"))
	}
	tests := []struct {
		name     string
		command  string // after "gif0 tunnel 198.51.100.1 203.0.113.1"
		sysctl   string // value of net.inet.ipip.allow
		proto    uint8
		outerTOS uint8
		inner    []byte
		deliver  []byte // nil: dropped
		ipip     tunnel.IPIPStats
		stats    tunnel.InterfaceStats
	}{{
		name:  "IPv6 in protocol 4",
		proto: wire.ProtoIPv4, inner: v6(0),
		ipip:  tunnel.IPIPStats{Family: 1},
		stats: tunnel.InterfaceStats{IErrors: 1, Drops: map[string]uint64{"family": 1}},
	}, {
		name:  "IPv4 in protocol 41",
		proto: wire.ProtoIPv6, inner: ipv4Packet("192.0.2.2", "192.0.2.1", 0, 9, make([]byte, 40)),
		ipip:  tunnel.IPIPStats{Family: 1},
		stats: tunnel.InterfaceStats{IErrors: 1, Drops: map[string]uint64{"family": 1}},
	}, {
		name:  "short",
		proto: wire.ProtoIPv4, inner: v4("192.0.2.2", 0)[:12],
		ipip:  tunnel.IPIPStats{HDrops: 1},
		stats: tunnel.InterfaceStats{IErrors: 1, Drops: map[string]uint64{"short": 1}},
	}, {
		name:  "outer CE over Not-ECT",
		proto: wire.ProtoIPv4, outerTOS: byte(wire.CE), inner: v4("192.0.2.2", 0x20),
		stats: tunnel.InterfaceStats{IErrors: 1, Drops: map[string]uint64{"ecn": 1}},
	}, {
		name:  "outer CE over ECT(0) marks CE",
		proto: wire.ProtoIPv4, outerTOS: byte(wire.CE), inner: v4("192.0.2.2", 0x20|byte(wire.ECT0)),
		deliver: v4("192.0.2.2", 0x20|byte(wire.CE)),
	}, {
		name:  "outer CE over IPv6 ECT(1) marks CE",
		proto: wire.ProtoIPv6, outerTOS: byte(wire.CE), inner: v6(0x20 | byte(wire.ECT1)),
		deliver: v6(0x20 | byte(wire.CE)),
	}, {
		name:    "-tunnelecn ignores outer CE",
		command: "gif0 -tunnelecn",
		proto:   wire.ProtoIPv4, outerTOS: byte(wire.CE), inner: v4("192.0.2.2", 0x20),
		deliver: v4("192.0.2.2", 0x20),
	}, {
		name:  "inner source is this host's",
		proto: wire.ProtoIPv4, inner: v4("198.51.100.2", 0),
		ipip:  tunnel.IPIPStats{Spoof: 1},
		stats: tunnel.InterfaceStats{IErrors: 1},
	}, {
		name:   "inner source is this host's, allowed",
		sysctl: "2",
		proto:  wire.ProtoIPv4, inner: v4("198.51.100.2", 0),
		deliver: v4("198.51.100.2", 0),
	}, {
		name:   "inner source is this host's, allow 1",
		sysctl: "1",
		proto:  wire.ProtoIPv4, inner: v4("198.51.100.2", 0),
		ipip:  tunnel.IPIPStats{Spoof: 1},
		stats: tunnel.InterfaceStats{IErrors: 1},
	}, {
		name:  "trailing bytes cut",
		proto: wire.ProtoIPv4, inner: append(v4("192.0.2.2", 0), "trailer"...),
		deliver: v4("192.0.2.2", 0),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlane(t)
			p.ifconfig("gif0 tunnel 198.51.100.1 203.0.113.1")
			if tt.command != "" {
				p.ifconfig(tt.command)
			}
			if tt.sysctl != "" {
				p.setSysctl("net.inet.ipip.allow", tt.sysctl)
			}
			net, dev := p.network(4, tt.proto), p.device("gif0")
			net.send(t, peer, local, tt.outerTOS, tt.inner)
			want := tunnel.InterfaceStats{}
			if tt.deliver != nil {
				if got := dev.next(t); !bytes.Equal(got, tt.deliver) {
					t.Errorf("delivered %x; want %x", got, tt.deliver)
				}
				want = tunnel.InterfaceStats{IPackets: 1, IBytes: uint64(len(tt.deliver))}
			} else {
				want = tt.stats
				// A packet that passes, sent after the dropped one, is the
				// first delivered.
				marker := v4("192.0.2.2", 0)
				if tt.proto == wire.ProtoIPv6 {
					marker = v6(0)
				}
				net.send(t, peer, local, 0, marker)
				if got := dev.next(t); !bytes.Equal(got, marker) {
					t.Errorf("delivered %x; want it dropped", got)
				}
				want.IPackets, want.IBytes = 1, uint64(len(marker))
			}
			p.waitStats(t, "gif0", want)
			ipip := p.stats().IPIP
			ipip.IPackets, ipip.IBytes = 0, 0
			if ipip != tt.ipip {
				t.Errorf("ipip counters %+v; want %+v", ipip, tt.ipip)
			}
		})
	}
}

// TestProtectedCountsTunnelProtocol: a packet sealed in ESP counts in
// ipipstat or etheripstat too, as OpenBSD's ipip_output and
// etherip_output count it before IPsec, and the gif counts it, both with
// the inner bytes, as the clear path and the receive side do.
func TestProtectedCountsTunnelProtocol(t *testing.T) {
	flow := func(proto string) string {
		return strings.Replace(benchIPsec, "proto ipencap", "proto "+proto, 1)
	}
	t.Run("ipip", func(t *testing.T) {
		p := newPlane(t)
		p.ifconfig("gif0 tunnel 198.51.100.1 203.0.113.1")
		p.loadIPsec(flow("ipencap"))
		inner := ipv4Packet("192.0.2.1", "192.0.2.2", 0, 64, []byte("inner IPv4"))
		p.device("gif0").Push(inner)
		p.network(4, ipsec.ProtoESP).next(t)
		p.waitStats(t, "gif0", tunnel.InterfaceStats{OPackets: 1, OBytes: uint64(len(inner))})
		waitEqual(t, "ipip counters", tunnel.IPIPStats{OPackets: 1, OBytes: uint64(len(inner))}, func() tunnel.IPIPStats { return p.stats().IPIP })
		waitEqual(t, "esp output packets", uint64(1), func() uint64 { return p.stats().ESP.Output })
	})
	t.Run("etherip", func(t *testing.T) {
		p := newEtherIPPlane(t, "gif0 tunnel 198.51.100.1 203.0.113.1")
		p.loadIPsec(flow("etherip"))
		frame := ipFrame("sealed")
		p.device("gif0").Push(frame)
		p.network(4, ipsec.ProtoESP).next(t)
		p.waitStats(t, "gif0", tunnel.InterfaceStats{OPackets: 1, OBytes: uint64(len(frame))})
		p.waitEtherIP(t, tunnel.EtherIPStats{OPackets: 1, OBytes: uint64(len(frame))})
		waitEqual(t, "esp output packets", uint64(1), func() uint64 { return p.stats().ESP.Output })
	})
}
