package daemon_test

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"gif/internal/conf/ipsecconf"
	"gif/internal/control"
	"gif/internal/daemon"
	"gif/internal/ipsec"
	"gif/internal/link"
	"gif/internal/outer"
	"gif/internal/outer/outertest"
	"gif/internal/tunnel"
	"gif/internal/wire"
)

// benchHost is a fakeHost whose devices neither copy nor queue: what a
// device reads is always its packet, what it writes is counted and
// forgotten. The packet-path benchmarks measure the daemon, not the fake.
type benchHost struct {
	*fakeHost
	devices map[string]*benchDevice
}

type benchDevice struct {
	*fakeDevice
	packet  []byte // what each Read hands out
	written atomic.Uint64
}

func newBenchHost(tb testing.TB) *benchHost {
	h := &benchHost{fakeHost: newFakeHost(tb), devices: map[string]*benchDevice{}}
	h.setLocal(local, local2, local6)
	return h
}

func (h *benchHost) CreateTUN(name string, mtu int) (link.Device, error) {
	return h.wrap(h.fakeHost.CreateTUN(name, mtu))
}

func (h *benchHost) CreateTAP(name string, mtu int) (link.Device, error) {
	return h.wrap(h.fakeHost.CreateTAP(name, mtu))
}

func (h *benchHost) wrap(dev link.Device, err error) (link.Device, error) {
	if err != nil {
		return nil, err
	}
	bd := &benchDevice{fakeDevice: dev.(*fakeDevice)}
	h.mu.Lock()
	h.devices[dev.Name()] = bd
	h.mu.Unlock()
	return bd, nil
}

// SetCarrier hands the fake Linux the device it made.
func (h *benchHost) SetCarrier(dev link.Device, on bool) error {
	if bd, ok := dev.(*benchDevice); ok {
		dev = bd.fakeDevice
	}
	return h.fakeHost.SetCarrier(dev, on)
}

// Listen returns one end of an outertest pair whose other end no one
// reads: the paths measured send nothing, and a reader would allocate its
// buffers while they are measured.
func (h *benchHost) Listen(family int, proto uint8) (outer.Conn, error) {
	conn, far := outertest.NewPair()
	h.t.Cleanup(func() { far.Close() })
	return conn, nil
}

