package daemon

import (
	"errors"
	"io/fs"
	"net/netip"
	"path/filepath"
	"slices"

	"gif/internal/control"
	"gif/internal/dataplane"
	"gif/internal/ipsec/policy"
	"gif/internal/state"
)

// ipsecFileName keeps the loaded ipsec.conf rules beside the state, keys
// included, so that a restarted daemon protects the traffic again.
const ipsecFileName = "ipsec.json"

// stores them.
func (d *Daemon) LoadIPsec(cfg policy.Config) (control.IPsecStatus, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.loadIPsec(cfg, true); err != nil {
		return control.IPsecStatus{}, err
	}
	return d.ipsecStatus(), nil
}

func (d *Daemon) loadIPsec(cfg policy.Config, save bool) error {
	pol, err := dataplane.CompilePolicy(cfg, d.negotiated, d.plane.SAs())
	if err != nil {
		return err
	}
	// Stored before the SAs change, so that a disk that refuses the rules
	// refuses them whole; put in place once they are installed.
	var pending *state.Pending
	if save {
		if pending, err = state.Prepare(d.ipsecPath(), cfg); err != nil {
			return refused(err)
		}
	}
	d.seq.skipSent(pol.SAs())
	prev := d.plane.View().Policy
	if err := d.install(pol); err != nil {
		if pending != nil {
			pending.Discard()
		}
		d.reinstall(prev) // and the reservations skipSent replaced
		return err
	}
	if pending != nil {
		if err := d.putInPlace(pending); err != nil {
			d.reinstall(prev)
			return err
		}
	}
	d.ike.Load(cfg.IKE)
	return nil
}

// reinstall puts back prev, the policy before a load that failed, and the
// reservations of its SAs, which the load replaced.
func (d *Daemon) reinstall(prev *dataplane.SPD) {
	if prev == nil {
		prev = new(dataplane.SPD)
	}
	if err := d.install(prev); err != nil {
		d.log.Error("could not restore the previous IPsec rules", "err", err)
	}
	d.seq.reserve(prev.SAs(), true)
}

// usePolicy installs cfg again with the negotiated SAs of now.
func (d *Daemon) usePolicy(cfg policy.Config) error {
	pol, err := dataplane.CompilePolicy(cfg, d.negotiated, d.plane.SAs())
	if err != nil {
		return err
	}
	d.seq.skipSent(pol.SAs())
	return d.install(pol)
}

// install puts pol's SAs in the SAD and pol before the data plane.
func (d *Daemon) install(pol *dataplane.SPD) error {
	if err := d.plane.Install(pol); err != nil {
		return err
	}
	if pol.Empty() {
		pol = nil
	}
	changeView(d.plane, func(v *dataplane.View) { v.Policy = pol })
	return nil
}

// DeleteIPsec removes the rules of cfg from the loaded ones (ipsecctl -d):
// the SAs with the same SPI and destination, and the same flows.
func (d *Daemon) DeleteIPsec(cfg policy.Config) (control.IPsecStatus, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var cur policy.Config
	if pol := d.plane.View().Policy; pol != nil {
		cur = pol.Config()
	}
	var next policy.Config
	for _, sa := range cur.SAs {
		if !slices.ContainsFunc(cfg.SAs, func(o policy.SA) bool { return o.SPI == sa.SPI && o.Dst == sa.Dst }) {
			next.SAs = append(next.SAs, sa)
		}
	}
	for _, f := range cur.Flows {
		if !slices.ContainsFunc(cfg.Flows, func(o policy.Flow) bool { return sameFlow(o, f) }) {
			next.Flows = append(next.Flows, f)
		}
	}
	for _, r := range cur.IKE {
		if !slices.ContainsFunc(cfg.IKE, func(o policy.IKE) bool {
			o.File, o.Line = r.File, r.Line
			return o == r
		}) {
			next.IKE = append(next.IKE, r)
		}
	}
	if err := d.loadIPsec(next, true); err != nil {
		return control.IPsecStatus{}, err
	}
	return d.ipsecStatus(), nil
}

// sameFlow compares two flows but for where they were written.
func sameFlow(a, b policy.Flow) bool {
	a.File, a.Line, b.File, b.Line = "", 0, "", 0
	return a == b
}

// restoreIPsec loads the rules a previous daemon stored.
func (d *Daemon) restoreIPsec() error {
	var cfg policy.Config
	if err := state.Load(d.ipsecPath(), &cfg); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return d.loadIPsec(cfg, false)
}

func (d *Daemon) ipsecPath() string {
	return filepath.Join(filepath.Dir(d.statePath), ipsecFileName)
}

// IPsec returns the loaded rules and the SAs' counters.
func (d *Daemon) IPsec() control.IPsecStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ipsecStatus()
}

func (d *Daemon) ipsecStatus() control.IPsecStatus {
	var st control.IPsecStatus
	st.IKE = d.ike.Status()
	pol := d.plane.View().Policy
	if pol == nil {
		return st
	}
	type saKey struct {
		spi uint32
		dst netip.Addr
	}
	expires := map[saKey]int64{}
	for _, c := range st.IKE.Children {
		expires[saKey{c.SPIIn, c.Local}] = c.Expires
		expires[saKey{c.SPIOut, c.Peer}] = c.Expires
	}
	st.Flows = slices.Concat(pol.Config().Flows, dataplane.IKEFlows(pol.Config().IKE))
	for _, sa := range d.plane.SAs() {
		s := sa.Stats()
		st.SAs = append(st.SAs, control.SAStatus{SPI: sa.SPI(), Src: sa.Src(), Dst: sa.Dst(), Mode: sa.Mode().String(),
			Auth: sa.Params().Auth, Enc: sa.Params().Enc, Packets: s.Packets, Bytes: s.Bytes,
			Expires: expires[saKey{sa.SPI(), sa.Dst()}]})
	}
	return st
}
