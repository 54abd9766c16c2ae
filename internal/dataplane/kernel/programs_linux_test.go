package kernel

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"

	"gif/internal/netns"
	"gif/internal/netns/netnstest"
	"gif/internal/tunnel"
	"gif/internal/wire"
	"gif/internal/wire/wiretest"
)

// The tc verdicts the programs return (linux/pkt_cls.h).
const (
	actUnspec   = ^uint32(0) // TC_ACT_UNSPEC, -1
	actRedirect = 7          // TC_ACT_REDIRECT
)

// Addresses of the test bed: host a (where the programs run) has local4 and
// local6 on the veth toward peer4/peer6, and a gif device.
var (
	local4 = netip.MustParseAddr("192.0.2.1")
	peer4  = netip.MustParseAddr("192.0.2.2")
	local6 = netip.MustParseAddr("2001:db8::1")
	peer6  = netip.MustParseAddr("2001:db8::2")
)

// skbContext is struct __sk_buff: BPF_PROG_TEST_RUN lets a test set a few
// of its fields (mark, ifindex, gso_segs, gso_size) and returns them.
type skbContext struct {
	Len, PktType, Mark, QueueMapping, Protocol, VlanPresent, VlanTCI, VlanProto uint32
	Priority, IngressIfindex, Ifindex, TCIndex                                  uint32
	CB                                                                          [5]uint32
	Hash, TCClassid, Data, DataEnd, NapiID, Family, RemoteIP4, LocalIP4         uint32
	RemoteIP6, LocalIP6                                                         [4]uint32
	RemotePort, LocalPort, DataMeta                                             uint32
	FlowKeys, Tstamp                                                            uint64
	WireLen, GSOSegs                                                            uint32
	SK                                                                          uint64
	GSOSize, _                                                                  uint32
	Hwtstamp                                                                    uint64
}

// testbed is the loaded programs and maps, and a namespace whose routes
// the egress program's FIB lookups see.
type testbed struct {
	objs    gifObjects
	host    *netns.Host
	gif     uint32     // ifindex of gif0, a TUN device
	underIf uint32     // ifindex of the veth toward the peer
	lastCtx skbContext // the __sk_buff the last run left
}

