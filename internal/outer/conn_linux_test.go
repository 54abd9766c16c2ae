package outer

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"gif/internal/wire"
)

// end is one side of a test tunnel: its address and its Conn.
type end struct {
	addr netip.Addr
	conn *rawConn
}

// pair opens a Conn for family and proto at both ends of a new testNet.
func pair(t testing.TB, family int, proto uint8) (n *testNet, a, b end) {
	n = newTestNet(t)
	a = end{addrA4, listenIn(t, n.a, family, proto)}
	b = end{addrB4, listenIn(t, n.b, family, proto)}
	if family == 6 {
		a.addr, b.addr = addrA6, addrB6
	}
	return n, a, b
}

// innerPacket returns a valid IPv4 (proto 4) or IPv6 (proto 41) packet of
// size bytes at Buf[Headroom:], with a payload that depends on seed.
func innerPacket(proto uint8, size int, seed byte) []byte {
	buf := make([]byte, Headroom+size)
	p := buf[Headroom:]
	hdrLen := wire.IPv6HeaderLen
	if proto == wire.ProtoIPv4 {
		hdrLen = wire.IPv4MinHeaderLen
		wire.IPv4(p).Encode(wire.IPv4Fields{
			TotalLength: uint16(size), TTL: 64, Protocol: 253, // RFC 3692 experimentation
			Src: netip.MustParseAddr("198.51.100.1"), Dst: netip.MustParseAddr("203.0.113.1"),
		})
	} else {
		wire.IPv6(p).Encode(wire.IPv6Fields{
			PayloadLength: uint16(size - hdrLen), NextHeader: 59, HopLimit: 64, // no next header
			Src: netip.MustParseAddr("2001:db8:1::1"), Dst: netip.MustParseAddr("2001:db8:2::1"),
		})
	}
	for i := hdrLen; i < size; i++ {
		p[i] = seed + byte(i)
	}
	return buf
}

func payload(p Packet) []byte { return p.Buf[Headroom : Headroom+p.Size] }

var transports = []struct {
	family int
	proto  uint8
}{{4, 4}, {4, 41}, {6, 4}, {6, 41}}

func TestSendRecv(t *testing.T) {
	for _, tr := range transports {
		t.Run(fmt.Sprintf("ip%d/proto%d", tr.family, tr.proto), func(t *testing.T) {
			n, a, b := pair(t, tr.family, tr.proto)
			wireB := n.capture(t, true)
			innerSize := wire.IPv4MinHeaderLen
			if tr.proto == wire.ProtoIPv6 {
				innerSize = wire.IPv6HeaderLen
			}
			var sent []Packet
			for i := range 40 {
				size := innerSize + i*35 // unfragmented on the 1500-byte link
				p := Packet{Buf: innerPacket(tr.proto, size, byte(i)), Size: size, Src: a.addr, Dst: b.addr,
					TOS: byte(i * 7), TTL: byte(1 + i*6)} // TOS covers all four ECN values
				sent = append(sent, p)
			}
			sent[5].TTL = 0 // the default, 64 in a new namespace
			if k, err := a.conn.Send(sent, Headroom); k != len(sent) || err != nil {
				t.Fatalf("Send = %d, %v; want %d, nil", k, err, len(sent))
			}
			got := recvAll(t, b.conn, len(sent), 2048)
			for i, g := range got {
				want := sent[i]
				if want.TTL == 0 {
					want.TTL = 64
				}
				if g.Size != want.Size || g.Src != a.addr || g.Dst != b.addr || g.TOS != want.TOS || g.TTL != want.TTL {
					t.Errorf("packet %d: got size %d %v -> %v TOS %#x TTL %d; want size %d %v -> %v TOS %#x TTL %d",
						i, g.Size, g.Src, g.Dst, g.TOS, g.TTL, want.Size, a.addr, b.addr, want.TOS, want.TTL)
				}
				if !bytes.Equal(payload(g), payload(want)) {
					t.Errorf("packet %d: payload differs", i)
				}
			}
			onWire := wireB.packets(t, tr.family, tr.proto)
			if len(onWire) != len(sent) {
				t.Fatalf("captured %d packets, want %d", len(onWire), len(sent))
			}
			for i, p := range onWire {
				if tr.family == 4 && wire.IPv4(p).DF() {
					t.Errorf("packet %d has DF set", i)
				}
				if tr.family == 6 && wire.IPv6(p).FlowLabel() != 0 {
					t.Errorf("packet %d has flow label %#x, want 0", i, wire.IPv6(p).FlowLabel())
				}
			}
		})
	}
}

