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
	"path/filepath"
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
	"gif/internal/state"
	"gif/internal/tunnel"
)

// Daemon is the gif daemon of one network namespace.
type Daemon struct {
	log        *slog.Logger
	statePath  string
	watchAddrs func(ctx context.Context, changed func()) error
	// listing makes the listings of this host's addresses and their
	// publication (refreshLocal) one at a time, so that no older list is
	// published over a newer one. Taken before mu.
	listing sync.Mutex

	mu    sync.Mutex // serialises configuration changes, and guards what follows
	state tunnel.State
	links *reconciler // Linux and the data plane's devices, made to match state
	seq   *seqReservations
	// negotiated holds the SAs ike negotiated, newest first.
	negotiated []policy.SA

	plane   dataplane.Plane // the packet path; the daemon publishes its view under mu
	release releaser
	ike     *ike.Engine   // negotiates the SAs of ike rules on sockets
	sockets ikeSockets    // opened in New, before the daemon serves
	stop    chan struct{} // ends the daemon's own goroutines
}

// domainRule names the policy rules (link.AddDomainRules) that route the
// outer packets of one family marked with a routing domain.
type domainRule struct {
	family int // 4 or 6
	domain int
}

// Config says where the daemon keeps its state and how it logs, and gives
// it the two things of the host it does not reach through Host: IKE's
// sockets, which live with the host's other sockets (internal/outer), and
// the watch of this host's addresses. Both funcs are required.
type Config struct {
	StatePath string
	Log       *slog.Logger
	// ListenIKE opens a UDP socket of family 4 or 6 on port: IKE's 500,
	// or 4500, where IKE and ESP go after NAT traversal (outer.ListenUDP).
	ListenIKE func(family int, port uint16) (IKEConn, error)
	// WatchAddrs calls changed once it follows this host's addresses
	// (for those added since New listed them) and then, until ctx ends,
	// when they have changed (link.WatchAddrs).
	WatchAddrs func(ctx context.Context, changed func()) error
}

// New restores the state kept at cfg.StatePath, if any, onto host and
// plane, whose outer transport the caller opened; the daemon closes plane
// when it closes. It does not serve the control API; see Serve.
func New(host Host, plane dataplane.Plane, cfg Config) (*Daemon, error) {
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	d := &Daemon{
		log:        log,
		statePath:  cfg.StatePath,
		watchAddrs: cfg.WatchAddrs,
		links:      newReconciler(host, plane, log),
		seq:        &seqReservations{path: filepath.Join(filepath.Dir(cfg.StatePath), seqFileName), log: log},
		plane:      plane,
		release:    releaser{free: debug.FreeOSMemory, delay: releaseDelay},
		sockets:    ikeSockets{ike: make(map[int]IKEConn), nat: make(map[int]*natConn)},
		stop:       make(chan struct{}),
	}
	// Variables a stored state lacks keep their defaults.
	saved := tunnel.State{Sysctl: tunnel.NewSysctl()}
	if err := state.Load(d.statePath, &saved); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("restore state: %w", err)
	}
	if saved.GiveLLAddrs(d.links) {
		// A state stored before gif kept bridged gifs' Ethernet addresses:
		// they get theirs now, and keep them from the next start on.
		if err := state.Save(d.statePath, saved); err != nil {
			d.log.Warn("could not store the bridged gifs' new Ethernet addresses; they change again at the next start",
				"file", d.statePath, "err", err)
		}
	}
	d.plane.Publish(&dataplane.View{Sysctl: &saved.Sysctl})
	d.links.publishLocal(d.links.listLocal())
	d.links.publish()
	// Before the interfaces start sending: it adds a transport.
	d.startIKE(cfg.ListenIKE)
	if err := d.links.reconcile(tunnel.State{}, saved, true); err != nil {
		d.Close()
		return nil, fmt.Errorf("restore state from %s: %w", d.statePath, err)
	}
	d.state = saved
	d.publishSysctl(&saved.Sysctl)
	d.links.publish()
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
	return d.watchAddrs(ctx, d.refreshLocal)
}

