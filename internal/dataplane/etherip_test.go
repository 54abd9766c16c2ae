package dataplane_test

import (
	"bytes"
	"net/netip"
	"testing"

	"gif/internal/tunnel"
	"gif/internal/wire"
	"gif/internal/wire/wiretest"
)

// newEtherIPPlane returns a plane whose gif0, set up by tunnelCommand, is
// a member of bridge0 with eth1.
func newEtherIPPlane(t testing.TB, tunnelCommand string) *plane {
	t.Helper()
	p := newPlane(t)
	p.ifconfig(tunnelCommand)
	p.ifconfig("bridge0 add gif0 add eth1 up")
	return p
}

// waitEtherIP waits until the etheripstat counters but ibytes are want.
func (p *plane) waitEtherIP(t *testing.T, want tunnel.EtherIPStats) {
	t.Helper()
	waitEqual(t, "etherip counters but ibytes", want, func() tunnel.EtherIPStats {
		s := p.stats().EtherIP
		s.IBytes = 0
		return s
	})
}

// etherIP returns an EtherIP payload: the header bytes b0 b1, then frame.
var etherIP = wiretest.EtherIP

// TestEtherIPEncapsulate checks the outer packet of a frame the bridge
// sends out of a gif: protocol 97, header 30 00, TOS 0, TTL and DF from the
// tunnel's settings, and the counters.
func TestEtherIPEncapsulate(t *testing.T) {
	tests := []struct {
		name     string
		command  string
		family   int
		src, dst netip.Addr
		ttl      uint8
		df       bool
		mark     uint32
	}{
		{name: "IPv4", command: "gif0 tunnel 198.51.100.1 203.0.113.1",
			family: 4, src: local, dst: peer, ttl: tunnel.DefaultTTL},
		{name: "IPv6", command: "gif0 tunnel 2001:db8:1::1 2001:db8:2::1",
			family: 6, src: local6, dst: peer6, ttl: tunnel.DefaultTTL},
		{name: "tunnelttl 9", command: "gif0 tunnel 198.51.100.1 203.0.113.1 tunnelttl 9",
			family: 4, src: local, dst: peer, ttl: 9},
		{name: "tunnelttl copy", command: "gif0 tunnel 198.51.100.1 203.0.113.1 tunnelttl copy",
			family: 4, src: local, dst: peer, ttl: tunnel.DefaultTTL},
		{name: "tunneldf", command: "gif0 tunnel 198.51.100.1 203.0.113.1 tunneldf",
			family: 4, src: local, dst: peer, ttl: tunnel.DefaultTTL, df: true},
		{name: "tunneldf over IPv6", command: "gif0 tunnel 2001:db8:1::1 2001:db8:2::1 tunneldf tunnelttl 200",
			family: 6, src: local6, dst: peer6, ttl: 200, df: true},
		{name: "-tunnelecn", command: "gif0 tunnel 198.51.100.1 203.0.113.1 -tunnelecn",
			family: 4, src: local, dst: peer, ttl: tunnel.DefaultTTL},
		{name: "tunneldomain", command: "gif0 tunnel 198.51.100.1 203.0.113.1 tunneldomain 7",
			family: 4, src: local, dst: peer, ttl: tunnel.DefaultTTL, mark: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newEtherIPPlane(t, tt.command)
			frame := ipFrame(tt.name)
			p.device("gif0").Push(frame)
			got := p.network(tt.family, wire.ProtoEtherIP).next(t)
			if want := etherIP(0x30, 0x00, frame); !bytes.Equal(got.Buf, want) {
				t.Errorf("payload %x; want %x", got.Buf, want)
			}
			if got.Src != tt.src || got.Dst != tt.dst || got.TOS != 0 || got.TTL != tt.ttl || got.DF != tt.df || got.Mark != tt.mark {
				t.Errorf("outer %s --> %s tos %#x ttl %d df %t mark %d; want %s --> %s tos 0 ttl %d df %t mark %d",
					got.Src, got.Dst, got.TOS, got.TTL, got.DF, got.Mark, tt.src, tt.dst, tt.ttl, tt.df, tt.mark)
			}
			size := uint64(len(frame))
			p.waitStats(t, "gif0", tunnel.InterfaceStats{OPackets: 1, OBytes: size})
			p.waitEtherIP(t, tunnel.EtherIPStats{OPackets: 1, OBytes: size})
			if ipip := p.stats().IPIP; ipip != (tunnel.IPIPStats{}) {
				t.Errorf("ipip counters %+v; want none", ipip)
			}
			p.checkNothingSent(t)
		})
	}
}

