package outer

import (
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// ListenUDP opens a UDP socket on port of every address of family (4 or 6),
// with IP_PKTINFO (IPV6_PKTINFO): it tells the address a datagram came to,
// and sends from the address asked for, which a route would not choose on
// a host with several. IKE uses it, on ports 500 and 4500.
func ListenUDP(family int, port uint16) (*UDPConn, error) {
	network, any := "udp4", netip.IPv4Unspecified()
	if family == 6 {
		network, any = "udp6", netip.IPv6Unspecified()
	}
	c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(any, port)))
	if err != nil {
		return nil, fmt.Errorf("listen on UDP port %d: %w", port, err)
	}
	if family == 4 {
		p := ipv4.NewPacketConn(c)
		if err := p.SetControlMessage(ipv4.FlagDst, true); err != nil {
			c.Close()
			return nil, fmt.Errorf("listen on UDP port %d: IP_PKTINFO: %w", port, err)
		}
		return &UDPConn{c,
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
		return nil, fmt.Errorf("listen on UDP port %d: IPV6_RECVPKTINFO: %w", port, err)
	}
	return &UDPConn{c,
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

// UDPConn is a UDP socket that knows its datagrams' local addresses: the
// control messages of its family are behind read and write.
type UDPConn struct {
	*net.UDPConn
	read  func(buf []byte) (n int, dst net.IP, src net.Addr, err error)
	write func(msg []byte, src net.IP, dst net.Addr) error
}

// ReadFrom reads a datagram, and says who sent it and to which of this
// host's addresses (the zero Addr when it cannot tell).
func (c *UDPConn) ReadFrom(buf []byte) (int, netip.AddrPort, netip.Addr, error) {
	n, dst, src, err := c.read(buf)
	if err != nil {
		return 0, netip.AddrPort{}, netip.Addr{}, err
	}
	to, _ := netip.AddrFromSlice(dst)
	return n, src.(*net.UDPAddr).AddrPort(), to.Unmap(), nil
}

// WriteTo sends msg from this host's address from (the route's choice when
// zero) to to.
func (c *UDPConn) WriteTo(msg []byte, from netip.Addr, to netip.AddrPort) error {
	var src net.IP
	if from.IsValid() {
		src = from.AsSlice()
	}
	return c.write(msg, src, net.UDPAddrFromAddrPort(to))
}
