package daemon

import (
	"context"
	"net"
	"net/netip"

	"gif/internal/link"
)

// Host is the operating system the daemon drives: interfaces, addresses
// and policy rules. The Linux implementation is in
// host_linux.go; tests may use a fake.
type Host interface {
	CreateTUN(name string, mtu int) (link.Device, error)
	CreateTAP(name string, mtu int) (link.Device, error)
	SetUp(name string, up bool) error
	SetMTU(name string, mtu int) error
	SetLLAddr(name string, mac net.HardwareAddr) error
	SetCarrier(dev link.Device, on bool) error
	AddAddr(name string, a link.Addr) error
	DelAddr(name string, a link.Addr) error
	Addrs(name string) ([]link.Addr, error)
	SetIPv6Disabled(name string, disabled bool) error
	Info(name string) (link.LinkInfo, error)
	CreateBridge(name string) error
	DeleteBridge(name string) error
	SetMaster(member, bridge string) error
	SetNoMaster(member string) error
	LocalAddrs() ([]netip.Addr, error)
	WatchAddrs(ctx context.Context, changed func()) error
	LinkLocal() (netip.Addr, error)
	// AddDomainRules and DelDomainRules add and remove the policy rules
	// that route outer packets of family (4 or 6) marked domain by routing
	// table domain (link.AddDomainRules). Both are idempotent.
	AddDomainRules(family, domain int) error
	DelDomainRules(family, domain int) error
}