// TestEtherIPEncapsulateBatch pushes frames of several sizes, more than one
// Read takes, and checks that they leave in order and are counted by
// their frame lengths.
func TestEtherIPEncapsulateBatch(t *testing.T) {
	p := newEtherIPPlane(t, "gif0 tunnel 198.51.100.1 203.0.113.1")
	var frames [][]byte
	var size uint64
	for i := range 3*testBatchSize + 1 {
		f := wiretest.Ethernet(macB, macA, 0x88b5, bytes.Repeat([]byte{byte(i)}, 46+i)) // local experimental EtherType
		frames = append(frames, f)
		size += uint64(len(f))
		p.device("gif0").Push(f)
	}
	net := p.network(4, wire.ProtoEtherIP)
	for i, f := range frames {
		if got := net.next(t); !bytes.Equal(got.Buf, etherIP(0x30, 0, f)) {
			t.Errorf("packet %d: %x; want %x", i, got.Buf, etherIP(0x30, 0, f))
		}
	}
	n := uint64(len(frames))
	p.waitStats(t, "gif0", tunnel.InterfaceStats{OPackets: n, OBytes: size})
	p.waitEtherIP(t, tunnel.EtherIPStats{OPackets: n, OBytes: size})
	p.checkNothingSent(t)
}

// TestEtherIPEncapsulateDrops checks the frames that must not leave: from a
// gif that is not RUNNING, and those that carry the tunnel's own outer
// packets. Each drop is followed by a frame that goes out, which must be
// the first the network sees.
func TestEtherIPEncapsulateDrops(t *testing.T) {
	inner := ipv4Packet("192.0.2.1", "192.0.2.2", 0, 64, []byte("payload"))
	ownOuter := wiretest.IPv4("198.51.100.1", "203.0.113.1", 0, 63, wire.ProtoEtherIP, etherIP(0x30, 0, ipFrame("nested")))
	ownOuter6 := wiretest.IPv6("2001:db8:1::1", "2001:db8:2::1", 0, 63, wire.ProtoEtherIP, etherIP(0x30, 0, ipFrame("nested")))
	vlan := func(etherType uint16, payload []byte) []byte {
		tag := []byte{0x00, 0x05, byte(etherType >> 8), byte(etherType)} // VLAN 5
		return wiretest.Ethernet(macB, macA, 0x8100, append(tag, payload...))
	}
	tests := []struct {
		name string
		// tunnel sets gif0 up before it joins the bridge, command after;
		// fix makes it send.
		tunnel, command, fix string
		frame                []byte
		want                 tunnel.InterfaceStats
	}{{
		name:   "down",
		tunnel: "gif0 tunnel 198.51.100.1 203.0.113.1", command: "gif0 down", fix: "gif0 up",
		frame: ipFrame("down"),
		want:  tunnel.InterfaceStats{OErrors: 1},
	}, {
		name:   "source not local",
		tunnel: "gif0 tunnel 198.51.100.9 203.0.113.1", fix: "gif0 tunnel 198.51.100.1 203.0.113.1",
		frame: ipFrame("not running"),
		want:  tunnel.InterfaceStats{OErrors: 1},
	}, {
		name:   "no tunnel",
		tunnel: "gif0 up", fix: "gif0 tunnel 198.51.100.1 203.0.113.1",
		frame: ipFrame("no tunnel"),
		want:  tunnel.InterfaceStats{OErrors: 1},
	}, {
		name:   "loop",
		tunnel: "gif0 tunnel 198.51.100.1 203.0.113.1", fix: "gif0 tunnel 198.51.100.2 203.0.113.1",
		frame: wiretest.Ethernet(macB, macA, wire.EtherTypeIPv4, ownOuter),
		want:  tunnel.InterfaceStats{Drops: map[string]uint64{"loop": 1}},
	}, {
		name:   "loop through IP in IP, VLAN-tagged",
		tunnel: "gif0 tunnel 198.51.100.1 203.0.113.1", fix: "gif0 tunnel 198.51.100.2 203.0.113.1",
		frame: vlan(wire.EtherTypeIPv4, wiretest.IPv4("198.51.100.1", "203.0.113.1", 0, 63, wire.ProtoIPv4, inner)),
		want:  tunnel.InterfaceStats{Drops: map[string]uint64{"loop": 1}},
	}, {
		name:   "loop over IPv6",
		tunnel: "gif0 tunnel 2001:db8:1::1 2001:db8:2::1", fix: "gif0 tunnel 198.51.100.1 203.0.113.1",
		frame: wiretest.Ethernet(macB, macA, wire.EtherTypeIPv6, ownOuter6),
		want:  tunnel.InterfaceStats{Drops: map[string]uint64{"loop": 1}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newEtherIPPlane(t, tt.tunnel)
			if tt.command != "" {
				p.ifconfig(tt.command)
			}
			tap := p.device("gif0")
			tap.Push(tt.frame)
			p.waitStats(t, "gif0", tt.want)
			if s := p.stats(); s.EtherIP.OPackets != 0 || s.IPIP.OPackets != 0 {
				t.Errorf("etherip %+v, ipip %+v; want nothing sent", s.EtherIP, s.IPIP)
			}

			p.ifconfig(tt.fix)
			marker := ipFrame("marker")
			tap.Push(marker)
			if got := p.network(4, wire.ProtoEtherIP).next(t); !bytes.Equal(got.Buf, etherIP(0x30, 0, marker)) {
				t.Errorf("the network got %x before the marker; the dropped frame went out", got.Buf)
			}
			p.checkNothingSent(t)
		})
	}
}

