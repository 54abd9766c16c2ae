package integration

import "testing"

// underlayGRO makes eth0 of n merge what it receives as a NIC does (GRO),
// holding segments up to 100 µs so that the veth, which otherwise hands each
// packet on as it comes, merges runs of them. The kernel then merges the
// TCP segments inside IP-in-IP packets too, and gif receives one outer
// packet holding a TCP super-segment with a partial checksum.
func underlayGRO(t *testing.T, n *node) {
	t.Helper()
	// A veth uses GRO for packets of sockets other than TCP's only while
	// UDP GRO forwarding (or GRO lists) is on.
	n.sh("ethtool", "-K", "eth0", "gro", "on", "rx-udp-gro-forwarding", "on")
	// `ip netns exec` mounts the namespace's own /sys; a thread that only
	// entered the namespace would see the host's.
	n.sh("sh", "-c", "echo 100000 > /sys/class/net/eth0/gro_flush_timeout")
}

// TestUnderlayGRO carries TCP through each IP mode, on each data plane,
// over an underlay that merges received segments: the data arrives intact.
// The userspace plane must have received merged outer packets (larger than
// the link's MTU), or the test proves nothing about them; the kernel plane
// decapsulates them in gif_ingress and counts each segment they hold.
func TestUnderlayGRO(t *testing.T) {
	for _, plane := range planes {
		for _, m := range modes {
			t.Run(plane+"/"+m.name, func(t *testing.T) {
				a, b := newPairOn(t, plane)
				underlayGRO(t, a)
				underlayGRO(t, b)
				tunnelBoth(a, b, m.outer, m.inner)
				b.wantPlane("gif0", plane)
				dstB, dstA := innerB4, innerA4
				if m.inner == 6 {
					dstB, dstA = innerB6, innerA6
				}
				a.mustPing(dstB, 2)
				before := b.status("gif0").Stats
				transfer(t, a, b, dstB)
				transfer(t, b, a, dstA)
				after := b.status("gif0").Stats
				packets, bytes := after.IPackets-before.IPackets, after.IBytes-before.IBytes
				if packets == 0 {
					t.Fatalf("b counted no packet received through gif0")
				}
				if plane == userspacePlane && bytes/packets <= 1500 {
					t.Fatalf("b received %d packets of %d bytes through gif0: no merged packets, so the test proves nothing", packets, bytes)
				}
				t.Logf("b received %d packets, %d bytes on average", packets, bytes/packets)
			})
		}
	}
}
