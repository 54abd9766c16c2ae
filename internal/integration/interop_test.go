package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"gif/internal/netns"
	"gif/internal/netns/netnstest"
)

// tunnelFilter captures the outer packets of every gif mode.
const tunnelFilter = "ip proto 4 or ip proto 41 or ip6 proto 4 or ip6 proto 41"

// outerDSField is the outer TOS gif sends for an inner TOS: copied, with
// RFC 3168 full-functionality ECN (inner CE becomes ECT(0)).
func outerDSField(inner int) int {
	if inner&3 == 3 {
		return inner&^3 | 2
	}
	return inner
}

// TestWireFormat asserts with tshark what each mode puts on the wire: outer
// TTL 64, DF clear, protocol 4 or 41, the TOS and ECN mapping, IPv6 flow
// label 0, random IPv4 IDs, and an inner packet that decodes.
func TestWireFormat(t *testing.T) {
	for _, plane := range planes {
		t.Run(plane, func(t *testing.T) { testWireFormat(t, plane) })
	}
}

func testWireFormat(t *testing.T, plane string) {
	innerTOS := []int{0x00, 0xb8, 0x01, 0x02, 0x03, 0x4b}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			a, b := newPairOn(t, plane)
			tunnelBoth(a, b, m.outer, m.inner)
			a.wantPlane("gif0", plane)
			dst := map[int]string{4: innerB4, 6: innerB6}[m.inner]
			a.mustPing(dst, 1) // neighbour discovery and routes settle first
			capture, err := b.Capture("eth0", tunnelFilter)
			if err != nil {
				t.Fatal(err)
			}
			for _, tos := range innerTOS {
				a.mustPing(dst, 2, "-Q", fmt.Sprintf("0x%02x", tos))
			}
			pkts, err := capture.Stop()
			if err != nil {
				t.Fatal(err)
			}
			requests := echoRequests(pkts, m.inner)
			if len(requests) != 2*len(innerTOS) {
				t.Fatalf("captured %d tunnelled echo requests, want %d (of %d packets)", len(requests), 2*len(innerTOS), len(pkts))
			}
			ids := map[int]bool{}
			for i, p := range requests {
				outer, inner := p.IP[0], p.IP[1]
				wantProto := map[int]int{4: 4, 6: 41}[m.inner]
				if outer.Version != m.outer || outer.Proto != wantProto || outer.TTL != 64 || outer.DF || outer.Flow != 0 {
					t.Errorf("packet %d: outer %+v: want IPv%d proto %d ttl 64, DF clear, flow label 0", i, outer, m.outer, wantProto)
				}
				tos := innerTOS[i/2]
				if inner.DSField != tos {
					t.Errorf("packet %d: inner TOS 0x%02x, ping set 0x%02x", i, inner.DSField, tos)
				}
				if want := outerDSField(tos); outer.DSField != want {
					t.Errorf("packet %d: inner TOS 0x%02x gave outer 0x%02x, want 0x%02x", i, tos, outer.DSField, want)
				}
				ids[outer.ID] = true
			}
			if m.outer == 4 && len(ids) < len(requests)/2 {
				t.Errorf("outer IPv4 IDs are not random: %d distinct in %d packets", len(ids), len(requests))
			}
		})
	}
}

// echoRequests returns the tunnelled echo requests whose inner packet is
// of the given IP version.
func echoRequests(pkts []netns.Packet, inner int) []netns.Packet {
	var out []netns.Packet
	for _, p := range pkts {
		if len(p.IP) < 2 || p.IP[1].Version != inner || p.ICMP == nil {
			continue
		}
		if (inner == 4 && p.ICMP.Type == 8) || (inner == 6 && p.ICMP.Type == 128) {
			out = append(out, p)
		}
	}
	return out
}

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestScapyDecapsulation sends packets built by scapy to a gif and checks
// what the daemon makes of each: accepted and answered, or dropped and
// counted under the right cause.
func TestScapyDecapsulation(t *testing.T) {
	for _, plane := range planes {
		t.Run(plane, func(t *testing.T) { testScapyDecapsulation(t, plane) })
	}
}