// TestEtherIPDecapsulate checks the checks of the EtherIP receive path, in
// OpenBSD's order, and where each drop is counted. A dropped packet is
// followed by one that passes, which must be the first delivered.
func TestEtherIPDecapsulate(t *testing.T) {
	frame := ipFrame("inbound")
	tests := []struct {
		name     string
		allow    string // net.inet.etherip.allow; "1" if empty
		src, dst netip.Addr
		payload  []byte
		deliver  []byte // nil: dropped
		want     tunnel.EtherIPStats
	}{{
		name: "not allowed", allow: "0",
		payload: etherIP(0x30, 0, frame),
		want:    tunnel.EtherIPStats{PDrops: 1},
	}, {
		name:    "30 00",
		payload: etherIP(0x30, 0, frame), deliver: frame,
		want: tunnel.EtherIPStats{IPackets: 1},
	}, {
		name:    "legacy 03 00",
		payload: etherIP(0x03, 0, frame), deliver: frame,
		want: tunnel.EtherIPStats{IPackets: 1},
	}, {
		name:    "a bare Ethernet header",
		payload: etherIP(0x30, 0, frame[:wire.EthernetHeaderLen]), deliver: frame[:wire.EthernetHeaderLen],
		want: tunnel.EtherIPStats{IPackets: 1},
	}, {
		name:    "version 4",
		payload: etherIP(0x40, 0, frame),
		want:    tunnel.EtherIPStats{IPackets: 1, ADrops: 1},
	}, {
		name:    "reserved bits beside the version",
		payload: etherIP(0x31, 0, frame),
		want:    tunnel.EtherIPStats{IPackets: 1, ADrops: 1},
	}, {
		name:    "version in both nibbles",
		payload: etherIP(0x33, 0, frame),
		want:    tunnel.EtherIPStats{IPackets: 1, ADrops: 1},
	}, {
		name:    "reserved byte",
		payload: etherIP(0x30, 0x01, frame),
		want:    tunnel.EtherIPStats{IPackets: 1, ADrops: 1},
	}, {
		name:    "15 bytes",
		payload: etherIP(0x30, 0, frame[:wire.EthernetHeaderLen-1]),
		want:    tunnel.EtherIPStats{IPackets: 1, HDrops: 1},
	}, {
		name:    "short before a bad version",
		payload: etherIP(0x40, 0, frame[:4]),
		want:    tunnel.EtherIPStats{IPackets: 1, HDrops: 1},
	}, {
		name:    "header alone",
		payload: etherIP(0x30, 0, nil),
		want:    tunnel.EtherIPStats{IPackets: 1, HDrops: 1},
	}, {
		name: "unknown pair", src: peer2, dst: local,
		payload: etherIP(0x30, 0, frame),
		want:    tunnel.EtherIPStats{IPackets: 1, NoIfDrops: 1},
	}, {
		name: "reversed pair", src: local, dst: peer,
		payload: etherIP(0x30, 0, frame),
		want:    tunnel.EtherIPStats{IPackets: 1, NoIfDrops: 1},
	}, {
		name: "the pair of a gif outside any bridge", src: peer2, dst: local2,
		payload: etherIP(0x30, 0, frame),
		want:    tunnel.EtherIPStats{IPackets: 1, NoIfDrops: 1},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newEtherIPPlane(t, "gif0 tunnel 198.51.100.1 203.0.113.1")
			p.ifconfig("gif1 tunnel 198.51.100.2 203.0.113.2")
			allow := tt.allow
			if allow == "" {
				allow = "1"
			}
			p.setSysctl("net.inet.etherip.allow", allow)
			src, dst := peer, local
			if tt.src.IsValid() {
				src, dst = tt.src, tt.dst
			}
			net, tap := p.network(4, wire.ProtoEtherIP), p.device("gif0")
			net.send(t, src, dst, 0, tt.payload)

			want := tt.want
			delivered := tt.deliver
			if tt.deliver != nil {
				if got := tap.next(t); !bytes.Equal(got, tt.deliver) {
					t.Errorf("delivered %x; want %x", got, tt.deliver)
				}
			} else {
				p.waitEtherIP(t, want)
				if allow == "0" {
					p.setSysctl("net.inet.etherip.allow", "1")
				}
				marker := ipFrame("marker")
				net.send(t, peer, local, 0, etherIP(0x30, 0, marker))
				if got := tap.next(t); !bytes.Equal(got, marker) {
					t.Errorf("delivered %x; want it dropped", got)
				}
				want.IPackets++
				delivered = marker
			}
			p.waitEtherIP(t, want)
			p.waitStats(t, "gif0", tunnel.InterfaceStats{IPackets: 1, IBytes: uint64(len(delivered))})
			// gif1 has the pair but is no bridge member: it carries IP only.
			if n := p.device("gif1").Written(); n != 0 {
				t.Errorf("gif1 got %d packets", n)
			}
			if st := p.ifaceStats("gif1"); st.IPackets != 0 {
				t.Errorf("gif1 counted %d packets in", st.IPackets)
			}
			if n := tap.Written(); n != 0 {
				t.Errorf("gif0 got %d frames more", n)
			}
		})
	}
}