// refreshLocal lists this host's addresses and publishes them, with the
// RUNNING flags they decide. It lists before taking mu: with thousands of
// addresses the dump takes milliseconds (2 ms for 3,000), which commands
// would wait for.
func (d *Daemon) refreshLocal() {
	d.listing.Lock()
	defer d.listing.Unlock()
	local := d.links.listLocal()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.links.publishLocal(local)
	d.links.updateRunning()
	d.links.publish() // RUNNING changed: the kernel plane takes or drops tunnels
}

// refreshLocalFor refreshes this host's addresses when t sets a tunnel
// whose source they lack: an address added just before the command (ip
// addr add, then gif ifconfig) reaches the watch only after it settles,
// and t would warn, falsely, that its source is not this host's. Only
// then, as the listing is slow. It takes mu, so the caller must not
// hold it.
func (d *Daemon) refreshLocalFor(t tunnel.Transaction) {
	for _, c := range t.Commands {
		for _, op := range c.Ops {
			if op.Kind == tunnel.OpTunnel && !d.links.IsLocal(op.Src) {
				d.refreshLocal()
				return
			}
		}
	}
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
	d.links.close()
	d.plane.Close()
	d.sockets.close()
}

// Apply applies one ifconfig command to the interface called name: all of it
// or, when any part fails, none of it. A gif or bridge keeps its
// configuration in the state; on any other interface the daemon only sets
// up, down and mtu.
func (d *Daemon) Apply(name string, ops []tunnel.Op) (control.ShowResult, []string, error) {
	t := tunnel.Transaction{Commands: []tunnel.Command{{Name: name, Ops: ops}}}
	d.refreshLocalFor(t)
	d.mu.Lock()
	defer d.mu.Unlock()
	warnings, err := d.applyTransaction(t, false)
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
	if !dryRun { // a dry run does not warn
		d.refreshLocalFor(t)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.applyTransaction(t, dryRun)
}

func (d *Daemon) applyTransaction(t tunnel.Transaction, dryRun bool) ([]string, error) {
	next, warnings, err := d.state.ApplyTransaction(t, d.links)
	if err != nil {
		return nil, err
	}
	if err := d.links.checkLinks(t); err != nil || dryRun {
		return nil, err // a dry run's warnings come when it applies
	}
	undo, err := d.links.applyLinks(t)
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
	if err := d.links.reconcile(prev, next, false); err != nil {
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
	d.links.publish()
	if d.links.forgetDestroyed(next) {
		d.release.soon()
	}
	return nil
}

// undo puts Linux back from next to prev after a change failed halfway.
func (d *Daemon) undo(next, prev tunnel.State) {
	if err := d.links.reconcile(next, prev, true); err != nil {
		d.log.Error("could not restore the previous configuration", "err", err)
	}
	d.links.publish()
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

// releaser returns to the system, once a burst of destroys is over, the
// memory the destroyed interfaces held: their goroutines' stacks, their
// structures, the device buffers they borrowed. Left to itself the runtime
// keeps it: the collector runs when the daemon allocates, which an idle
// one hardly does, and the scavenger returns only what lies well above the
// heap goal: 1,000 gifs destroyed left 19 MB resident against 10 MB idle,
// unchanged 20 s later; 15 MB with this. A forced collection of the
// daemon's small heap takes about a millisecond, once per burst.
type releaser struct {
	free  func() // debug.FreeOSMemory
	delay time.Duration
	due   atomic.Bool // set from the first destroy of a burst until free runs
}

// soon calls free delay after the first destroy of a burst.
func (r *releaser) soon() {
	if r.due.CompareAndSwap(false, true) {
		time.AfterFunc(r.delay, func() {
			r.due.Store(false)
			r.free()
		})
	}
}

func (d *Daemon) publishSysctl(s *tunnel.Sysctl) {
	changeView(d.plane, func(v *dataplane.View) { v.Sysctl = s })
}

// changeView publishes a new view on plane: the current one with what set
// changes. The callers hold the Daemon's mu, or run before it serves (New).
func changeView(plane dataplane.Plane, set func(*dataplane.View)) {
	next := *plane.View()
	set(&next)
	plane.Publish(&next)
}