func newTestbed(t testing.TB) *testbed {
	t.Helper()
	_, a, _ := netnstest.NewPair(t)
	tb := &testbed{host: a}
	ctx := context.Background()
	for _, args := range [][]string{
		{"tuntap", "add", "gif0", "mode", "tun"},
		{"link", "set", "gif0", "up"},
		// A route into the gif: a tunnel whose peer is behind it loops.
		{"route", "add", "198.51.100.99/32", "dev", "gif0"},
		// tunneldomain 7 as the daemon sets it up: its peer is routed
		// only in table 7, which packets marked 7 use.
		{"route", "add", "198.51.100.0/24", "dev", "gift0", "table", "7"},
		{"rule", "add", "fwmark", "7", "lookup", "7", "pref", "100"},
		{"rule", "add", "fwmark", "7", "unreachable", "pref", "101"},
	} {
		if _, err := a.Run(ctx, "ip", args...); err != nil {
			t.Fatalf("%v", err)
		}
	}
	tb.setForwarding(t, true)
	err := a.Do(func() error {
		for name, index := range map[string]*uint32{"gif0": &tb.gif, "gift0": &tb.underIf} {
			ifc, err := net.InterfaceByName(name)
			if err != nil {
				return err
			}
			*index = uint32(ifc.Index)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v", err)
	}
	if err := loadGifObjects(&tb.objs, nil); err != nil {
		t.Fatalf("load the programs: %v", err)
	}
	t.Cleanup(func() { tb.objs.Close() })
	return tb
}

// setForwarding turns forwarding on or off in the test namespace (the FIB
// helper refuses to route from a device that does not forward).
func (tb *testbed) setForwarding(t testing.TB, on bool) {
	t.Helper()
	v := "0"
	if on {
		v = "1"
	}
	for _, key := range []string{"net.ipv4.conf.all.forwarding", "net.ipv4.conf.lo.forwarding", "net.ipv6.conf.all.forwarding"} {
		if _, err := tb.host.Run(context.Background(), "sysctl", "-qw", key+"="+v); err != nil {
			t.Fatalf("%v", err)
		}
	}
}

// run runs prog on frame in the test namespace and returns the verdict and
// the packet as the program left it.
func (tb *testbed) run(t *testing.T, prog *ebpf.Program, frame []byte, ctx skbContext) (uint32, []byte) {
	t.Helper()
	out := make([]byte, len(frame)+256)
	var ret uint32
	err := tb.host.Do(func() error {
		opts := ebpf.RunOptions{Data: frame, DataOut: out, Context: ctx, ContextOut: &tb.lastCtx}
		var err error
		ret, err = prog.Run(&opts)
		out = out[:len(opts.DataOut)]
		return err
	})
	if err != nil {
		t.Fatalf("test run: %v", err)
	}
	return ret, out
}

func family(a netip.Addr) uint8 {
	if a.Is4() {
		return 4
	}
	return 6
}

// addEgress puts the tunnel c on gif0's egress.
func (tb *testbed) addEgress(t *testing.T, c *tunnel.Config) {
	t.Helper()
	var e gifEgressTunnel
	e.Src.A, e.Dst.A = gifAddr(c.Src), gifAddr(c.Dst)
	e.Domain = uint32(c.Domain)
	e.Family = family(c.Src)
	if c.TTL != tunnel.TTLCopy {
		e.Ttl = uint8(c.TTL)
	}
	e.Df = boolByte(c.DF)
	e.Ecn = boolByte(c.ECN)
	if err := tb.objs.EgressTunnels.Put(tb.gif, e); err != nil {
		t.Fatalf("put egress tunnel: %v", err)
	}
}

// addIngress makes the pair (local, remote) arrive on gif0.
func (tb *testbed) addIngress(t testing.TB, local, remote netip.Addr, ecn bool) {
	t.Helper()
	var k gifIngressKey
	k.Local.A, k.Remote.A, k.Family = gifAddr(local), gifAddr(remote), family(local)
	if err := tb.objs.IngressTunnels.Put(k, gifIngressTunnel{Ifindex: tb.gif, Ecn: boolByte(ecn)}); err != nil {
		t.Fatalf("put ingress tunnel: %v", err)
	}
}

// passed returns how many packets pass_reasons holds for r, over the CPUs.
func (tb *testbed) passed(t *testing.T, r PassReason) uint64 {
	t.Helper()
	var perCPU []uint64
	if err := tb.objs.PassReasons.Lookup(uint32(r), &perCPU); err != nil {
		t.Fatalf("look up pass reason %v: %v", r, err)
	}
	var n uint64
	for _, v := range perCPU {
		n += v
	}
	return n
}

// counters returns gif0's if_counters over the CPUs (zero if none yet).
func (tb *testbed) counters(t *testing.T) gifIfCounters {
	t.Helper()
	return sumIfCounters(t, &tb.objs, tb.gif)
}

// sumIfCounters returns the if_counters of ifindex in objs over the CPUs
// (zero if none yet).
func sumIfCounters(t *testing.T, objs *gifObjects, ifindex uint32) gifIfCounters {
	t.Helper()
	var perCPU []gifIfCounters
	var sum gifIfCounters
	if err := objs.IfCounters.Lookup(ifindex, &perCPU); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return sum
		}
		t.Fatalf("look up if_counters of %d: %v", ifindex, err)
	}
	for _, c := range perCPU {
		sum.Ipackets += c.Ipackets
		sum.Ibytes += c.Ibytes
		sum.Opackets += c.Opackets
		sum.Obytes += c.Obytes
	}
	return sum
}

// ethernet frames an IP packet as test-run wants it: an Ethernet header
// to dst (zero: the test namespace's lo, so PACKET_HOST).
func ethernet(dst net.HardwareAddr, ip []byte) []byte {
	etherType := uint16(0x0800)
	if wire.Version(ip) == 6 {
		etherType = 0x86dd
	}
	return wiretest.Ethernet(dst, make(net.HardwareAddr, 6), etherType, ip)
}

var hostMAC = make(net.HardwareAddr, 6)

// innerPacket returns an inner packet of version v with TOS tos and TTL
// ttl, carrying a few bytes of UDP-like payload.
func innerPacket(v int, tos, ttl uint8) []byte {
	payload := []byte("0123456789abcdef")
	if v == 4 {
		return wiretest.IPv4("198.51.100.1", "198.51.100.2", tos, ttl, 17, payload)
	}
	return wiretest.IPv6("2001:db8:1::1", "2001:db8:1::2", tos, ttl, 17, payload)
}

// tunnelModes are the four IP modes: outer addresses, inner version.
var tunnelModes = []struct {
	name     string
	src, dst netip.Addr
	inner    int
}{
	{"4in4", local4, peer4, 4},
	{"6in4", local4, peer4, 6},
	{"4in6", local6, peer6, 4},
	{"6in6", local6, peer6, 6},
}