// TestEtherIPInputBytes checks etheripstat's ibytes, which historic OpenBSD
// (ip_ether.c r1.63, etherip_decap) adds to only after the header checks,
// the lookup and the bridge membership check have passed: ipackets counts
// every packet past the policy check, ibytes the frames handed to a bridge.
func TestEtherIPInputBytes(t *testing.T) {
	frame := ipFrame("inbound")
	tests := []struct {
		name     string
		src, dst netip.Addr
		payload  []byte
	}{
		{"short", peer, local, etherIP(0x30, 0, frame[:10])},
		{"bad version", peer, local, etherIP(0x40, 0, frame)},
		{"unknown pair", peer2, local, etherIP(0x30, 0, frame)},
		{"no bridge member", peer2, local2, etherIP(0x30, 0, frame)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newEtherIPPlane(t, "gif0 tunnel 198.51.100.1 203.0.113.1")
			p.ifconfig("gif1 tunnel 198.51.100.2 203.0.113.2")
			p.setSysctl("net.inet.etherip.allow", "1")
			net := p.network(4, wire.ProtoEtherIP)
			net.send(t, tt.src, tt.dst, 0, tt.payload)
			net.send(t, peer, local, 0, etherIP(0x30, 0, frame))
			if got := p.device("gif0").next(t); !bytes.Equal(got, frame) {
				t.Fatalf("delivered %x; want %x", got, frame)
			}
			waitFor(t, "two packets in", func() bool { return p.stats().EtherIP.IPackets == 2 })
			if got, want := p.stats().EtherIP.IBytes, uint64(len(frame)); got != want {
				t.Errorf("etherip ibytes %d; want %d, the frame delivered alone", got, want)
			}
		})
	}
}

