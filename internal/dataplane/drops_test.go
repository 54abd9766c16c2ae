package dataplane_test

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"gif/internal/dataplane"
	"gif/internal/ipsec"
	"gif/internal/link"
	"gif/internal/link/linktest"
	"gif/internal/outer"
	"gif/internal/tunnel"
	"gif/internal/wire"
	"gif/internal/wire/wiretest"
)

// benchDevice is a device that neither copies nor queues: what it reads
// is always its packet, what it writes is counted and forgotten. The
// packet-path benchmarks measure the plane, not the fake.
type benchDevice struct {
	*linktest.Device        // for WaitReadable, which the send loop waits in
	packet           []byte // what each Read hands out
	written          atomic.Uint64
}

// newBenchPlane returns a plane whose gifs have benchDevices. Its
// networks' far ends are never read: the paths measured send nothing, and
// a reader would allocate its buffers while they are measured.
func newBenchPlane(tb testing.TB) *plane {
	return newPlaneWith(tb, func(name string) link.Device {
		return &benchDevice{Device: linktest.New(name, testBatchSize)}
	})
}

// benchDevice returns the device of the gif called name.
func (p *plane) benchDevice(name string) *benchDevice {
	return p.iface(name).Device().(*benchDevice)
}

// Read hands out the device's packet, at once and every time: the send
// path's benchmarks call SendOnce, which reads one batch.
func (d *benchDevice) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	sizes[0] = copy(bufs[0][offset:], d.packet)
	return 1, nil
}

func (d *benchDevice) Write(bufs [][]byte, offset int) (int, error) {
	d.written.Add(uint64(len(bufs)))
	return len(bufs), nil
}

// The ESP SAs of the benchmarks, ipsecctl's defaults (aes, hmac-sha2-256):
// out from this host to the peer, in from the peer.
var (
	benchAuthOut, benchAuthIn = strings.Repeat("a1", 32), strings.Repeat("b1", 32)
	benchEncOut, benchEncIn   = strings.Repeat("a2", 16), strings.Repeat("b2", 16)
)

const benchSPIIn = 0x1001

// benchIPsec is an SA pair between local and peer and a flow that requires
// ESP for IP in IP between them.
var benchIPsec = fmt.Sprintf("esp from %s to %s spi 0x1000:0x%x authkey 0x%s:0x%s enckey 0x%s:0x%s\nflow esp proto ipencap from %s to %s\n",
	local, peer, benchSPIIn, benchAuthOut, benchAuthIn, benchEncOut, benchEncIn, local, peer)

// peerSA is the peer's outgoing SA, the plane's incoming one: it seals
// what the peer sends.
func peerSA(tb testing.TB) *ipsec.SA {
	key := func(s string) []byte { k, _ := hex.DecodeString(s); return k }
	sa, err := ipsec.NewSA(ipsec.Params{SPI: benchSPIIn, Src: peer, Dst: local, Mode: ipsec.Tunnel,
		Auth: "hmac-sha2-256", Enc: "aes", AuthKey: key(benchAuthIn), EncKey: key(benchEncIn)})
	if err != nil {
		tb.Fatal(err)
	}
	return sa
}

// outerIPv4 is the outer packet the peer's gif sends with protocol proto:
// in tunnel mode it goes whole inside ESP.
func outerIPv4(proto uint8, payload []byte) []byte {
	return wiretest.IPv4(peer.String(), local.String(), 0, 64, proto, payload)
}

// sealFromPeer returns the ESP payload the peer sends for packet.
func sealFromPeer(tb testing.TB, sa *ipsec.SA, packet []byte) []byte {
	head, tail := sa.Overhead()
	buf := make([]byte, head+len(packet)+tail)
	copy(buf[head:], packet)
	start, length, err := sa.Seal(buf, head, len(packet), wire.ProtoIPv4)
	if err != nil {
		tb.Fatal(err)
	}
	return buf[start : start+length]
}

// pathCase is one kind of packet through the receive or send path of a
// plane of its own. start sets the plane up and returns step, which
// takes one packet through the path, and the counter that must count
// each step.
type pathCase struct {
	name  string
	start func(tb testing.TB) (step func(), counter func() uint64)
}

// counters reads the global counters of a plane and those of its gif0.
type counters func(stats, tunnel.InterfaceStats) uint64

func (c counters) of(p *plane) func() uint64 {
	return func() uint64 { return c(p.stats(), p.ifaceStats("gif0")) }
}

