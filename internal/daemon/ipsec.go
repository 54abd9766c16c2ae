package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"slices"

	"gif/internal/ipsec"
	"gif/internal/ipsec/policy"
	"gif/internal/outer"
	"gif/internal/state"
	"gif/internal/wire"
)

// ipsecFileName keeps the loaded ipsec.conf rules beside the state, keys
// included, so that a restarted daemon protects the traffic again.
const ipsecFileName = "ipsec.json"

// spd is the loaded IPsec configuration as the data plane sees it, the
// security policy database: the SAs and the flows, the outgoing ones with
// the SA that protects them.
type spd struct {
	config policy.Config
	sad    *ipsec.SAD // the daemon's, once the policy is loaded
	sas    []*ipsec.SA
	out    []outFlow
	in     []policy.Flow
}

type outFlow struct {
	policy.Flow
	sa  *ipsec.SA // nil for deny and bypass
	udp bool      // whether sa's ESP goes in UDP
}

// protoESPInUDP is the transport of ESP in UDP port 4500 (RFC 3948)
// among the daemon's transports, which are keyed by IP protocol: 255 is
// reserved, so no real protocol has it.
const protoESPInUDP = 255

// compilePolicy builds the SAs of cfg and finds the SA of each outgoing
// flow: the one from the flow's source to its peer. An SA of running that
// cfg keeps unchanged is kept, with its sequence numbers and replay window:
// a reload of the same file (netstart does one each run) must not make the
// peer see sequence numbers again that it has seen.
//
// The SAs negotiated for ike rules come first, newest first, so that the
// flow of an ike rule, which gets its SAs only once they are negotiated,
// finds the newest.
func compilePolicy(cfg policy.Config, negotiated []policy.SA, running []*ipsec.SA) (*spd, error) {
	p := &spd{config: cfg}
	for _, r := range cfg.IKE {
		switch {
		case r.Proto != policy.ESP:
			return nil, fmt.Errorf("%s:%d: ike %s rules are not supported; gif does ESP", r.File, r.Line, r.Proto)
		}
	}
	var sas []*ipsec.SA
	udp := map[*ipsec.SA]bool{}
	for _, r := range slices.Concat(negotiated, cfg.SAs) {
		if r.Proto != policy.ESP {
			return nil, fmt.Errorf("%s:%d: %s SAs are not supported; gif does ESP", r.File, r.Line, r.Proto)
		}
		params := ipsec.Params{SPI: r.SPI, Src: r.Src, Dst: r.Dst, Mode: r.Mode,
			Auth: r.Auth, Enc: r.Enc, AuthKey: r.AuthKey, EncKey: r.EncKey}
		if i := slices.IndexFunc(running, func(sa *ipsec.SA) bool { return sameParams(sa.Params(), params) }); i >= 0 {
			sas = append(sas, running[i])
			udp[running[i]] = r.UDPEncap
			continue
		}
		sa, err := ipsec.NewSA(params)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", r.File, r.Line, err)
		}
		sas = append(sas, sa)
		udp[sa] = r.UDPEncap
	}
	ikeFlows := ikeFlows(cfg.IKE)
	for i, f := range slices.Concat(cfg.Flows, ikeFlows) {
		pending := i >= len(cfg.Flows) // an ike rule's flow may wait for its SAs
		if f.Dir == policy.In {
			p.in = append(p.in, f)
			continue
		}
		of := outFlow{Flow: f}
		if f.Type.Protects() {
			peer := f.Peer
			if !peer.IsValid() {
				peer = f.Dst.Addr()
			}
			for _, sa := range sas {
				if sa.Dst() == peer && (f.Src.Contains(sa.Src()) || f.Src.Bits() == 0) {
					of.sa, of.udp = sa, udp[sa]
					break
				}
			}
			if of.sa == nil && !pending {
				return nil, fmt.Errorf("%s:%d: flow to %s: no SA to peer %s", f.File, f.Line, f.Dst, peer)
			}
		}
		p.out = append(p.out, of)
	}
	// Refuse what the SAD would: two SAs with one SPI and destination.
	if err := new(ipsec.SAD).Replace(sas); err != nil {
		return nil, err
	}
	p.sas = sas
	return p, nil
}

// ikeFlows are the flows of ike rules, as isakmpd installs them with
// their SAs: each way, type require, so that nothing the rule covers goes
// in the clear, before its SAs are negotiated either.
func ikeFlows(rules []policy.IKE) []policy.Flow {
	var flows []policy.Flow
	for _, r := range rules {
		out := policy.Flow{File: r.File, Line: r.Line, Proto: r.Proto, Dir: policy.Out, IPProto: r.IPProto,
			Src: r.Src, Dst: r.Dst, Peer: r.Peer, Type: policy.Require}
		in := out
		in.Dir, in.Src, in.Dst = policy.In, r.Dst, r.Src
		flows = append(flows, out, in)
	}
	return flows
}

