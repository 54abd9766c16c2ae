package dataplane_test

import (
	"log/slog"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"gif/internal/conf/ifconfig"
	"gif/internal/conf/ipsecconf"
	"gif/internal/dataplane"
	"gif/internal/ipsec"
	"gif/internal/link"
	"gif/internal/link/linktest"
	"gif/internal/outer"
	"gif/internal/outer/outertest"
	"gif/internal/tunnel"
	"gif/internal/wire"
	"gif/internal/wire/wiretest"
)

// Outer addresses of the tests: this host's (the plane's local
// addresses) and its peers'. Inner ones are from 192.0.2.0/24 and
// 2001:db8::/64.
var (
	local, local2, local6 = netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("2001:db8:1::1")
	peer, peer2, peer6    = netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("203.0.113.2"), netip.MustParseAddr("2001:db8:2::1")
)

// Documentation MAC addresses (RFC 7042) of hosts on either side of the
// bridges.
var (
	macA = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0xa1}
	macB = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0xb2}
)

const (
	// waitTimeout bounds every wait for the plane's goroutines.
	waitTimeout = 5 * time.Second
	// testBatchSize is small so that a few packets take several Reads.
	testBatchSize = 4
)

// plane is a Userspace driven as the daemon drives it: configured with
// ifconfig commands applied to a tunnel.State, each change published as a
// new View, its gifs' devices and its transports in memory. This host's
// addresses are local, local2 and local6; eth1 is an Ethernet interface
// that may join a bridge.
type plane struct {
	t         testing.TB
	u         *dataplane.Userspace
	newDevice func(name string) link.Device
	state     tunnel.State
	local     map[netip.Addr]bool
	gifs      map[string]*dataplane.Iface
	// counters of each gif by name, kept when its device changes kind, as
	// the daemon keeps them.
	counters map[string]*tunnel.Counters
	policy   *dataplane.SPD
	networks map[transport]network
}

type transport struct {
	family int
	proto  uint8
}

// newPlane returns a plane whose gifs have linktest devices.
func newPlane(t testing.TB) *plane {
	return newPlaneWith(t, func(name string) link.Device { return linktest.New(name, testBatchSize) })
}

// newPlaneWith returns a plane whose gifs have the devices newDevice
// makes, with a transport for each outer family and protocol the daemon
// opens. It logs nowhere: not at debug level, as a daemon by default.
func newPlaneWith(t testing.TB, newDevice func(name string) link.Device) *plane {
	p := &plane{
		t:         t,
		u:         dataplane.NewUserspace(slog.New(slog.DiscardHandler)),
		newDevice: newDevice,
		local:     map[netip.Addr]bool{local: true, local2: true, local6: true},
		gifs:      make(map[string]*dataplane.Iface),
		counters:  make(map[string]*tunnel.Counters),
		networks:  make(map[transport]network),
	}
	t.Cleanup(p.close)
	var conns []*startedConn
	for _, family := range []int{4, 6} {
		for _, proto := range []uint8{wire.ProtoIPv4, wire.ProtoIPv6, wire.ProtoEtherIP, ipsec.ProtoESP} {
			conn, far := outertest.NewPair()
			p.networks[transport{family, proto}] = network{far}
			started := &startedConn{Conn: conn, started: make(chan struct{})}
			conns = append(conns, started)
			if err := p.u.AddTransport(family, proto, started); err != nil {
				t.Fatalf("add IPv%d protocol %d transport: %v", family, proto, err)
			}
		}
	}
	for _, c := range conns {
		<-c.started
	}
	p.publish()
	return p
}

// startedConn tells when its receive loop first waits for a packet: a
// plane is ready, and its allocations can be measured, once its loops
// have made what they make once.
type startedConn struct {
	*outertest.Conn
	once    sync.Once
	started chan struct{}
}

func (c *startedConn) Recv(pkts []outer.Packet, offset int) (int, error) {
	c.once.Do(func() { close(c.started) })
	return c.Conn.Recv(pkts, offset)
}

