package daemon_test

import (
	"net"
	"testing"

	"gif/internal/daemon"
	"gif/internal/tunnel"
	"gif/internal/wire/wiretest"
)

// The packet path's own tests are in internal/dataplane; these helpers
// serve the daemon's tests of its wiring to the userspace plane, which
// send packets through it.

// ipv4Packet returns an IPv4 packet from src to dst with payload as its
// protocol 253 (experimentation) payload.
func ipv4Packet(src, dst string, tos, ttl uint8, payload []byte) []byte {
	return wiretest.IPv4(src, dst, tos, ttl, 253, payload)
}

// Documentation MAC addresses (RFC 7042) of hosts on either side of the
// bridges.
var (
	macA = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0xa1}
	macB = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0xb2}
)

var (
	ethernetFrame = wiretest.Ethernet
	etherIP       = wiretest.EtherIP
)

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