func sameParams(a, b ipsec.Params) bool {
	return a.SPI == b.SPI && a.Src == b.Src && a.Dst == b.Dst && a.Mode == b.Mode && a.Auth == b.Auth &&
		a.Enc == b.Enc && bytes.Equal(a.AuthKey, b.AuthKey) && bytes.Equal(a.EncKey, b.EncKey)
}

// outbound returns the flow that covers an outer packet gif sends, or nil.
func (p *spd) outbound(src, dst netip.Addr, proto uint8) *outFlow {
	for i := range p.out {
		f := &p.out[i]
		if (f.IPProto == 0 || f.IPProto == proto) && f.Src.Contains(src) && f.Dst.Contains(dst) {
			return f
		}
	}
	return nil
}

// requires reports whether an incoming flow of type require covers a
// packet, which must then have come through ESP.
func (p *spd) requires(src, dst netip.Addr, proto uint8) bool {
	for _, f := range p.in {
		if (f.IPProto == 0 || f.IPProto == proto) && f.Src.Contains(src) && f.Dst.Contains(dst) {
			return f.Type.Requires()
		}
	}
	return false
}

// protect applies the outgoing policy to p, an outer packet whose payload
// starts at off: it returns p unchanged when no flow covers it, or p turned
// into an ESP packet (protocol 50, to the SA's peer) and the offset where
// it starts now; ok is false when the packet must be dropped.
func (dp *plane) protect(pol *spd, p outer.Packet, off int, proto uint8) (outer.Packet, int, uint8, bool) {
	f := pol.outbound(p.Src, p.Dst, proto)
	switch {
	case f == nil || f.Type == policy.Bypass:
		return p, off, proto, true
	case f.Type == policy.Deny:
		pol.sad.Counters.PDrops.Add(1)
		return p, off, proto, false
	}
	sa := f.sa
	if sa == nil {
		// An ike rule's flow whose SAs are not negotiated yet.
		pol.sad.Counters.PDrops.Add(1)
		return p, off, proto, false
	}
	n, next := p.Size, proto
	if sa.Mode() == ipsec.Tunnel {
		// The packet gif would have sent goes whole inside ESP.
		off, n, next = encodeIPHeader(p, off, proto)
	}
	start, length, err := pol.sad.Seal(sa, p.Buf, off, n, next)
	if err != nil {
		if dp.debugging() {
			dp.log.Debug("ESP seal", "spi", sa.SPI(), "err", err)
		}
		return p, off, proto, false
	}
	p.Size, p.Src, p.Dst = length, sa.Src(), sa.Dst()
	if f.udp {
		return p, start, protoESPInUDP, true
	}
	return p, start, ipsec.ProtoESP, true
}

// encodeIPHeader writes in front of p's payload the IP header the kernel
// would have built for it, for ESP's tunnel mode, and returns where the
// packet starts, its length and its protocol (4 or 41: IP in IP).
func encodeIPHeader(p outer.Packet, off int, proto uint8) (int, int, uint8) {
	if p.Src.Is4() {
		start := off - wire.IPv4MinHeaderLen
		wire.IPv4(p.Buf[start:]).Encode(wire.IPv4Fields{TOS: p.TOS, TotalLength: uint16(wire.IPv4MinHeaderLen + p.Size),
			ID: uint16(rand.Uint32()), DF: p.DF, TTL: ttlOr64(p.TTL), Protocol: proto, Src: p.Src, Dst: p.Dst})
		return start, wire.IPv4MinHeaderLen + p.Size, wire.ProtoIPv4
	}
	start := off - wire.IPv6HeaderLen
	wire.IPv6(p.Buf[start:]).Encode(wire.IPv6Fields{TrafficClass: p.TOS, PayloadLength: uint16(p.Size),
		NextHeader: proto, HopLimit: ttlOr64(p.TTL), Src: p.Src, Dst: p.Dst})
	return start, wire.IPv6HeaderLen + p.Size, wire.ProtoIPv6
}

func ttlOr64(ttl uint8) uint8 {
	if ttl == 0 {
		return 64
	}
	return ttl
}

