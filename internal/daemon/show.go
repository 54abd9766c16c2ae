package daemon

import (
	"fmt"

	"gif/internal/control"
	"gif/internal/dataplane/kernel"
	"gif/internal/link"
	"gif/internal/tunnel"
)

// Show returns what ifconfig shows of the interface called name: a gif, a
// bridge or another Linux interface; or of every gif and bridge when name
// is empty.
func (d *Daemon) Show(name string) (control.ShowResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.plane.Counters() // folds what the kernel plane carried into each gif's counters
	return d.show(name)
}

func (d *Daemon) show(name string) (control.ShowResult, error) {
	return snapshot{d.state, d.links}.show(name)
}

// snapshot is what ifconfig shows: the state, with what the reconciler
// knows of the interfaces (RUNNING, counters, the link-local address) and
// what Linux says of them. The Daemon's mu is held while it is read.
type snapshot struct {
	state tunnel.State
	links *reconciler
}

func (s snapshot) show(name string) (control.ShowResult, error) {
	var r control.ShowResult
	switch {
	case name == "":
		for _, c := range s.state.Interfaces {
			r.Interfaces = append(r.Interfaces, s.status(c.Name))
		}
		for _, b := range s.state.Bridges {
			r.Bridges = append(r.Bridges, s.bridgeStatus(b))
		}
	case tunnel.IsGif(name):
		if _, ok := s.state.Find(name); !ok {
			return r, fmt.Errorf("%s: no such interface", name)
		}
		r.Interfaces = append(r.Interfaces, s.status(name))
	case tunnel.IsBridge(name):
		b, ok := s.state.FindBridge(name)
		if !ok {
			return r, fmt.Errorf("%s: no such interface", name)
		}
		r.Bridges = append(r.Bridges, s.bridgeStatus(*b))
	default:
		info, err := s.links.host.Info(name)
		if err != nil {
			return r, fmt.Errorf("%s: no such interface", name)
		}
		r.Links = append(r.Links, linkStatus(info))
	}
	return r, nil
}

// Stats returns the global and per-interface counters.
func (d *Daemon) Stats() control.Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.plane.Counters() // before the interfaces: the kernel plane folds its counters into theirs
	all, _ := d.show("")
	st := control.Stats{IPIP: c.IPIP.Snapshot(), EtherIP: c.EtherIP.Snapshot(), ESP: c.ESP.Snapshot(), Interfaces: all.Interfaces}
	if p, ok := d.plane.(PassingPlane); ok {
		st.KernelPassed = d.kernelPassed(p)
		st.KernelCarried = p.Carried()
	}
	return st
}

// PassingPlane is the optional side of a dataplane.Plane that carries
// some packets itself and hands the rest on to another plane, as the
// kernel plane (*kernel.Plane) hands what its programs cannot carry to the
// userspace plane: Passed counts those by reason, Carried the packets it
// carried, as of the last Counters. The daemon type-asserts it for
// netstat, so that dataplane.Plane need not grow methods only one plane
// has.
type PassingPlane interface {
	Passed() ([kernel.NumPassReasons]uint64, error)
	Carried() uint64
}

// kernelPassed returns what p passed on, by reason, or nil if its counters
// cannot be read, which it logs.
func (d *Daemon) kernelPassed(p PassingPlane) []control.PassCount {
	passed, err := p.Passed()
	if err != nil {
		d.log.Warn("read the kernel plane's pass reasons", "err", err)
		return nil
	}
	counts := make([]control.PassCount, len(passed))
	for r, n := range passed {
		counts[r] = control.PassCount{Reason: kernel.PassReason(r).String(), Packets: n}
	}
	return counts
}

func (s snapshot) status(name string) control.InterfaceStatus {
	c, _ := s.state.Find(name)
	st := control.InterfaceStatus{Config: c.Clone(), Bridge: s.state.BridgeOf(name)}
	if ifc, ok := s.links.ifaces[name]; ok {
		st.Running = ifc.Running()
		st.Stats = ifc.Counters().Snapshot()
		if ps := ifc.PlaneState(); ps.Kernel {
			st.Plane = control.PlaneKernel
		} else {
			st.Plane, st.PlaneReason = control.PlaneUserspace, ps.Why
		}
	}
	if info, err := s.links.host.Info(name); err == nil {
		st.Index = info.Index
		if st.Bridge != "" {
			st.MAC = info.MAC.String()
		}
	}
	if c.Up && !c.NoInet6 && st.Bridge == "" {
		if ll, err := s.links.linkLocalAddr(); err == nil {
			st.LinkLocal = ll
		}
	}
	return st
}

func (s snapshot) bridgeStatus(b tunnel.BridgeConfig) control.BridgeStatus {
	st := control.BridgeStatus{BridgeConfig: b.Clone()}
	if info, err := s.links.host.Info(b.Name); err == nil {
		st.Index, st.Running = info.Index, info.Running
	}
	for _, m := range b.Members {
		port := control.LinkStatus{Name: m}
		if info, err := s.links.host.Info(m); err == nil {
			port = linkStatus(info)
		}
		st.Ports = append(st.Ports, port)
	}
	return st
}

func linkStatus(info link.LinkInfo) control.LinkStatus {
	st := control.LinkStatus{Name: info.Name, Index: info.Index, MTU: info.MTU, Up: info.Up, Running: info.Running, Master: info.Master}
	if len(info.MAC) > 0 {
		st.MAC = info.MAC.String()
	}
	return st
}
