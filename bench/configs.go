package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"gif/internal/control"
)

// Header lengths that decide the inner MTUs: the outer packet of every
// tunnel must fit the underlay's 1500 bytes, so nothing fragments.
const (
	ipv4HeaderLen     = 20
	ipv6HeaderLen     = 40
	etheripHeaderLen  = 2
	ethernetHeaderLen = 14
	// tcpHeaderLen is TCP's header with the timestamp option, which Linux
	// sends: what a segment's payload (the MSS in use) leaves of the MTU.
	tcpHeaderLen = 32

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
	// Plane is the data plane both gif daemons must report for gif0
	// after the setup (control.PlaneKernel or control.PlaneUserspace);
	// "" without a gif.
	Plane string
	// setup configures both hosts, with an inner MTU of mtu.
	setup func(ctx context.Context, p *pair, mtu int) error
}

// ipModes are the inner and outer families of the four IP modes.
var ipModes = []struct{ inner, outer int }{{4, 4}, {6, 4}, {4, 6}, {6, 6}}

// configs returns every configuration, in the report's order, grouped by
// plane: veth comes first, since the others are compared with it, then
// the veth without offloads and with the IP modes' segment sizes, the IP
// modes on the kernel plane, and everything on the userspace plane, whose
// rows keep their names of before the kernel plane so that their history
// stays comparable.
func configs() []config {
	cs := []config{{
		Name: vethName, About: "the veth pair itself, no tunnel: the limit",
		Target: underB4, MTU: underlayMTU,
		setup: func(context.Context, *pair, int) error { return nil },
	}, {
		Name: vethNoOffloadName, About: "the veth pair with TSO, GSO and GRO off on both ends (ethtool -K): one packet per 1500 bytes, the per-packet limit",
		Target: underB4, MTU: underlayMTU,
		setup: disableOffloads,
	}}
	cs = append(cs, vethAtSegments()...)
	for _, m := range ipModes {
		cs = append(cs, gifMode(m.inner, m.outer, control.PlaneKernel))
	}
	for _, m := range ipModes {
		cs = append(cs, gifMode(m.inner, m.outer, control.PlaneUserspace))
	}
	cs = append(cs, etherIP(4), etherIP(6))
	for _, s := range []espSuite{espGCM, espDefault} {
		cs = append(cs, gifMode(4, 4, control.PlaneUserspace).underESP(s, "ipencap", espMTU))
	}
	for _, s := range []espSuite{espGCM, espDefault} {
		cs = append(cs, etherIP(4).underESP(s, "etherip", espMTU-etheripHeaderLen-ethernetHeaderLen))
	}
	return append(cs, wireguard())
}

// vethAtSegments are the bare veth with each TCP segment size (payload
// per packet) that the IP modes give TCP, and nothing else of a tunnel:
// under some congestion controls (bbr) the multi-stream figures depend on
// the segment size more than on anything a tunnel does
// (docs/PERFORMANCE.md). Each row sends IPv4 with the MTU that gives that
// segment size.
func vethAtSegments() []config {
	modes := map[int][]string{} // segment size: the modes that give it
	var sizes []int
	for _, m := range ipModes {
		segment := underlayMTU - ipHeaderLen(m.outer) - ipHeaderLen(m.inner) - tcpHeaderLen
		if modes[segment] == nil {
			sizes = append(sizes, segment)
		}
		modes[segment] = append(modes[segment], gifModeName(m.inner, m.outer, ""))
	}
	var cs []config
	for _, segment := range sizes {
		mtu := segment + ipv4HeaderLen + tcpHeaderLen
		cs = append(cs, config{
			Name: fmt.Sprintf("%s-seg%d", vethName, segment),
			About: fmt.Sprintf("the veth pair with mtu %d on both ends, no tunnel: TCP segments of %d bytes, as through %s",
				mtu, segment, strings.Join(modes[segment], " and ")),
			Target: underB4, MTU: mtu,
			setup: func(ctx context.Context, p *pair, mtu int) error {
				for _, n := range []*node{p.a, p.b} {
					if _, err := n.run(ctx, "ip", "link", "set", "eth0", "mtu", strconv.Itoa(mtu)); err != nil {
						return fmt.Errorf("set the mtu of eth0 of %s: %w", n, err)
					}
				}
				return nil
			},
		})
	}
	return cs
}

