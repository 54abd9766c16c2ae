package link

import (
	"context"
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

func TestAddrs(t *testing.T) {
	inNewNetns(t)
	dev := newTUN(t, "giftest0", 1280)
	name := dev.Name()
	addrs := []Addr{
		{Prefix: netip.MustParsePrefix("192.0.2.1/24")},
		{Prefix: netip.MustParsePrefix("198.51.100.1/32"), Peer: netip.MustParseAddr("198.51.100.2")},
		{Prefix: netip.MustParsePrefix("2001:db8:1::1/64")},
		{Prefix: netip.MustParsePrefix("2001:db8:2::1/128"), Peer: netip.MustParseAddr("2001:db8:2::2")},
		{Prefix: netip.MustParsePrefix("fe80::1/64")},
	}
	// Added while down, as gif may: the IPv6 ones must still be usable at
	// once, and the routes to the peers must appear when it comes up.
	for _, a := range addrs {
		mustNoErr(t, AddAddr(name, a))
	}
	got, err := Addrs(name)
	mustNoErr(t, err)
	if !sameAddrs(got, addrs) {
		t.Errorf("Addrs() = %v, want %v", got, addrs)
	}
	link, err := netlink.LinkByName(name)
	mustNoErr(t, err)
	list, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	mustNoErr(t, err)
	for _, a := range list {
		if a.Flags&unix.IFA_F_TENTATIVE != 0 {
			t.Errorf("%s is tentative", a.IPNet)
		}
		if a.Broadcast != nil {
			t.Errorf("%s has broadcast address %s", a.IPNet, a.Broadcast)
		}
	}

	mustNoErr(t, SetUp(name, true))
	for _, peer := range []string{"198.51.100.2", "2001:db8:2::2"} {
		routes, err := netlink.RouteGet(net.ParseIP(peer))
		if err != nil || routes[0].LinkIndex != link.Attrs().Index || routes[0].Gw != nil {
			t.Errorf("route to %s = %v, %v; want one through %s", peer, routes, err, name)
		}
	}
	// Linux would remove the IPv6 addresses, but removes the link-local one
	// (the last) anyway.
	mustNoErr(t, SetUp(name, false))
	mustNoErr(t, SetUp(name, true))
	if got, err := Addrs(name); err != nil || !sameAddrs(got, addrs[:len(addrs)-1]) {
		t.Errorf("Addrs() after down and up = %v, %v; want %v", got, err, addrs[:len(addrs)-1])
	}
	mustNoErr(t, AddAddr(name, addrs[len(addrs)-1]))

	local, err := LocalAddrs()
	mustNoErr(t, err)
	has := func(addr netip.Addr) bool {
		return slices.ContainsFunc(local, func(l Addr) bool { return l.Prefix.Addr() == addr })
	}
	for _, a := range addrs {
		if !has(a.Prefix.Addr()) {
			t.Errorf("LocalAddrs() = %v, missing %s", local, a.Prefix.Addr())
		}
		if a.Peer.IsValid() && has(a.Peer) {
			t.Errorf("LocalAddrs() = %v, holds the peer %s", local, a.Peer)
		}
	}

	for _, a := range addrs {
		mustNoErr(t, DelAddr(name, a))
	}
	if got, err := Addrs(name); err != nil || len(got) != 0 {
		t.Errorf("Addrs() after deleting all = %v, %v; want none", got, err)
	}
	if routes, err := netlink.RouteGet(net.ParseIP("2001:db8:2::2")); err == nil {
		t.Errorf("route to the deleted IPv6 peer remains: %v", routes)
	}
}

func sameAddrs(a, b []Addr) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(x Addr) bool { return !slices.Contains(b, x) })
}

func TestAddrErrors(t *testing.T) {
	inNewNetns(t)
	dev := newTUN(t, "giftest0", 1280)
	for _, tt := range []struct {
		a    Addr
		want string
	}{
		{Addr{}, "invalid prefix"},
		{Addr{netip.MustParsePrefix("192.0.2.1/32"), netip.MustParseAddr("2001:db8::2")}, "family"},
	} {
		err := AddAddr(dev.Name(), tt.a)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "giftest0") {
			t.Errorf("AddAddr(%v) = %v, want an error about %q naming giftest0", tt.a, err, tt.want)
		}
	}
	a := Addr{Prefix: netip.MustParsePrefix("192.0.2.1/32")}
	if err := DelAddr(dev.Name(), a); err == nil {
		t.Error("DelAddr of an absent address succeeded")
	}
	for _, err := range []error{
		AddAddr("giftest9", a), SetMTU("giftest9", 1280), SetUp("giftest9", true), Delete("giftest9"),
	} {
		if err == nil || !strings.Contains(err.Error(), "giftest9") {
			t.Errorf("call on a missing interface: err = %v, want one naming giftest9", err)
		}
	}
	if Exists("giftest9") {
		t.Error("Exists(giftest9) = true")
	}
}

