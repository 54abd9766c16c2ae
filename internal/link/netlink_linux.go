package link

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// SetUp brings the interface name up or down.
//
// Going down removes the IPv6 link-local addresses (Linux keeps the others
// only on devices from CreateTUN, which set keep_addr_on_down); add them
// again after coming up. Coming up, Linux reinstalls the routes of the IPv6
// addresses a moment after SetUp returns, except the route to the peer of an
// address added while the interface was down: SetUp adds that one. (Linux
// adds it when duplicate address detection ends, which for such an address
// is at once, while the route cannot be added.)
func SetUp(name string, up bool) error {
	state, set := "down", netlink.LinkSetDown
	if up {
		state, set = "up", netlink.LinkSetUp
	}
	link, err := netlink.LinkByName(name)
	if err == nil {
		err = set(link)
	}
	if err == nil && up {
		err = addIPv6PeerRoutes(link)
	}
	if err != nil {
		return fmt.Errorf("set %s %s: %w", name, state, err)
	}
	return nil
}

// addIPv6PeerRoutes adds the routes the kernel gives the peers of IPv6
// addresses (addrconf_prefix_route: main table, metric 256, proto kernel),
// which the kernel also removes with the address.
func addIPv6PeerRoutes(link netlink.Link) error {
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V6)
	if err != nil {
		return err
	}
	for _, addr := range addrs {
		if addr.Peer == nil {
			continue
		}
		err := netlink.RouteAdd(&netlink.Route{
			LinkIndex: link.Attrs().Index,
			Dst:       &net.IPNet{IP: addr.Peer.IP, Mask: net.CIDRMask(128, 128)},
			Protocol:  unix.RTPROT_KERNEL,
			Priority:  256,
		})
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("add route to %s: %w", addr.Peer.IP, err)
		}
	}
	return nil
}

// SetMTU sets the MTU of the interface name.
func SetMTU(name string, mtu int) error {
	link, err := netlink.LinkByName(name)
	if err == nil {
		err = netlink.LinkSetMTU(link, mtu)
	}
	if err != nil {
		return fmt.Errorf("set mtu of %s to %d: %w", name, mtu, err)
	}
	return nil
}

// SetLLAddr sets the Ethernet address of the interface name. A TAP device
// takes a new one while it is up; a bridge whose address follows its ports'
// (no address of its own set) takes it too if it is now the smallest.
func SetLLAddr(name string, mac net.HardwareAddr) error {
	link, err := netlink.LinkByName(name)
	if err == nil {
		err = netlink.LinkSetHardwareAddr(link, mac)
	}
	if err != nil {
		return fmt.Errorf("set lladdr of %s to %s: %w", name, mac, err)
	}
	return nil
}

// AddAddr adds a to the interface name. IPv6 addresses skip duplicate
// address detection (IFA_F_NODAD), so they are usable at once, even while
// the interface is down. IPv4 addresses get no broadcast address.
func AddAddr(name string, a Addr) error {
	if err := changeAddr(name, a, netlink.AddrAdd); err != nil {
		return fmt.Errorf("add address %s to %s: %w", fmtAddr(a), name, err)
	}
	return nil
}

// DelAddr removes a, as Addrs reports it, from the interface name.
func DelAddr(name string, a Addr) error {
	if err := changeAddr(name, a, netlink.AddrDel); err != nil {
		return fmt.Errorf("delete address %s from %s: %w", fmtAddr(a), name, err)
	}
	return nil
}

func changeAddr(name string, a Addr, change func(netlink.Link, *netlink.Addr) error) error {
	addr, err := toNetlink(a)
	if err != nil {
		return err
	}
	link, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	return change(link, addr)
}

// toNetlink converts a for vishvananda/netlink, which sends the local
// address as IFA_LOCAL, Peer (or else the local address again) as
// IFA_ADDRESS, and the prefix length of Peer if it is set.
func toNetlink(a Addr) (*netlink.Addr, error) {
	if !a.Prefix.IsValid() {
		return nil, fmt.Errorf("invalid prefix")
	}
	local := a.Prefix.Addr()
	if a.Peer.IsValid() && a.Peer.Is4() != local.Is4() {
		return nil, fmt.Errorf("peer %s is not of the family of %s", a.Peer, local)
	}
	bits := local.BitLen()
	addr := &netlink.Addr{
		IPNet: &net.IPNet{IP: local.AsSlice(), Mask: net.CIDRMask(a.Prefix.Bits(), bits)},
		// The zero address stops vishvananda/netlink from adding a broadcast
		// address, which means nothing on a point-to-point link.
		Broadcast: net.IPv4zero,
	}
	if a.Peer.IsValid() {
		addr.Peer = &net.IPNet{IP: a.Peer.AsSlice(), Mask: addr.Mask}
		addr.Mask = net.CIDRMask(bits, bits)
	}
	if local.Is6() {
		addr.Flags = unix.IFA_F_NODAD
	}
	return addr, nil
}