var (
	ipackets = counters(func(_ stats, s tunnel.InterfaceStats) uint64 { return s.IPackets })
	oerrors  = counters(func(_ stats, s tunnel.InterfaceStats) uint64 { return s.OErrors })
)

func drops(reason string) counters {
	return func(_ stats, s tunnel.InterfaceStats) uint64 { return s.Drops[reason] }
}

func ipip(f func(tunnel.IPIPStats) uint64) counters {
	return func(s stats, _ tunnel.InterfaceStats) uint64 { return f(s.IPIP) }
}

func etherip(f func(tunnel.EtherIPStats) uint64) counters {
	return func(s stats, _ tunnel.InterfaceStats) uint64 { return f(s.EtherIP) }
}

func esp(f func(ipsec.Stats) uint64) counters {
	return func(s stats, _ tunnel.InterfaceStats) uint64 { return f(s.ESP) }
}

// received is a packet that arrives from src with protocol proto.
type received struct {
	proto   uint8
	src     netip.Addr
	tos     uint8
	payload []byte
	// seal, if set, seals payload anew for each step: an ESP packet that
	// opens must have a sequence number of its own.
	seal *ipsec.SA
}

// receiving returns the step that hands r's packet to p's receive path,
// one batch of one.
func (r received) receiving(tb testing.TB, p *plane) func() {
	recv := p.u.NewReceiver(r.proto)
	pkts := []outer.Packet{{Buf: make([]byte, dataplane.BufSize)}}
	return func() {
		pkts[0] = outer.Packet{Buf: pkts[0].Buf, Src: r.src, Dst: local, TOS: r.tos, Size: r.fill(tb, pkts[0].Buf)}
		recv.Receive(pkts)
	}
}

// fill writes the packet at the headroom of buf and returns its size.
func (r received) fill(tb testing.TB, buf []byte) int {
	if r.seal == nil {
		return copy(buf[dataplane.Headroom:], r.payload)
	}
	head, _ := r.seal.Overhead()
	n := copy(buf[dataplane.Headroom+head:], r.payload)
	start, length, err := r.seal.Seal(buf, dataplane.Headroom+head, n, wire.ProtoIPv4)
	if err != nil || start != dataplane.Headroom {
		tb.Fatalf("seal: at %d, %v", start, err)
	}
	return length
}