// TestFragmentation checks that without DF the kernel fragments an outer
// packet larger than the link MTU and the receiver gets it reassembled.
func TestFragmentation(t *testing.T) {
	for _, family := range []int{4, 6} {
		t.Run(fmt.Sprintf("ip%d", family), func(t *testing.T) {
			n, a, b := pair(t, family, wire.ProtoIPv6)
			wireB := n.capture(t, true)
			const size = 3000
			p := Packet{Buf: innerPacket(wire.ProtoIPv6, size, 1), Size: size, Src: a.addr, Dst: b.addr, TTL: 64}
			if k, err := a.conn.Send([]Packet{p}, Headroom); k != 1 || err != nil {
				t.Fatalf("Send = %d, %v; want 1, nil", k, err)
			}
			got := recvAll(t, b.conn, 1, 4096)[0]
			if got.Size != size || !bytes.Equal(payload(got), payload(p)) {
				t.Fatalf("received %d bytes, want the %d sent", got.Size, size)
			}
			frags := wireB.packets(t, family, wire.ProtoIPv6)
			if len(frags) < 3 {
				t.Fatalf("captured %d fragments, want at least 3 for %d bytes over MTU 1500", len(frags), size)
			}
			for _, f := range frags {
				if len(f) > 1500 {
					t.Errorf("captured a %d-byte packet on a 1500-byte link", len(f))
				}
				if family == 4 && !wire.IPv4(f).MF() && wire.IPv4(f).FragmentOffset() == 0 {
					t.Errorf("captured an unfragmented IPv4 packet")
				}
				if family == 6 && wire.IPv6(f).NextHeader() != wire.ProtoIPv6Fragment {
					t.Errorf("captured an IPv6 packet without fragment header")
				}
			}
		})
	}
}

// TestDontFragment checks that with DF an oversize packet is refused with
// EMSGSIZE, the rest of the batch still goes, and IPv4 packets carry DF.
func TestDontFragment(t *testing.T) {
	for _, family := range []int{4, 6} {
		t.Run(fmt.Sprintf("ip%d", family), func(t *testing.T) {
			n, a, b := pair(t, family, wire.ProtoIPv4)
			wireB := n.capture(t, true)
			var pkts []Packet
			for _, size := range []int{200, 3000, 300} {
				pkts = append(pkts, Packet{Buf: innerPacket(wire.ProtoIPv4, size, 2), Size: size,
					Src: a.addr, Dst: b.addr, TTL: 64, DF: true})
			}
			k, err := a.conn.Send(pkts, Headroom)
			if k != 2 || !errors.Is(err, unix.EMSGSIZE) || !strings.Contains(err.Error(), "dropped 1 of 3") {
				t.Fatalf("Send = %d, %v; want 2 and EMSGSIZE for 1 of 3", k, err)
			}
			got := recvAll(t, b.conn, 2, 4096)
			if got[0].Size != 200 || got[1].Size != 300 {
				t.Errorf("received sizes %d, %d; want 200, 300", got[0].Size, got[1].Size)
			}
			onWire := wireB.packets(t, family, wire.ProtoIPv4)
			if len(onWire) != 2 {
				t.Fatalf("captured %d packets, want 2", len(onWire))
			}
			for _, p := range onWire {
				if family == 4 && !wire.IPv4(p).DF() {
					t.Errorf("IPv4 packet without DF")
				}
			}
		})
	}
}

