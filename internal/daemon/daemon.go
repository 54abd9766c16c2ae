// Package daemon owns one network namespace's gif interfaces: it applies
// configuration to the tunnel model and to Linux, keeps the state on disk
// and drives the data plane (internal/dataplane) through dataplane.Plane.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gif/internal/control"
	"gif/internal/dataplane"
	"gif/internal/ike"
	"gif/internal/ipsec/policy"
	"gif/internal/link"
	"gif/internal/state"
	"gif/internal/tunnel"
)

// Daemon is the gif daemon of one network namespace.
type Daemon struct {
	host      Host
	log       *slog.Logger
	statePath string

	mu        sync.Mutex // serialises configuration changes
	state     tunnel.State
	ifaces    map[string]*iface
	linkLocal linkLocal // guarded by mu
	// counters of each gif by name: they outlive its devices, which a
	// bridge membership change replaces.
	counters map[string]*tunnel.Counters
	rules    map[domainRule]bool // the policy rules installed for tunneldomain

	plane dataplane.Plane // the packet path; the daemon publishes its view under mu
	// seqReserved is the sequence number reserved for each SA, and
	// seqUnstored whether the last try to store reservations failed
	// (both guarded by mu); see ipsec_seq.go.
	seqReserved map[string]uint64
	seqUnstored bool
	stop        chan struct{} // ends the daemon's own goroutines
	watchAddrs  func(ctx context.Context, changed func()) error

	// release returns freed memory to the system, releaseDelay after the
	// first destroy of a burst; releasing is set while it is due.
	release      func()
	releaseDelay time.Duration
	releasing    atomic.Bool

	// ike negotiates the SAs of ike rules on ikeConns; negotiated holds
	// them (guarded by mu), newest first.
	ike        *ike.Engine
	ikeConns   map[int]IKEConn
	natConns   map[int]*natConn // port 4500, also in conns as protoESPInUDP
	negotiated []policy.SA
}

// domainRule names the policy rules (link.AddDomainRules) that route the
// outer packets of one family marked with a routing domain.
type domainRule struct {
	family int // 4 or 6
	domain int
}

// Config says where the daemon keeps its state, how it logs and how it
// opens IKE's sockets.
type Config struct {
	StatePath string
	Log       *slog.Logger
	// ListenIKE opens a UDP socket of family 4 or 6 on port: IKE's 500,
	// or 4500, where IKE and ESP go after NAT traversal (outer.ListenUDP).
	ListenIKE func(family int, port uint16) (IKEConn, error)
	// WatchAddrs calls changed, until ctx ends, when this host's
	// addresses have changed (link.WatchAddrs).
	WatchAddrs func(ctx context.Context, changed func()) error
}

// New restores the state kept at cfg.StatePath, if any, onto host and
// plane, whose outer transport the caller opened; the daemon closes plane
// when it closes. It does not serve the control API; see Serve.
func New(host Host, plane dataplane.Plane, cfg Config) (*Daemon, error) {
	d := &Daemon{
		host:       host,
		plane:      plane,
		watchAddrs: cfg.WatchAddrs,
		log:        cfg.Log,
		statePath:  cfg.StatePath,
		ifaces:     make(map[string]*iface),
		counters:   make(map[string]*tunnel.Counters),
		stop:       make(chan struct{}),
		rules:      make(map[domainRule]bool),
		ikeConns:   make(map[int]IKEConn),
		natConns:   make(map[int]*natConn),

		release:      debug.FreeOSMemory,
		releaseDelay: releaseDelay,
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	var saved tunnel.State
	if err := state.Load(d.statePath, &saved); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("restore state: %w", err)
	}
	if saved.GiveLLAddrs(d) {
		// A state stored before gif kept bridged gifs' Ethernet addresses:
		// they get theirs now, and keep them from the next start on.
		if err := state.Save(d.statePath, saved); err != nil {
			d.log.Warn("could not store the bridged gifs' new Ethernet addresses; they change again at the next start",
				"file", d.statePath, "err", err)
		}
	}
	d.plane.Publish(&dataplane.View{Sysctl: &saved.Sysctl})
	d.refreshLocal()
	d.publish()
	// Before the interfaces start sending: it adds a transport.
	d.startIKE(cfg.ListenIKE)
	if err := d.reconcile(tunnel.State{}, saved, true); err != nil {
		d.Close()
		return nil, fmt.Errorf("restore state from %s: %w", d.statePath, err)
	}
	d.state = saved
	d.publishSysctl(&saved.Sysctl)
	d.publish()
	if err := d.restoreIPsec(); err != nil {
		d.Close()
		return nil, fmt.Errorf("restore IPsec rules: %w", err)
	}
	go d.keepSeqReserved(d.stop)
	if len(saved.Interfaces)+len(saved.Bridges) > 0 {
		d.log.Info("restored state", "interfaces", len(saved.Interfaces), "bridges", len(saved.Bridges), "file", d.statePath)
	}
	return d, nil
}