// outerAddrs returns the underlay addresses of a and b in family outer.
func outerAddrs(outer int) (a, b string) {
	if outer == 6 {
		return underA6, underB6
	}
	return underA4, underB4
}

// ipHeaderLen is the length of an IPv4 or IPv6 header without options.
func ipHeaderLen(family int) int {
	if family == 6 {
		return ipv6HeaderLen
	}
	return ipv4HeaderLen
}

// disableOffloads turns TSO, GSO and GRO off on both ends of the veth.
func disableOffloads(ctx context.Context, p *pair, _ int) error {
	for _, n := range []*node{p.a, p.b} {
		if _, err := n.run(ctx, "ethtool", "-K", "eth0", "tso", "off", "gso", "off", "gro", "off"); err != nil {
			return fmt.Errorf("turn offloads off on eth0 of %s: %w", n, err)
		}
	}
	return nil
}

// kernelSuffix ends the names of the configurations on the kernel plane.
const kernelSuffix = "-kernel"

// gifModeName is the name of IPv(inner) over IPv(outer) on plane.
func gifModeName(inner, outer int, plane string) string {
	name := fmt.Sprintf("ip%din%d", inner, outer)
	if plane == control.PlaneKernel {
		name += kernelSuffix
	}
	return name
}

// gifMode is gif0 carrying IPv(inner) over IPv(outer) on plane, with the
// largest MTU whose outer packet fits the underlay.
func gifMode(inner, outer int, plane string) config {
	mtu := underlayMTU - ipHeaderLen(outer)
	c := config{
		Name: gifModeName(inner, outer, plane),
		About: fmt.Sprintf("gif0 on the %s plane: IPv%d in IPv%d, mtu %d (%d + %d-byte outer header = %d)",
			plane, inner, outer, mtu, mtu, ipHeaderLen(outer), underlayMTU),
		Target: innerB4, MTU: mtu, Overhead: ipHeaderLen(outer), Daemon: "gif", Plane: plane,
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
			if err := end.n.startGif(ctx, plane); err != nil {
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
		return p.checkPlane(ctx, plane)
	}
	return c
}

// etherIP is bridge0 with gif0 as its member, carrying Ethernet over
// IPv(outer), and the inner IPv4 address on bridge0. The bridge's MTU is
// set so that its frames fit the underlay in EtherIP; the member's TAP
// keeps its MTU of 1500.
func etherIP(outer int) config {
	overhead := ipHeaderLen(outer) + etheripHeaderLen + ethernetHeaderLen
	mtu := underlayMTU - overhead
	c := config{
		Name: fmt.Sprintf("etherip%d", outer),
		About: fmt.Sprintf("bridge0 with member gif0, EtherIP over IPv%d; bridge0 mtu %d (%d + %d Ethernet + %d EtherIP + %d outer = %d)",
			outer, mtu, mtu, ethernetHeaderLen, etheripHeaderLen, ipHeaderLen(outer), underlayMTU),
		Target: innerB4, MTU: mtu, Overhead: overhead, Daemon: "gif", Plane: control.PlaneUserspace,
	}
	srcA, srcB := outerAddrs(outer)
	c.setup = func(ctx context.Context, p *pair, mtu int) error {
		for _, end := range []struct {
			n               *node
			src, dst, local string
		}{{p.a, srcA, srcB, innerA4}, {p.b, srcB, srcA, innerB4}} {
			if err := end.n.startGif(ctx, c.Plane); err != nil {
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
		return p.checkPlane(ctx, c.Plane)
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
