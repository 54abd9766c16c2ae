package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"

	"gif/internal/dataplane"
	"gif/internal/link"
	"gif/internal/tunnel"
)

// reconciler makes Linux and the data plane's devices match the state:
// each gif's device, attached to the plane, with its addresses and flags;
// the bridges; the policy rules of routing domains; RUNNING, from this
// host's addresses. It publishes the plane's view of them: the tunnel
// tables and the local addresses. The Daemon's mu guards it.
type reconciler struct {
	host   Host
	plane  dataplane.Plane
	log    *slog.Logger
	ifaces map[string]*iface
	// counters of each gif by name: they outlive its devices, which a
	// bridge membership change replaces.
	counters  map[string]*tunnel.Counters
	rules     map[domainRule]bool // the policy rules installed for tunneldomain
	linkLocal linkLocal
}

func newReconciler(host Host, plane dataplane.Plane, log *slog.Logger) *reconciler {
	return &reconciler{host: host, plane: plane, log: log, ifaces: make(map[string]*iface),
		counters: make(map[string]*tunnel.Counters), rules: make(map[domainRule]bool)}
}

// iface is one gif interface: its part in the data plane, and what the
// reconciler keeps of it.
type iface struct {
	*dataplane.Iface
	carrierSet bool
	// missingSrc is the tunnel source that is not an address of this host,
	// once logged.
	missingSrc netip.Addr
}

// close removes the interfaces and their policy rules from Linux.
func (r *reconciler) close() {
	for name, ifc := range r.ifaces {
		ifc.Detach()
		delete(r.ifaces, name)
	}
	if err := r.removeRules(nil); err != nil {
		r.log.Warn("remove policy rules", "err", err)
	}
}

// forgetDestroyed drops the counters of the gifs next no longer has, so
// that a new gif of that name starts from zero, and reports whether there
// were any.
func (r *reconciler) forgetDestroyed(next tunnel.State) bool {
	if len(r.counters) <= len(next.Interfaces) {
		return false
	}
	kept := configsByName(next)
	for name := range r.counters {
		if _, ok := kept[name]; !ok {
			delete(r.counters, name)
		}
	}
	return true
}

// countersOf returns the counters of the gif called name.
func (r *reconciler) countersOf(name string) *tunnel.Counters {
	c, ok := r.counters[name]
	if !ok {
		c = new(tunnel.Counters)
		r.counters[name] = c
	}
	return c
}

// IsLocal reports whether addr is one of this host's addresses, as last
// published. It reads nothing the Daemon's mu guards.
func (r *reconciler) IsLocal(addr netip.Addr) bool {
	return r.plane.View().Local[addr]
}

// listLocal asks the host for its addresses. It reads nothing the
// Daemon's mu guards.
func (r *reconciler) listLocal() map[netip.Addr]bool {
	addrs, err := r.host.Addrs("")
	if err != nil {
		r.log.Warn("list local addresses", "err", err)
	}
	set := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		set[a.Prefix.Addr()] = true
	}
	return set
}

// publishLocal makes local the plane's view of this host's addresses.
func (r *reconciler) publishLocal(local map[netip.Addr]bool) {
	changeView(r.plane, func(v *dataplane.View) { v.Local = local })
}

// updateRunning sets each interface's RUNNING flag: up, with a tunnel whose
// source is an address of this host.
func (r *reconciler) updateRunning() {
	for _, ifc := range r.ifaces {
		c := ifc.Config()
		srcHere := r.IsLocal(c.Src)
		r.noteSource(ifc, c, srcHere)
		running := c.Up && c.HasTunnel() && srcHere
		if ifc.SetRunning(running) != running || !ifc.carrierSet {
			if err := link.SetCarrier(ifc.Device(), running); err != nil {
				r.log.Warn("set carrier", "interface", c.Name, "err", err)
			}
			ifc.carrierSet = true
		}
	}
}

