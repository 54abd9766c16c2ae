// Package daemon owns one network namespace's gif interfaces: it applies
// configuration to the tunnel model and to Linux, keeps the state on disk
// and runs the data plane between the devices and the outer transport.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	"gif/internal/link"
	"gif/internal/outer"
	"gif/internal/state"
	"gif/internal/tunnel"
)

// Daemon is the gif daemon of one network namespace.
type Daemon struct {
	host      Host
	log       *slog.Logger
	statePath string
	namespace string

	mu     sync.Mutex // serialises configuration changes
	state  tunnel.State
	ifaces map[string]*iface

	// What the data plane reads without locks.
	table   atomic.Pointer[tunnel.Table[*iface]]
	local   atomic.Pointer[map[netip.Addr]bool]
	sysctl  atomic.Pointer[tunnel.Sysctl]
	conns   map[transportKey]outer.Conn
	ipip    tunnel.IPIPCounters
	stopped chan struct{}
}

type transportKey struct {
	family int // 4 or 6
	proto  uint8
}

// Config says where the daemon keeps its state and how it logs.
type Config struct {
	StatePath string
	Namespace string
	Log       *slog.Logger
}

// New restores the state kept at cfg.StatePath, if any, onto host, and
// opens the outer transport. It does not serve the control API; see Serve.
func New(host Host, cfg Config) (*Daemon, error) {
	d := &Daemon{
		host:      host,
		log:       cfg.Log,
		statePath: cfg.StatePath,
		namespace: cfg.Namespace,
		ifaces:    make(map[string]*iface),
		conns:     make(map[transportKey]outer.Conn),
		stopped:   make(chan struct{}),
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	var saved tunnel.State
	if err := state.Load(d.statePath, &saved); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("restore state: %w", err)
	}
	d.refreshLocal()
	d.sysctl.Store(&saved.Sysctl)
	d.publish()
	if err := d.openTransport(); err != nil {
		d.Close()
		return nil, err
	}
	if err := d.reconcile(tunnel.State{}, saved); err != nil {
		d.Close()
		return nil, fmt.Errorf("restore state from %s: %w", d.statePath, err)
	}
	d.state = saved
	d.sysctl.Store(&saved.Sysctl)
	d.publish()
	if n := len(saved.Interfaces); n > 0 {
		d.log.Info("restored state", "interfaces", n, "file", d.statePath)
	}
	return d, nil
}

// openTransport opens a raw socket for each outer family and protocol and
// starts its receive loop.
func (d *Daemon) openTransport() error {
	for _, family := range []int{4, 6} {
		for _, proto := range []uint8{4, 41} {
			conn, err := d.host.Listen(family, proto)
			if err != nil {
				if family == 6 {
					// A namespace without IPv6 still tunnels over IPv4.
					d.log.Warn("no IPv6 outer transport", "proto", proto, "err", err)
					continue
				}
				return err
			}
			d.conns[transportKey{family, proto}] = conn
			go d.receive(conn, proto)
		}
	}
	return nil
}

// WatchAddrs follows this host's addresses until ctx ends, so that a tunnel
// becomes RUNNING when its source address appears.
func (d *Daemon) WatchAddrs(ctx context.Context) error {
	return d.host.WatchAddrs(ctx, func() {
		d.refreshLocal()
		d.mu.Lock()
		defer d.mu.Unlock()
		d.updateRunning()
	})
}

// Close removes the interfaces from Linux (they come back from the state
// file when a daemon starts again) and closes the transport.
func (d *Daemon) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for name, ifc := range d.ifaces {
		ifc.close()
		delete(d.ifaces, name)
	}
	for k, c := range d.conns {
		c.Close()
		delete(d.conns, k)
	}
}

// Apply applies one ifconfig command to the interface called name: all of it
// or, when any part fails, none of it.
func (d *Daemon) Apply(name string, ops []tunnel.Op) (InterfaceStatus, []string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	next, warnings, err := d.state.Apply(name, ops, d)
	if err != nil {
		return InterfaceStatus{}, nil, err
	}
	if err := d.commit(next); err != nil {
		return InterfaceStatus{}, nil, fmt.Errorf("%s: %w", name, err)
	}
	if _, ok := next.Find(name); !ok {
		return InterfaceStatus{Config: tunnel.Config{Name: name}}, warnings, nil
	}
	return d.status(name), warnings, nil
}

