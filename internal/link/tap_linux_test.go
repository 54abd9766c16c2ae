package link

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// newTAP creates a TAP device that is closed, and so removed, at cleanup.
func newTAP(t *testing.T, name string, mtu int) *tapDevice {
	t.Helper()
	dev, err := CreateTAP(name, mtu)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	return dev.(*tapDevice)
}

const ethHeaderLen = 14

// ethFrame returns an Ethernet frame around payload, with headroom bytes in
// front.
func ethFrame(headroom int, dst, src net.HardwareAddr, etherType uint16, payload []byte) []byte {
	b := make([]byte, headroom+ethHeaderLen, headroom+ethHeaderLen+len(payload))
	eth := b[headroom:]
	copy(eth[0:6], dst)
	copy(eth[6:12], src)
	binary.BigEndian.PutUint16(eth[12:], etherType)
	return append(b, payload...)
}

// arpPacket returns an ARP request (op 1) or reply (op 2) for IPv4 over
// Ethernet.
func arpPacket(op uint16, senderMAC net.HardwareAddr, senderIP netip.Addr, targetMAC net.HardwareAddr, targetIP netip.Addr) []byte {
	b := make([]byte, 28)
	binary.BigEndian.PutUint16(b[0:], 1)      // Ethernet
	binary.BigEndian.PutUint16(b[2:], 0x0800) // IPv4
	b[4], b[5] = 6, 4
	binary.BigEndian.PutUint16(b[6:], op)
	copy(b[8:], senderMAC)
	copy(b[14:], senderIP.AsSlice())
	copy(b[18:], targetMAC)
	copy(b[24:], targetIP.AsSlice())
	return b
}

// parseARP returns the operation, sender and target IPv4 address of the ARP
// packet in an Ethernet frame.
func parseARP(frame []byte) (op uint16, sender, target netip.Addr, ok bool) {
	if len(frame) < ethHeaderLen+28 || binary.BigEndian.Uint16(frame[12:]) != unix.ETH_P_ARP {
		return 0, netip.Addr{}, netip.Addr{}, false
	}
	arp := frame[ethHeaderLen:]
	return binary.BigEndian.Uint16(arp[6:]), netip.AddrFrom4([4]byte(arp[14:18])), netip.AddrFrom4([4]byte(arp[24:28])), true
}

func TestCreateTAP(t *testing.T) {
	inNewNetns(t)
	dev := newTAP(t, "giftest%d", 1500)
	if dev.Name() != "giftest0" {
		t.Fatalf("Name() = %q, want the name the kernel chose, giftest0", dev.Name())
	}
	link, err := netlink.LinkByName(dev.Name())
	mustNoErr(t, err)
	tap, ok := link.(*netlink.Tuntap)
	if !ok {
		t.Fatalf("the device is a %T, want a *netlink.Tuntap", link)
	}
	if tap.Mode != netlink.TUNTAP_MODE_TAP || tap.Flags&netlink.TUNTAP_NO_PI == 0 || tap.Flags&netlink.TUNTAP_VNET_HDR == 0 || !dev.offload {
		t.Errorf("mode %v, flags %#x, offloads %v; want a TAP with IFF_NO_PI and IFF_VNET_HDR, and offloads", tap.Mode, tap.Flags, dev.offload)
	}
	if !tap.NonPersist {
		t.Error("the device is persistent")
	}
	info, err := Info(dev.Name())
	mustNoErr(t, err)
	if info.Up || info.MTU != 1500 || info.Kind != "tun" || !info.Ethernet || len(info.MAC) != 6 {
		t.Errorf("Info() = %+v, want down, MTU 1500, kind tun, Ethernet with a MAC address", info)
	}

	mustNoErr(t, SetUp(dev.Name(), true))
	// The kernel would add its link-local address as the device comes up.
	time.Sleep(50 * time.Millisecond)
	if addrs, err := Addrs(dev.Name()); err != nil || len(addrs) != 0 {
		t.Errorf("addresses after up = %v, %v; want none", addrs, err)
	}
	// The kernel gives a TAP carrier as long as it is open.
	if info, err := Info(dev.Name()); err != nil || !info.Up || !info.Running {
		t.Errorf("Info() after up = %+v, %v; want up and running", info, err)
	}
}

