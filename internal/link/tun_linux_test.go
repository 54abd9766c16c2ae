package link

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestCreateTUN(t *testing.T) {
	inNewNetns(t)
	dev := newTUN(t, "giftest%d", 1280)
	if dev.Name() != "giftest0" {
		t.Fatalf("Name() = %q, want the name the kernel chose, giftest0", dev.Name())
	}
	if dev.BatchSize() != 128 {
		t.Errorf("BatchSize() = %d, want 128 (IFF_VNET_HDR offloads)", dev.BatchSize())
	}
	link, err := netlink.LinkByName(dev.Name())
	mustNoErr(t, err)
	attrs := link.Attrs()
	if attrs.RawFlags&unix.IFF_UP != 0 {
		t.Error("the device is up after creation")
	}
	if attrs.MTU != 1280 {
		t.Errorf("MTU = %d, want 1280", attrs.MTU)
	}
	const p2p = unix.IFF_POINTOPOINT | unix.IFF_NOARP | unix.IFF_MULTICAST
	if attrs.RawFlags&p2p != p2p || attrs.RawFlags&unix.IFF_BROADCAST != 0 {
		t.Errorf("flags = %v, want POINTOPOINT|NOARP|MULTICAST without BROADCAST", attrs.Flags)
	}
	index, err := Index(dev.Name())
	if err != nil || index != attrs.Index {
		t.Errorf("Index() = %d, %v; want %d", index, err, attrs.Index)
	}

	// The kernel would add its link-local address as the device comes up.
	mustNoErr(t, SetUp(dev.Name(), true))
	time.Sleep(50 * time.Millisecond)
	addrs, err := Addrs(dev.Name())
	mustNoErr(t, err)
	if len(addrs) != 0 {
		t.Errorf("addresses after up = %v, want none", addrs)
	}
}

func TestCreateTUNFailsCleanly(t *testing.T) {
	inNewNetns(t)
	_, err := CreateTUN("giftest0", 10)
	if err == nil || !strings.Contains(err.Error(), "set mtu of giftest0") {
		t.Errorf("CreateTUN with MTU 10: err = %v, want a failure to set the MTU", err)
	}
	if Exists("giftest0") {
		t.Error("the device outlives the failed CreateTUN")
	}
	if _, err := CreateTUN("a-name-far-too-long", 1280); err == nil {
		t.Error("CreateTUN with a 19-byte name succeeded")
	}
}

func TestReadWrite(t *testing.T) {
	for _, tt := range []struct {
		local, peer netip.Addr
		bits        int
	}{
		{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), 32},
		{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), 128},
	} {
		t.Run(tt.local.String(), func(t *testing.T) {
			inNewNetns(t)
			dev := newTUN(t, "giftest0", 1280)
			mustNoErr(t, AddAddr(dev.Name(), Addr{netip.PrefixFrom(tt.local, tt.bits), tt.peer}))
			mustNoErr(t, SetUp(dev.Name(), true))
			// Linux reinstalls the local route of an IPv6 address a moment
			// after the interface comes up.
			waitFor(t, "the local route", func() bool {
				routes, err := netlink.RouteGetWithOptions(tt.local.AsSlice(),
					&netlink.RouteGetOptions{Iif: dev.Name(), SrcAddr: tt.peer.AsSlice()})
				return err == nil && routes[0].Type == unix.RTN_LOCAL
			})
			testRead(t, dev, tt.local, tt.peer)
			testWrite(t, dev, tt.local, tt.peer)
			dev.groBroken = true
			testWrite(t, dev, tt.local, tt.peer)

			stats, err := LinkStats(dev.Name())
			mustNoErr(t, err)
			// The kernel counts each write(2) once, a coalesced one too.
			if stats.RxPackets < 2 || stats.TxPackets < 1 || stats.RxBytes == 0 || stats.TxBytes == 0 {
				t.Errorf("LinkStats() = %+v, want at least 2 packets in and 1 out", stats)
			}
		})
	}
}

