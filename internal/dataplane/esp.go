package dataplane

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"

	"gif/internal/ipsec"
	"gif/internal/ipsec/policy"
	"gif/internal/outer"
	"gif/internal/wire"
)

// SPD is the loaded IPsec configuration as the data plane sees it, the
// security policy database: the SAs and the flows, the outgoing ones with
// the SA that protects them.
type SPD struct {
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

// ProtoESPInUDP is the transport of ESP in UDP port 4500 (RFC 3948)
// among the daemon's transports, which are keyed by IP protocol: 255 is
// reserved, so no real protocol has it.
const ProtoESPInUDP = 255

// CompilePolicy builds the SAs of cfg and finds the SA of each outgoing
// flow: the one from the flow's source to its peer. An SA of running that
// cfg keeps unchanged is kept, with its sequence numbers and replay window:
// a reload of the same file (netstart does one each run) must not make the
// peer see sequence numbers again that it has seen.
//
// The SAs negotiated for ike rules come first, newest first, so that the
// flow of an ike rule, which gets its SAs only once they are negotiated,
// finds the newest.
func CompilePolicy(cfg policy.Config, negotiated []policy.SA, running []*ipsec.SA) (*SPD, error) {
	p := &SPD{config: cfg}
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
	IKEFlows := IKEFlows(cfg.IKE)
	for i, f := range slices.Concat(cfg.Flows, IKEFlows) {
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

// IKEFlows are the flows of ike rules, as isakmpd installs them with
// their SAs: each way, type require, so that nothing the rule covers goes
// in the clear, before its SAs are negotiated either.
func IKEFlows(rules []policy.IKE) []policy.Flow {
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

// CoversTunnel reports whether a flow, either way, covers the outer
// packets of a tunnel between a and b (IP in IP: protocols 4 and 41).
// Such a tunnel stays where the flows are enforced: the userspace plane.
func (p *SPD) CoversTunnel(a, b netip.Addr) bool {
	if p == nil {
		return false
	}
	covers := func(f *policy.Flow) bool {
		if f.IPProto != 0 && f.IPProto != wire.ProtoIPv4 && f.IPProto != wire.ProtoIPv6 {
			return false
		}
		return f.Src.Contains(a) && f.Dst.Contains(b) || f.Src.Contains(b) && f.Dst.Contains(a)
	}
	for i := range p.out {
		if covers(&p.out[i].Flow) {
			return true
		}
	}
	for i := range p.in {
		if covers(&p.in[i]) {
			return true
		}
	}
	return false
}

// outbound returns the flow that covers an outer packet gif sends, or nil.
func (p *SPD) outbound(src, dst netip.Addr, proto uint8) *outFlow {
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
func (p *SPD) requires(src, dst netip.Addr, proto uint8) bool {
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
func (u *Userspace) protect(pol *SPD, p outer.Packet, off int, proto uint8) (outer.Packet, int, uint8, bool) {
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
		if u.debugging() {
			u.log.Debug("ESP seal", "spi", sa.SPI(), "err", err)
		}
		return p, off, proto, false
	}
	p.Size, p.Src, p.Dst = length, sa.Src(), sa.Dst()
	if f.udp {
		return p, start, ProtoESPInUDP, true
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
func (u *Userspace) claimESP(v *View, p *outer.Packet, ds []delivery) []delivery {
	sa, start, length, next, err := u.esp.Open(p.Buf, headroom, p.Size, p.Dst)
	if err != nil {
		if u.debugging() {
			u.log.Debug("ESP open", "src", p.Src, "err", err)
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
				u.esp.Counters.HDrops.Add(1)
				return ds
			}
			src, dst, tos, next, hdr = ip.Src(), ip.Dst(), ip.TOS(), ip.Protocol(), ip.HeaderLen()
			length = len(ip)
		case wire.ProtoIPv6:
			ip, err := wire.CheckIPv6(p.Buf[start : start+length])
			if err != nil {
				u.esp.Counters.HDrops.Add(1)
				return ds
			}
			src, dst, tos, next, hdr = ip.Src(), ip.Dst(), ip.TrafficClass(), ip.NextHeader(), wire.IPv6HeaderLen
			length = len(ip)
		default:
			u.esp.Counters.PDrops.Add(1)
			return ds
		}
		start, length = start+hdr, length-hdr
	}
	// The input paths expect the payload at the headroom.
	copy(p.Buf[headroom:], p.Buf[start:start+length])
	p.Size, p.Src, p.Dst, p.TOS = length, src, dst, tos
	switch next {
	case wire.ProtoIPv4, wire.ProtoIPv6:
		return u.claimIP(v, next, true, p, ds)
	case wire.ProtoEtherIP:
		return u.claimEtherIP(v, true, p, ds)
	}
	u.esp.Counters.PDrops.Add(1) // ESP for something gif does not carry
	return ds
}

// inClear reports, and counts, a packet that arrived without ESP although
// an incoming flow requires it.
func (u *Userspace) inClear(v *View, p *outer.Packet, proto uint8) bool {
	if v.Policy == nil || !v.Policy.requires(p.Src, p.Dst, proto) {
		return false
	}
	u.esp.Counters.PDrops.Add(1)
	return true
}

// LoadIPsec replaces the loaded IPsec rules with cfg, all or nothing, and
// Config returns the rules the policy was compiled from.
func (p *SPD) Config() policy.Config { return p.config }

// SAs returns the policy's SAs.
func (p *SPD) SAs() []*ipsec.SA { return p.sas }

// Empty reports whether the policy has no rule: nothing to protect.
func (p *SPD) Empty() bool {
	return len(p.config.SAs)+len(p.config.Flows)+len(p.config.IKE) == 0
}
