package integration

import (
	"strings"
	"testing"
)

// TestBridgeUnderlay: where the tunnel's address sits on a bridge (a's
// eth0 a port of br0, which has an Ethernet address of its own), the
// kernel plane carries the tunnel both ways: what arrives is decapsulated
// on the bridge, not handed to the userspace plane as not for this host
// by a program on the port.
func TestBridgeUnderlay(t *testing.T) {
	a, b := newPair(t)
	a.sh("ip", "addr", "flush", "dev", "eth0")
	a.sh("ip", "link", "add", "br0", "address", "02:00:00:00:0b:01", "type", "bridge")
	a.sh("ip", "link", "set", "eth0", "master", "br0")
	a.sh("ip", "link", "set", "br0", "up")
	a.sh("ip", "addr", "add", outerA4+"/24", "dev", "br0")
	tunnelBoth(a, b, 4, 4)
	a.mustPing(innerB4, 2)
	a.wantPlane("gif0", kernelPlane)

	const pings = 5
	before := a.ipipStat("packets? carried in the kernel")
	b.mustPing(innerA4, pings)
	if carried := a.ipipStat("packets? carried in the kernel") - before; carried < 2*pings {
		t.Errorf("a carried %d packets in the kernel for %d pings, want %d: each request in, each reply out", carried, pings, 2*pings)
	}
	if out := a.gif("netstat", "-s", "-p", "ipip"); strings.Contains(out, "not for this host") {
		t.Errorf("a passed packets to the userspace plane as not for this host:\n%s", out)
	}
}
