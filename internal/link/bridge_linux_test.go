package link

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// newBridge creates a bridge that is deleted at cleanup.
func newBridge(t *testing.T, name string) {
	t.Helper()
	mustNoErr(t, CreateBridge(name))
	t.Cleanup(func() { DeleteBridge(name) })
}

// newVeth creates a veth pair, up, that is deleted at cleanup.
func newVeth(t *testing.T, name, peer string, mtu int) {
	t.Helper()
	err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: mtu}, PeerName: peer, PeerMTU: uint32(mtu)})
	if err != nil {
		t.Fatalf("add veth %s: %v", name, err)
	}
	t.Cleanup(func() { Delete(name) })
	mustNoErr(t, SetUp(name, true))
	mustNoErr(t, SetUp(peer, true))
}

// lan is a bridge with a TAP and a veth as members; the peer of the veth
// has an address and stands for a host on the LAN.
type lan struct {
	tap     *tapDevice
	host    netip.Addr       // on the veth peer
	hostMAC net.HardwareAddr // of the veth peer
	// far stands for a host behind the TAP, at the other end of the tunnel.
	far    netip.Addr
	farMAC net.HardwareAddr
}

func newLAN(t *testing.T, tapMTU, vethMTU int) *lan {
	t.Helper()
	l := &lan{
		tap:    newTAP(t, "giftest0", tapMTU),
		host:   netip.MustParseAddr("192.0.2.2"),
		far:    netip.MustParseAddr("192.0.2.9"),
		farMAC: net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0x09},
	}
	newBridge(t, "giftestbr0")
	newVeth(t, "giftestv0", "giftestv1", vethMTU)
	mustNoErr(t, AddAddr("giftestv1", Addr{Prefix: netip.PrefixFrom(l.host, 24)}))
	info, err := Info("giftestv1")
	mustNoErr(t, err)
	l.hostMAC = info.MAC
	mustNoErr(t, SetMaster("giftest0", "giftestbr0"))
	mustNoErr(t, SetMaster("giftestv0", "giftestbr0"))
	for _, name := range []string{"giftest0", "giftestbr0"} {
		mustNoErr(t, SetUp(name, true))
	}
	waitFor(t, "the bridge to run", func() bool {
		info, err := Info("giftestbr0")
		return err == nil && info.Running
	})
	return l
}

// sendToHost writes a UDP datagram from far to the host through the TAP.
func (l *lan) sendToHost(t *testing.T, dst netip.AddrPort, payload []byte) {
	t.Helper()
	pkt := udpPacket(0, netip.AddrPortFrom(l.far, 4000), dst, payload)
	frame := ethFrame(0, l.hostMAC, l.farMAC, unix.ETH_P_IP, pkt)
	if n, err := l.tap.Write([][]byte{frame}, 0); n != 1 || err != nil {
		t.Fatalf("Write() = %d, %v; want 1", n, err)
	}
}

// readFrame reads from the TAP until match accepts a frame or the deadline
// passes; it reports whether one did.
func (l *lan) readFrame(t *testing.T, timeout time.Duration, match func(frame []byte) bool) bool {
	t.Helper()
	mustNoErr(t, l.tap.file.SetReadDeadline(time.Now().Add(timeout)))
	defer l.tap.file.SetReadDeadline(time.Time{})
	bufs := make([][]byte, l.tap.BatchSize())
	for i := range bufs {
		bufs[i] = make([]byte, 1500+18)
	}
	sizes := make([]int, len(bufs))
	for {
		n, err := l.tap.Read(bufs, sizes, 0)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return false
		}
		mustNoErr(t, err)
		for i := range n {
			if match(bufs[i][:sizes[i]]) {
				return true
			}
		}
	}
}

func TestBridgeForwarding(t *testing.T) {
	inNewNetns(t)
	l := newLAN(t, 1500, 1500)
	ln, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(l.host, 0)))
	mustNoErr(t, err)
	defer ln.Close()
	hostPort := ln.LocalAddr().(*net.UDPAddr).AddrPort()

	// TAP to LAN, with a full-size frame: 1500 bytes of IP.
	want := bytes.Repeat([]byte("x"), 1500-20-8)
	l.sendToHost(t, hostPort, want)
	mustNoErr(t, ln.SetReadDeadline(time.Now().Add(3*time.Second)))
	buf := make([]byte, 2000)
	m, from, err := ln.ReadFromUDPAddrPort(buf)
	if err != nil || !bytes.Equal(buf[:m], want) || from.Addr().Unmap() != l.far {
		t.Fatalf("received %d bytes from %s, %v; want the %d-byte datagram from %s", m, from, err, len(want), l.far)
	}

	// LAN to TAP: the host asks for the far end's address, the bridge
	// floods the request to the TAP; the answer through the TAP lets the
	// host send its datagram, which the bridge forwards to the TAP alone.
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(l.far, 9)))
	mustNoErr(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("to the far end"))
	mustNoErr(t, err)
	asked := l.readFrame(t, 3*time.Second, func(frame []byte) bool {
		op, sender, target, ok := parseARP(frame)
		return ok && op == 1 && sender == l.host && target == l.far && bytes.Equal(frame[:6], broadcastMAC)
	})
	if !asked {
		t.Fatal("no ARP request for the far end on the TAP")
	}
	reply := ethFrame(0, l.hostMAC, l.farMAC, unix.ETH_P_ARP, arpPacket(2, l.farMAC, l.far, l.hostMAC, l.host))
	if n, err := l.tap.Write([][]byte{reply}, 0); n != 1 || err != nil {
		t.Fatalf("Write(ARP reply) = %d, %v", n, err)
	}
	got := l.readFrame(t, 3*time.Second, func(frame []byte) bool {
		if !bytes.Equal(frame[:6], l.farMAC) || !bytes.Equal(frame[6:12], l.hostMAC) {
			return false
		}
		dst, payload, ok := parseUDP(frame[ethHeaderLen:])
		return ok && dst.Addr() == l.far && string(payload) == "to the far end"
	})
	if !got {
		t.Error("the datagram to the far end did not reach the TAP")
	}
}

var broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// TestBridgeMTU checks the Linux rules that SetMaster documents.
func TestBridgeMTU(t *testing.T) {
	inNewNetns(t)
	newBridge(t, "giftestbr0")
	bridgeMTU := func() int {
		t.Helper()
		info, err := Info("giftestbr0")
		mustNoErr(t, err)
		return info.MTU
	}
	if got := bridgeMTU(); got != 1500 {
		t.Errorf("MTU of an empty bridge = %d, want 1500", got)
	}
	newVeth(t, "giftestv0", "giftestv1", 9000)
	mustNoErr(t, SetMaster("giftestv0", "giftestbr0"))
	if got := bridgeMTU(); got != 9000 {
		t.Errorf("MTU with a 9000-byte member = %d, want 9000", got)
	}
	tap := newTAP(t, "giftest0", 1500)
	mustNoErr(t, SetMaster(tap.Name(), "giftestbr0"))
	if got := bridgeMTU(); got != 1500 {
		t.Errorf("MTU with a 1500-byte TAP added = %d, want 1500", got)
	}
	mustNoErr(t, SetMTU(tap.Name(), 1280))
	if got := bridgeMTU(); got != 1280 {
		t.Errorf("MTU after the TAP went to 1280 = %d, want 1280", got)
	}
	mustNoErr(t, SetNoMaster(tap.Name()))
	if got := bridgeMTU(); got != 9000 {
		t.Errorf("MTU after the TAP left = %d, want 9000", got)
	}
	mustNoErr(t, SetMTU("giftestbr0", 1400))
	mustNoErr(t, SetMaster(tap.Name(), "giftestbr0"))
	if got := bridgeMTU(); got != 1400 {
		t.Errorf("MTU set to 1400, then a 1280-byte member = %d, want 1400", got)
	}
}

// TestBridgeDropsOversizedFrames shows why a bridged gif's TAP needs the
// LAN's MTU: the bridge does not forward a full-size frame to a 1280-byte
// TAP.
func TestBridgeDropsOversizedFrames(t *testing.T) {
	inNewNetns(t)
	l := newLAN(t, 1280, 1500)
	mustNoErr(t, netlink.NeighAdd(&netlink.Neigh{
		LinkIndex: mustIndex(t, "giftestv1"), IP: l.far.AsSlice(), HardwareAddr: l.farMAC, State: netlink.NUD_PERMANENT,
	}))
	// The bridge learns where the far end is, so it does not flood.
	l.sendToHost(t, netip.AddrPortFrom(l.host, 9), []byte("hello"))
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(l.far, 9)))
	mustNoErr(t, err)
	defer conn.Close()
	for _, size := range []int{1500, 1280} {
		_, err := conn.Write(make([]byte, size-20-8))
		mustNoErr(t, err)
		got := l.readFrame(t, 300*time.Millisecond, func(frame []byte) bool {
			_, payload, ok := parseUDP(frame[ethHeaderLen:])
			return ok && len(payload) == size-20-8
		})
		if want := size <= 1280; got != want {
			t.Errorf("a %d-byte packet reached the 1280-byte TAP: %v, want %v", size, got, want)
		}
	}
}

func mustIndex(t *testing.T, name string) int {
	t.Helper()
	index, err := Index(name)
	mustNoErr(t, err)
	return index
}