func (h *benchHost) device(name string) *benchDevice {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.devices[name]
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

// benchDaemon starts a daemon on h that logs to nowhere: its log is not
// at debug level, as a daemon's is by default.
func benchDaemon(tb testing.TB, h *benchHost) *daemon.Daemon {
	tb.Helper()
	d, err := daemon.New(h, daemon.Config{StatePath: filepath.Join(tb.TempDir(), "state.json"),
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(d.Close)
	return d
}

// The ESP SAs of the benchmarks, ipsecctl's defaults (aes, hmac-sha2-256):
// out from this host to the peer, in from the peer.
var (
	benchAuthOut, benchAuthIn = strings.Repeat("a1", 32), strings.Repeat("b1", 32)
	benchEncOut, benchEncIn   = strings.Repeat("a2", 16), strings.Repeat("b2", 16)
)

const benchSPIIn = 0x1001

// loadIPsec loads the ipsec.conf text conf.
func loadIPsec(tb testing.TB, d *daemon.Daemon, conf string) {
	tb.Helper()
	cfg, err := ipsecconf.Parse("ipsec.conf", []byte(conf), nil)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := d.LoadIPsec(*cfg); err != nil {
		tb.Fatal(err)
	}
}

// benchIPsec is an SA pair between local and peer and a flow that requires
// ESP for IP in IP between them.
var benchIPsec = fmt.Sprintf("esp from %s to %s spi 0x1000:0x%x authkey 0x%s:0x%s enckey 0x%s:0x%s\nflow esp proto ipencap from %s to %s\n",
	local, peer, benchSPIIn, benchAuthOut, benchAuthIn, benchEncOut, benchEncIn, local, peer)

// peerSA is the peer's outgoing SA, the daemon's incoming one: it seals
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
	return ipv4With(peer.String(), local.String(), 0, 64, proto, payload)
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
// daemon of its own. start sets the daemon up and returns step, which
// takes one packet through the path, and the counter that must count
// each step.
type pathCase struct {
	name  string
	start func(tb testing.TB) (step func(), counter func() uint64)
}

// counters reads the counters of the daemon and of its gif0.
type counters func(control.Stats, tunnel.InterfaceStats) uint64

func (c counters) of(tb testing.TB, d *daemon.Daemon) func() uint64 {
	return func() uint64 {
		st, err := d.Show("gif0")
		if err != nil {
			tb.Fatal(err)
		}
		return c(d.Stats(), st.Interfaces[0].Stats)
	}
}

var (
	ipackets = counters(func(_ control.Stats, s tunnel.InterfaceStats) uint64 { return s.IPackets })
	oerrors  = counters(func(_ control.Stats, s tunnel.InterfaceStats) uint64 { return s.OErrors })
)

func drops(reason string) counters {
	return func(_ control.Stats, s tunnel.InterfaceStats) uint64 { return s.Drops[reason] }
}

func ipip(f func(tunnel.IPIPStats) uint64) counters {
	return func(s control.Stats, _ tunnel.InterfaceStats) uint64 { return f(s.IPIP) }
}

func etherip(f func(tunnel.EtherIPStats) uint64) counters {
	return func(s control.Stats, _ tunnel.InterfaceStats) uint64 { return f(s.EtherIP) }
}

func esp(f func(ipsec.Stats) uint64) counters {
	return func(s control.Stats, _ tunnel.InterfaceStats) uint64 { return f(s.ESP) }
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

// receiving returns the step that hands r's packet to d's receive path,
// one batch of one.
func (r received) receiving(tb testing.TB, d *daemon.Daemon) func() {
	recv := d.NewReceiver(r.proto)
	pkts := []outer.Packet{{Buf: make([]byte, daemon.BufSize)}}
	return func() {
		pkts[0] = outer.Packet{Buf: pkts[0].Buf, Src: r.src, Dst: local, TOS: r.tos, Size: r.fill(tb, pkts[0].Buf)}
		recv.Receive(pkts)
	}
}

// fill writes the packet at the headroom of buf and returns its size.
func (r received) fill(tb testing.TB, buf []byte) int {
	if r.seal == nil {
		return copy(buf[daemon.Headroom:], r.payload)
	}
	head, _ := r.seal.Overhead()
	n := copy(buf[daemon.Headroom+head:], r.payload)
	start, length, err := r.seal.Seal(buf, daemon.Headroom+head, n, wire.ProtoIPv4)
	if err != nil || start != daemon.Headroom {
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
			d := benchDaemon(tb, newBenchHost(tb))
			mustIfconfig(tb, d, "gif0 tunnel 198.51.100.1 203.0.113.1")
			return r.receiving(tb, d), count.of(tb, d)
		}}
	}
	frame := etherIP(0x30, 0, ipFrame("frame"))
	bridged := func(name string, allow string, r received, count counters) pathCase {
		return pathCase{name, func(tb testing.TB) (func(), func() uint64) {
			h := newBenchHost(tb)
			h.addEthernet("eth1", 1500)
			d := benchDaemon(tb, h)
			mustIfconfig(tb, d, "gif0 tunnel 198.51.100.1 203.0.113.1")
			mustApply(tb, d, "bridge0 add gif0 add eth1 up")
			setSysctl(tb, d, "net.inet.etherip.allow", allow)
			return r.receiving(tb, d), count.of(tb, d)
		}}
	}
	// protected is a gif with an SA pair to its peer and a flow that
	// requires ESP; packet makes the ESP payload from the peer's SA.
	protected := func(name string, packet func(tb testing.TB, sa *ipsec.SA) received, count counters) pathCase {
		return pathCase{name, func(tb testing.TB) (func(), func() uint64) {
			d := benchDaemon(tb, newBenchHost(tb))
			mustIfconfig(tb, d, "gif0 tunnel 198.51.100.1 203.0.113.1")
			loadIPsec(tb, d, benchIPsec)
			return packet(tb, peerSA(tb)).receiving(tb, d), count.of(tb, d)
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
		}, func(s control.Stats, i tunnel.InterfaceStats) uint64 { return s.ESP.Replay + i.IPackets }),
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
			h := newBenchHost(tb)
			h.addEthernet("eth1", 1500)
			d := benchDaemon(tb, h)
			mustIfconfig(tb, d, "gif0 tunnel 198.51.100.1 203.0.113.1")
			if ether {
				mustApply(tb, d, "bridge0 add gif0 add eth1 up")
			}
			mustIfconfig(tb, d, command)
			if conf != "" {
				loadIPsec(tb, d, conf)
			}
			h.device("gif0").packet = packet
			return func() { d.SendOnce("gif0") }, count.of(tb, d)
		}}
	}
	ownOuter := ethernetFrame(macB, macA, wire.EtherTypeIPv4,
		ipv4With("198.51.100.1", "203.0.113.1", 0, 63, wire.ProtoEtherIP, etherIP(0x30, 0, ipFrame("nested"))))
	return []pathCase{
		sending("send-ipip-down", "gif0 down", false, "", inner, oerrors),
		sending("send-ipip-unspec", "gif0 deletetunnel", false, "", inner,
			ipip(func(s tunnel.IPIPStats) uint64 { return s.Unspec })),
		sending("send-ipip-loop", "gif0 up", false, "", ipv4With("198.51.100.1", "203.0.113.1", 0, 63, wire.ProtoIPv4, inner), drops("loop")),
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