func testScapyDecapsulation(t *testing.T, plane string) {
	for _, outer := range []int{4, 6} {
		t.Run(fmt.Sprintf("outer-IPv%d", outer), func(t *testing.T) {
			a, b := newPairOn(t, plane)
			src, dst := outerB4, outerA4
			outerHdr := func(proto, tos int) string {
				return fmt.Sprintf("IP(src=%q, dst=%q, proto=%d, tos=%d)", src, dst, proto, tos)
			}
			local := outerA4
			if outer == 6 {
				src, dst, local = outerB6, outerA6, outerA6
				outerHdr = func(proto, tos int) string {
					return fmt.Sprintf("IPv6(src=%q, dst=%q, nh=%d, tc=%d)", src, dst, proto, tos)
				}
			}
			a.gif("ifconfig", "gif0", "tunnel", local, src,
				"inet", innerA4, innerB4, "inet6", innerA6, innerB6, "prefixlen", "128", "up")
			a.mustPing(src, 1) // the outer neighbour is resolved before scapy sends
			a.wantPlane("gif0", plane)
			cases := []struct {
				name   string
				packet string
				reply  bool   // a answers through the tunnel
				drop   string // the interface drop counter that grows
				ipip   string // the netstat line that grows
			}{
				{"IPv4 echo", outerHdr(4, 0) + fmt.Sprintf("/IP(src=%q, dst=%q)/ICMP(id=7)", innerB4, innerA4), true, "", ""},
				{"IPv6 echo", outerHdr(41, 0) + fmt.Sprintf("/IPv6(src=%q, dst=%q)/ICMPv6EchoRequest(id=7)", innerB6, innerA6), true, "", ""},
				{"outer CE, inner ECT(0)", outerHdr(4, 3) + fmt.Sprintf("/IP(src=%q, dst=%q, tos=2)/ICMP(id=8)", innerB4, innerA4), true, "", ""},
				{"outer CE, inner Not-ECT", outerHdr(4, 3) + fmt.Sprintf("/IP(src=%q, dst=%q, tos=0)/ICMP(id=9)", innerB4, innerA4), false, "ecn", ""},
				{"protocol 4 carrying IPv6", outerHdr(4, 0) + fmt.Sprintf("/IPv6(src=%q, dst=%q)/ICMPv6EchoRequest()", innerB6, innerA6), false, "family", "protocol family mismatch(es)?"},
				{"protocol 41 carrying IPv4", outerHdr(41, 0) + fmt.Sprintf("/IP(src=%q, dst=%q)/ICMP()", innerB4, innerA4), false, "family", "protocol family mismatch(es)?"},
				{"truncated inner header", outerHdr(4, 0) + "/Raw(b'\\x45\\x00\\x00')", false, "short", "packets? shorter than header shows"},
				{"inner source is a's own address", outerHdr(4, 0) + fmt.Sprintf("/IP(src=%q, dst=%q)/ICMP()", innerA4, innerA4), false, "", "packets? with possibly spoofed local addresses"},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					before := a.status("gif0").Stats
					var ipipBefore int
					if c.ipip != "" {
						ipipBefore = a.ipipStat(c.ipip)
					}
					capture, err := b.Capture("eth0", tunnelFilter)
					if err != nil {
						t.Fatal(err)
					}
					if out, err := netnstest.Scapy(t.Context(), b.Host, "send("+c.packet+")"); err != nil {
						t.Fatalf("scapy: %v\n%s", err, out)
					}
					if c.reply {
						waitFor(t, "the packet to be received", func() bool {
							return a.status("gif0").Stats.IPackets > before.IPackets
						})
					}
					if c.drop != "" {
						waitFor(t, "drop counter "+c.drop, func() bool {
							return a.status("gif0").Stats.Drops[c.drop] > before.Drops[c.drop]
						})
					}
					if c.ipip != "" {
						waitFor(t, c.ipip, func() bool { return a.ipipStat(c.ipip) > ipipBefore })
					}
					pkts, err := capture.Stop()
					if err != nil {
						t.Fatal(err)
					}
					replies := 0
					for _, p := range pkts {
						if len(p.IP) >= 2 && p.IP[0].Src.String() == dst && p.ICMP != nil && (p.ICMP.Type == 0 || p.ICMP.Type == 129) {
							replies++
						}
					}
					if c.reply && replies == 0 {
						t.Fatalf("no tunnelled echo reply from a among %d packets", len(pkts))
					}
					if !c.reply && replies != 0 {
						t.Fatalf("a answered a packet it should have dropped")
					}
					if !c.reply && a.status("gif0").Stats.IPackets != before.IPackets {
						t.Fatalf("a dropped packet was counted as received")
					}
				})
			}
			if out := a.gif("ifconfig", "gif0"); !strings.Contains(out, "drops:") {
				t.Fatalf("ifconfig shows no drops:\n%s", out)
			}
		})
	}
}

// TestRoutingLoop routes a tunnel's outer destination into the tunnel
// itself: the packets are dropped and counted, and the daemon logs it once.
func TestRoutingLoop(t *testing.T) {
	for _, plane := range planes {
		t.Run(plane, func(t *testing.T) { testRoutingLoop(t, plane) })
	}
}

func testRoutingLoop(t *testing.T, plane string) {
	a, _ := newPairOn(t, plane)
	a.gif("ifconfig", "gif0", "tunnel", outerA4, "203.0.113.9", "inet", innerA4, innerB4, "up")
	a.sh("ip", "route", "add", "203.0.113.9/32", "dev", "gif0")
	// The kernel plane takes the tunnel, and hands its packets back to
	// the userspace plane, which finds the loop, when the route leads
	// into a gif.
	a.wantPlane("gif0", plane)
	a.ping(innerB4, 3)
	st := a.status("gif0")
	if st.Stats.Drops["loop"] < 3 {
		t.Fatalf("loop drops %d, want >= 3 (counters %+v)", st.Stats.Drops["loop"], st.Stats)
	}
	log := a.sh("cat", a.stateDir+"/daemon.log")
	if n := strings.Count(log, "routing loop"); n != 1 {
		t.Fatalf("the loop was logged %d times, want once:\n%s", n, log)
	}
}