func (p *plane) close() {
	for name, ifc := range p.gifs {
		ifc.Detach()
		delete(p.gifs, name)
	}
	p.u.Close()
	for _, n := range p.networks {
		n.Close()
	}
}

// ifconfig applies "IF args..." as gif ifconfig would, to a gif or a
// bridge.
func (p *plane) ifconfig(command string) {
	p.t.Helper()
	words := strings.Fields(command)
	ops, err := ifconfig.Parse(words[0], words[1:])
	if err != nil {
		p.t.Fatalf("parse %q: %v", command, err)
	}
	next, _, err := p.state.Apply(words[0], ops, p)
	if err != nil {
		p.t.Fatalf("ifconfig %s: %v", command, err)
	}
	p.state = next
	p.publish()
}

// setSysctl sets one sysctl variable.
func (p *plane) setSysctl(name, value string) {
	p.t.Helper()
	if err := p.state.Sysctl.Set(name, value); err != nil {
		p.t.Fatal(err)
	}
	p.publish()
}

// loadIPsec compiles the ipsec.conf text conf, installs its SAs and
// publishes it.
func (p *plane) loadIPsec(conf string) {
	p.t.Helper()
	cfg, err := ipsecconf.Parse("ipsec.conf", []byte(conf), nil)
	if err != nil {
		p.t.Fatal(err)
	}
	pol, err := dataplane.CompilePolicy(*cfg, nil, p.u.SAs())
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.u.Install(pol); err != nil {
		p.t.Fatal(err)
	}
	p.policy = pol
	p.publish()
}

// publish does what the daemon does after a change: each gif of the state
// has a device of the right kind (a TAP for a bridge member, carrying
// EtherIP), its configuration, and RUNNING when it is up with a tunnel
// from an address of this host; then a new View.
func (p *plane) publish() {
	bridged := p.state.Bridged()
	for name, ifc := range p.gifs {
		if _, ok := p.state.Find(name); !ok || ifc.Ether() != bridged[name] {
			ifc.Detach()
			delete(p.gifs, name)
		}
	}
	ifaces := make([]*dataplane.Iface, 0, len(p.state.Interfaces))
	for _, c := range p.state.Interfaces {
		ifc, ok := p.gifs[c.Name]
		if !ok {
			counters, ok := p.counters[c.Name]
			if !ok {
				counters = new(tunnel.Counters)
				p.counters[c.Name] = counters
			}
			ifc = p.u.Attach(p.newDevice(c.Name), bridged[c.Name], counters)
			p.gifs[c.Name] = ifc
		}
		cfg := c.Clone()
		ifc.SetConfig(&cfg)
		ifc.SetRunning(cfg.Up && cfg.HasTunnel() && p.local[cfg.Src])
		ifaces = append(ifaces, ifc)
	}
	sysctl := p.state.Sysctl
	v := &dataplane.View{Local: p.local, Sysctl: &sysctl, Policy: p.policy}
	v.IPTable, v.EtherTable = dataplane.Tables(ifaces)
	p.u.Publish(v)
}

// IsLocal, Ethernet and NewLLAddr answer tunnel.State.Apply's questions.
func (p *plane) IsLocal(addr netip.Addr) bool { return p.local[addr] }

func (p *plane) Ethernet(name string) (exists, ethernet bool) {
	return name == "eth1", name == "eth1"
}

func (p *plane) NewLLAddr() tunnel.LLAddr { return tunnel.LLAddr{0x02, 0, 0x5e, 0, 0x53, 0x01} }

// iface returns the gif called name.
func (p *plane) iface(name string) *dataplane.Iface {
	p.t.Helper()
	ifc, ok := p.gifs[name]
	if !ok {
		p.t.Fatalf("no gif %s", name)
	}
	return ifc
}

// device returns the device of the gif called name.
func (p *plane) device(name string) device {
	return device{p.iface(name).Device().(*linktest.Device)}
}

// network returns the far end of the plane's outer transport for family
// and proto.
func (p *plane) network(family int, proto uint8) network {
	return p.networks[transport{family, proto}]
}