// receiveCases are every drop of the receive path, by protocol and
// counter, and a delivery of each protocol.
func receiveCases() []pathCase {
	inner := ipv4Packet("192.0.2.2", "192.0.2.1", 0, 9, []byte("inner IPv4"))
	v6 := ipv6Packet("2001:db8::2", "2001:db8::1", 0, 9, []byte("inner IPv6"))
	stranger := netip.MustParseAddr("203.0.113.9")
	gif := func(name string, r received, count counters) pathCase {
		return pathCase{name, func(tb testing.TB) (func(), func() uint64) {
			p := newBenchPlane(tb)
			p.ifconfig("gif0 tunnel 198.51.100.1 203.0.113.1")
			return r.receiving(tb, p), count.of(p)
		}}
	}
	frame := etherIP(0x30, 0, ipFrame("frame"))
	bridged := func(name string, allow string, r received, count counters) pathCase {
		return pathCase{name, func(tb testing.TB) (func(), func() uint64) {
			p := newBenchPlane(tb)
			p.ifconfig("gif0 tunnel 198.51.100.1 203.0.113.1")
			p.ifconfig("bridge0 add gif0 add eth1 up")
			p.setSysctl("net.inet.etherip.allow", allow)
			return r.receiving(tb, p), count.of(p)
		}}
	}
	// protected is a gif with an SA pair to its peer and a flow that
	// requires ESP; packet makes the ESP payload from the peer's SA.
	protected := func(name string, packet func(tb testing.TB, sa *ipsec.SA) received, count counters) pathCase {
		return pathCase{name, func(tb testing.TB) (func(), func() uint64) {
			p := newBenchPlane(tb)
			p.ifconfig("gif0 tunnel 198.51.100.1 203.0.113.1")
			p.loadIPsec(benchIPsec)
			return packet(tb, peerSA(tb)).receiving(tb, p), count.of(p)
		}}
	}
	fromPeer := func(payload []byte) received { return received{proto: ipsec.ProtoESP, src: peer, payload: payload} }
	sealed := func(packet []byte) func(testing.TB, *ipsec.SA) received {
		return func(_ testing.TB, sa *ipsec.SA) received {
			return received{proto: ipsec.ProtoESP, src: peer, payload: packet, seal: sa}
		}
	}
	return []pathCase{
		gif("ipip-delivered", received{proto: wire.ProtoIPv4, src: peer, payload: inner}, ipackets),
		gif("ipip-pdrops", received{proto: wire.ProtoIPv4, src: stranger, payload: inner},
			ipip(func(s tunnel.IPIPStats) uint64 { return s.PDrops })),
		gif("ipip-hdrops", received{proto: wire.ProtoIPv4, src: peer, payload: inner[:12]},
			ipip(func(s tunnel.IPIPStats) uint64 { return s.HDrops })),
		gif("ipip-family", received{proto: wire.ProtoIPv4, src: peer, payload: v6},
			ipip(func(s tunnel.IPIPStats) uint64 { return s.Family })),
		gif("ipip-ecn", received{proto: wire.ProtoIPv4, src: peer, tos: byte(wire.CE), payload: inner}, drops("ecn")),
		gif("ipip-spoof", received{proto: wire.ProtoIPv4, src: peer, payload: ipv4Packet("198.51.100.2", "192.0.2.1", 0, 9, nil)},
			ipip(func(s tunnel.IPIPStats) uint64 { return s.Spoof })),

		bridged("etherip-delivered", "1", received{proto: wire.ProtoEtherIP, src: peer, payload: frame}, ipackets),
		bridged("etherip-pdrops", "0", received{proto: wire.ProtoEtherIP, src: peer, payload: frame},
			etherip(func(s tunnel.EtherIPStats) uint64 { return s.PDrops })),
		bridged("etherip-hdrops", "1", received{proto: wire.ProtoEtherIP, src: peer, payload: frame[:8]},
			etherip(func(s tunnel.EtherIPStats) uint64 { return s.HDrops })),
		bridged("etherip-adrops", "1", received{proto: wire.ProtoEtherIP, src: peer, payload: etherIP(0x40, 0, ipFrame("frame"))},
			etherip(func(s tunnel.EtherIPStats) uint64 { return s.ADrops })),
		bridged("etherip-noifdrops", "1", received{proto: wire.ProtoEtherIP, src: stranger, payload: frame},
			etherip(func(s tunnel.EtherIPStats) uint64 { return s.NoIfDrops })),

		protected("esp-delivered", sealed(outerIPv4(wire.ProtoIPv4, inner)), ipackets),
		protected("esp-hdrops", func(tb testing.TB, sa *ipsec.SA) received {
			return fromPeer(sealFromPeer(tb, sa, outerIPv4(wire.ProtoIPv4, inner))[:4])
		}, esp(func(s ipsec.Stats) uint64 { return s.HDrops })),
		protected("esp-notdb", func(tb testing.TB, sa *ipsec.SA) received {
			p := sealFromPeer(tb, sa, outerIPv4(wire.ProtoIPv4, inner))
			p[3] ^= 0xff // the SPI's last byte
			return fromPeer(p)
		}, esp(func(s ipsec.Stats) uint64 { return s.NotDB })),
		protected("esp-badauth", func(tb testing.TB, sa *ipsec.SA) received {
			p := sealFromPeer(tb, sa, outerIPv4(wire.ProtoIPv4, inner))
			p[len(p)-1] ^= 1 // the ICV
			return fromPeer(p)
		}, esp(func(s ipsec.Stats) uint64 { return s.BadAuth })),
		// A CBC ciphertext that is not a whole number of blocks.
		protected("esp-badilen", func(tb testing.TB, sa *ipsec.SA) received {
			p := sealFromPeer(tb, sa, outerIPv4(wire.ProtoIPv4, inner))
			return fromPeer(p[:len(p)-1])
		}, esp(func(s ipsec.Stats) uint64 { return s.BadILen })),
		// Opened once by the first step, a replay at every other; the
		// first one's delivery is counted instead.
		protected("esp-replay", func(tb testing.TB, sa *ipsec.SA) received {
			return fromPeer(sealFromPeer(tb, sa, outerIPv4(wire.ProtoIPv4, inner)))
		}, func(s stats, i tunnel.InterfaceStats) uint64 { return s.ESP.Replay + i.IPackets }),
		// Tunnel mode carrying something gif does not carry: UDP.
		protected("esp-pdrops-inner-protocol", sealed(outerIPv4(17, []byte("datagram"))),
			esp(func(s ipsec.Stats) uint64 { return s.PDrops })),
		protected("esp-hdrops-inner-header", sealed(outerIPv4(wire.ProtoIPv4, inner)[:12]),
			esp(func(s ipsec.Stats) uint64 { return s.HDrops })),
		// IP in IP that the flow requires to come in ESP.
		protected("esp-pdrops-in-clear", func(testing.TB, *ipsec.SA) received {
			return received{proto: wire.ProtoIPv4, src: peer, payload: inner}
		}, esp(func(s ipsec.Stats) uint64 { return s.PDrops })),
	}
}