func TestSetMTU(t *testing.T) {
	inNewNetns(t)
	dev := newTUN(t, "giftest0", 1280)
	mustNoErr(t, SetMTU(dev.Name(), 1480))
	link, err := netlink.LinkByName(dev.Name())
	mustNoErr(t, err)
	if link.Attrs().MTU != 1480 {
		t.Errorf("MTU = %d, want 1480", link.Attrs().MTU)
	}
}

func TestSetLLAddr(t *testing.T) {
	inNewNetns(t)
	dev, err := CreateTAP("giftest0", 1500)
	mustNoErr(t, err)
	t.Cleanup(func() { dev.Close() })
	mustNoErr(t, SetUp(dev.Name(), true))
	// While up, as a bridged gif's TAP is when lladdr changes it.
	mac := net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x53, 0x01}
	mustNoErr(t, SetLLAddr(dev.Name(), mac))
	info, err := Info(dev.Name())
	mustNoErr(t, err)
	if info.MAC.String() != mac.String() {
		t.Errorf("MAC = %s, want %s", info.MAC, mac)
	}
	if err := SetLLAddr(dev.Name(), net.HardwareAddr{0x01, 0, 0x5e, 0, 0, 1}); err == nil || !strings.Contains(err.Error(), dev.Name()) {
		t.Errorf("SetLLAddr(multicast) = %v, want an error naming %s", err, dev.Name())
	}
}

func TestSetIPv6Disabled(t *testing.T) {
	inNewNetns(t)
	dev := newTUN(t, "giftest0", 1280)
	name := dev.Name()
	mustNoErr(t, SetUp(name, true))
	v6 := Addr{Prefix: netip.MustParsePrefix("2001:db8::1/64")}
	mustNoErr(t, AddAddr(name, v6))

	mustNoErr(t, SetIPv6Disabled(name, true))
	// The file exists only in the test's namespace: this also shows that
	// /proc/sys follows the thread.
	if b, err := os.ReadFile("/proc/sys/net/ipv6/conf/giftest0/disable_ipv6"); err != nil || string(b) != "1\n" {
		t.Errorf("disable_ipv6 = %q, %v; want 1", b, err)
	}
	if got, _ := Addrs(name); len(got) != 0 {
		t.Errorf("Addrs() with IPv6 disabled = %v, want none", got)
	}
	if err := AddAddr(name, v6); err == nil {
		t.Error("AddAddr of IPv6 succeeded with IPv6 disabled")
	}

	mustNoErr(t, SetIPv6Disabled(name, false))
	mustNoErr(t, AddAddr(name, v6))
	// No link-local address either after IPv6 comes back.
	if got, _ := Addrs(name); !sameAddrs(got, []Addr{v6}) {
		t.Errorf("Addrs() with IPv6 enabled again = %v, want %v", got, []Addr{v6})
	}

	for _, bad := range []string{"", "..", "../all", "a/b", "sixteen-bytes-ok"} {
		if err := SetIPv6Disabled(bad, true); err == nil {
			t.Errorf("SetIPv6Disabled(%q) succeeded", bad)
		}
	}
}

func TestDelete(t *testing.T) {
	inNewNetns(t)
	// A persistent TUN that nobody holds, like one a crashed process left.
	dev := newTUN(t, "giftest0", 1280)
	t.Cleanup(func() {
		if Exists("giftest0") {
			Delete("giftest0")
		}
	})
	mustNoErr(t, dev.setPersist(true))
	mustNoErr(t, dev.Close())
	if !Exists("giftest0") {
		t.Fatal("the persistent device is gone after Close")
	}
	mustNoErr(t, Delete("giftest0"))
	if Exists("giftest0") {
		t.Error("the device exists after Delete")
	}
}

func (t *tunDevice) setPersist(on bool) error {
	conn, err := t.file.SyscallConn()
	if err != nil {
		return err
	}
	var ioctlErr error
	conn.Control(func(fd uintptr) {
		var v int
		if on {
			v = 1
		}
		ioctlErr = unix.IoctlSetInt(int(fd), unix.TUNSETPERSIST, v)
	})
	return ioctlErr
}

