package daemon

import (
	"context"
	"net/netip"

	"gif/internal/link"
	"gif/internal/outer"
)

// Host is the operating system the daemon drives: interfaces, addresses
// and the outer transport. The Linux implementation is in host_linux.go;
// tests may use a fake.
type Host interface {
	CreateTUN(name string, mtu int) (link.Device, error)
	SetUp(name string, up bool) error
	SetMTU(name string, mtu int) error
	SetCarrier(dev link.Device, on bool) error
	AddAddr(name string, a link.Addr) error
	DelAddr(name string, a link.Addr) error
	SetIPv6Disabled(name string, disabled bool) error
	Index(name string) (int, error)
	LocalAddrs() ([]netip.Addr, error)
	WatchAddrs(ctx context.Context, changed func()) error
	LinkLocal() (netip.Addr, error)
	Listen(family int, proto uint8) (outer.Conn, error)
}