// WatchAddrs follows this host's addresses until ctx ends, so that a tunnel
// becomes RUNNING when its source address appears.
func (d *Daemon) WatchAddrs(ctx context.Context) error {
	return d.watchAddrs(ctx, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.refreshLocal()
		d.updateRunning()
	})
}

// Close removes the interfaces and their policy rules from Linux (they come
// back from the state file when a daemon starts again) and closes the
// transport.
func (d *Daemon) Close() {
	if d.ike != nil {
		// Tell the peers, before the sockets close; the engine takes mu.
		d.ike.Close()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	select {
	case <-d.stop:
	default:
		close(d.stop)
	}
	for name, ifc := range d.ifaces {
		ifc.Detach()
		delete(d.ifaces, name)
	}
	if err := d.removeRules(nil); err != nil {
		d.log.Warn("remove policy rules", "err", err)
	}
	d.plane.Close()
	for k, c := range d.ikeConns {
		c.Close()
		delete(d.ikeConns, k)
	}
}

// Apply applies one ifconfig command to the interface called name: all of it
// or, when any part fails, none of it. A gif or bridge keeps its
// configuration in the state; on any other interface the daemon only sets
// up, down and mtu.
func (d *Daemon) Apply(name string, ops []tunnel.Op) (control.ShowResult, []string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	warnings, err := d.applyTransaction(tunnel.Transaction{Commands: []tunnel.Command{{Name: name, Ops: ops}}}, false)
	if err != nil {
		return control.ShowResult{}, nil, err
	}
	r, err := d.show(name)
	if err != nil && (tunnel.IsGif(name) || tunnel.IsBridge(name)) { // destroyed
		return control.ShowResult{}, warnings, nil
	}
	return r, warnings, err
}

// ApplyTransaction applies the commands of t as one change: every one or,
// when any fails, none, and Linux changes once. An error names the command
// that failed by t's file and line. With dryRun it checks t as it would
// apply it, and changes neither the state nor Linux.
func (d *Daemon) ApplyTransaction(t tunnel.Transaction, dryRun bool) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.applyTransaction(t, dryRun)
}

func (d *Daemon) applyTransaction(t tunnel.Transaction, dryRun bool) ([]string, error) {
	next, warnings, err := d.state.ApplyTransaction(t, d)
	if err != nil {
		return nil, err
	}
	if err := d.checkLinks(t); err != nil || dryRun {
		return nil, err // a dry run's warnings come when it applies
	}
	undo, err := d.applyLinks(t)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(t.Commands, ownedBy) {
		return warnings, nil
	}
	if err := d.commit(next); err != nil {
		undo()
		return nil, t.Whole(fmt.Errorf("%s: %w", strings.Join(commandNames(t), ", "), err))
	}
	return warnings, nil
}

// ownedBy reports whether c names a gif or bridge, whose configuration
// the daemon keeps in its state.
func ownedBy(c tunnel.Command) bool { return tunnel.IsGif(c.Name) || tunnel.IsBridge(c.Name) }