func TestWatchAddrs(t *testing.T) {
	inNewNetns(t)
	dev := newTUN(t, "giftest0", 1280)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changes := make(chan struct{}, 1000)
	mustNoErr(t, WatchAddrs(ctx, func() { changes <- struct{}{} }))

	expectChange := func(what string) {
		t.Helper()
		select {
		case <-changes:
		case <-time.After(3 * time.Second):
			t.Fatalf("no change reported after %s", what)
		}
		for len(changes) > 0 {
			<-changes
		}
	}
	// An address added after the caller listed them and before the
	// subscription is not missed.
	expectChange("subscribing")
	a := Addr{Prefix: netip.MustParsePrefix("192.0.2.1/32")}
	mustNoErr(t, AddAddr(dev.Name(), a))
	expectChange("adding an address")
	mustNoErr(t, DelAddr(dev.Name(), a))
	expectChange("deleting an address")

	cancel()
	time.Sleep(100 * time.Millisecond)
	mustNoErr(t, AddAddr(dev.Name(), a))
	select {
	case <-changes:
		t.Error("a change was reported after ctx ended")
	case <-time.After(300 * time.Millisecond):
	}
}

// TestWatchAddrsOverflow lets more updates pile up than the netlink socket
// holds; the kernel then drops some, the subscription breaks and WatchAddrs
// must subscribe again.
func TestWatchAddrsOverflow(t *testing.T) {
	inNewNetns(t)
	dev := newTUN(t, "giftest0", 1280)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	release := make(chan struct{})
	changes := make(chan struct{}, 10000)
	mustNoErr(t, WatchAddrs(ctx, func() {
		<-release
		changes <- struct{}{}
	}))
	const burst = 2000
	for i := range burst {
		a := Addr{Prefix: netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)}), 128)}
		mustNoErr(t, AddAddr(dev.Name(), a))
	}
	close(release)
	waitFor(t, "the burst to be reported", func() bool {
		n := len(changes)
		time.Sleep(50 * time.Millisecond)
		return n > 0 && len(changes) == n
	})
	t.Logf("%d changes reported for %d additions", len(changes), burst)
	for len(changes) > 0 {
		<-changes
	}
	mustNoErr(t, AddAddr(dev.Name(), Addr{Prefix: netip.MustParsePrefix("192.0.2.1/32")}))
	select {
	case <-changes:
	case <-time.After(3 * time.Second):
		t.Fatal("no change reported after the burst")
	}
}

func TestLinkLocal(t *testing.T) {
	inNewNetns(t)
	hostname, err := os.Hostname()
	mustNoErr(t, err)
	// Only lo, which has no Ethernet address.
	got, err := LinkLocal()
	if want := LinkLocalFrom(nil, hostname); err != nil || got != want {
		t.Errorf("LinkLocal() with no Ethernet = %v, %v; want %v from the host name", got, err, want)
	}

	// The first by index wins, whatever the order of the addresses.
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "giftest0"}, PeerName: "giftest1"}
	mustNoErr(t, netlink.LinkAdd(veth))
	t.Cleanup(func() { Delete("giftest0") })
	names := []string{"giftest0", "giftest1"}
	slices.SortFunc(names, func(a, b string) int {
		ia, _ := Index(a)
		ib, _ := Index(b)
		return ia - ib
	})
	setMAC := func(name string, mac net.HardwareAddr) {
		link, err := netlink.LinkByName(name)
		mustNoErr(t, err)
		mustNoErr(t, netlink.LinkSetHardwareAddr(link, mac))
	}
	setMAC(names[0], net.HardwareAddr{0x02, 0, 0x5e, 0, 0x53, 0x02})
	setMAC(names[1], net.HardwareAddr{0x02, 0, 0x5e, 0, 0x53, 0x01})
	got, err = LinkLocal()
	if want := netip.MustParseAddr("fe80::5eff:fe00:5302"); err != nil || got != want {
		t.Errorf("LinkLocal() = %v, %v; want %v from %s, the first interface", got, err, want, names[0])
	}
}

// TestAddAddrSkipsDAD uses a veth, which unlike a TUN does neighbour
// discovery: an IPv6 address added while it is down would stay tentative.
func TestAddAddrSkipsDAD(t *testing.T) {
	inNewNetns(t)
	mustNoErr(t, netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "giftest0"}, PeerName: "giftest1"}))
	t.Cleanup(func() { Delete("giftest0") })
	mustNoErr(t, AddAddr("giftest0", Addr{Prefix: netip.MustParsePrefix("2001:db8::1/64")}))
	link, err := netlink.LinkByName("giftest0")
	mustNoErr(t, err)
	list, err := netlink.AddrList(link, netlink.FAMILY_V6)
	if err != nil || len(list) != 1 || list[0].Flags&unix.IFA_F_TENTATIVE != 0 || list[0].Flags&unix.IFA_F_NODAD == 0 {
		t.Errorf("addresses = %+v, %v; want one with NODAD and not tentative", list, err)
	}
}
