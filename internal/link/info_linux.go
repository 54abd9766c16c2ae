package link

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Info describes the interface name.
func Info(name string) (LinkInfo, error) {
	link, err := linkByName(name)
	if err != nil {
		return LinkInfo{}, fmt.Errorf("describe %s: %w", name, err)
	}
	attrs := link.Attrs()
	info := LinkInfo{
		Name:     attrs.Name,
		Index:    attrs.Index,
		MTU:      attrs.MTU,
		Up:       attrs.RawFlags&unix.IFF_UP != 0,
		Running:  attrs.RawFlags&unix.IFF_RUNNING != 0,
		Kind:     kind(link),
		MAC:      attrs.HardwareAddr,
		Ethernet: isEthernet(link),
	}
	if attrs.MasterIndex != 0 {
		info.Master = linkName(attrs.MasterIndex)
	}
	return info, nil
}

// kind returns the IFLA_INFO_KIND of link, which vishvananda/netlink turns
// into a type whose Type() is the kind, except for these two.
func kind(link netlink.Link) string {
	switch link.(type) {
	case *netlink.Device: // no IFLA_INFO_KIND
		return ""
	case *netlink.Tuntap:
		return "tun"
	}
	return link.Type()
}

func isEthernet(link netlink.Link) bool {
	return link.Attrs().EncapType == "ether"
}

// linkByName is netlink.LinkByName with an error that names the interface
// and matches unix.ENODEV when it does not exist.
func linkByName(name string) (netlink.Link, error) {
	link, err := netlink.LinkByName(name)
	if errors.As(err, &netlink.LinkNotFoundError{}) {
		return nil, fmt.Errorf("%s does not exist: %w", name, unix.ENODEV)
	}
	return link, err
}
