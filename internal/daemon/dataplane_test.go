package daemon_test

import (
	"bytes"
	"net"
	"path/filepath"
	"reflect"
	"testing"

	"gif/internal/daemon"
	"gif/internal/tunnel"
	"gif/internal/wire"
	"gif/internal/wire/wiretest"
)

// The packet path's own tests are in internal/dataplane; these helpers
// serve the daemon's tests that send packets through it.

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

// TestTunnelDomain checks that outer packets carry their interface's
// routing domain as their mark, and that the policy rules for each family
// and domain in use are installed exactly while some interface uses them.
func TestTunnelDomain(t *testing.T) {
	h := newFakeHost(t)
	h.setLocal(local, local6)
	path := filepath.Join(t.TempDir(), "state.json")
	d := startDaemon(t, h, path)
	checkRules := func(step string, want ...domainRule) {
		t.Helper()
		wantSet := make(map[domainRule]bool)
		for _, r := range want {
			wantSet[r] = true
		}
		if got := h.installedRules(); !reflect.DeepEqual(got, wantSet) {
			t.Errorf("%s: rules %v; want %v", step, got, wantSet)
		}
	}
	sendMark := func(step, name string, family int, mark uint32) {
		t.Helper()
		inner := ipv4Packet("192.0.2.1", "192.0.2.2", 0, 64, []byte(step))
		h.device(name).push(inner)
		got := h.network(family, wire.ProtoIPv4).next(t)
		if !bytes.Equal(got.Buf, inner) || got.Mark != mark {
			t.Errorf("%s: %s sent %x with mark %d; want %x with mark %d", step, name, got.Buf, got.Mark, inner, mark)
		}
	}

	mustIfconfig(t, d, "gif0 tunnel 198.51.100.1 203.0.113.1")
	checkRules("main table")
	sendMark("main table", "gif0", 4, 0)

	mustIfconfig(t, d, "gif0 tunneldomain 7")
	mustIfconfig(t, d, "gif1 tunneldomain 7")
	checkRules("domain 7", domainRule{4, 7})
	sendMark("domain 7", "gif0", 4, 7)

	mustIfconfig(t, d, "gif1 tunnel 2001:db8:1::1 2001:db8:2::1")
	checkRules("IPv6 tunnel in domain 7", domainRule{4, 7}, domainRule{6, 7})
	sendMark("IPv6 tunnel in domain 7", "gif1", 6, 7)

	mustIfconfig(t, d, "gif2 tunnel 198.51.100.1 203.0.113.2 tunneldomain 7")
	mustIfconfig(t, d, "gif0 tunneldomain 8")
	checkRules("gif0 in domain 8", domainRule{4, 7}, domainRule{6, 7}, domainRule{4, 8})
	sendMark("gif0 in domain 8", "gif0", 4, 8)

	mustIfconfig(t, d, "gif2 destroy")
	mustIfconfig(t, d, "gif1 -tunnel")
	checkRules("domain 7 unused", domainRule{4, 8})

	d.Close()
	checkRules("closed")
	d = startDaemon(t, h, path)
	checkRules("restored", domainRule{4, 8})
	sendMark("restored", "gif0", 4, 8)
	mustIfconfig(t, d, "gif0 -tunneldomain")
	checkRules("-tunneldomain")
	sendMark("-tunneldomain", "gif0", 4, 0)
}
