package daemon

import (
	"net"
	"net/netip"

	"gif/internal/link"
)

// Host is the operating system the daemon drives: interfaces, addresses
// and policy rules. Where Linux has one operation with a parameter (ip
// addr add and del, ip link add and del of a bridge, ip link set master
// and nomaster), so has Host. The Linux implementation is in
// host_linux.go; tests may use a fake.
type Host interface {
	// CreateDevice creates the device of a gif called name: a TAP when
	// it carries Ethernet frames (ether), a TUN otherwise.
	CreateDevice(name string, mtu int, ether bool) (link.Device, error)
	SetUp(name string, up bool) error
	SetMTU(name string, mtu int) error
	SetLLAddr(name string, mac net.HardwareAddr) error
	SetIPv6Disabled(name string, disabled bool) error
	// SetAddr adds a to the interface name (on) or removes it.
	SetAddr(name string, a link.Addr, on bool) error
	// Addrs returns the addresses of the interface name, or of every
	// interface when name is empty.
	Addrs(name string) ([]link.Addr, error)
	Info(name string) (link.LinkInfo, error)
	// SetBridge creates the Linux bridge name (on) or deletes it.
	SetBridge(name string, on bool) error
	// SetMaster makes member a port of bridge, or of none when bridge is
	// empty.
	SetMaster(member, bridge string) error
	// LinkLocal returns the IPv6 link-local address gif gives its
	// interfaces (link.LinkLocal).
	LinkLocal() (netip.Addr, error)
	// SetDomainRules adds (on) or removes the policy rules that route
	// outer packets of family (4 or 6) marked domain by routing table
	// domain (link.AddDomainRules). Both are idempotent.
	SetDomainRules(family, domain int, on bool) error
}
