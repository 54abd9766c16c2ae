package daemon

import (
	"context"
	"net"
	"net/netip"

	"gif/internal/link"
)

// LinuxHost drives the Linux network namespace the daemon runs in.
type LinuxHost struct{}

func (LinuxHost) CreateTUN(name string, mtu int) (link.Device, error) {
	return link.CreateTUN(name, mtu)
}
func (LinuxHost) CreateTAP(name string, mtu int) (link.Device, error) {
	return link.CreateTAP(name, mtu)
}
func (LinuxHost) Addrs(name string) ([]link.Addr, error)  { return link.Addrs(name) }
func (LinuxHost) Info(name string) (link.LinkInfo, error) { return link.Info(name) }
func (LinuxHost) CreateBridge(name string) error          { return link.CreateBridge(name) }
func (LinuxHost) DeleteBridge(name string) error          { return link.DeleteBridge(name) }
func (LinuxHost) SetMaster(member, bridge string) error   { return link.SetMaster(member, bridge) }
func (LinuxHost) SetNoMaster(member string) error         { return link.SetNoMaster(member) }
func (LinuxHost) SetUp(name string, up bool) error        { return link.SetUp(name, up) }
func (LinuxHost) SetMTU(name string, mtu int) error       { return link.SetMTU(name, mtu) }
func (LinuxHost) SetLLAddr(name string, mac net.HardwareAddr) error {
	return link.SetLLAddr(name, mac)
}
func (LinuxHost) SetCarrier(dev link.Device, on bool) error   { return link.SetCarrier(dev, on) }
func (LinuxHost) AddAddr(name string, a link.Addr) error      { return link.AddAddr(name, a) }
func (LinuxHost) DelAddr(name string, a link.Addr) error      { return link.DelAddr(name, a) }
func (LinuxHost) SetIPv6Disabled(name string, off bool) error { return link.SetIPv6Disabled(name, off) }
func (LinuxHost) LocalAddrs() ([]netip.Addr, error)           { return link.LocalAddrs() }
func (LinuxHost) LinkLocal() (netip.Addr, error)              { return link.LinkLocal() }
func (LinuxHost) WatchAddrs(ctx context.Context, changed func()) error {
	return link.WatchAddrs(ctx, changed)
}
func (LinuxHost) AddDomainRules(family, domain int) error { return link.AddDomainRules(family, domain) }
func (LinuxHost) DelDomainRules(family, domain int) error { return link.DelDomainRules(family, domain) }
