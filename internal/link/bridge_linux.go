package link

import (
	"errors"
	"fmt"
	"slices"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// CreateBridge creates the Linux bridge name, down; SetUp and SetMTU work
// on it. It fails if name exists. Like an OpenBSD bridge it has no IP
// address, not even an IPv6 link-local one, and floods multicast to every
// member instead of following the IGMP and MLD reports it sees (multicast
// snooping off).
func CreateBridge(name string) error {
	snooping := false
	err := netlink.LinkAdd(&netlink.Bridge{
		LinkAttrs:         netlink.LinkAttrs{Name: name},
		MulticastSnooping: &snooping,
	})
	if err != nil {
		return fmt.Errorf("create bridge %s: %w", name, err)
	}
	link, err := netlink.LinkByName(name)
	if err == nil {
		err = netlink.LinkSetIP6AddrGenMode(link, nl.IN6_ADDR_GEN_MODE_NONE)
		if errors.Is(err, unix.EAFNOSUPPORT) { // no IPv6 in the kernel
			err = nil
		}
	}
	if err != nil {
		if link != nil {
			netlink.LinkDel(link)
		}
		return fmt.Errorf("create bridge %s: turn off IPv6 address generation: %w", name, err)
	}
	return nil
}

// DeleteBridge removes the bridge name; its members leave it.
func DeleteBridge(name string) error {
	br, err := bridgeByName(name)
	if err == nil {
		err = netlink.LinkDel(br)
	}
	if err != nil {
		return fmt.Errorf("delete bridge %s: %w", name, err)
	}
	return nil
}

// SetMaster makes the Ethernet interface member a member of bridge. It fails with an error matching unix.EEXIST if
// member is in bridge already, and unix.EBUSY if it is in another bridge
// or enslaved to anything else, as OpenBSD's bridge does; unix.ENODEV if
// either does not exist.
//
// Linux gives a bridge the smallest MTU of its members (1500 while it has
// none) whenever a member joins, leaves or changes its MTU, until the
// bridge's own MTU is set with SetMTU: from then on it keeps that one, even
// above a member's. It forwards a frame to a member only if the frame fits
// that member's MTU (plus the Ethernet header and a VLAN tag), and drops it
// silently otherwise. So the daemon must create the TAP of a bridged gif
// with the MTU of the LAN, 1500, not gif's 1280, and let the outer packets
// fragment: a 1500-byte TAP and a 1500-byte eth1 then make a 1500-byte
// bridge on their own, where a 1280-byte TAP would drop the LAN's full-size
// frames.
func SetMaster(member, bridge string) error {
	if err := setMaster(member, bridge); err != nil {
		return fmt.Errorf("add %s to bridge %s: %w", member, bridge, err)
	}
	return nil
}

func setMaster(member, bridge string) error {
	br, err := bridgeByName(bridge)
	if err != nil {
		return err
	}
	link, err := linkByName(member)
	if err != nil {
		return err
	}
	if _, ok := link.(*netlink.Bridge); ok {
		return fmt.Errorf("%s is a bridge itself", member)
	}
	if !isEthernet(link) {
		return fmt.Errorf("%s is not an Ethernet interface (link type %s)", member, link.Attrs().EncapType)
	}
	switch master := link.Attrs().MasterIndex; master {
	case 0:
	case br.Attrs().Index:
		return fmt.Errorf("%s is a member already: %w", member, unix.EEXIST)
	default:
		return fmt.Errorf("%s belongs to %s: %w", member, linkName(master), unix.EBUSY)
	}
	return netlink.LinkSetMasterByIndex(link, br.Attrs().Index)
}

// SetNoMaster takes member out of its bridge. It does nothing if member is
// in no bridge, and fails if it is enslaved to something else, a bond say.
func SetNoMaster(member string) error {
	if err := setNoMaster(member); err != nil {
		return fmt.Errorf("remove %s from its bridge: %w", member, err)
	}
	return nil
}

func setNoMaster(member string) error {
	link, err := linkByName(member)
	if err != nil {
		return err
	}
	index := link.Attrs().MasterIndex
	if index == 0 {
		return nil
	}
	master, err := netlink.LinkByIndex(index)
	if err != nil {
		return err
	}
	if _, ok := master.(*netlink.Bridge); !ok {
		return fmt.Errorf("%s belongs to %s, which is not a bridge", member, master.Attrs().Name)
	}
	return netlink.LinkSetNoMaster(link)
}

// BridgeMembers returns the names of the members of bridge, by interface
// index.
func BridgeMembers(bridge string) ([]string, error) {
	br, err := bridgeByName(bridge)
	if err != nil {
		return nil, fmt.Errorf("list members of %s: %w", bridge, err)
	}
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list members of %s: %w", bridge, err)
	}
	slices.SortFunc(links, func(a, b netlink.Link) int { return a.Attrs().Index - b.Attrs().Index })
	var members []string
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			members = append(members, l.Attrs().Name)
		}
	}
	return members, nil
}

// bridgeByName looks up the bridge name, and fails if name is some other
// kind of interface.
func bridgeByName(name string) (*netlink.Bridge, error) {
	link, err := linkByName(name)
	if err != nil {
		return nil, err
	}
	br, ok := link.(*netlink.Bridge)
	if !ok {
		return nil, fmt.Errorf("%s is not a bridge", name)
	}
	return br, nil
}

// linkName returns the name of the interface with the given index, or the
// index itself if it cannot.
func linkName(index int) string {
	link, err := netlink.LinkByIndex(index)
	if err != nil {
		return fmt.Sprintf("interface %d", index)
	}
	return link.Attrs().Name
}