// sendCases are the drops of the send path: of packets and frames the
// kernel routes into a gif.
func sendCases() []pathCase {
	inner := ipv4Packet("192.0.2.1", "192.0.2.2", 0, 64, []byte("payload"))
	sending := func(name, command string, ether bool, conf string, packet []byte, count counters) pathCase {
		return pathCase{name, func(tb testing.TB) (func(), func() uint64) {
			p := newBenchPlane(tb)
			p.ifconfig("gif0 tunnel 198.51.100.1 203.0.113.1")
			if ether {
				p.ifconfig("bridge0 add gif0 add eth1 up")
			}
			p.ifconfig(command)
			if conf != "" {
				p.loadIPsec(conf)
			}
			p.benchDevice("gif0").packet = packet
			ifc := p.iface("gif0")
			return ifc.SendOnce, count.of(p)
		}}
	}
	ownOuter := wiretest.Ethernet(macB, macA, wire.EtherTypeIPv4,
		wiretest.IPv4("198.51.100.1", "203.0.113.1", 0, 63, wire.ProtoEtherIP, etherIP(0x30, 0, ipFrame("nested"))))
	return []pathCase{
		sending("send-ipip-down", "gif0 down", false, "", inner, oerrors),
		sending("send-ipip-unspec", "gif0 deletetunnel", false, "", inner,
			ipip(func(s tunnel.IPIPStats) uint64 { return s.Unspec })),
		sending("send-ipip-loop", "gif0 up", false, "", wiretest.IPv4("198.51.100.1", "203.0.113.1", 0, 63, wire.ProtoIPv4, inner), drops("loop")),
		sending("send-ipip-short", "gif0 up", false, "", inner[:12], drops("short")),
		sending("send-ipip-family", "gif0 up", false, "", []byte{0x10, 0, 0, 0}, drops("family")),
		sending("send-etherip-down", "gif0 down", true, "", ipFrame("down"), oerrors),
		sending("send-etherip-loop", "gif0 up", true, "", ownOuter, drops("loop")),
		// An outgoing flow of type deny covers the tunnel.
		sending("send-esp-pdrops-deny", "gif0 up", false,
			fmt.Sprintf("flow esp out proto ipencap from %s to %s type deny\n", local, peer), inner,
			esp(func(s ipsec.Stats) uint64 { return s.PDrops })),
	}
}

// BenchmarkDrop takes each kind of packet that the receive and send paths
// drop, and one delivered of each protocol, through the real code. None
// may allocate: a flood of garbage must make no garbage.
func BenchmarkDrop(b *testing.B) {
	for _, c := range slices.Concat(receiveCases(), sendCases()) {
		b.Run(c.name, func(b *testing.B) {
			step, counter := c.start(b)
			before := counter()
			b.ReportAllocs()
			for b.Loop() {
				step()
			}
			if got := counter() - before; got != uint64(b.N) {
				b.Fatalf("counted %d of %d packets", got, b.N)
			}
		})
	}
}

// TestDropsDoNotAllocate checks what BenchmarkDrop measures, without
// timing: that each kind of packet is counted where it should be and
// takes no allocation (not counted under the race detector).
func TestDropsDoNotAllocate(t *testing.T) {
	const runs = 100
	for _, c := range slices.Concat(receiveCases(), sendCases()) {
		t.Run(c.name, func(t *testing.T) {
			step, counter := c.start(t)
			before := counter()
			allocs := testing.AllocsPerRun(runs, step)
			if got := counter() - before; got != runs+1 { // AllocsPerRun warms up once
				t.Errorf("counted %d of %d packets", got, runs+1)
			}
			if allocs != 0 && !raceEnabled {
				t.Errorf("%.1f allocations per packet; want none", allocs)
			}
		})
	}
}