func TestCreateTAPFailsCleanly(t *testing.T) {
	inNewNetns(t)
	_, err := CreateTAP("giftest0", 10)
	if err == nil || !strings.Contains(err.Error(), "set mtu of giftest0") {
		t.Errorf("CreateTAP with MTU 10: err = %v, want a failure to set the MTU", err)
	}
	if Exists("giftest0") {
		t.Error("the device outlives the failed CreateTAP")
	}
	_, err = CreateTAP("a-name-far-too-long", 1500)
	if err == nil || !strings.Contains(err.Error(), "create tap a-name-far-too-long") {
		t.Errorf("CreateTAP with a 19-byte name: err = %v, want one naming the operation and the name", err)
	}
}

// TestTAPReadWrite moves frames through a TAP with an address of its own,
// without a bridge.
func TestTAPReadWrite(t *testing.T) {
	inNewNetns(t)
	dev := newTAP(t, "giftest0", 1500)
	local, far := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	farMAC := net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0x02}
	frame := ethFrame(0, farMAC, farMAC, unix.ETH_P_ARP, arpPacket(1, farMAC, far, nil, far))
	n, err := dev.Write([][]byte{frame}, 0)
	if n != 0 || !errors.Is(err, unix.EIO) || !strings.Contains(err.Error(), "write to giftest0") {
		t.Errorf("Write while down = %d, %v; want 0 and EIO naming giftest0", n, err)
	}

	mustNoErr(t, AddAddr(dev.Name(), Addr{Prefix: netip.PrefixFrom(local, 24)}))
	mustNoErr(t, SetUp(dev.Name(), true))
	info, err := Info(dev.Name())
	mustNoErr(t, err)
	ln, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, 0)))
	mustNoErr(t, err)
	defer ln.Close()
	dst := ln.LocalAddr().(*net.UDPAddr).AddrPort()

	// Write: a short frame fails alone; the two UDP datagrams arrive.
	const offset = 16
	var bufs [][]byte
	for _, payload := range []string{"frame 0", "frame 1"} {
		pkt := udpPacket(0, netip.AddrPortFrom(far, 4000), dst, []byte(payload))
		bufs = append(bufs, ethFrame(offset, info.MAC, farMAC, unix.ETH_P_IP, pkt))
	}
	bufs = append(bufs[:1], make([]byte, offset+10), bufs[1])
	n, err = dev.Write(bufs, offset)
	if n != 2 || !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), "1 of 3 frames failed") {
		t.Errorf("Write() = %d, %v; want 2 and EINVAL for 1 of 3 frames", n, err)
	}
	mustNoErr(t, ln.SetReadDeadline(time.Now().Add(3*time.Second)))
	buf := make([]byte, 100)
	for _, want := range []string{"frame 0", "frame 1"} {
		m, from, err := ln.ReadFromUDPAddrPort(buf)
		mustNoErr(t, err)
		if string(buf[:m]) != want || from.Addr().Unmap() != far {
			t.Errorf("received %q from %s, want %q from %s", buf[:m], from, want, far)
		}
	}

	// Read: the kernel queues several datagrams to a known neighbour, and
	// one Read takes them all.
	mustNoErr(t, netlink.NeighAdd(&netlink.Neigh{
		LinkIndex: info.Index, IP: far.AsSlice(), HardwareAddr: farMAC, State: netlink.NUD_PERMANENT,
	}))
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(far, 9)))
	mustNoErr(t, err)
	defer conn.Close()
	const count = 5
	for range count {
		_, err := conn.Write([]byte("to the far end"))
		mustNoErr(t, err)
	}
	time.Sleep(50 * time.Millisecond)
	readBufs := make([][]byte, dev.BatchSize())
	for i := range readBufs {
		readBufs[i] = bytes.Repeat([]byte{0xa5}, offset+1500+18)
	}
	sizes := make([]int, len(readBufs))
	mustNoErr(t, dev.file.SetReadDeadline(time.Now().Add(3*time.Second)))
	n, err = dev.Read(readBufs, sizes, offset)
	mustNoErr(t, err)
	got := 0
	for i := range n {
		frame := readBufs[i][offset : offset+sizes[i]]
		if !bytes.Equal(readBufs[i][:offset], bytes.Repeat([]byte{0xa5}, offset)) {
			t.Errorf("Read wrote into the %d bytes before offset: %x", offset, readBufs[i][:offset])
		}
		if !bytes.Equal(frame[0:6], farMAC) || binary.BigEndian.Uint16(frame[12:]) != unix.ETH_P_IP {
			continue // such as an IPv6 multicast listener report
		}
		if dst, payload, ok := parseUDP(frame[ethHeaderLen:]); ok && dst.Addr() == far && string(payload) == "to the far end" {
			got++
		}
	}
	if got != count {
		t.Errorf("one Read returned %d frames with %d of the %d datagrams, want all", n, got, count)
	}
}

