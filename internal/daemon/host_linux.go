package daemon

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"gif/internal/link"
	"gif/internal/outer"
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
func (LinuxHost) Listen(family int, proto uint8) (outer.Conn, error) {
	return outer.Listen(family, proto)
}

// ListenIKE opens a UDP socket on port of every address of family, with
// IP_PKTINFO (IPV6_PKTINFO): it tells the address a datagram came to, and
// sends from the address asked for, which a route would not choose on a
// host with several.
func (LinuxHost) ListenIKE(family int, port uint16) (IKEConn, error) {
	network, any := "udp4", netip.IPv4Unspecified()
	if family == 6 {
		network, any = "udp6", netip.IPv6Unspecified()
	}
	c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(any, port)))
	if err != nil {
		return nil, fmt.Errorf("listen for IKE: %w", err)
	}
	if family == 4 {
		p := ipv4.NewPacketConn(c)
		if err := p.SetControlMessage(ipv4.FlagDst, true); err != nil {
			c.Close()
			return nil, fmt.Errorf("listen for IKE: IP_PKTINFO: %w", err)
		}
		return udpConn{c,
			func(buf []byte) (int, net.IP, net.Addr, error) {
				n, cm, src, err := p.ReadFrom(buf)
				if cm == nil {
					return n, nil, src, err
				}
				return n, cm.Dst, src, err
			},
			func(msg []byte, src net.IP, dst net.Addr) error {
				var cm *ipv4.ControlMessage
				if src != nil {
					cm = &ipv4.ControlMessage{Src: src}
				}
				_, err := p.WriteTo(msg, cm, dst)
				return err
			}}, nil
	}
	p := ipv6.NewPacketConn(c)
	if err := p.SetControlMessage(ipv6.FlagDst, true); err != nil {
		c.Close()
		return nil, fmt.Errorf("listen for IKE: IPV6_RECVPKTINFO: %w", err)
	}
	return udpConn{c,
		func(buf []byte) (int, net.IP, net.Addr, error) {
			n, cm, src, err := p.ReadFrom(buf)
			if cm == nil {
				return n, nil, src, err
			}
			return n, cm.Dst, src, err
		},
		func(msg []byte, src net.IP, dst net.Addr) error {
			var cm *ipv6.ControlMessage
			if src != nil {
				cm = &ipv6.ControlMessage{Src: src}
			}
			_, err := p.WriteTo(msg, cm, dst)
			return err
		}}, nil
}

// udpConn is an IKE socket: the control messages of its family are behind
// read and write.
type udpConn struct {
	*net.UDPConn
	read  func(buf []byte) (n int, dst net.IP, src net.Addr, err error)
	write func(msg []byte, src net.IP, dst net.Addr) error
}

func (c udpConn) ReadFrom(buf []byte) (int, netip.AddrPort, netip.Addr, error) {
	n, dst, src, err := c.read(buf)
	if err != nil {
		return 0, netip.AddrPort{}, netip.Addr{}, err
	}
	to, _ := netip.AddrFromSlice(dst)
	return n, src.(*net.UDPAddr).AddrPort(), to.Unmap(), nil
}

func (c udpConn) WriteTo(msg []byte, from netip.Addr, to netip.AddrPort) error {
	var src net.IP
	if from.IsValid() {
		src = from.AsSlice()
	}
	return c.write(msg, src, net.UDPAddrFromAddrPort(to))
}
func (LinuxHost) AddDomainRules(family, domain int) error { return link.AddDomainRules(family, domain) }
func (LinuxHost) DelDomainRules(family, domain int) error { return link.DelDomainRules(family, domain) }