func TestBridgeMembership(t *testing.T) {
	inNewNetns(t)
	newBridge(t, "giftestbr0")
	newBridge(t, "giftestbr1")
	tap := newTAP(t, "giftest0", 1500)
	newVeth(t, "giftestv0", "giftestv1", 1500)
	tun := newTUN(t, "giftest1", 1280)

	// Members by index: the TAP was made before the veth.
	for _, member := range []string{"giftestv0", tap.Name()} {
		mustNoErr(t, SetMaster(member, "giftestbr0"))
	}
	members, err := BridgeMembers("giftestbr0")
	mustNoErr(t, err)
	if want := []string{"giftest0", "giftestv0"}; !slices.Equal(members, want) {
		t.Errorf("BridgeMembers() = %v, want %v", members, want)
	}
	if members, err := BridgeMembers("giftestbr1"); err != nil || len(members) != 0 {
		t.Errorf("BridgeMembers() of an empty bridge = %v, %v; want none", members, err)
	}
	if info, err := Info(tap.Name()); err != nil || info.Master != "giftestbr0" {
		t.Errorf("Info() of a member = %+v, %v; want master giftestbr0", info, err)
	}

	for _, tt := range []struct {
		member, bridge string
		want           string
		errno          error
	}{
		{"giftest0", "giftestbr0", "add giftest0 to bridge giftestbr0: giftest0 is a member already", unix.EEXIST},
		{"giftest0", "giftestbr1", "giftest0 belongs to giftestbr0", unix.EBUSY},
		{"giftest9", "giftestbr1", "add giftest9 to bridge giftestbr1: giftest9 does not exist", unix.ENODEV},
		{"giftest0", "giftestbr9", "giftestbr9 does not exist", unix.ENODEV},
		{"giftest0", "giftestv1", "giftestv1 is not a bridge", nil},
		{"giftest1", "giftestbr1", "giftest1 is not an Ethernet interface (link type none)", nil},
		{"lo", "giftestbr1", "lo is not an Ethernet interface (link type loopback)", nil},
		{"giftestbr0", "giftestbr1", "giftestbr0 is a bridge itself", nil},
	} {
		err := SetMaster(tt.member, tt.bridge)
		if err == nil || !strings.Contains(err.Error(), tt.want) || tt.errno != nil && !errors.Is(err, tt.errno) {
			t.Errorf("SetMaster(%s, %s) = %v, want an error with %q matching %v", tt.member, tt.bridge, err, tt.want, tt.errno)
		}
	}
	if info, err := Info(tun.Name()); err != nil || info.Master != "" {
		t.Errorf("Info() of the TUN after a failed SetMaster = %+v, %v; want no master", info, err)
	}

	mustNoErr(t, SetNoMaster(tap.Name()))
	mustNoErr(t, SetNoMaster(tap.Name())) // in no bridge: nothing to do
	if members, err := BridgeMembers("giftestbr0"); err != nil || !slices.Equal(members, []string{"giftestv0"}) {
		t.Errorf("BridgeMembers() after SetNoMaster = %v, %v; want [giftestv0]", members, err)
	}
	if err := SetNoMaster("giftest9"); err == nil || !strings.Contains(err.Error(), "remove giftest9 from its bridge") {
		t.Errorf("SetNoMaster of a missing interface = %v, want an error naming it", err)
	}

	for _, err := range []error{DeleteBridge("giftestv0"), DeleteBridge("giftestbr9")} {
		if err == nil || !strings.Contains(err.Error(), "delete bridge giftest") {
			t.Errorf("DeleteBridge of a veth or a missing bridge = %v, want an error naming it", err)
		}
	}
	if !Exists("giftestv0") {
		t.Fatal("DeleteBridge removed a veth")
	}
	if _, err := BridgeMembers("giftestv0"); err == nil || !strings.Contains(err.Error(), "giftestv0 is not a bridge") {
		t.Errorf("BridgeMembers of a veth = %v, want an error", err)
	}
	mustNoErr(t, DeleteBridge("giftestbr0"))
	if Exists("giftestbr0") {
		t.Error("the bridge exists after DeleteBridge")
	}
	if info, err := Info("giftestv0"); err != nil || info.Master != "" {
		t.Errorf("Info() of a member of the deleted bridge = %+v, %v; want no master", info, err)
	}
}

func TestCreateBridge(t *testing.T) {
	inNewNetns(t)
	newBridge(t, "giftestbr0")
	err := CreateBridge("giftestbr0")
	if err == nil || !errors.Is(err, unix.EEXIST) || !strings.Contains(err.Error(), "create bridge giftestbr0") {
		t.Errorf("CreateBridge of an existing name = %v, want EEXIST naming it", err)
	}
	info, err := Info("giftestbr0")
	mustNoErr(t, err)
	if info.Up || info.Kind != "bridge" || !info.Ethernet || info.MTU != 1500 {
		t.Errorf("Info() = %+v, want a 1500-byte Ethernet bridge, down", info)
	}
	link, err := netlink.LinkByName("giftestbr0")
	mustNoErr(t, err)
	if s := link.(*netlink.Bridge).MulticastSnooping; s == nil || *s {
		t.Error("multicast snooping is on")
	}
	// Linux adds the link-local address once the bridge runs, which takes
	// a running member.
	newVeth(t, "giftestv0", "giftestv1", 1500)
	mustNoErr(t, SetMaster("giftestv0", "giftestbr0"))
	mustNoErr(t, SetUp("giftestbr0", true))
	waitFor(t, "the bridge to run", func() bool {
		info, err := Info("giftestbr0")
		return err == nil && info.Running
	})
	time.Sleep(50 * time.Millisecond)
	if addrs, err := Addrs("giftestbr0"); err != nil || len(addrs) != 0 {
		t.Errorf("addresses of the bridge after up = %v, %v; want none", addrs, err)
	}
}
