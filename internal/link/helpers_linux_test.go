package link

import (
	"encoding/binary"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// inNewNetns moves the calling test goroutine into a network namespace of
// its own. The goroutine stays locked to its thread and never unlocks it, as
// containernetworking's ns.Do does: when the test goroutine ends, Go ends the
// thread instead of handing it, still in the namespace, to other goroutines.
// t.Cleanup functions run on the same goroutine, so inside the namespace.
// Goroutines the test starts run in the host's namespace: keep netlink calls
// on the test goroutine.
func inNewNetns(t *testing.T) {
	t.Helper()
	runtime.LockOSThread()
	ns, err := netns.New()
	if err != nil {
		t.Fatalf("new network namespace: %v", err)
	}
	t.Cleanup(func() { ns.Close() })
}

// newTUN creates a TUN device that is closed, and so removed, at cleanup.
func newTUN(t *testing.T, name string, mtu int) *tunDevice {
	t.Helper()
	dev, err := CreateTUN(name, mtu)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	return dev.(*tunDevice)
}

func mustNoErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// udpPacket returns an IPv4 or IPv6 packet holding a UDP datagram, with
// correct checksums, headroom bytes in front and spare capacity behind.
func udpPacket(headroom int, src, dst netip.AddrPort, payload []byte) []byte {
	ipLen := 20
	if src.Addr().Is6() {
		ipLen = 40
	}
	udpLen := 8 + len(payload)
	buf := make([]byte, headroom+ipLen+udpLen, 65536)
	pkt := buf[headroom:]
	ip, udp := pkt[:ipLen], pkt[ipLen:]
	s, d := src.Addr().AsSlice(), dst.Addr().AsSlice()
	if ipLen == 20 {
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(len(pkt)))
		ip[8], ip[9] = 64, 17
		copy(ip[12:], s)
		copy(ip[16:], d)
		binary.BigEndian.PutUint16(ip[10:], ^checksum(0, ip))
	} else {
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(udpLen))
		ip[6], ip[7] = 17, 64
		copy(ip[8:], s)
		copy(ip[24:], d)
	}
	binary.BigEndian.PutUint16(udp[0:], src.Port())
	binary.BigEndian.PutUint16(udp[2:], dst.Port())
	binary.BigEndian.PutUint16(udp[4:], uint16(udpLen))
	copy(udp[8:], payload)
	pseudo := append(append(append([]byte{}, s...), d...), 0, 17, byte(udpLen>>8), byte(udpLen))
	sum := ^checksum(checksum(0, pseudo), udp)
	if sum == 0 {
		sum = 0xffff // 0 means "no checksum"
	}
	binary.BigEndian.PutUint16(udp[6:], sum)
	return buf
}

// checksum adds b to the ones' complement sum sum.
func checksum(sum uint16, b []byte) uint16 {
	s := uint32(sum)
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

// parseUDP returns the destination and payload of an IPv4 or IPv6 UDP packet.
func parseUDP(pkt []byte) (dst netip.AddrPort, payload []byte, ok bool) {
	var addr netip.Addr
	switch {
	case len(pkt) >= 28 && pkt[0]>>4 == 4 && pkt[9] == 17:
		addr = netip.AddrFrom4([4]byte(pkt[16:20]))
		pkt = pkt[int(pkt[0]&0xf)*4:]
	case len(pkt) >= 48 && pkt[0]>>4 == 6 && pkt[6] == 17:
		addr = netip.AddrFrom16([16]byte(pkt[24:40]))
		pkt = pkt[40:]
	default:
		return netip.AddrPort{}, nil, false
	}
	return netip.AddrPortFrom(addr, binary.BigEndian.Uint16(pkt[2:])), pkt[8:], true
}