// testRead sends a datagram to the peer and reads it from dev.
func testRead(t *testing.T, dev *tunDevice, local, peer netip.Addr) {
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(peer, 9)))
	mustNoErr(t, err)
	defer conn.Close()
	if got := conn.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(); got != local {
		t.Fatalf("the socket bound to %s, want %s", got, local)
	}
	mustNoErr(t, dev.file.SetReadDeadline(time.Now().Add(3*time.Second)))
	defer dev.file.SetReadDeadline(time.Time{})

	const offset = 16
	bufs := make([][]byte, dev.BatchSize())
	for i := range bufs {
		bufs[i] = make([]byte, offset+1280)
	}
	sizes := make([]int, len(bufs))
	want := []byte("to the peer")
	_, err = conn.Write(want)
	mustNoErr(t, err)
	for {
		for _, b := range bufs {
			copy(b[:offset], bytes.Repeat([]byte{0xa5}, offset))
		}
		n, err := dev.Read(bufs, sizes, offset)
		mustNoErr(t, err)
		for i := range n {
			dst, payload, ok := parseUDP(bufs[i][offset : offset+sizes[i]])
			if !ok || dst != netip.AddrPortFrom(peer, 9) {
				continue // such as IPv6 multicast listener reports
			}
			if !bytes.Equal(payload, want) {
				t.Fatalf("read payload %q, want %q", payload, want)
			}
			if !bytes.Equal(bufs[i][:offset], bytes.Repeat([]byte{0xa5}, offset)) {
				t.Errorf("Read wrote into the %d bytes before offset: %x", offset, bufs[i][:offset])
			}
			return
		}
	}
}

// testWrite writes packets of one UDP flow to local and receives them on a
// socket.
func testWrite(t *testing.T, dev *tunDevice, local, peer netip.Addr) {
	ln, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, 0)))
	mustNoErr(t, err)
	defer ln.Close()
	dst := ln.LocalAddr().(*net.UDPAddr).AddrPort()
	src := netip.AddrPortFrom(peer, 4000)

	const offset = 16
	var bufs [][]byte
	for i := range 3 {
		bufs = append(bufs, udpPacket(offset, src, dst, fmt.Appendf(nil, "packet %d", i)))
	}
	writes := dev.writes.Load()
	n, err := dev.Write(bufs, offset)
	if err != nil || n != 3 {
		t.Fatalf("Write() = %d, %v; want 3 packets", n, err)
	}
	// Without USO, the kernel takes no UDP super-packets.
	if writes = dev.writes.Load() - writes; writes != 3 {
		t.Errorf("Write made %d write(2) calls, want one for each packet", writes)
	}
	mustNoErr(t, ln.SetReadDeadline(time.Now().Add(3*time.Second)))
	buf := make([]byte, 1500)
	for i := range 3 {
		m, from, err := ln.ReadFromUDPAddrPort(buf)
		mustNoErr(t, err)
		if want := fmt.Sprintf("packet %d", i); string(buf[:m]) != want || from.Addr().Unmap() != peer {
			t.Errorf("received %q from %s, want %q from %s", buf[:m], from, want, peer)
		}
	}
}

func kernelAtLeast(major, minor int) bool {
	var uts unix.Utsname
	if unix.Uname(&uts) != nil {
		return false
	}
	var gotMajor, gotMinor int
	fmt.Sscanf(unix.ByteSliceToString(uts.Release[:]), "%d.%d", &gotMajor, &gotMinor)
	return gotMajor > major || gotMajor == major && gotMinor >= minor
}

func TestWriteDropsNonIP(t *testing.T) {
	inNewNetns(t)
	dev := newTUN(t, "giftest0", 1280)
	local, peer := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	mustNoErr(t, AddAddr(dev.Name(), Addr{netip.PrefixFrom(local, 32), peer}))
	mustNoErr(t, SetUp(dev.Name(), true))
	ln, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, 0)))
	mustNoErr(t, err)
	defer ln.Close()

	const offset = WriteOffset
	good := udpPacket(offset, netip.AddrPortFrom(peer, 4000), ln.LocalAddr().(*net.UDPAddr).AddrPort(), []byte("good"))
	notIP := make([]byte, offset+40)
	empty := make([]byte, offset)
	n, err := dev.Write([][]byte{notIP, good, empty}, offset)
	if n != 1 || err == nil || !strings.Contains(err.Error(), "dropped 2 packets") {
		t.Errorf("Write() = %d, %v; want 1 and an error about 2 dropped packets", n, err)
	}
	mustNoErr(t, ln.SetReadDeadline(time.Now().Add(3*time.Second)))
	buf := make([]byte, 100)
	m, _, err := ln.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:m]) != "good" {
		t.Errorf("received %q, %v; want \"good\"", buf[:m], err)
	}

	if n, err := dev.Write([][]byte{good}, offset-1); n != 0 || err == nil {
		t.Errorf("Write with offset %d = %d, %v; want an error", offset-1, n, err)
	}
}

