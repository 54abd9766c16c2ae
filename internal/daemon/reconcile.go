package daemon

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"gif/internal/dataplane"
	"gif/internal/link"
	"gif/internal/tunnel"
)

// etherMTU is the smallest MTU of a bridged gif's TAP device: a Linux bridge
// takes the smallest MTU of its members and drops larger frames, and a
// bridged gif must carry full 1500-byte Ethernet frames (the outer IP
// fragments them), which gif's default of 1280 would not.
const etherMTU = 1500

// reconcile changes Linux from what prev describes to what next describes.
// Normally it changes only what differs. With force it sets everything, as
// it must to undo a change that failed halfway, when Linux is somewhere
// between prev and next. It goes on past errors and returns them all.
//
// The policy rules of next go in before the data plane sees next, and the
// rules only prev used go after, so that no outer packet is sent with a
// mark whose rules are missing, which would route it by the main table.
func (d *Daemon) reconcile(prev, next tunnel.State, force bool) error {
	wanted := domainRules(next)
	errs := []error{d.addRules(wanted)}
	// Looked up by name: with a thousand gifs, searching the lists for each
	// would cost more than the change.
	prevByName, nextByName := configsByName(prev), configsByName(next)
	bridged := next.Bridged()
	// A gif that goes, or joins or leaves a bridge, loses its device: a
	// bridge member is a TAP, any other gif a TUN.
	for name, ifc := range d.ifaces {
		if _, ok := nextByName[name]; !ok || ifc.Ether() != bridged[name] {
			ifc.Detach()
			delete(d.ifaces, name)
		}
	}
	for i := range next.Interfaces {
		c := &next.Interfaces[i]
		old := prevByName[c.Name]
		if _, exists := d.ifaces[c.Name]; exists && !force && old != nil && old.Equal(c) {
			continue // unchanged
		}
		errs = append(errs, d.reconcileIface(old, c, bridged[c.Name], force))
	}
	errs = append(errs, d.reconcileBridges(prev, next, force))
	d.updateRunning()
	errs = append(errs, d.removeRules(wanted))
	return errors.Join(errs...)
}

func configsByName(s tunnel.State) map[string]*tunnel.Config {
	m := make(map[string]*tunnel.Config, len(s.Interfaces))
	for i := range s.Interfaces {
		m[s.Interfaces[i].Name] = &s.Interfaces[i]
	}
	return m
}

// reconcileIface makes Linux's gif c match c; old is what it was, if
// anything.
func (d *Daemon) reconcileIface(old, c *tunnel.Config, ether, force bool) error {
	ifc, exists := d.ifaces[c.Name]
	if !exists {
		dev, err := d.createDevice(c, ether)
		if err != nil {
			return err
		}
		ifc = &iface{Iface: d.plane.Attach(dev, ether, d.countersOf(c.Name))}
		d.ifaces[c.Name] = ifc
	}
	fresh := force || !exists || old == nil
	cfg := c.Clone()
	ifc.SetConfig(&cfg)
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if fresh || old.MTU != c.MTU {
		note(d.host.SetMTU(c.Name, deviceMTU(c, ether)))
	}
	// Before the TAP joins its bridge (reconcileBridges), so that the
	// bridge, whose address follows its ports', never takes the random one
	// Linux gave the new TAP.
	if ether && !c.LLAddr.IsZero() && (fresh || old.LLAddr != c.LLAddr) {
		note(d.host.SetLLAddr(c.Name, c.LLAddr[:]))
	}
	if !ether && (fresh || old.NoInet6 != c.NoInet6) {
		note(d.host.SetIPv6Disabled(c.Name, c.NoInet6))
	}
	// IPv6 addresses need the interface up: up first, down last.
	if c.Up && (fresh || !old.Up) {
		note(d.host.SetUp(c.Name, true))
	}
	if !ether {
		// Turning IPv6 off or on removes or brings back addresses behind
		// gif's back.
		note(d.reconcileAddrs(old, c, !exists, exists && !fresh && old.NoInet6 == c.NoInet6))
	}
	if !c.Up && (fresh || old.Up) {
		note(d.host.SetUp(c.Name, false))
	}
	return errors.Join(errs...)
}

func (d *Daemon) createDevice(c *tunnel.Config, ether bool) (link.Device, error) {
	dev, err := d.host.CreateDevice(c.Name, deviceMTU(c, ether), ether)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", c.Name, err)
	}
	return dev, nil
}

func deviceMTU(c *tunnel.Config, ether bool) int {
	if ether {
		return max(c.MTU, etherMTU)
	}
	return c.MTU
}