func TestTAPCloseRemovesDevice(t *testing.T) {
	inNewNetns(t)
	dev, err := CreateTAP("giftest0", 1500)
	mustNoErr(t, err)
	t.Cleanup(func() {
		if Exists("giftest0") {
			Delete("giftest0")
		}
	})
	mustNoErr(t, CreateBridge("giftestbr0"))
	mustNoErr(t, SetMaster("giftest0", "giftestbr0"))
	closeDuringRead(t, dev)
	if Exists("giftest0") {
		t.Error("the device exists after Close")
	}
	if members, err := BridgeMembers("giftestbr0"); err != nil || len(members) != 0 {
		t.Errorf("BridgeMembers() after Close = %v, %v; want none", members, err)
	}
	if n, err := dev.Write([][]byte{make([]byte, 60)}, 0); n != 0 || !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close = %d, %v; want os.ErrClosed", n, err)
	}
}

// TestTAPCarrier checks that a bridge sends nothing to a TAP without
// carrier: ARP requests it floods reach the TAP only while it has one.
func TestTAPCarrier(t *testing.T) {
	inNewNetns(t)
	l := newLAN(t, 1500, 1500)
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(l.far, 9)))
	mustNoErr(t, err)
	defer conn.Close()
	for _, on := range []bool{false, true} {
		mustNoErr(t, SetCarrier(l.tap, on))
		waitFor(t, "RUNNING to follow the carrier", func() bool {
			info, err := Info(l.tap.Name())
			mustNoErr(t, err)
			return info.Running == on
		})
		// Each datagram to the unresolved far end sends an ARP request, or
		// queues behind one for a second.
		err := netlink.NeighDel(&netlink.Neigh{LinkIndex: mustIndex(t, "giftestv1"), IP: l.far.AsSlice()})
		if err != nil && !errors.Is(err, unix.ENOENT) {
			t.Fatal(err)
		}
		_, err = conn.Write([]byte("to the far end"))
		mustNoErr(t, err)
		asked := l.readFrame(t, 300*time.Millisecond, func(frame []byte) bool {
			op, _, target, ok := parseARP(frame)
			return ok && op == 1 && target == l.far
		})
		if asked != on {
			t.Errorf("with carrier %v, the ARP request reached the TAP: %v", on, asked)
		}
	}
}

// closeDuringRead closes dev while a Read waits, and checks that the Read
// ends with os.ErrClosed.
func closeDuringRead(t *testing.T, dev Device) {
	t.Helper()
	read := make(chan error)
	go func() {
		bufs := [][]byte{make([]byte, 1518)}
		_, err := dev.Read(bufs, make([]int, 1), 0)
		read <- err
	}()
	time.Sleep(20 * time.Millisecond)
	mustNoErr(t, dev.Close())
	select {
	case err := <-read:
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("Read during Close: %v, want os.ErrClosed", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Close did not end a blocked Read")
	}
}