func TestCloseRemovesDevice(t *testing.T) {
	inNewNetns(t)
	dev, err := CreateTUN("giftest0", 1280)
	mustNoErr(t, err)
	t.Cleanup(func() {
		if Exists("giftest0") {
			Delete("giftest0")
		}
	})
	closeDuringRead(t, dev)
	if Exists("giftest0") {
		t.Error("the device exists after Close")
	}
}

func TestSetCarrier(t *testing.T) {
	inNewNetns(t)
	dev := newTUN(t, "giftest0", 1280)
	mustNoErr(t, AddAddr(dev.Name(), Addr{netip.MustParsePrefix("192.0.2.1/32"), netip.MustParseAddr("192.0.2.2")}))
	mustNoErr(t, SetUp(dev.Name(), true))
	conn, err := net.Dial("udp", "192.0.2.2:9")
	mustNoErr(t, err)
	defer conn.Close()
	bufs := [][]byte{make([]byte, 1500)}
	for _, on := range []bool{false, true, false} {
		mustNoErr(t, SetCarrier(dev, on))
		waitFor(t, fmt.Sprintf("RUNNING to be %v", on), func() bool {
			link, err := netlink.LinkByName(dev.Name())
			mustNoErr(t, err)
			flags := link.Attrs().RawFlags
			return flags&unix.IFF_LOWER_UP != 0 == on && flags&unix.IFF_RUNNING != 0 == on
		})
		conn.Write([]byte("carrier")) // fails, or is dropped, without carrier
		mustNoErr(t, dev.file.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
		got := false
		for !got {
			sizes := []int{0}
			if _, err := dev.Read(bufs, sizes, 0); err != nil {
				break
			}
			_, payload, _ := parseUDP(bufs[0][:sizes[0]])
			got = string(payload) == "carrier"
		}
		if got != on {
			t.Errorf("with carrier %v, a datagram to the peer reached the device: %v", on, got)
		}
	}
	if err := SetCarrier(fakeDevice{}, true); err == nil {
		t.Error("SetCarrier of a device without a carrier succeeded")
	}
}

type fakeDevice struct{ Device }

func (fakeDevice) Name() string { return "fake0" }

// TestGROFallback writes to a pipe with a writev that fails like a kernel
// with the GSO bug of tailscale/tailscale#13041: EINVAL for a coalesced
// packet.
func TestGROFallback(t *testing.T) {
	r, w, err := os.Pipe()
	mustNoErr(t, err)
	defer r.Close()
	conn, err := w.SyscallConn()
	mustNoErr(t, err)
	var fd int
	mustNoErr(t, conn.Control(func(f uintptr) { fd, err = unix.Dup(int(f)) }))
	mustNoErr(t, err)
	mustNoErr(t, unix.SetNonblock(fd, true))
	w.Close()
	f, err := newVnetFile(fd, "giftest0", linkIP)
	mustNoErr(t, err)
	defer f.Close()
	dev := &tunDevice{f}
	dev.writeIov = func(fd uintptr) bool {
		if len(dev.gro.iov) > 2 { // the header, the headers of the first segment, then payloads
			dev.writeErrno = unix.EINVAL
			return true
		}
		return dev.writevNow(fd)
	}
	segs := flowRun(newSeg(false, 0), 3, 1000)
	bufs := func() [][]byte {
		var bufs [][]byte
		for _, s := range segs {
			bufs = append(bufs, append(make([]byte, WriteOffset), s.in(linkIP)...))
		}
		return bufs
	}
	n, err := dev.Write(bufs(), WriteOffset)
	if n != 3 || !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), "tailscale/tailscale#13041") {
		t.Errorf("Write() = %d, %v; want 3 packets written one by one, and EINVAL explained", n, err)
	}
	if !dev.groBroken {
		t.Fatal("GRO is still on")
	}
	n, err = dev.Write(bufs(), WriteOffset)
	if n != 3 || err != nil {
		t.Errorf("Write without GRO = %d, %v; want 3", n, err)
	}
	got := make([]byte, 1<<16)
	m, err := r.Read(got)
	mustNoErr(t, err)
	var want []byte
	for range 2 {
		for _, s := range segs {
			want = append(append(want, make([]byte, virtioNetHdrLen)...), s.in(linkIP)...)
		}
	}
	if !bytes.Equal(got[:m], want) {
		t.Errorf("wrote %x,\nwant each packet behind a zero virtio-net header: %x", got[:m], want)
	}
}