// reconcileAddrs adds the addresses c wants that Linux lacks and removes
// those gif gave old that c no longer wants, and leaves alone addresses
// someone else added. When force says that a failed change may have left
// Linux half-way, it asks Linux what is there.
//
// A device just created has none. Otherwise, normally (trustOld), it takes
// old's addresses for what Linux has, since
// listing one interface's addresses lists every interface's, which with a
// thousand gifs costs more than the change.
func (d *Daemon) reconcileAddrs(old, c *tunnel.Config, created, trustOld bool) error {
	var have []link.Addr
	switch {
	case created:
	case trustOld:
		have = d.wantAddrs(old)
	default:
		var err error
		if have, err = d.host.Addrs(c.Name); err != nil {
			return err
		}
	}
	want := d.wantAddrs(c)
	var errs []error
	if old != nil {
		for _, a := range d.wantAddrs(old) {
			if !slices.Contains(want, a) && slices.Contains(have, a) {
				if err := d.host.SetAddr(c.Name, a, false); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	for _, a := range want {
		if !slices.Contains(have, a) {
			if err := d.host.SetAddr(c.Name, a, true); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// bridgePorts returns the members of b that Linux has but not in bridge b.
// A member that is gone from Linux (a veth deleted, a USB NIC unplugged) is
// skipped with a warning rather than failing every later command: it joins
// again when it is back and the configuration is applied.
func (d *Daemon) bridgePorts(b *tunnel.BridgeConfig, old *tunnel.BridgeConfig) []string {
	var ports []string
	for _, m := range b.Members {
		mi, err := d.host.Info(m)
		if err != nil {
			if old == nil || slices.Contains(old.Members, m) {
				d.log.Warn("bridge member is not in Linux; skipped", "bridge", b.Name, "member", m, "err", err)
				continue
			}
			ports = append(ports, m) // a new member: let SetMaster say what is wrong
			continue
		}
		if mi.Master != b.Name {
			ports = append(ports, m)
		}
	}
	return ports
}

// reconcileBridges makes Linux's bridges match next's. Bridges outlive the
// daemon (they are not its devices), so a starting daemon adopts the ones
// its state names; a bridged gif's TAP joins its bridge when it is created.
func (d *Daemon) reconcileBridges(prev, next tunnel.State, force bool) error {
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, b := range prev.Bridges {
		if _, ok := next.FindBridge(b.Name); !ok {
			note(d.host.SetBridge(b.Name, false))
		}
	}
	for i := range next.Bridges {
		b := &next.Bridges[i]
		old, _ := prev.FindBridge(b.Name)
		info, err := d.host.Info(b.Name)
		if err != nil {
			if err := d.host.SetBridge(b.Name, true); err != nil {
				errs = append(errs, err)
				continue
			}
			old = nil
		}
		for _, m := range d.bridgePorts(b, old) {
			note(d.host.SetMaster(m, b.Name))
		}
		if old != nil {
			for _, m := range old.Members {
				// A gif that left lost its TAP, and with it the port; an
				// interface that is gone from Linux left by itself.
				if slices.Contains(b.Members, m) || tunnel.IsGif(m) {
					continue
				}
				if mi, err := d.host.Info(m); err == nil && mi.Master == b.Name {
					note(d.host.SetMaster(m, ""))
				}
			}
		}
		if force || old == nil || old.Up != b.Up || info.Up != b.Up {
			note(d.host.SetUp(b.Name, b.Up))
		}
	}
	return errors.Join(errs...)
}

// domainRules returns the policy rules the interfaces of s need: one set
// for each outer family and routing domain other than the main table.
func domainRules(s tunnel.State) map[domainRule]bool {
	rules := make(map[domainRule]bool)
	for _, c := range s.Interfaces {
		if c.Domain != 0 && c.HasTunnel() {
			rules[domainRule{dataplane.Family(c.Src), c.Domain}] = true
		}
	}
	return rules
}

// addRules installs the rules of wanted that are not installed.
func (d *Daemon) addRules(wanted map[domainRule]bool) error {
	var errs []error
	for r := range wanted {
		if d.rules[r] {
			continue
		}
		if err := d.host.SetDomainRules(r.family, r.domain, true); err != nil {
			errs = append(errs, err)
			continue
		}
		d.rules[r] = true
	}
	return errors.Join(errs...)
}

// removeRules removes the installed rules that are not in wanted.
func (d *Daemon) removeRules(wanted map[domainRule]bool) error {
	var errs []error
	for r := range d.rules {
		if wanted[r] {
			continue
		}
		if err := d.host.SetDomainRules(r.family, r.domain, false); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(d.rules, r)
	}
	return errors.Join(errs...)
}

// wantAddrs lists the addresses Linux should have on c: the configured ones
// and, while c is up and IPv6 is on, the link-local one gif(4) adds.
func (d *Daemon) wantAddrs(c *tunnel.Config) []link.Addr {
	var out []link.Addr
	if c.Up && !c.NoInet6 {
		if ll, err := d.linkLocalAddr(); err == nil {
			out = append(out, link.Addr{Prefix: netip.PrefixFrom(ll, 64)})
		} else {
			d.log.Warn("no IPv6 link-local address", "interface", c.Name, "err", err)
		}
	}
	for _, a := range c.Addrs {
		out = append(out, link.Addr{Prefix: a.Prefix, Peer: a.Peer})
	}
	return out
}

// linkLocal is the IPv6 link-local address gif gives its interfaces. Like
// OpenBSD, which derives it when an interface attaches, gif asks Linux once,
// when it first needs it, and keeps it: asking takes a list of every
// interface, which with a thousand gifs costs more than the change itself.
type linkLocal struct {
	asked bool
	addr  netip.Addr
	err   error
}

func (d *Daemon) linkLocalAddr() (netip.Addr, error) {
	l := &d.linkLocal
	if !l.asked || l.err != nil {
		l.addr, l.err = d.host.LinkLocal()
		l.asked = true
	}
	return l.addr, l.err
}
