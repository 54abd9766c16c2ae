package kernel

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"gif/internal/netns"
	"gif/internal/netns/netnstest"
)

// tunnelEnd is one host of TestProgramsCarryPing: its own objects, its
// gif's TUN, the programs attached to the gif and the veth.
type tunnelEnd struct {
	host       *netns.Host
	objs       gifObjects
	gif, under int
}

// newTunnelEnd creates gif0 (a TUN with the inner addresses inner →
// innerPeer) on h, and attaches gif_egress to it and gif_ingress to the
// veth underIf, with tc links that the test's end removes. gif0's MTU
// leaves room for either outer header on the veth's 1,500 bytes.
func newTunnelEnd(t *testing.T, h *netns.Host, underIf string, inner, innerPeer netip.Addr) *tunnelEnd {
	t.Helper()
	ctx := context.Background()
	e := &tunnelEnd{host: h}
	addr := []string{"addr", "add", inner.String(), "peer", innerPeer.String(), "dev", "gif0"}
	if inner.Is6() {
		addr = append(addr, "nodad")
	}
	for _, args := range [][]string{
		{"tuntap", "add", "gif0", "mode", "tun"},
		{"link", "set", "gif0", "up", "mtu", "1440"},
		addr,
	} {
		if _, err := h.Run(ctx, "ip", args...); err != nil {
			t.Fatalf("%v", err)
		}
	}
	for _, key := range []string{"net.ipv4.conf.all.forwarding", "net.ipv6.conf.all.forwarding"} {
		if _, err := h.Run(ctx, "sysctl", "-qw", key+"=1"); err != nil {
			t.Fatalf("%v", err)
		}
	}
	if err := loadGifObjects(&e.objs, nil); err != nil {
		t.Fatalf("load the programs: %v", err)
	}
	t.Cleanup(func() { e.objs.Close() })
	err := h.Do(func() error {
		for name, index := range map[string]*int{"gif0": &e.gif, underIf: &e.under} {
			ifc, err := net.InterfaceByName(name)
			if err != nil {
				return err
			}
			*index = ifc.Index
		}
		for _, a := range []struct {
			ifindex int
			prog    *ebpf.Program
			attach  ebpf.AttachType
		}{
			{e.gif, e.objs.GifEgress, ebpf.AttachTCXEgress},
			{e.under, e.objs.GifIngress, ebpf.AttachTCXIngress},
		} {
			l, err := link.AttachTCX(link.TCXOptions{Interface: a.ifindex, Program: a.prog, Attach: a.attach})
			if err != nil {
				return fmt.Errorf("attach to ifindex %d: %w", a.ifindex, err)
			}
			t.Cleanup(func() { l.Close() })
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v", err)
	}
	return e
}

// carry puts the tunnel src → dst on this end's gif in both directions.
func (e *tunnelEnd) carry(t *testing.T, src, dst netip.Addr) {
	t.Helper()
	var out gifEgressTunnel
	out.Src.A, out.Dst.A, out.Family, out.Ttl, out.Ecn = gifAddr(src), gifAddr(dst), family(src), 64, 1
	if err := e.objs.EgressTunnels.Put(uint32(e.gif), out); err != nil {
		t.Fatalf("put egress tunnel: %v", err)
	}
	var k gifIngressKey
	k.Local.A, k.Remote.A, k.Family = gifAddr(src), gifAddr(dst), family(src)
	if err := e.objs.IngressTunnels.Put(k, gifIngressTunnel{Ifindex: uint32(e.gif), Ecn: 1}); err != nil {
		t.Fatalf("put ingress tunnel: %v", err)
	}
}

// newTunnelPair returns two namespaces joined by a veth, each a tunnel end
// of src → dst (seen from the first) carrying inner packets of version
// inner, and the second's inner address.
func newTunnelPair(t *testing.T, src, dst netip.Addr, inner int) (ea, eb *tunnelEnd, innerB netip.Addr) {
	t.Helper()
	_, a, b := netnstest.NewPair(t)
	innerA, innerB := netip.MustParseAddr("10.9.0.1"), netip.MustParseAddr("10.9.0.2")
	if inner == 6 {
		innerA, innerB = netip.MustParseAddr("fd00:9::1"), netip.MustParseAddr("fd00:9::2")
	}
	ea = newTunnelEnd(t, a, "gift0", innerA, innerB)
	eb = newTunnelEnd(t, b, "gift1", innerB, innerA)
	ea.carry(t, src, dst)
	eb.carry(t, dst, src)
	return ea, eb, innerB
}

// TestProgramsCarryPing runs the programs on real devices, no daemon and
// no tunnel module: two namespaces, each with a TUN gif0 nobody reads and
// the programs on it and on the veth between them. A ping through the
// gifs is answered only if each side's gif_egress encapsulates and
// redirects to the veth (an L3 device's packet given an Ethernet header)
// and the other's gif_ingress decapsulates into its gif0, in each IP mode.
func TestProgramsCarryPing(t *testing.T) {
	for _, mode := range tunnelModes {
		t.Run(mode.name, func(t *testing.T) {
			ea, eb, innerB := newTunnelPair(t, mode.src, mode.dst, mode.inner)
			res, err := ea.host.Ping(context.Background(), innerB.String(), "-c", "3", "-i", "0.2", "-W", "1")
			if err != nil {
				t.Fatalf("%v", err)
			}
			if res.Received != 3 {
				t.Fatalf("ping %s through the programs: %d of %d answered\n%s", innerB, res.Received, res.Transmitted, res.Output)
			}
			for _, e := range []*tunnelEnd{ea, eb} {
				if c := sumIfCounters(t, &e.objs, uint32(e.gif)); c.Ipackets < 3 || c.Opackets < 3 {
					t.Errorf("%s: if_counters %d in, %d out; want at least 3 each", e.host, c.Ipackets, c.Opackets)
				}
			}
		})
	}
}

// TestProgramsCarryTCP sends 20 MB of TCP through the programs in each IP
// mode: the stack hands gif_egress 64 KiB GSO packets, which must fit the
// per-segment MTU check (gif0's MTU 1440 leaves room for either outer
// header), be encapsulated with FIXED_GSO, and be cut by the kernel into
// segments that gif_ingress decapsulates. if_counters must count segments
// as the userspace plane does: no counted packet larger than the MTU. GRO
// on the receiving veth makes gif_ingress decapsulate merged packets.
func TestProgramsCarryTCP(t *testing.T) {
	const gifMTU, bytes = 1440, 20 << 20
	for _, mode := range tunnelModes {
		t.Run(mode.name, func(t *testing.T) {
			ea, eb, innerB := newTunnelPair(t, mode.src, mode.dst, mode.inner)
			a, b := ea.host, eb.host
			// GRO on the receiving veth hands gif_ingress merged
			// IP-in-IP packets, to decapsulate whole.
			if _, err := b.Run(context.Background(), "ethtool", "-K", "gift1", "gro", "on"); err != nil {
				t.Fatalf("%v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			server := make(chan error, 1)
			go func() {
				_, err := b.Run(ctx, "iperf3", "-s", "-1", "-B", innerB.String())
				server <- err
			}()
			var err error
			for range 50 { // until the server listens
				if _, err = a.Run(ctx, "iperf3", "-c", innerB.String(), "-n", strconv.Itoa(bytes)); err == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				t.Fatalf("%v", err)
			}
			if err := <-server; err != nil {
				t.Fatalf("%v", err)
			}
			sent, received := sumIfCounters(t, &ea.objs, uint32(ea.gif)), sumIfCounters(t, &eb.objs, uint32(eb.gif))
			// iperf3 -n ends once the client has written its bytes,
			// before all have arrived: ask for half.
			if received.Ibytes < bytes/2 {
				t.Errorf("%s received %d bytes through the programs, want at least %d", b, received.Ibytes, bytes/2)
			}
			if sent.Opackets == 0 || sent.Obytes/sent.Opackets > gifMTU {
				t.Errorf("%s sent %d bytes in %d packets: more than the MTU %d each, so not counted per segment", a, sent.Obytes, sent.Opackets, gifMTU)
			}
			for _, e := range []*tunnelEnd{ea, eb} {
				for r := range NumPassReasons {
					var perCPU []uint64
					if err := e.objs.PassReasons.Lookup(uint32(r), &perCPU); err != nil {
						t.Fatal(err)
					}
					for _, n := range perCPU {
						if n != 0 && (r == PassTooBig || r == PassGSONotTCP || r == PassEncapFailed || r == PassDecapFailed) {
							t.Errorf("%s: %d packets passed: %v", e.host, n, r)
						}
					}
				}
			}
		})
	}
}
