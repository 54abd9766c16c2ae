package kernel

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"gif/internal/netns/netnstest"
)

// TestCarriesOverBridge: where the underlay address sits on a bridge (the
// veth a port of br0, the address on br0, which has an Ethernet address
// of its own), the kernel plane carries the tunnel. Its ingress program
// runs on the bridge, not on the port: there the tunnel's packets, sent
// to the bridge's address, are not for the port's (PACKET_OTHERHOST), and
// would be passed, and counted again when the bridge passes them up.
func TestCarriesOverBridge(t *testing.T) {
	_, a, b := netnstest.NewPair(t)
	for _, args := range [][]string{
		{"addr", "flush", "dev", "gift0"},
		{"link", "add", "br0", "address", "02:00:00:00:0b:01", "type", "bridge"},
		{"link", "set", "gift0", "master", "br0"},
		{"link", "set", "br0", "up"},
		{"addr", "add", "192.0.2.1/24", "dev", "br0"},
	} {
		if _, err := a.Run(context.Background(), "ip", args...); err != nil {
			t.Fatal(err)
		}
	}
	endA := startPlaneEnd(t, a, tcxAttacher{}, "192.0.2.1", "192.0.2.2", "198.51.100.1", "198.51.100.2")
	endB := startPlaneEnd(t, b, tcxAttacher{}, "192.0.2.2", "192.0.2.1", "198.51.100.2", "198.51.100.1")
	if res, err := a.Ping(context.Background(), "198.51.100.2", "-c", "3", "-i", "0.2"); err != nil || res.Received != 3 {
		t.Fatalf("ping through the kernel planes over the bridge: %+v, %v; a %+v b %+v", res, err, endA.do("report"), endB.do("report"))
	}
	if r := endA.do("report"); r.Gif0.IPackets < 3 || r.Passed[PassNotHost] != 0 {
		t.Errorf("after 3 pings: gif0 %+v, %d passed as not for this host; want 3 in, none passed", r.Gif0, r.Passed[PassNotHost])
	}
	if got := tcxPrograms(t, a, "br0", tcIngress); len(got) != 1 {
		t.Errorf("br0 ingress holds %v, want the plane's program", got)
	}
	if got := tcxPrograms(t, a, "gift0", tcIngress); len(got) != 0 {
		t.Errorf("gift0, a port of br0, holds %v on ingress, want nothing", got)
	}
}

// TestIsUnderlay: tunnels may arrive on an interface that is up, unless it
// is the loopback, a gif's device, or the port of a bridge or a bond
// (they arrive on the master); a VRF's port keeps them.
func TestIsUnderlay(t *testing.T) {
	attrs := func(name string, flags net.Flags, master int) netlink.LinkAttrs {
		return netlink.LinkAttrs{Name: name, Flags: flags, MasterIndex: master}
	}
	vrfPort := &netlink.Veth{LinkAttrs: attrs("eth1", net.FlagUp, 7)}
	vrfPort.Slave = &netlink.VrfSlave{Table: 10}
	bondPort := &netlink.Device{LinkAttrs: attrs("eth2", net.FlagUp, 8)}
	bondPort.Slave = &netlink.BondSlave{}
	for _, c := range []struct {
		link netlink.Link
		want bool
	}{
		{&netlink.Device{LinkAttrs: attrs("eth0", net.FlagUp, 0)}, true},
		{&netlink.Device{LinkAttrs: attrs("eth0", 0, 0)}, false},
		{&netlink.Device{LinkAttrs: attrs("lo", net.FlagUp|net.FlagLoopback, 0)}, false},
		{&netlink.Tuntap{LinkAttrs: attrs("gif0", net.FlagUp, 0)}, false},
		{&netlink.Tuntap{LinkAttrs: attrs("gif1", net.FlagUp, 5)}, false}, // an EtherIP gif in bridge0
		{&netlink.Bridge{LinkAttrs: attrs("br0", net.FlagUp, 0)}, true},
		{&netlink.Bridge{LinkAttrs: attrs("bridge0", net.FlagUp, 0)}, true},
		{&netlink.Veth{LinkAttrs: attrs("veth0", net.FlagUp, 6)}, false}, // a bridge's port
		{bondPort, false},
		{vrfPort, true},
		{&netlink.Bond{LinkAttrs: attrs("bond0", net.FlagUp, 0)}, true},
	} {
		if got := isUnderlay(c.link); got != c.want {
			t.Errorf("isUnderlay(%s %s, master %d, port of %v) = %t, want %t", c.link.Type(), c.link.Attrs().Name, c.link.Attrs().MasterIndex, c.link.Attrs().Slave, got, c.want)
		}
	}
}

// TestFollowAfterOverflow: while the plane is kept from reading the
// interfaces' changes, more of them come than its netlink socket holds;
// the kernel drops the rest and the subscription breaks. The plane
// subscribes again and puts right what it missed: an underlay that went
// down meanwhile loses the program; one added after gets it, even with
// the index of one that went away meanwhile. With each attacher.
func TestFollowAfterOverflow(t *testing.T) {
	for _, kind := range attachKinds {
		t.Run(kind.tc.String(), func(t *testing.T) { testFollowAfterOverflow(t, kind) })
	}
}

func testFollowAfterOverflow(t *testing.T, kind attachKind) {
	_, a, _ := netnstest.NewPair(t)
	ctx := context.Background()
	ip := func(args ...string) {
		t.Helper()
		if _, err := a.Run(ctx, "ip", args...); err != nil {
			t.Fatal(err)
		}
	}
	ip("tuntap", "add", "gif0", "mode", "tun")
	ip("link", "add", "flood0", "type", "veth", "peer", "flood1")
	ip("link", "add", "under1", "up", "type", "veth", "peer", "under2")
	ip("link", "add", "gone1", "up", "type", "veth", "peer", "gone2")
	var goneIndex int
	if err := a.Do(func() error {
		ifc, err := net.InterfaceByName("gone1")
		goneIndex = ifc.Index
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_, stdin, out := planeProcess(t, a, kind.tc)
	waitPrograms(t, kind, a, "under1", tcIngress, 1)
	waitPrograms(t, kind, a, "gone1", tcIngress, 1)
	say := func(command, answer string) {
		t.Helper()
		fmt.Fprintln(stdin, command)
		if !out.Scan() || out.Text() != answer {
			t.Fatalf("plane process: %q to %s, want %q (%v)", out.Text(), command, answer, out.Err())
		}
	}

	say("hold", "held")
	var flood strings.Builder
	for range 1000 {
		flood.WriteString("link set flood0 up\nlink set flood0 down\n")
	}
	batch := filepath.Join(t.TempDir(), "flood")
	if err := os.WriteFile(batch, []byte(flood.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ip("-batch", batch)
	ip("link", "set", "under1", "down")
	ip("link", "del", "gone1")
	say("release", "released")

	ip("link", "add", "under3", "up", "index", fmt.Sprint(goneIndex), "type", "veth", "peer", "under4")
	waitPrograms(t, kind, a, "under3", tcIngress, 1)
	waitPrograms(t, kind, a, "under1", tcIngress, 0)
}