// TestNoDoubleDelivery checks that packets sent with and without DF arrive
// once each, and that the send-only DF socket keeps nothing it receives.
func TestNoDoubleDelivery(t *testing.T) {
	_, a, b := pair(t, 4, wire.ProtoIPv4)
	var pkts []Packet
	for i := range 20 {
		pkts = append(pkts, Packet{Buf: innerPacket(wire.ProtoIPv4, 100+i, 3), Size: 100 + i,
			Src: a.addr, Dst: b.addr, TTL: 64, DF: i%3 == 0})
	}
	if k, err := a.conn.Send(pkts, Headroom); k != len(pkts) || err != nil {
		t.Fatalf("Send = %d, %v; want %d, nil", k, err, len(pkts))
	}
	got := recvAll(t, b.conn, len(pkts), 2048)
	for i, p := range got {
		if p.Size != pkts[i].Size {
			t.Errorf("packet %d has %d bytes, want %d", i, p.Size, pkts[i].Size)
		}
	}
	// A duplicate would be queued before this marker.
	marker := Packet{Buf: innerPacket(wire.ProtoIPv4, 999, 4), Size: 999, Src: a.addr, Dst: b.addr, TTL: 64}
	if _, err := a.conn.Send([]Packet{marker}, Headroom); err != nil {
		t.Fatal(err)
	}
	if p := recvAll(t, b.conn, 1, 2048)[0]; p.Size != marker.Size {
		t.Errorf("received a %d-byte packet, want the %d-byte marker", p.Size, marker.Size)
	}
	for name, c := range map[string]*rawConn{"sender": a.conn, "receiver": b.conn} {
		var queued int
		err := c.dfSock.raw.Control(func(fd uintptr) { queued, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ) })
		if err != nil || queued != 0 {
			t.Errorf("%s DF socket: %d bytes queued (%v), want 0", name, queued, err)
		}
	}
}

// TestSendSkipsRefused checks that packets that cannot be sent are dropped
// and counted, and the rest of the batch still goes.
func TestSendSkipsRefused(t *testing.T) {
	_, a, b := pair(t, 4, wire.ProtoIPv4)
	ok := Packet{Buf: innerPacket(wire.ProtoIPv4, 100, 5), Size: 100, Src: a.addr, Dst: b.addr, TTL: 64}
	wrongFamily, unroutable, foreignSrc, tooBig := ok, ok, ok, ok
	wrongFamily.Dst = addrB6
	unroutable.Dst = netip.MustParseAddr("198.51.100.7")
	foreignSrc.Src = netip.MustParseAddr("203.0.113.9")
	tooBig.Size = len(tooBig.Buf)
	pkts := []Packet{ok, wrongFamily, ok, unroutable, ok, foreignSrc, tooBig, ok}
	k, err := a.conn.Send(pkts, Headroom)
	if k != 4 || err == nil || !strings.Contains(err.Error(), "dropped 4 of 8") {
		t.Fatalf("Send = %d, %v; want 4 and an error for 4 of 8", k, err)
	}
	if got := recvAll(t, b.conn, 4, 2048); got[3].Size != ok.Size {
		t.Errorf("last packet has %d bytes, want %d", got[3].Size, ok.Size)
	}
}

// TestRecvIPv4Options checks that the payload lands at the offset when the
// outer IPv4 header carries options.
func TestRecvIPv4Options(t *testing.T) {
	n, _, b := pair(t, 4, wire.ProtoIPv4)
	inner := innerPacket(wire.ProtoIPv4, 120, 6)[Headroom:]
	err := in(n.a, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, wire.ProtoIPv4)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		// Three no-operation options and an end of options list: IHL 6.
		if err := unix.SetsockoptString(fd, unix.IPPROTO_IP, unix.IP_OPTIONS, "\x01\x01\x01\x00"); err != nil {
			return err
		}
		return unix.Sendto(fd, inner, 0, &unix.SockaddrInet4{Addr: addrB4.As4()})
	})
	if err != nil {
		t.Fatal(err)
	}
	got := recvAll(t, b.conn, 1, 2048)[0]
	if got.Size != len(inner) || !bytes.Equal(payload(got), inner) || got.Src != addrA4 || got.Dst != addrB4 {
		t.Errorf("received %d bytes %v -> %v; want the %d bytes sent %v -> %v", got.Size, got.Src, got.Dst, len(inner), addrA4, addrB4)
	}
}