// SetSysctl sets one sysctl variable and stores it.
func (d *Daemon) SetSysctl(name, value string) (SysctlValue, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	next := d.state.Clone()
	prev, err := next.Sysctl.Get(name)
	if err != nil {
		return SysctlValue{}, err
	}
	if err := next.Sysctl.Set(name, value); err != nil {
		return SysctlValue{}, err
	}
	if err := d.commit(next); err != nil {
		return SysctlValue{}, err
	}
	v, _ := next.Sysctl.Get(name)
	return SysctlValue{Name: name, Value: v, Previous: prev}, nil
}

// Sysctl returns the variables called names, or all of them.
func (d *Daemon) Sysctl(names []string) ([]SysctlValue, error) {
	if len(names) == 0 {
		names = tunnel.SysctlNames()
	}
	s := d.sysctl.Load()
	out := make([]SysctlValue, 0, len(names))
	for _, name := range names {
		v, err := s.Get(name)
		if err != nil {
			return nil, err
		}
		out = append(out, SysctlValue{Name: name, Value: v})
	}
	return out, nil
}

// commit makes Linux match next, stores next and hands it to the data
// plane; if Linux refuses, it puts back the previous state.
func (d *Daemon) commit(next tunnel.State) error {
	prev := d.state
	if err := d.reconcile(prev, next); err != nil {
		if rerr := d.reconcile(next, prev); rerr != nil {
			d.log.Error("could not restore the previous configuration", "err", rerr)
		}
		d.publish()
		return err
	}
	if err := state.Save(d.statePath, next); err != nil {
		if rerr := d.reconcile(next, prev); rerr != nil {
			d.log.Error("could not restore the previous configuration", "err", rerr)
		}
		d.publish()
		return fmt.Errorf("store state: %w", err)
	}
	d.state = next
	d.sysctl.Store(&next.Sysctl)
	d.publish()
	return nil
}

// reconcile changes Linux from what prev describes to what next describes.
func (d *Daemon) reconcile(prev, next tunnel.State) error {
	var errs []error
	for _, old := range prev.Interfaces {
		if _, ok := next.Find(old.Name); !ok {
			if ifc, ok := d.ifaces[old.Name]; ok {
				ifc.close()
				delete(d.ifaces, old.Name)
			}
		}
	}
	for i := range next.Interfaces {
		c := &next.Interfaces[i]
		old, _ := prev.Find(c.Name)
		if err := d.reconcileIface(old, c); err != nil {
			errs = append(errs, err)
		}
	}
	d.updateRunning()
	return errors.Join(errs...)
}

func (d *Daemon) reconcileIface(old, c *tunnel.Config) error {
	ifc, exists := d.ifaces[c.Name]
	if !exists {
		dev, err := d.host.CreateTUN(c.Name, c.MTU)
		if err != nil {
			return fmt.Errorf("create %s: %w", c.Name, err)
		}
		ifc = newIface(dev, d)
		d.ifaces[c.Name] = ifc
		old = nil // a new device has nothing of the old configuration
	}
	cfg := c.Clone()
	ifc.cfg.Store(&cfg)
	if old == nil || old.MTU != c.MTU {
		if err := d.host.SetMTU(c.Name, c.MTU); err != nil {
			return err
		}
	}
	if old == nil || old.NoInet6 != c.NoInet6 {
		if err := d.host.SetIPv6Disabled(c.Name, c.NoInet6); err != nil {
			return err
		}
	}
	// Addresses need the interface up for IPv6; bring it up first when
	// it goes up, and down last when it goes down.
	if c.Up {
		if err := d.host.SetUp(c.Name, true); err != nil {
			return err
		}
	}
	want := d.wantAddrs(c)
	var have []link.Addr
	if old != nil {
		have = d.wantAddrs(old)
		if c.NoInet6 && !old.NoInet6 {
			// disable_ipv6 has already taken every IPv6 address away.
			have = slices.DeleteFunc(have, func(a link.Addr) bool { return a.Prefix.Addr().Is6() })
		}
	}
	for _, a := range have {
		if !slices.Contains(want, a) {
			if err := d.host.DelAddr(c.Name, a); err != nil {
				return err
			}
		}
	}
	for _, a := range want {
		if !slices.Contains(have, a) {
			if err := d.host.AddAddr(c.Name, a); err != nil {
				return err
			}
		}
	}
	if !c.Up {
		if err := d.host.SetUp(c.Name, false); err != nil {
			return err
		}
	}
	return nil
}

