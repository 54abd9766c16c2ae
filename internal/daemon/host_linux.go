package daemon

import (
	"net"
	"net/netip"

	"gif/internal/link"
)

// LinuxHost drives the Linux network namespace the daemon runs in.
type LinuxHost struct{}

func (LinuxHost) CreateDevice(name string, mtu int, ether bool) (link.Device, error) {
	if ether {
		return link.CreateTAP(name, mtu)
	}
	return link.CreateTUN(name, mtu)
}

func (LinuxHost) SetUp(name string, up bool) error  { return link.SetUp(name, up) }
func (LinuxHost) SetMTU(name string, mtu int) error { return link.SetMTU(name, mtu) }
func (LinuxHost) SetLLAddr(name string, mac net.HardwareAddr) error {
	return link.SetLLAddr(name, mac)
}
func (LinuxHost) SetIPv6Disabled(name string, off bool) error { return link.SetIPv6Disabled(name, off) }

func (LinuxHost) SetAddr(name string, a link.Addr, on bool) error {
	if on {
		return link.AddAddr(name, a)
	}
	return link.DelAddr(name, a)
}

func (LinuxHost) Addrs(name string) ([]link.Addr, error) {
	if name == "" {
		return link.LocalAddrs()
	}
	return link.Addrs(name)
}

func (LinuxHost) Info(name string) (link.LinkInfo, error) { return link.Info(name) }

func (LinuxHost) SetBridge(name string, on bool) error {
	if on {
		return link.CreateBridge(name)
	}
	return link.DeleteBridge(name)
}

func (LinuxHost) SetMaster(member, bridge string) error {
	if bridge == "" {
		return link.SetNoMaster(member)
	}
	return link.SetMaster(member, bridge)
}

func (LinuxHost) LinkLocal() (netip.Addr, error) { return link.LinkLocal() }

func (LinuxHost) SetDomainRules(family, domain int, on bool) error {
	if on {
		return link.AddDomainRules(family, domain)
	}
	return link.DelDomainRules(family, domain)
}