// TestTruncated checks that a datagram larger than its buffer is dropped,
// counted, and does not hide the packets after it.
func TestTruncated(t *testing.T) {
	for _, family := range []int{4, 6} {
		t.Run(fmt.Sprintf("ip%d", family), func(t *testing.T) {
			_, a, b := pair(t, family, wire.ProtoIPv4)
			var pkts []Packet
			for _, size := range []int{1000, 100} {
				pkts = append(pkts, Packet{Buf: innerPacket(wire.ProtoIPv4, size, 7), Size: size, Src: a.addr, Dst: b.addr, TTL: 64})
			}
			if k, err := a.conn.Send(pkts, Headroom); k != 2 || err != nil {
				t.Fatalf("Send = %d, %v", k, err)
			}
			got := recvAll(t, b.conn, 1, Headroom+500)
			if got[0].Size != 100 || !bytes.Equal(payload(got[0]), payload(pkts[1])) {
				t.Errorf("received %d bytes, want the 100-byte packet", got[0].Size)
			}
			if n := b.conn.Truncated(); n != 1 {
				t.Errorf("Truncated() = %d, want 1", n)
			}
		})
	}
}

func TestCloseUnblocksRecv(t *testing.T) {
	_, _, b := pair(t, 6, wire.ProtoIPv6)
	errc := make(chan error)
	go func() {
		_, err := b.conn.Recv([]Packet{{Buf: make([]byte, 2048)}}, Headroom)
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := b.conn.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Recv after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Recv still blocked after Close")
	}
}

// TestICMPErrorsIgnored checks that the ICMP errors a peer without a tunnel
// sends back do not surface as errors of later Sends and Recvs.
func TestICMPErrorsIgnored(t *testing.T) {
	for _, family := range []int{4, 6} {
		t.Run(fmt.Sprintf("ip%d", family), func(t *testing.T) {
			const proto = wire.ProtoEtherIP
			n := newTestNet(t)
			wireA := n.capture(t, false)
			a := listenIn(t, n.a, family, proto)
			src, dst := addrA4, addrB4
			icmp := uint8(unix.IPPROTO_ICMP)
			if family == 6 {
				src, dst, icmp = addrA6, addrB6, unix.IPPROTO_ICMPV6
			}
			p := Packet{Buf: make([]byte, 200), Size: 100, Src: src, Dst: dst, TTL: 64}
			if _, err := a.Send([]Packet{p, p, p}, Headroom); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(2 * time.Second)
			for len(wireA.packets(t, family, icmp)) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("b sent no ICMP error")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if _, err := a.Send([]Packet{p}, Headroom); err != nil {
				t.Errorf("Send after ICMP error: %v", err)
			}
			b := listenIn(t, n.b, family, proto)
			p.Src, p.Dst = dst, src
			if _, err := b.Send([]Packet{p}, Headroom); err != nil {
				t.Fatal(err)
			}
			recvAll(t, a, 1, 2048)
		})
	}
}

func TestListenErrors(t *testing.T) {
	_, err := Listen(5, 4)
	if err == nil || !strings.HasPrefix(err.Error(), "listen ip5 proto 4: ") {
		t.Errorf("Listen(5, 4) = %v, want an error starting with the operation", err)
	}
}

func TestRecvArguments(t *testing.T) {
	_, _, b := pair(t, 4, wire.ProtoIPv4)
	if _, err := b.conn.Recv([]Packet{{Buf: make([]byte, 100)}}, Headroom-1); err == nil {
		t.Error("Recv accepted an offset below Headroom")
	}
	if _, err := b.conn.Recv([]Packet{{Buf: make([]byte, Headroom)}}, Headroom); err == nil {
		t.Error("Recv accepted a buffer with no room after the offset")
	}
	if n, err := b.conn.Recv(nil, Headroom); n != 0 || err != nil {
		t.Errorf("Recv(nil) = %d, %v; want 0, nil", n, err)
	}
}

// sendRecvBatch sends pkts from a and reads them all at b into recv.
func sendRecvBatch(tb testing.TB, a, b Conn, pkts, recv []Packet) {
	if _, err := a.Send(pkts, Headroom); err != nil {
		tb.Fatal(err)
	}
	for got := 0; got < len(pkts); {
		n, err := b.Recv(recv[got:], Headroom)
		if err != nil {
			tb.Fatal(err)
		}
		got += n
	}
}