// checkNothingSent fails the test if the plane sent a packet that no one
// took from the network.
func (p *plane) checkNothingSent(t *testing.T) {
	t.Helper()
	for key, n := range p.networks {
		if k := n.Queued(); k != 0 {
			t.Errorf("the IPv%d protocol %d transport got %d packets more", key.family, key.proto, k)
		}
	}
}

// stats is a snapshot of the plane's global counters.
type stats struct {
	IPIP    tunnel.IPIPStats
	EtherIP tunnel.EtherIPStats
	ESP     ipsec.Stats
}

func (p *plane) stats() stats {
	c := p.u.Counters()
	return stats{IPIP: c.IPIP.Snapshot(), EtherIP: c.EtherIP.Snapshot(), ESP: c.ESP.Snapshot()}
}

// ifaceStats returns the counters of the gif called name.
func (p *plane) ifaceStats(name string) tunnel.InterfaceStats {
	p.t.Helper()
	c, ok := p.counters[name]
	if !ok {
		p.t.Fatalf("no gif %s", name)
	}
	return c.Snapshot()
}

// waitStats waits until the counters of the gif called name are want;
// the plane counts a packet after passing it on.
func (p *plane) waitStats(t *testing.T, name string, want tunnel.InterfaceStats) {
	t.Helper()
	waitEqual(t, name+" counters", want, func() tunnel.InterfaceStats { return p.ifaceStats(name) })
}

// device is a gif's device as the test, playing the kernel, sees it.
type device struct{ *linktest.Device }

// next returns the next packet the plane wrote.
func (d device) next(t *testing.T) []byte {
	t.Helper()
	p, ok := d.Take(waitTimeout)
	if !ok {
		t.Fatalf("nothing was written to %s", d.Name())
	}
	return p
}

// network is the far end of one of the plane's transports.
type network struct{ *outertest.Conn }

// send delivers one outer packet from src to dst to the plane.
func (n network) send(t *testing.T, src, dst netip.Addr, tos uint8, payload []byte) {
	t.Helper()
	p := outer.Packet{Buf: payload, Size: len(payload), Src: src, Dst: dst, TOS: tos}
	if k, err := n.Send([]outer.Packet{p}, 0); k != 1 || err != nil {
		t.Fatalf("send to the plane: %d, %v", k, err)
	}
}

// next returns the next packet the plane sent.
func (n network) next(t *testing.T) outer.Packet {
	t.Helper()
	p, ok := n.Take(waitTimeout)
	if !ok {
		t.Fatal("the plane sent nothing")
	}
	return p
}

// eventually polls cond until it holds or waitTimeout passes, and
// reports whether it held.
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(waitTimeout); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// waitEqual polls get until it returns want, or fails the test.
func waitEqual[T any](t *testing.T, what string, want T, get func() T) {
	t.Helper()
	var got T
	if !eventually(func() bool { got = get(); return reflect.DeepEqual(got, want) }) {
		t.Errorf("%s: %+v; want %+v", what, got, want)
	}
}

// waitFor polls cond until it holds, or fails the test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !eventually(cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// ipv4Packet returns an IPv4 packet from src to dst with payload as its
// protocol 253 (experimentation) payload.
func ipv4Packet(src, dst string, tos, ttl uint8, payload []byte) []byte {
	return wiretest.IPv4(src, dst, tos, ttl, 253, payload)
}

// ipv6Packet returns an IPv6 packet from src to dst with payload after
// next header 253.
func ipv6Packet(src, dst string, tc, hops uint8, payload []byte) []byte {
	return wiretest.IPv6(src, dst, tc, hops, 253, payload)
}

// ipFrame returns a frame carrying an IPv4 packet whose TOS (ECN CE
// included) and TTL an EtherIP outer header must not copy.
func ipFrame(text string) []byte {
	return wiretest.Ethernet(macB, macA, wire.EtherTypeIPv4,
		ipv4Packet("192.0.2.1", "192.0.2.2", 0xb8|byte(wire.CE), 5, []byte(text)))
}