func fmtAddr(a Addr) string {
	if a.Peer.IsValid() {
		return fmt.Sprintf("%s peer %s", a.Prefix.Addr(), netip.PrefixFrom(a.Peer, a.Prefix.Bits()))
	}
	return a.Prefix.String()
}

// Addrs returns the IPv4 and IPv6 addresses of the interface name,
// link-local ones included.
func Addrs(name string) ([]Addr, error) {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s: %w", name, err)
	}
	list, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s: %w", name, err)
	}
	addrs := make([]Addr, 0, len(list))
	for _, addr := range list {
		addrs = append(addrs, fromNetlink(addr))
	}
	return addrs, nil
}

// fromNetlink converts addr from vishvananda/netlink, which puts the local
// address in IPNet and, on a point-to-point address, the peer and the prefix
// length in Peer.
func fromNetlink(addr netlink.Addr) Addr {
	local := ipAddr(addr.IP)
	if addr.Peer == nil {
		ones, _ := addr.Mask.Size()
		return Addr{Prefix: netip.PrefixFrom(local, ones)}
	}
	ones, _ := addr.Peer.Mask.Size()
	return Addr{Prefix: netip.PrefixFrom(local, ones), Peer: ipAddr(addr.Peer.IP)}
}

func ipAddr(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

// LocalAddrs returns every address configured on an interface in this
// network namespace, as Addrs returns one interface's.
func LocalAddrs() ([]Addr, error) {
	list, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	// An address that changes during the dump interrupts it; while many
	// change at once (gif netstart), ask again.
	for try := 1; errors.Is(err, netlink.ErrDumpInterrupted) && try < dumpTries; try++ {
		list, err = netlink.AddrList(nil, netlink.FAMILY_ALL)
	}
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	addrs := make([]Addr, 0, len(list))
	for _, addr := range list {
		addrs = append(addrs, fromNetlink(addr))
	}
	return addrs, nil
}

// SetIPv6Disabled sets net.ipv6.conf.NAME.disable_ipv6. Disabling IPv6
// removes every IPv6 address of the interface.
func SetIPv6Disabled(name string, disabled bool) error {
	if err := setIPv6Conf(name, "disable_ipv6", disabled); err != nil {
		return fmt.Errorf("set disable_ipv6 of %s: %w", name, err)
	}
	return nil
}

// setIPv6Conf sets the boolean sysctl net.ipv6.conf.NAME.KEY.
func setIPv6Conf(name, key string, on bool) error {
	if !validName(name) {
		return fmt.Errorf("invalid interface name %q", name)
	}
	value := "0\n"
	if on {
		value = "1\n"
	}
	// /proc/sys/net shows the network namespace of the calling thread.
	return os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/"+key, []byte(value), 0)
}

// validName reports whether Linux would accept name for an interface
// (dev_valid_name), which also keeps it from leaving the sysctl directory.
func validName(name string) bool {
	return name != "" && len(name) < unix.IFNAMSIZ && name != "." && name != ".." &&
		!strings.ContainsFunc(name, func(r rune) bool {
			return r == '/' || r == ':' || r == ' ' || (r >= '\t' && r <= '\r')
		})
}

// Index returns the interface index of name.
func Index(name string) (int, error) {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return 0, fmt.Errorf("look up %s: %w", name, err)
	}
	return link.Attrs().Index, nil
}

// Exists reports whether an interface called name exists.
func Exists(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}

