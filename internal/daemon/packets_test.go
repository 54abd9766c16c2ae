package daemon_test

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"gif/internal/daemon"
	"gif/internal/tunnel"
	"gif/internal/wire"
)

// The packets of the tests that check the wiring between the daemon and
// the userspace data plane: what the daemon configured carries them.

// ipv4Packet returns an IPv4 packet from src to dst with payload as its
// protocol 253 (experimentation) payload.
func ipv4Packet(src, dst string, tos, ttl uint8, payload []byte) []byte {
	b := make([]byte, wire.IPv4MinHeaderLen+len(payload))
	wire.IPv4(b).Encode(wire.IPv4Fields{
		TOS: tos, TotalLength: uint16(len(b)), ID: 1, TTL: ttl, Protocol: 253,
		Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst),
	})
	copy(b[wire.IPv4MinHeaderLen:], payload)
	return b
}

// Documentation MAC addresses (RFC 7042) of hosts on either side of the
// bridges.
var (
	macA = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0xa1}
	macB = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0xb2}
)

// ethernetFrame returns a frame from src to dst carrying payload as
// etherType.
func ethernetFrame(dst, src net.HardwareAddr, etherType uint16, payload []byte) []byte {
	b := make([]byte, wire.EthernetHeaderLen, wire.EthernetHeaderLen+len(payload))
	copy(b, dst)
	copy(b[6:], src)
	binary.BigEndian.PutUint16(b[12:], etherType)
	return append(b, payload...)
}

// etherIP returns an EtherIP payload: the header bytes b0 b1, then frame.
func etherIP(b0, b1 byte, frame []byte) []byte {
	return append([]byte{b0, b1}, frame...)
}

func ifaceStats(t *testing.T, d *daemon.Daemon, name string) tunnel.InterfaceStats {
	t.Helper()
	return show(t, d, name).Stats
}

// waitStats waits until the counters of the interface called name are
// want; the data plane counts a packet after passing it on.
func waitStats(t *testing.T, d *daemon.Daemon, name string, want tunnel.InterfaceStats) {
	t.Helper()
	waitEqual(t, name+" counters", want, func() tunnel.InterfaceStats { return ifaceStats(t, d, name) })
}