func batchFor(a, b end, count, size int) (send, recv []Packet) {
	for range count {
		send = append(send, Packet{Buf: innerPacket(wire.ProtoIPv4, size, 8), Size: size, Src: a.addr, Dst: b.addr, TTL: 64})
		recv = append(recv, Packet{Buf: make([]byte, Headroom+2048)})
	}
	return send, recv
}

func TestSendRecvDoNotAllocate(t *testing.T) {
	for _, family := range []int{4, 6} {
		t.Run(fmt.Sprintf("ip%d", family), func(t *testing.T) {
			_, a, b := pair(t, family, wire.ProtoIPv4)
			send, recv := batchFor(a, b, 32, 1000)
			sendRecvBatch(t, a.conn, b.conn, send, recv) // warm up
			if allocs := testing.AllocsPerRun(20, func() { sendRecvBatch(t, a.conn, b.conn, send, recv) }); allocs != 0 {
				t.Errorf("%v allocations per batch, want 0", allocs)
			}
		})
	}
}

func BenchmarkSendRecv(b *testing.B) {
	for _, family := range []int{4, 6} {
		b.Run(fmt.Sprintf("ip%d", family), func(b *testing.B) {
			_, x, y := pair(b, family, wire.ProtoIPv4)
			send, recv := batchFor(x, y, BatchSize, 1400)
			b.ReportAllocs()
			b.SetBytes(int64(len(send) * 1400))
			for b.Loop() {
				sendRecvBatch(b, x.conn, y.conn, send, recv)
			}
			b.ReportMetric(float64(b.N*len(send))/b.Elapsed().Seconds(), "pkts/s")
		})
	}
}

// TestMark checks that a packet's Mark selects its routing table: a's main
// table has no route to b, table markTable has one, and a rule sends packets
// marked markTable there.
func TestMark(t *testing.T) {
	const markTable = 100
	for _, tr := range transports {
		family := tr.family
		t.Run(fmt.Sprintf("ip%d/proto%d", tr.family, tr.proto), func(t *testing.T) {
			n, a, b := pair(t, tr.family, tr.proto)
			h := handleAt(t, n.a)
			bits := b.addr.BitLen()
			toB := &net.IPNet{IP: b.addr.AsSlice(), Mask: net.CIDRMask(bits, bits)}
			nlFamily := netlink.FAMILY_V4
			if family == 6 {
				nlFamily = netlink.FAMILY_V6
			}
			rule := netlink.NewRule()
			rule.Family, rule.Mark, rule.Table = nlFamily, markTable, markTable
			for _, err := range []error{
				h.RouteAdd(&netlink.Route{Dst: toB, Type: unix.RTN_UNREACHABLE}),
				h.RouteAdd(&netlink.Route{Dst: toB, LinkIndex: n.aIndex, Table: markTable}),
				h.RuleAdd(rule),
			} {
				if err != nil {
					t.Fatalf("route b through table %d only: %v", markTable, err)
				}
			}
			marked := Packet{Buf: innerPacket(tr.proto, 100, 7), Size: 100, Src: a.addr, Dst: b.addr, TTL: 9, TOS: 4, Mark: markTable}
			markedDF, markedDefaultTTL, unmarked, otherMark := marked, marked, marked, marked
			markedDF.DF = true
			markedDefaultTTL.TTL = 0
			unmarked.Mark = 0
			otherMark.Mark = markTable + 1
			k, err := a.conn.Send([]Packet{marked, unmarked, markedDF, otherMark, markedDefaultTTL}, Headroom)
			if k != 3 || !errors.Is(err, unix.EHOSTUNREACH) || !strings.Contains(err.Error(), "dropped 2 of 5") {
				t.Fatalf("Send = %d, %v; want 3 and EHOSTUNREACH for 2 of 5", k, err)
			}
			got := recvAll(t, b.conn, 3, 2048)
			for i, wantTTL := range []uint8{9, 9, 64} {
				if g := got[i]; g.Src != a.addr || g.TOS != 4 || g.TTL != wantTTL {
					t.Errorf("packet %d: %v TOS %#x TTL %d; want %v TOS 0x4 TTL %d", i, g.Src, g.TOS, g.TTL, a.addr, wantTTL)
				}
			}
		})
	}
}
