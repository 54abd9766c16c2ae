package outer

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Addresses of the two ends of a testNet.
var (
	addrA4 = netip.MustParseAddr("192.0.2.1")
	addrB4 = netip.MustParseAddr("192.0.2.2")
	addrA6 = netip.MustParseAddr("2001:db8::1")
	addrB6 = netip.MustParseAddr("2001:db8::2")
)

// testNet is two new network namespaces, a and b, joined by a veth pair
// with MTU 1500. They are anonymous: they vanish, veth and all, once the
// test closes its handles and sockets.
type testNet struct {
	a, b           netns.NsHandle
	aIndex, bIndex int // the veth's index in a and in b
}

func newTestNet(tb testing.TB) *testNet {
	tb.Helper()
	n := &testNet{a: -1, b: -1}
	tb.Cleanup(func() {
		n.a.Close()
		n.b.Close()
	})
	err := onThrowawayThread(func() (err error) {
		if n.a, err = netns.New(); err != nil {
			return err
		}
		n.b, err = netns.New()
		return err
	})
	if err != nil {
		tb.Fatalf("create network namespaces: %v", err)
	}
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: "veth-a", MTU: 1500},
		PeerName:      "veth-b",
		PeerNamespace: netlink.NsFd(n.b),
		PeerMTU:       1500,
	}
	ha, hb := handleAt(tb, n.a), handleAt(tb, n.b)
	if err := ha.LinkAdd(veth); err != nil {
		tb.Fatalf("add veth pair: %v", err)
	}
	n.aIndex = configureLink(tb, ha, "veth-a", addrA4, addrA6)
	n.bIndex = configureLink(tb, hb, "veth-b", addrB4, addrB6)
	waitUp(tb, ha, n.aIndex)
	waitUp(tb, hb, n.bIndex)
	return n
}

// waitUp waits for a link to become operationally up. Until then its
// queueing discipline is noop_qdisc, which drops what is sent (linkwatch
// activates the real one asynchronously, at most once a second).
func waitUp(tb testing.TB, h *netlink.Handle, index int) {
	tb.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		link, err := h.LinkByIndex(index)
		if err != nil {
			tb.Fatalf("get link %d: %v", index, err)
		}
		if link.Attrs().OperState == netlink.OperUp {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("link %s still %v", link.Attrs().Name, link.Attrs().OperState)
		}
	}
}

func handleAt(tb testing.TB, ns netns.NsHandle) *netlink.Handle {
	tb.Helper()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		tb.Fatalf("netlink handle: %v", err)
	}
	tb.Cleanup(h.Close)
	return h
}

// configureLink gives link its addresses, without duplicate address
// detection, brings it up and returns its index.
func configureLink(tb testing.TB, h *netlink.Handle, name string, addrs ...netip.Addr) int {
	tb.Helper()
	link, err := h.LinkByName(name)
	if err != nil {
		tb.Fatalf("find %s: %v", name, err)
	}
	for _, a := range addrs {
		bits := 24
		if a.Is6() {
			bits = 64
		}
		ipnet := &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(bits, a.BitLen())}
		if err := h.AddrAdd(link, &netlink.Addr{IPNet: ipnet, Flags: unix.IFA_F_NODAD}); err != nil {
			tb.Fatalf("add %v to %s: %v", a, name, err)
		}
	}
	if err := h.LinkSetUp(link); err != nil {
		tb.Fatalf("set %s up: %v", name, err)
	}
	return link.Attrs().Index
}

// onThrowawayThread runs fn on an OS thread that exits afterwards, so that
// fn may change the thread's network namespace.
func onThrowawayThread(fn func() error) error {
	done := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		done <- fn()
	}()
	return <-done
}

// in runs fn in network namespace ns.
func in(ns netns.NsHandle, fn func() error) error {
	return onThrowawayThread(func() error {
		if err := netns.Set(ns); err != nil {
			return err
		}
		return fn()
	})
}

// listenIn opens a Conn in ns and closes it when the test ends.
func listenIn(tb testing.TB, ns netns.NsHandle, family int, proto uint8) *rawConn {
	tb.Helper()
	var c Conn
	err := in(ns, func() (err error) {
		c, err = Listen(family, proto)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c.(*rawConn)
}

// capture records the IP packets arriving at a veth, fragments as they are
// on the wire.
type capture struct{ fd int }

// capture starts recording what arrives at the veth in a or b.
func (n *testNet) capture(tb testing.TB, atB bool) *capture {
	tb.Helper()
	ns, index := n.a, n.aIndex
	if atB {
		ns, index = n.b, n.bIndex
	}
	var fd int
	err := in(ns, func() (err error) {
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: index})
	})
	if err != nil {
		tb.Fatalf("open capture: %v", err)
	}
	tb.Cleanup(func() { unix.Close(fd) })
	return &capture{fd}
}

// packets returns the packets captured so far that are IPv4 (version 4) or
// IPv6 (version 6) and, once past any fragment header, of protocol proto.
func (c *capture) packets(tb testing.TB, version int, proto uint8) [][]byte {
	tb.Helper()
	var pkts [][]byte
	for {
		b := make([]byte, 65536)
		n, _, err := unix.Recvfrom(c.fd, b, unix.MSG_DONTWAIT)
		if errors.Is(err, unix.EAGAIN) {
			return pkts
		}
		if err != nil {
			tb.Fatalf("read capture: %v", err)
		}
		b = b[:n]
		if n > 0 && int(b[0]>>4) == version && protocolOf(b) == proto {
			pkts = append(pkts, b)
		}
	}
}

func protocolOf(p []byte) uint8 {
	if p[0]>>4 == 4 {
		return p[9]
	}
	if p[6] == 44 { // fragment header
		return p[40]
	}
	return p[6]
}

// htons converts v to network byte order.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

// recvAll reads from c until it has want packets, failing the test after a
// few seconds.
func recvAll(tb testing.TB, c Conn, want, bufSize int) []Packet {
	tb.Helper()
	timer := time.AfterFunc(5*time.Second, func() { c.Close() })
	defer timer.Stop()
	var got []Packet
	pkts := make([]Packet, BatchSize)
	for len(got) < want {
		for i := range pkts {
			pkts[i].Buf = make([]byte, bufSize)
		}
		n, err := c.Recv(pkts, Headroom)
		if err != nil {
			tb.Fatalf("after %d of %d packets: %v", len(got), want, err)
		}
		got = append(got, pkts[:n]...)
	}
	if len(got) > want {
		tb.Fatalf("received %d packets, want %d", len(got), want)
	}
	return got
}
