package main

import (
	"context"
	"fmt"
	"strconv"
)

// Header lengths that decide the inner MTUs: the outer packet of every
// tunnel must fit the underlay's 1500 bytes, so nothing fragments.
const (
	ipv4HeaderLen     = 20
	ipv6HeaderLen     = 40
	etheripHeaderLen  = 2
	ethernetHeaderLen = 14

	// espMTU is the inner MTU of the configurations under ESP: the packet
	// it makes (espPacketLen) fits the underlay with both suites.
	espMTU = 1400
	// wireguardMTU is wireguard-go's default, which the run keeps.
	wireguardMTU = 1420
)

// config is one way of joining the two hosts. a sends to b's Target
// address, through an interface of MTU MTU.
type config struct {
	Name   string // for BENCH_ONLY and the table
	About  string // how it is set up, for the report
	Target string
	MTU    int
	// Overhead is what the tunnel adds to a packet of MTU bytes: the outer
	// header, and for EtherIP its own and the Ethernet header.
	Overhead int
	// Daemon is the command name of the userspace process that carries
	// the traffic, whose memory is measured; "" when the kernel does.
	Daemon string
	// setup configures both hosts, with an inner MTU of mtu.
	setup func(ctx context.Context, p *pair, mtu int) error
}

// configs returns every configuration, in the report's order. veth comes
// first: the others are compared with it.
func configs() []config {
	cs := []config{{
		Name: vethName, About: "the veth pair itself, no tunnel: the limit",
		Target: underB4, MTU: underlayMTU,
		setup: func(context.Context, *pair, int) error { return nil },
	}}
	for _, m := range []struct{ inner, outer int }{{4, 4}, {6, 4}, {4, 6}, {6, 6}} {
		cs = append(cs, gifMode(m.inner, m.outer))
	}
	cs = append(cs, etherIP(4), etherIP(6))
	for _, s := range []espSuite{espGCM, espDefault} {
		cs = append(cs, gifMode(4, 4).underESP(s, "ipencap", espMTU))
	}
	for _, s := range []espSuite{espGCM, espDefault} {
		cs = append(cs, etherIP(4).underESP(s, "etherip", espMTU-etheripHeaderLen-ethernetHeaderLen))
	}
	return append(cs, wireguard())
}

// outerAddrs returns the underlay addresses of a and b in family outer.
func outerAddrs(outer int) (a, b string) {
	if outer == 6 {
		return underA6, underB6
	}
	return underA4, underB4
}

func outerHeaderLen(outer int) int {
	if outer == 6 {
		return ipv6HeaderLen
	}
	return ipv4HeaderLen
}

// gifMode is gif0 carrying IPv(inner) over IPv(outer), with the largest
// MTU whose outer packet fits the underlay.
func gifMode(inner, outer int) config {
	mtu := underlayMTU - outerHeaderLen(outer)
	c := config{
		Name:   fmt.Sprintf("ip%din%d", inner, outer),
		About:  fmt.Sprintf("gif0: IPv%d in IPv%d, mtu %d (%d + %d-byte outer header = %d)", inner, outer, mtu, mtu, outerHeaderLen(outer), underlayMTU),
		Target: innerB4, MTU: mtu, Overhead: outerHeaderLen(outer), Daemon: "gif",
	}
	if inner == 6 {
		c.Target = innerB6
	}
	srcA, srcB := outerAddrs(outer)
	c.setup = func(ctx context.Context, p *pair, mtu int) error {
		for _, end := range []struct {
			n                     *node
			src, dst, local, peer string
		}{
			{p.a, srcA, srcB, innerA4, innerB4},
			{p.b, srcB, srcA, innerB4, innerA4},
		} {
			if err := end.n.startGif(ctx); err != nil {
				return err
			}
			args := []string{"ifconfig", "gif0", "mtu", strconv.Itoa(mtu), "tunnel", end.src, end.dst}
			if inner == 4 {
				args = append(args, "inet", end.local, end.peer)
			} else {
				local, peer := innerA6, innerB6
				if end.n == p.b {
					local, peer = peer, local
				}
				args = append(args, "inet6", local, peer, "prefixlen", "128")
			}
			if _, err := end.n.gif(ctx, append(args, "up")...); err != nil {
				return err
			}
		}
		return nil
	}
	return c
}

// etherIP is bridge0 with gif0 as its member, carrying Ethernet over
// IPv(outer), and the inner IPv4 address on bridge0. The bridge's MTU is
// set so that its frames fit the underlay in EtherIP; the member's TAP
// keeps its MTU of 1500.
func etherIP(outer int) config {
	overhead := outerHeaderLen(outer) + etheripHeaderLen + ethernetHeaderLen
	mtu := underlayMTU - overhead
	c := config{
		Name: fmt.Sprintf("etherip%d", outer),
		About: fmt.Sprintf("bridge0 with member gif0, EtherIP over IPv%d; bridge0 mtu %d (%d + %d Ethernet + %d EtherIP + %d outer = %d)",
			outer, mtu, mtu, ethernetHeaderLen, etheripHeaderLen, outerHeaderLen(outer), underlayMTU),
		Target: innerB4, MTU: mtu, Overhead: overhead, Daemon: "gif",
	}
	srcA, srcB := outerAddrs(outer)
	c.setup = func(ctx context.Context, p *pair, mtu int) error {
		for _, end := range []struct {
			n               *node
			src, dst, local string
		}{{p.a, srcA, srcB, innerA4}, {p.b, srcB, srcA, innerB4}} {
			if err := end.n.startGif(ctx); err != nil {
				return err
			}
			for _, args := range [][]string{
				{"sysctl", "net.inet.etherip.allow=1"},
				{"ifconfig", "bridge0", "add", "gif0"},
				{"ifconfig", "gif0", "tunnel", end.src, end.dst, "up"},
				{"ifconfig", "bridge0", "up"},
			} {
				if _, err := end.n.gif(ctx, args...); err != nil {
					return err
				}
			}
			if _, err := end.n.run(ctx, "ip", "link", "set", "bridge0", "mtu", strconv.Itoa(mtu)); err != nil {
				return err
			}
			if err := end.n.AddAddr("bridge0", end.local+"/24"); err != nil {
				return err
			}
		}
		return nil
	}
	return c
}

// underESP returns c protected by ESP with suite s, its outer packets of
// IP protocol proto covered by a flow, with the inner MTU lowered to mtu.
func (c config) underESP(s espSuite, proto string, mtu int) config {
	base := c
	c.Name = base.Name + "-" + s.Name
	c.MTU = mtu
	c.About = fmt.Sprintf("%s with mtu %d, under %s in tunnel mode: outer packets of at most %d bytes", base.Name, mtu, s.About,
		espPacketLen(mtu+base.Overhead, s))
	c.setup = func(ctx context.Context, p *pair, mtu int) error {
		if err := base.setup(ctx, p, mtu); err != nil {
			return err
		}
		if err := protect(ctx, p, s, proto); err != nil {
			return err
		}
		if err := p.awaitPath(ctx, base.Target, mtu); err != nil {
			return err
		}
		return checkESP(ctx, p)
	}
	return c
}

// wireguard is wireguard-go on each host over the IPv4 underlay, with its
// default MTU.
func wireguard() config {
	return config{
		Name:   wireguardName,
		About:  fmt.Sprintf("wireguard-go on each host over IPv4, configured with wg(8), default mtu %d", wireguardMTU),
		Target: innerB4, MTU: wireguardMTU, Overhead: wireguardOverhead, Daemon: "wireguard",
		setup: setupWireguard,
	}
}
