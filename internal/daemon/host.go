package daemon

import (
	"context"
	"net"
	"net/netip"

	"gif/internal/link"
	"gif/internal/outer"
)

// Host is the operating system the daemon drives: interfaces, addresses,
// policy rules and the outer transport. The Linux implementation is in
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
	Listen(family int, proto uint8) (outer.Conn, error)
	// ListenIKE opens a UDP socket of family 4 or 6 on port: IKE's 500,
	// or 4500, where IKE and ESP go after NAT traversal.
	ListenIKE(family int, port uint16) (IKEConn, error)
	// AddDomainRules and DelDomainRules add and remove the policy rules
	// that route outer packets of family (4 or 6) marked domain by routing
	// table domain (link.AddDomainRules). Both are idempotent.
	AddDomainRules(family, domain int) error
	DelDomainRules(family, domain int) error
}

// IKEConn is a UDP socket of IKE of one family, on every address.
type IKEConn interface {
	// ReadFrom reads a datagram, and says who sent it and to which of
	// this host's addresses (the zero Addr when it cannot tell).
	ReadFrom(buf []byte) (n int, from netip.AddrPort, to netip.Addr, err error)
	// WriteTo sends msg from this host's address from (the route's choice
	// when zero) to to.
	WriteTo(msg []byte, from netip.Addr, to netip.AddrPort) error
	Close() error
}