// commandNames returns the interfaces the commands of t name, each once.
func commandNames(t tunnel.Transaction) []string {
	var names []string
	for _, c := range t.Commands {
		if !slices.Contains(names, c.Name) {
			names = append(names, c.Name)
		}
	}
	return names
}

// SetSysctl sets one sysctl variable and stores it.
func (d *Daemon) SetSysctl(name, value string) (control.SysctlValue, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	next := d.state.Clone()
	prev, err := next.Sysctl.Get(name)
	if err != nil {
		return control.SysctlValue{}, err
	}
	if err := next.Sysctl.Set(name, value); err != nil {
		return control.SysctlValue{}, err
	}
	if err := d.commit(next); err != nil {
		return control.SysctlValue{}, err
	}
	v, _ := next.Sysctl.Get(name)
	return control.SysctlValue{Name: name, Value: v, Previous: prev}, nil
}

// Sysctl returns the variables called names, or all of them.
func (d *Daemon) Sysctl(names []string) ([]control.SysctlValue, error) {
	if len(names) == 0 {
		names = tunnel.SysctlNames()
	}
	s := d.plane.View().Sysctl
	out := make([]control.SysctlValue, 0, len(names))
	for _, name := range names {
		v, err := s.Get(name)
		if err != nil {
			return nil, err
		}
		out = append(out, control.SysctlValue{Name: name, Value: v})
	}
	return out, nil
}

// commit stores next, makes Linux match it and hands it to the data plane,
// all or nothing. The state file is written before Linux is touched, so a
// disk that refuses it refuses the change with nothing changed; it is put
// in place after, and if Linux refuses, the previous state is put back.
func (d *Daemon) commit(next tunnel.State) error {
	prev := d.state
	pending, err := state.Prepare(d.statePath, next)
	if err != nil {
		return refused(err)
	}
	if err := d.reconcile(prev, next, false); err != nil {
		pending.Discard()
		d.undo(next, prev)
		return err
	}
	if err := d.putInPlace(pending); err != nil {
		d.undo(next, prev)
		return err
	}
	d.state = next
	d.publishSysctl(&next.Sysctl)
	d.publish()
	if len(d.counters) > len(next.Interfaces) {
		kept := configsByName(next)
		for name := range d.counters {
			if _, ok := kept[name]; !ok {
				delete(d.counters, name) // destroyed: a new gif of that name starts from zero
			}
		}
		d.releaseSoon()
	}
	return nil
}

// undo puts Linux back from next to prev after a change failed halfway.
func (d *Daemon) undo(next, prev tunnel.State) {
	if err := d.reconcile(next, prev, true); err != nil {
		d.log.Error("could not restore the previous configuration", "err", err)
	}
	d.publish()
}

// refused says that a change was refused because its file could not be
// stored.
func refused(err error) error {
	return fmt.Errorf("%w: nothing changed", err)
}

// putInPlace commits a prepared file. A file in place whose directory
// could not be synced keeps the change: it is what the next daemon reads
// unless the machine crashes first.
func (d *Daemon) putInPlace(p *state.Pending) error {
	err := p.Commit()
	if errors.Is(err, state.ErrNotSynced) {
		d.log.Warn("stored, but may not survive a crash", "err", err)
		return nil
	}
	if err != nil {
		return refused(err)
	}
	return nil
}

// releaseDelay gathers the destroys of a burst (gif netstart, a script
// destroying gifs one by one) into one release.
const releaseDelay = time.Second

// releaseSoon returns to the system, once a burst of destroys is over, the
// memory the destroyed interfaces held: their goroutines' stacks, their
// structures, the device buffers they borrowed. Left to itself the runtime
// keeps it: the collector runs when the daemon allocates, which an idle
// one hardly does, and the scavenger returns only what lies well above the
// heap goal: 1,000 gifs destroyed left 19 MB resident against 10 MB idle,
// unchanged 20 s later; 15 MB with this. A forced collection of the
// daemon's small heap takes about a millisecond, once per burst.
func (d *Daemon) releaseSoon() {
	if d.releasing.CompareAndSwap(false, true) {
		time.AfterFunc(d.releaseDelay, func() {
			d.releasing.Store(false)
			d.release()
		})
	}
}