// TestEtherIPDemux checks which bridged gif receives an EtherIP packet: the
// exact pair, the lowest unit among those that share it, never one that is
// down.
func TestEtherIPDemux(t *testing.T) {
	p := newPlane(t)
	for _, cmd := range []string{
		"gif0 tunnel 198.51.100.1 203.0.113.1 down",
		"gif1 tunnel 198.51.100.1 203.0.113.1",
		"gif2 tunnel 198.51.100.1 203.0.113.1",
		"gif3 tunnel 198.51.100.2 203.0.113.1",
		"gif4 tunnel 2001:db8:1::1 2001:db8:2::1",
		"bridge0 add gif0 add gif1 add gif3 up",
		"bridge1 add gif2 add gif4 up",
	} {
		p.ifconfig(cmd)
	}
	p.setSysctl("net.inet.etherip.allow", "1")
	frame := ipFrame("demux")
	steps := []struct {
		command  string
		family   int
		src, dst netip.Addr
		want     string
	}{
		{"", 4, peer, local, "gif1"},
		{"", 4, peer, local2, "gif3"},
		{"", 6, peer6, local6, "gif4"},
		{"gif1 down", 4, peer, local, "gif2"},
		{"gif1 up", 4, peer, local, "gif1"},
		{"gif0 up", 4, peer, local, "gif0"},
	}
	received := make(map[string]uint64)
	for _, step := range steps {
		if step.command != "" {
			p.ifconfig(step.command)
		}
		p.network(step.family, wire.ProtoEtherIP).send(t, step.src, step.dst, 0, etherIP(0x30, 0, frame))
		if got := p.device(step.want).next(t); !bytes.Equal(got, frame) {
			t.Errorf("after %q: %s got %x; want %x", step.command, step.want, got, frame)
		}
		received[step.want]++
	}
	waitFor(t, "input counters", func() bool { return p.stats().EtherIP.IPackets == uint64(len(steps)) })
	for _, c := range p.state.Interfaces {
		if st := p.ifaceStats(c.Name); st.IPackets != received[c.Name] {
			t.Errorf("%s counted %d packets in; want %d", c.Name, st.IPackets, received[c.Name])
		}
		if n := p.device(c.Name).Written(); n != 0 {
			t.Errorf("%s got %d packets more", c.Name, n)
		}
	}

	// Out of the bridge, gif0 gives way to gif1.
	p.ifconfig("bridge0 del gif0")
	p.network(4, wire.ProtoEtherIP).send(t, peer, local, 0, etherIP(0x30, 0, frame))
	if got := p.device("gif1").next(t); !bytes.Equal(got, frame) {
		t.Errorf("after bridge0 del gif0: gif1 got %x; want %x", got, frame)
	}
	if n := p.device("gif0").Written(); n != 0 {
		t.Errorf("gif0 out of the bridge got %d frames", n)
	}
}

// TestIPIPForBridgedGif checks that IP in IP for the pair of a bridged gif
// is not delivered to it, as historic gif_input skipped bridge members,
// and is once the gif leaves the bridge.
func TestIPIPForBridgedGif(t *testing.T) {
	p := newEtherIPPlane(t, "gif0 tunnel 198.51.100.1 203.0.113.1")
	p.ifconfig("gif1 tunnel 198.51.100.2 203.0.113.1")
	v4 := ipv4Packet("192.0.2.2", "192.0.2.1", 0, 9, []byte("inner IPv4"))
	v6 := ipv6Packet("2001:db8::2", "2001:db8::1", 0, 9, []byte("inner IPv6"))
	for i, tt := range []struct {
		proto uint8
		inner []byte
	}{{wire.ProtoIPv4, v4}, {wire.ProtoIPv6, v6}} {
		net := p.network(4, tt.proto)
		net.send(t, peer, local, 0, tt.inner)
		// A packet for gif1 after it comes through the same receive path.
		net.send(t, peer, local2, 0, tt.inner)
		if got := p.device("gif1").next(t); !bytes.Equal(got, tt.inner) {
			t.Errorf("protocol %d: gif1 got %x; want %x", tt.proto, got, tt.inner)
		}
		waitFor(t, "pdrops", func() bool { return p.stats().IPIP.PDrops == uint64(i+1) })
	}
	tap := p.device("gif0")
	if n := tap.Written(); n != 0 {
		t.Errorf("the bridged gif0 got %d IP packets", n)
	}
	if st := p.ifaceStats("gif0"); st.IPackets != 0 || st.IErrors != 0 {
		t.Errorf("gif0 counters %+v; want nothing in", st)
	}

	p.ifconfig("bridge0 del gif0")
	p.network(4, wire.ProtoIPv4).send(t, peer, local, 0, v4)
	if got := p.device("gif0").next(t); !bytes.Equal(got, v4) {
		t.Errorf("gif0 out of the bridge got %x; want %x", got, v4)
	}
	if n := tap.Written(); n != 0 {
		t.Errorf("the closed TAP got %d packets", n)
	}
}