// claimESP opens an ESP packet with its SA and hands what it carried to
// the IP-in-IP or EtherIP input path, marked as protected.
func (dp *plane) claimESP(v *view, p *outer.Packet, ds []delivery) []delivery {
	sa, start, length, next, err := dp.esp.Open(p.Buf, headroom, p.Size, p.Dst)
	if err != nil {
		if dp.debugging() {
			dp.log.Debug("ESP open", "src", p.Src, "err", err)
		}
		return ds
	}
	src, dst, tos := p.Src, p.Dst, p.TOS
	if sa.Mode() == ipsec.Tunnel {
		// The packet the peer's gif sent, whole: its header says what it is.
		var hdr int
		switch next {
		case wire.ProtoIPv4:
			ip, err := wire.CheckIPv4(p.Buf[start : start+length])
			if err != nil {
				dp.esp.Counters.HDrops.Add(1)
				return ds
			}
			src, dst, tos, next, hdr = ip.Src(), ip.Dst(), ip.TOS(), ip.Protocol(), ip.HeaderLen()
			length = len(ip)
		case wire.ProtoIPv6:
			ip, err := wire.CheckIPv6(p.Buf[start : start+length])
			if err != nil {
				dp.esp.Counters.HDrops.Add(1)
				return ds
			}
			src, dst, tos, next, hdr = ip.Src(), ip.Dst(), ip.TrafficClass(), ip.NextHeader(), wire.IPv6HeaderLen
			length = len(ip)
		default:
			dp.esp.Counters.PDrops.Add(1)
			return ds
		}
		start, length = start+hdr, length-hdr
	}
	// The input paths expect the payload at the headroom.
	copy(p.Buf[headroom:], p.Buf[start:start+length])
	p.Size, p.Src, p.Dst, p.TOS = length, src, dst, tos
	switch next {
	case wire.ProtoIPv4, wire.ProtoIPv6:
		return dp.claimIP(v, next, true, p, ds)
	case wire.ProtoEtherIP:
		return dp.claimEtherIP(v, true, p, ds)
	}
	dp.esp.Counters.PDrops.Add(1) // ESP for something gif does not carry
	return ds
}

// inClear reports, and counts, a packet that arrived without ESP although
// an incoming flow requires it.
func (dp *plane) inClear(v *view, p *outer.Packet, proto uint8) bool {
	if v.policy == nil || !v.policy.requires(p.Src, p.Dst, proto) {
		return false
	}
	dp.esp.Counters.PDrops.Add(1)
	return true
}

// LoadIPsec replaces the loaded IPsec rules with cfg, all or nothing, and
// stores them.
func (d *Daemon) LoadIPsec(cfg policy.Config) (IPsecStatus, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.loadIPsec(cfg, true); err != nil {
		return IPsecStatus{}, err
	}
	return d.ipsecStatus(), nil
}

func (d *Daemon) loadIPsec(cfg policy.Config, save bool) error {
	pol, err := compilePolicy(cfg, d.negotiated, d.esp.All())
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
	d.skipSent(pol.sas)
	prev := d.view.Load().policy
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
func (d *Daemon) reinstall(prev *spd) {
	if prev == nil {
		prev = &spd{}
	}
	if err := d.install(prev); err != nil {
		d.log.Error("could not restore the previous IPsec rules", "err", err)
	}
	d.reserveSeq(prev.sas, true)
}

// usePolicy installs cfg again with the negotiated SAs of now.
func (d *Daemon) usePolicy(cfg policy.Config) error {
	pol, err := compilePolicy(cfg, d.negotiated, d.esp.All())
	if err != nil {
		return err
	}
	d.skipSent(pol.sas)
	return d.install(pol)
}

// install puts pol's SAs in the SAD and pol before the data plane.
func (d *Daemon) install(pol *spd) error {
	if err := d.esp.Replace(pol.sas); err != nil {
		return err
	}
	pol.sad = &d.esp
	if len(pol.config.SAs)+len(pol.config.Flows)+len(pol.config.IKE) == 0 {
		pol = nil
	}
	d.change(func(v *view) { v.policy = pol })
	return nil
}

// DeleteIPsec removes the rules of cfg from the loaded ones (ipsecctl -d):
// the SAs with the same SPI and destination, and the same flows.
func (d *Daemon) DeleteIPsec(cfg policy.Config) (IPsecStatus, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var cur policy.Config
	if pol := d.view.Load().policy; pol != nil {
		cur = pol.config
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
		return IPsecStatus{}, err
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
func (d *Daemon) IPsec() IPsecStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ipsecStatus()
}

func (d *Daemon) ipsecStatus() IPsecStatus {
	var st IPsecStatus
	st.IKE = d.ike.Status()
	pol := d.view.Load().policy
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
	st.Flows = slices.Concat(pol.config.Flows, ikeFlows(pol.config.IKE))
	for _, sa := range d.esp.All() {
		s := sa.Stats()
		st.SAs = append(st.SAs, SAStatus{SPI: sa.SPI(), Src: sa.Src(), Dst: sa.Dst(), Mode: sa.Mode().String(),
			Auth: sa.Params().Auth, Enc: sa.Params().Enc, Packets: s.Packets, Bytes: s.Bytes,
			Expires: expires[saKey{sa.SPI(), sa.Dst()}]})
	}
	return st
}