// countersOf returns the counters of the gif called name.
func (d *Daemon) countersOf(name string) *tunnel.Counters {
	c, ok := d.counters[name]
	if !ok {
		c = new(tunnel.Counters)
		d.counters[name] = c
	}
	return c
}

// IsLocal reports whether addr is one of this host's addresses.
func (d *Daemon) IsLocal(addr netip.Addr) bool {
	return d.plane.View().Local[addr]
}

func (d *Daemon) refreshLocal() {
	addrs, err := d.host.Addrs("")
	if err != nil {
		d.log.Warn("list local addresses", "err", err)
	}
	set := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		set[a.Prefix.Addr()] = true
	}
	d.change(func(v *dataplane.View) { v.Local = set })
}

// updateRunning sets each interface's RUNNING flag: up, with a tunnel whose
// source is an address of this host.
func (d *Daemon) updateRunning() {
	for _, ifc := range d.ifaces {
		c := ifc.Config()
		srcHere := d.IsLocal(c.Src)
		d.noteSource(ifc, c, srcHere)
		running := c.Up && c.HasTunnel() && srcHere
		if ifc.SetRunning(running) != running || !ifc.carrierSet {
			if err := link.SetCarrier(ifc.Device(), running); err != nil {
				d.log.Warn("set carrier", "interface", c.Name, "err", err)
			}
			ifc.carrierSet = true
		}
	}
}

// noteSource logs, once each way, that the tunnel source of an up gif is
// not an address of this host, which keeps the gif out of RUNNING, and that
// it is back. Whatever else ends the wait (down, another tunnel) ends it
// silently.
func (d *Daemon) noteSource(ifc *iface, c *tunnel.Config, srcHere bool) {
	missing := c.Up && c.HasTunnel() && !srcHere
	switch {
	case missing && ifc.missingSrc != c.Src:
		d.log.Warn("tunnel source is not an address of this host; the interface is not RUNNING until it is",
			"interface", c.Name, "src", c.Src)
		ifc.missingSrc = c.Src
	case !missing && ifc.missingSrc.IsValid():
		if c.Up && c.Src == ifc.missingSrc {
			d.log.Info("tunnel source is an address of this host again; the interface is RUNNING",
				"interface", c.Name, "src", c.Src)
		}
		ifc.missingSrc = netip.Addr{}
	}
}

// publish hands the current interfaces to the receive paths: bridged gifs
// receive EtherIP, the others IP in IP.
func (d *Daemon) publish() {
	var ip, ether []*dataplane.Iface
	for _, ifc := range d.ifaces {
		if ifc.Ether() {
			ether = append(ether, ifc.Iface)
		} else {
			ip = append(ip, ifc.Iface)
		}
	}
	config := (*dataplane.Iface).Config
	d.change(func(v *dataplane.View) {
		v.IPTable, v.EtherTable = tunnel.NewTable(ip, config), tunnel.NewTable(ether, config)
	})
}

func (d *Daemon) publishSysctl(s *tunnel.Sysctl) { d.change(func(v *dataplane.View) { v.Sysctl = s }) }

// change publishes a new view: the current one with what set changes. The
// callers hold mu, or run before the daemon serves (New).
func (d *Daemon) change(set func(*dataplane.View)) {
	next := *d.plane.View()
	set(&next)
	d.plane.Publish(&next)
}

// iface is one gif interface: its part in the data plane, and what the
// daemon keeps of it.
type iface struct {
	*dataplane.Iface
	carrierSet bool // guarded by d.mu
	// missingSrc is the tunnel source that is not an address of this host,
	// once logged; guarded by d.mu.
	missingSrc netip.Addr
}