// noteSource logs, once each way, that the tunnel source of an up gif is
// not an address of this host, which keeps the gif out of RUNNING, and that
// it is back. Whatever else ends the wait (down, another tunnel) ends it
// silently.
func (r *reconciler) noteSource(ifc *iface, c *tunnel.Config, srcHere bool) {
	missing := c.Up && c.HasTunnel() && !srcHere
	switch {
	case missing && ifc.missingSrc != c.Src:
		r.log.Warn("tunnel source is not an address of this host; the interface is not RUNNING until it is",
			"interface", c.Name, "src", c.Src)
		ifc.missingSrc = c.Src
	case !missing && ifc.missingSrc.IsValid():
		if c.Up && c.Src == ifc.missingSrc {
			r.log.Info("tunnel source is an address of this host again; the interface is RUNNING",
				"interface", c.Name, "src", c.Src)
		}
		ifc.missingSrc = netip.Addr{}
	}
}

// publish hands the current interfaces to the receive paths: bridged gifs
// receive EtherIP, the others IP in IP.
func (r *reconciler) publish() {
	ifaces := make([]*dataplane.Iface, 0, len(r.ifaces))
	for _, ifc := range r.ifaces {
		ifaces = append(ifaces, ifc.Iface)
	}
	changeView(r.plane, func(v *dataplane.View) { v.IPTable, v.EtherTable = dataplane.Tables(ifaces) })
}

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
func (r *reconciler) reconcile(prev, next tunnel.State, force bool) error {
	wanted := domainRules(next)
	errs := []error{r.addRules(wanted)}
	// Looked up by name: with a thousand gifs, searching the lists for each
	// would cost more than the change.
	prevByName, nextByName := configsByName(prev), configsByName(next)
	bridged := next.Bridged()
	// A gif that goes, or joins or leaves a bridge, loses its device: a
	// bridge member is a TAP, any other gif a TUN.
	for name, ifc := range r.ifaces {
		if _, ok := nextByName[name]; !ok || ifc.Ether() != bridged[name] {
			ifc.Detach()
			delete(r.ifaces, name)
		}
	}
	for i := range next.Interfaces {
		c := &next.Interfaces[i]
		old := prevByName[c.Name]
		if _, exists := r.ifaces[c.Name]; exists && !force && old != nil && old.Equal(c) {
			continue // unchanged
		}
		errs = append(errs, r.reconcileIface(old, c, bridged[c.Name], force))
	}
	errs = append(errs, r.reconcileBridges(prev, next, force))
	r.updateRunning()
	errs = append(errs, r.removeRules(wanted))
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
func (r *reconciler) reconcileIface(old, c *tunnel.Config, ether, force bool) error {
	ifc, exists := r.ifaces[c.Name]
	if !exists {
		dev, err := r.createDevice(c, ether)
		if err != nil {
			return err
		}
		ifc = &iface{Iface: r.plane.Attach(dev, ether, r.countersOf(c.Name))}
		r.ifaces[c.Name] = ifc
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
		note(r.host.SetMTU(c.Name, deviceMTU(c, ether)))
	}
	// Before the TAP joins its bridge (reconcileBridges), so that the
	// bridge, whose address follows its ports', never takes the random one
	// Linux gave the new TAP.
	if ether && !c.LLAddr.IsZero() && (fresh || old.LLAddr != c.LLAddr) {
		note(r.host.SetLLAddr(c.Name, c.LLAddr[:]))
	}
	if !ether && (fresh || old.NoInet6 != c.NoInet6) {
		note(r.host.SetIPv6Disabled(c.Name, c.NoInet6))
	}
	// IPv6 addresses need the interface up: up first, down last.
	if c.Up && (fresh || !old.Up) {
		note(r.host.SetUp(c.Name, true))
	}
	if !ether {
		// Turning IPv6 off or on removes or brings back addresses behind
		// gif's back.
		note(r.reconcileAddrs(old, c, !exists, exists && !fresh && old.NoInet6 == c.NoInet6))
	}
	if !c.Up && (fresh || old.Up) {
		note(r.host.SetUp(c.Name, false))
	}
	return errors.Join(errs...)
}

func (r *reconciler) createDevice(c *tunnel.Config, ether bool) (link.Device, error) {
	dev, err := r.host.CreateDevice(c.Name, deviceMTU(c, ether), ether)
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
func (r *reconciler) reconcileAddrs(old, c *tunnel.Config, created, trustOld bool) error {
	var have []link.Addr
	switch {
	case created:
	case trustOld:
		have = r.wantAddrs(old)
	default:
		var err error
		if have, err = r.host.Addrs(c.Name); err != nil {
			return err
		}
	}
	want := r.wantAddrs(c)
	var errs []error
	if old != nil {
		for _, a := range r.wantAddrs(old) {
			if !slices.Contains(want, a) && slices.Contains(have, a) {
				if err := r.host.SetAddr(c.Name, a, false); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	for _, a := range want {
		if !slices.Contains(have, a) {
			if err := r.host.SetAddr(c.Name, a, true); err != nil {
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
func (r *reconciler) bridgePorts(b *tunnel.BridgeConfig, old *tunnel.BridgeConfig) []string {
	var ports []string
	for _, m := range b.Members {
		mi, err := r.host.Info(m)
		if err != nil {
			if old == nil || slices.Contains(old.Members, m) {
				r.log.Warn("bridge member is not in Linux; skipped", "bridge", b.Name, "member", m, "err", err)
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
func (r *reconciler) reconcileBridges(prev, next tunnel.State, force bool) error {
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, b := range prev.Bridges {
		if _, ok := next.FindBridge(b.Name); !ok {
			note(r.host.SetBridge(b.Name, false))
		}
	}
	for i := range next.Bridges {
		b := &next.Bridges[i]
		old, _ := prev.FindBridge(b.Name)
		info, err := r.host.Info(b.Name)
		if err != nil {
			if err := r.host.SetBridge(b.Name, true); err != nil {
				errs = append(errs, err)
				continue
			}
			old = nil
		}
		for _, m := range r.bridgePorts(b, old) {
			note(r.host.SetMaster(m, b.Name))
		}
		if old != nil {
			for _, m := range old.Members {
				// A gif that left lost its TAP, and with it the port; an
				// interface that is gone from Linux left by itself.
				if slices.Contains(b.Members, m) || tunnel.IsGif(m) {
					continue
				}
				if mi, err := r.host.Info(m); err == nil && mi.Master == b.Name {
					note(r.host.SetMaster(m, ""))
				}
			}
		}
		if force || old == nil || old.Up != b.Up || info.Up != b.Up {
			note(r.host.SetUp(b.Name, b.Up))
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
			rules[domainRule{tunnel.Family(c.Src), c.Domain}] = true
		}
	}
	return rules
}

// addRules installs the rules of wanted that are not installed.
func (r *reconciler) addRules(wanted map[domainRule]bool) error {
	var errs []error
	for rule := range wanted {
		if r.rules[rule] {
			continue
		}
		if err := r.host.SetDomainRules(rule.family, rule.domain, true); err != nil {
			errs = append(errs, err)
			continue
		}
		r.rules[rule] = true
	}
	return errors.Join(errs...)
}

// removeRules removes the installed rules that are not in wanted.
func (r *reconciler) removeRules(wanted map[domainRule]bool) error {
	var errs []error
	for rule := range r.rules {
		if wanted[rule] {
			continue
		}
		if err := r.host.SetDomainRules(rule.family, rule.domain, false); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(r.rules, rule)
	}
	return errors.Join(errs...)
}

// wantAddrs lists the addresses Linux should have on c: the configured ones
// and, while c is up and IPv6 is on, the link-local one gif(4) adds.
func (r *reconciler) wantAddrs(c *tunnel.Config) []link.Addr {
	var out []link.Addr
	if c.Up && !c.NoInet6 {
		if ll, err := r.linkLocalAddr(); err == nil {
			out = append(out, link.Addr{Prefix: netip.PrefixFrom(ll, 64)})
		} else {
			r.log.Warn("no IPv6 link-local address", "interface", c.Name, "err", err)
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

func (r *reconciler) linkLocalAddr() (netip.Addr, error) {
	l := &r.linkLocal
	if !l.asked || l.err != nil {
		l.addr, l.err = r.host.LinkLocal()
		l.asked = true
	}
	return l.addr, l.err
}