// Delete removes the interface name, such as one a crashed gif left behind.
func Delete(name string) error {
	link, err := netlink.LinkByName(name)
	if err == nil {
		err = netlink.LinkDel(link)
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// LinkStats returns the kernel's counters of the interface name.
func LinkStats(name string) (Stats, error) {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return Stats{}, fmt.Errorf("read counters of %s: %w", name, err)
	}
	s := link.Attrs().Statistics
	if s == nil {
		return Stats{}, fmt.Errorf("read counters of %s: the kernel sent none", name)
	}
	return Stats{
		RxPackets: s.RxPackets, RxBytes: s.RxBytes, TxPackets: s.TxPackets, TxBytes: s.TxBytes,
		RxErrors: s.RxErrors, TxErrors: s.TxErrors, RxDropped: s.RxDropped, TxDropped: s.TxDropped,
	}, nil
}

// LinkLocal returns the link-local address gif gives its interfaces (see
// LinkLocalFrom), from the Ethernet interfaces of this network namespace and
// the host name.
func LinkLocal() (netip.Addr, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("list interfaces: %w", err)
	}
	slices.SortFunc(links, func(a, b netlink.Link) int { return a.Attrs().Index - b.Attrs().Index })
	var macs []net.HardwareAddr
	for _, l := range links {
		if l.Attrs().EncapType == "ether" {
			macs = append(macs, l.Attrs().HardwareAddr)
		}
	}
	hostname, err := os.Hostname()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("read host name: %w", err)
	}
	return LinkLocalFrom(macs, hostname), nil
}

// dumpTries is how many times LocalAddrs asks for a dump that changes
// interrupt.
const dumpTries = 5

// addrSettle is how long WatchAddrs waits for more changes after one, so
// that a burst of them (gif netstart giving a thousand interfaces their
// addresses) costs one call of changed rather than one each.
const addrSettle = 20 * time.Millisecond

// drain takes the updates that come until none has for addrSettle, and
// reports whether the channel closed meanwhile.
func drain(updates <-chan netlink.AddrUpdate) (closed bool) {
	settle := time.NewTimer(addrSettle)
	defer settle.Stop()
	for {
		select {
		case _, ok := <-updates:
			if !ok {
				return true
			}
			settle.Reset(addrSettle)
		case <-settle.C:
			return false
		}
	}
}

// WatchAddrs subscribes to address changes in the network namespace of the
// calling thread and returns. Then, until ctx ends, it calls changed once at
// first, for what changed before the subscription (after the caller listed
// the addresses), and once addresses have been added or removed (after a
// burst settles), one call at a time. If the subscription breaks (the kernel
// drops updates when they come faster than they are read), WatchAddrs
// subscribes again and calls changed, since it may have missed one.
func WatchAddrs(ctx context.Context, changed func()) error {
	ns, err := netns.Get()
	if err != nil {
		return fmt.Errorf("watch addresses: %w", err)
	}
	updates, stop, err := subscribeAddrs(ns)
	if err != nil {
		ns.Close()
		return fmt.Errorf("watch addresses: %w", err)
	}
	go func() {
		defer ns.Close()
		changed()
		for {
			select {
			case _, ok := <-updates:
				if !ok || drain(updates) {
					close(stop) // ends the goroutine that waits to close the socket
					updates, stop = Resubscribe(ctx.Done(), func() (chan netlink.AddrUpdate, chan struct{}, error) {
						return subscribeAddrs(ns)
					})
					if updates == nil {
						return
					}
				}
				changed()
			case <-ctx.Done():
				close(stop)
				for range updates {
					// Let the receiving goroutine of netlink finish.
				}
				return
			}
		}
	}()
	return nil
}

// subscribeAddrs opens a socket for the address changes of namespace ns.
// It enters ns (setns, which takes CAP_SYS_ADMIN even to enter the
// namespace a thread is in) only when this thread is elsewhere: a daemon
// without CAP_SYS_ADMIN, as in a container, still follows its addresses.
func subscribeAddrs(ns netns.NsHandle) (chan netlink.AddrUpdate, chan struct{}, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var opts netlink.AddrSubscribeOptions
	here, err := netns.Get()
	if err == nil {
		defer here.Close()
	}
	if err != nil || !here.Equal(ns) {
		opts.Namespace = &ns
	}
	updates, stop := make(chan netlink.AddrUpdate), make(chan struct{})
	err = netlink.AddrSubscribeWithOptions(updates, stop, opts)
	if err != nil {
		return nil, nil, err
	}
	return updates, stop, nil
}

// Resubscribe calls subscribe, which returns a netlink subscription's
// updates and the channel that ends it, once a second until it works, and
// returns what it returned; or nil ones when done closes first.
func Resubscribe[U any](done <-chan struct{}, subscribe func() (chan U, chan struct{}, error)) (chan U, chan struct{}) {
	retry := time.NewTicker(time.Second)
	defer retry.Stop()
	for {
		updates, stop, err := subscribe()
		if err == nil {
			return updates, stop
		}
		select {
		case <-retry.C:
		case <-done:
			return nil, nil
		}
	}
}