// wantAddrs lists the addresses Linux should have on c: the configured ones
// and, while c is up and IPv6 is on, the link-local one gif(4) adds.
func (d *Daemon) wantAddrs(c *tunnel.Config) []link.Addr {
	var out []link.Addr
	if c.Up && !c.NoInet6 {
		if ll, err := d.host.LinkLocal(); err == nil {
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

// IsLocal reports whether addr is one of this host's addresses.
func (d *Daemon) IsLocal(addr netip.Addr) bool {
	return (*d.local.Load())[addr]
}

func (d *Daemon) refreshLocal() {
	addrs, err := d.host.LocalAddrs()
	if err != nil {
		d.log.Warn("list local addresses", "err", err)
	}
	set := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		set[a] = true
	}
	d.local.Store(&set)
}

// updateRunning sets each interface's RUNNING flag: up, with a tunnel whose
// source is an address of this host.
func (d *Daemon) updateRunning() {
	for _, ifc := range d.ifaces {
		c := ifc.cfg.Load()
		running := c.Up && c.HasTunnel() && d.IsLocal(c.Src)
		if ifc.running.Swap(running) != running || !ifc.carrierSet {
			if err := d.host.SetCarrier(ifc.dev, running); err != nil {
				d.log.Warn("set carrier", "interface", c.Name, "err", err)
			}
			ifc.carrierSet = true
		}
	}
}

// publish hands the current interfaces to the receive path.
func (d *Daemon) publish() {
	ifaces := make([]*iface, 0, len(d.ifaces))
	for _, ifc := range d.ifaces {
		ifaces = append(ifaces, ifc)
	}
	d.table.Store(tunnel.NewTable(ifaces, func(i *iface) *tunnel.Config { return i.cfg.Load() }))
}

// Show returns the status of the interface called name, or of all
// interfaces when name is empty.
func (d *Daemon) Show(name string) ([]InterfaceStatus, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if name != "" {
		if _, ok := d.state.Find(name); !ok {
			return nil, fmt.Errorf("%s: no such interface", name)
		}
		return []InterfaceStatus{d.status(name)}, nil
	}
	out := make([]InterfaceStatus, 0, len(d.state.Interfaces))
	for _, c := range d.state.Interfaces {
		out = append(out, d.status(c.Name))
	}
	return out, nil
}

// Stats returns the global and per-interface counters.
func (d *Daemon) Stats() Stats {
	all, _ := d.Show("")
	return Stats{IPIP: d.ipip.Snapshot(), Interfaces: all}
}

func (d *Daemon) status(name string) InterfaceStatus {
	c, _ := d.state.Find(name)
	st := InterfaceStatus{Config: c.Clone()}
	if ifc, ok := d.ifaces[name]; ok {
		st.Running = ifc.running.Load()
		st.Stats = ifc.counters.Snapshot()
	}
	if idx, err := d.host.Index(name); err == nil {
		st.Index = idx
	}
	if c.Up && !c.NoInet6 {
		if ll, err := d.host.LinkLocal(); err == nil {
			st.LinkLocal = ll
		}
	}
	return st
}

// Ping says which daemon answers.
func (d *Daemon) Ping() PingResult {
	return PingResult{PID: os.Getpid(), Namespace: d.namespace, StateFile: d.statePath}
}
