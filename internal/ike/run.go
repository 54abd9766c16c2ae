package ike

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"gif/internal/ike/ikev1"
	"gif/internal/ike/isakmp"
	"gif/internal/ipsec/policy"
)

// Receive takes a datagram that arrived on port 500 from the peer at from
// to the local address to.
func (e *Engine) Receive(msg []byte, from netip.AddrPort, to netip.Addr) {
	e.Counters.In.Add(1)
	h, _, err := isakmp.ParseHeader(msg)
	if err != nil {
		e.drop(from, err)
		return
	}
	peer := from.Addr().Unmap()
	e.mu.Lock()
	e.now = e.cfg.Now()
	var replies [][]byte
	var installs []install
	var gone []*child
	var sa *isakmpSA
	switch h.Exchange {
	case isakmp.ExchangeMain:
		sa, replies, gone = e.mainMode(h, msg, from, to.Unmap())
	case isakmp.ExchangeQuick:
		sa, replies, installs = e.quickMode(h, msg, peer)
	case isakmp.ExchangeInformational:
		sa, gone = e.informational(h, msg, peer)
	case isakmp.ExchangeAggressive:
		e.mu.Unlock()
		e.drop(from, errors.New("aggressive mode is refused: it exposes identities and pre-shared keys"))
		return
	default:
		e.mu.Unlock()
		e.drop(from, fmt.Errorf("exchange %v is not supported", h.Exchange))
		return
	}
	if sa != nil {
		e.float(sa, from.Port())
	}
	e.mu.Unlock()
	for _, r := range replies {
		e.send(r, sa)
	}
	for _, in := range installs {
		e.installer.Install(in.rule, in.local, in.peer, in.child)
	}
	e.remove(gone)
}

// float moves sa's messages to port 4500 (RFC 3947): the initiator after
// message 4 when a NAT is on the way, the responder once the initiator's
// messages come from there.
func (e *Engine) float(sa *isakmpSA, from uint16) {
	switch {
	case from != Port:
		sa.peerPort = from
	case sa.p1.Initiator && sa.p1.Floats():
		sa.peerPort = ikev1.NATTPort
	}
}

type install struct {
	rule        policy.IKE
	child       *ikev1.ChildSA
	local, peer netip.Addr
}

func (e *Engine) drop(from netip.AddrPort, err error) {
	e.Counters.Dropped.Add(1)
	e.log.Debug("ike: message dropped", "from", from, "err", err)
}

// findSA returns the ISAKMP SA of a message's cookies with peer: a
// message from another address is not of it, whatever its cookies.
func (e *Engine) findSA(h isakmp.Header, peer netip.Addr) *isakmpSA {
	for _, sa := range e.isakmp {
		if sa.peer != peer {
			continue
		}
		if sa.p1.ICookie == h.ICookie && (sa.p1.RCookie == h.RCookie || sa.awaiting && sa.p1.Initiator && !sa.p1.Done() && isZero(sa.p1.RCookie)) {
			return sa
		}
	}
	return nil
}

func isZero(c [8]byte) bool { return c == [8]byte{} }

// ruleForPeer returns the first rule whose phase 1 is with peer, or
// whose peer is any: the default peer.
func (e *Engine) ruleForPeer(peer netip.Addr) int {
	for i, r := range e.rules {
		if r.Peer == peer {
			return i
		}
	}
	for i, r := range e.rules {
		if !r.Peer.IsValid() && r.Dst.Addr().Is4() == peer.Is4() {
			return i
		}
	}
	return -1
}

// mainMode handles a Main Mode message. It returns the SAs a peer that
// starts afresh (INITIAL-CONTACT) has no longer.
func (e *Engine) mainMode(h isakmp.Header, msg []byte, from netip.AddrPort, to netip.Addr) (*isakmpSA, [][]byte, []*child) {
	peer := from.Addr().Unmap()
	sa := e.findSA(h, peer)
	if sa == nil {
		if !isZero(h.RCookie) {
			e.drop(netip.AddrPortFrom(peer, Port), errors.New("Main Mode message of no exchange"))
			return nil, nil, nil
		}
		return e.answerMainMode(msg, from, to)
	}
	wasDone := sa.p1.Done()
	// INITIAL-CONTACT means no other SA with the peer when it is said: a
	// Main Mode sent again while another finished must not say it.
	sa.p1.SetInitialContact(!e.knows(peer))
	reply, err := sa.p1.Handle(msg)
	if err != nil {
		e.failSA(sa, err)
		return nil, nil, nil
	}
	var replies [][]byte
	if reply != nil {
		replies = append(replies, reply)
	}
	if wasDone {
		return sa, replies, nil // a repeat, answered again
	}
	// The responder's last message and the initiator's end need no answer.
	sa.awaiting = reply != nil && !sa.p1.Done()
	sa.sent, sa.tries = e.now, 1
	var gone []*child
	if sa.p1.Done() {
		if sa.p1.PeerInitialContact {
			gone = e.initialContact(sa)
		}
		replies = append(replies, e.established(sa)...)
	}
	return sa, replies, gone
}

// answerMainMode begins a Main Mode as responder, with the rule of the
// peer.
func (e *Engine) answerMainMode(msg []byte, from netip.AddrPort, to netip.Addr) (*isakmpSA, [][]byte, []*child) {
	peer := from.Addr().Unmap()
	ri := e.ruleForPeer(peer)
	if ri < 0 {
		e.drop(from, errors.New("no ike rule has this peer"))
		return nil, nil, nil
	}
	m, err := isakmp.Parse(msg)
	if err != nil {
		e.drop(from, err)
		return nil, nil, nil
	}
	e.Counters.Started[PhaseMain].Add(1)
	local := localOf(e.rules[ri])
	if !local.IsValid() {
		local = to
	}
	cfg, err := e.phase1Config(e.rules[ri], local, peer)
	// The port the peer's message came from is the one its NAT-D hash
	// must show when no NAT is on the way.
	cfg.PeerPort = from.Port()
	if err != nil {
		e.fail(-1, peer, PhaseMain, err)
		return nil, nil, nil
	}
	p1, reply, err := ikev1.AnswerPhase1(cfg, m)
	if err != nil {
		e.fail(-1, peer, PhaseMain, err)
		return nil, nil, nil
	}
	sa := &isakmpSA{p1: p1, local: local, peer: peer, peerPort: Port, rule: -1, started: e.now, sent: e.now, tries: 1, awaiting: true}
	e.isakmp = append(e.isakmp, sa)
	return sa, [][]byte{reply}, nil
}

// failSA ends a Main Mode that failed for good; a message that failed to
// decrypt or authenticate may be forged and only counts as dropped.
func (e *Engine) failSA(sa *isakmpSA, err error) {
	if sa.p1.Done() {
		e.drop(netip.AddrPortFrom(sa.peer, Port), err)
		return
	}
	e.isakmp = slices.DeleteFunc(e.isakmp, func(o *isakmpSA) bool { return o == sa })
	e.fail(sa.rule, sa.peer, PhaseMain, err)
}

// established starts what waited for an ISAKMP SA: the Quick Modes of its
// rules.
func (e *Engine) established(sa *isakmpSA) [][]byte {
	e.Counters.Established1.Add(1)
	sa.established = e.now
	sa.expires = e.now.Add(sa.p1.Lifetime)
	sa.awaiting = false
	e.log.Info("ike: ISAKMP SA established", "peer", sa.peer, "lifetime", sa.p1.Lifetime)
	var msgs [][]byte
	for _, ri := range sa.pendingRules {
		if m := e.startQuick(sa, ri); m != nil {
			msgs = append(msgs, m)
		}
	}
	sa.pendingRules = nil
	return msgs
}

// startQuick begins the Quick Mode of rule ri under sa.
func (e *Engine) startQuick(sa *isakmpSA, ri int) []byte {
	e.Counters.Started[PhaseQuick].Add(1)
	q, msg, err := sa.p1.StartQuick(phase2Config(e.rules[ri]), e.newSPI())
	if err != nil {
		e.fail(ri, sa.peer, PhaseQuick, err)
		return nil
	}
	e.quick = append(e.quick, &quickExchange{sa: sa, q: q, rule: ri, sent: e.now, tries: 1, awaiting: true})
	return msg
}

// quickMode handles a Quick Mode message.
func (e *Engine) quickMode(h isakmp.Header, msg []byte, peer netip.Addr) (*isakmpSA, [][]byte, []install) {
	sa := e.findSA(h, peer)
	if sa == nil || !sa.p1.Done() {
		e.drop(netip.AddrPortFrom(peer, Port), errors.New("Quick Mode message of no ISAKMP SA"))
		return nil, nil, nil
	}
	i := slices.IndexFunc(e.quick, func(x *quickExchange) bool { return x.sa == sa && x.q.MessageID == h.MessageID })
	if i < 0 {
		e.Counters.Started[PhaseQuick].Add(1)
		q, reply, err := sa.p1.AnswerQuick(msg, e.policy(peer), e.newSPI())
		if err != nil {
			e.quickFailed(nil, sa, err)
			return nil, nil, nil
		}
		e.quick = append(e.quick, &quickExchange{sa: sa, q: q, rule: -1, sent: e.now, tries: 1, awaiting: true})
		return sa, [][]byte{reply}, nil
	}
	x := e.quick[i]
	wasDone := x.q.Done()
	reply, err := x.q.Handle(msg)
	if err != nil {
		e.quickFailed(x, sa, err)
		return nil, nil, nil
	}
	var replies [][]byte
	if reply != nil {
		replies = append(replies, reply)
	}
	if wasDone || !x.q.Done() {
		if !wasDone {
			x.sent, x.tries = e.now, 1
		}
		return sa, replies, nil
	}
	// Done: the initiator after message 2 (it keeps the exchange a while
	// to send message 3 again if the responder repeats message 2), the
	// responder after message 3.
	x.awaiting, x.sent = false, e.now
	c := x.q.Child
	ri := x.rule
	if ri < 0 {
		ri = e.ruleOfChild(c)
	}
	if ri < 0 {
		return sa, replies, nil
	}
	return sa, replies, []install{e.adopt(sa, ri, c, x.q.Initiator)}
}

// adopt records a new pair of SAs for rule ri and returns it to install.
func (e *Engine) adopt(sa *isakmpSA, ri int, c *ikev1.ChildSA, initiator bool) install {
	e.Counters.Established2.Add(1)
	at := rekeyAt
	if !initiator {
		at = rekeyAtResponder
	}
	ch := &child{c: c, rule: ri, sa: sa, local: sa.local, peer: sa.peer, created: e.now, expires: e.now.Add(c.Lifetime),
		rekey: e.now.Add(time.Duration(float64(c.Lifetime) * at))}
	e.children = append(e.children, ch)
	delete(e.retry, ri)
	e.log.Info("ike: ESP SAs established", "peer", sa.peer, "in", fmt.Sprintf("%08x", c.SPIIn), "out", fmt.Sprintf("%08x", c.SPIOut),
		"lifetime", c.Lifetime)
	return install{rule: e.rules[ri], child: c, local: sa.local, peer: sa.peer}
}

// quickFailed ends a Quick Mode that failed for good; a message that
// failed to decrypt or authenticate only counts as dropped.
func (e *Engine) quickFailed(x *quickExchange, sa *isakmpSA, err error) {
	var f *ikev1.Failure
	if errors.As(err, &f) && (f.Notify == isakmp.NotifyPayloadMalformed || f.Notify == isakmp.NotifyInvalidHashInformation || f.Notify == isakmp.NotifyInvalidMessageID) {
		e.drop(netip.AddrPortFrom(sa.peer, Port), err)
		return
	}
	rule := -1
	if x != nil {
		rule = x.rule
		e.quick = slices.DeleteFunc(e.quick, func(o *quickExchange) bool { return o == x })
	}
	e.fail(rule, sa.peer, PhaseQuick, err)
}

// policy finds the rule of a flow the peer proposes.
func (e *Engine) policy(peer netip.Addr) ikev1.QuickPolicy {
	return func(remote, local netip.Prefix, proto uint8) (ikev1.Phase2Config, bool) {
		for _, r := range e.rules {
			if (r.Peer == peer || !r.Peer.IsValid()) && r.Src == local && r.Dst == remote && r.IPProto == proto {
				return phase2Config(r), true
			}
		}
		return ikev1.Phase2Config{}, false
	}
}

// ruleOfChild finds the rule of a flow a Quick Mode answered.
func (e *Engine) ruleOfChild(c *ikev1.ChildSA) int {
	return slices.IndexFunc(e.rules, func(r policy.IKE) bool {
		return r.Src == c.Local && r.Dst == c.Remote && r.IPProto == c.IPProto
	})
}

// informational handles deletes and INITIAL-CONTACT.
func (e *Engine) informational(h isakmp.Header, msg []byte, peer netip.Addr) (*isakmpSA, []*child) {
	sa := e.findSA(h, peer)
	if sa == nil || !sa.p1.Done() {
		e.drop(netip.AddrPortFrom(peer, Port), errors.New("informational message of no ISAKMP SA"))
		return nil, nil
	}
	pl, err := sa.p1.OpenInformational(msg)
	if err != nil {
		e.drop(netip.AddrPortFrom(peer, Port), err)
		return nil, nil
	}
	var gone []*child
	for _, p := range pl {
		switch p.Type {
		case isakmp.PayloadDelete:
			d, err := isakmp.ParseDelete(p.Body)
			if err != nil {
				continue
			}
			switch d.Protocol {
			case isakmp.ProtoESP:
				for _, spi := range d.SPIs {
					gone = append(gone, e.takeChildren(func(c *child) bool {
						return c.sa != nil && c.sa.peer == peer && len(spi) == 4 && c.c.SPIOut == beUint32(spi)
					})...)
				}
			case isakmp.ProtoISAKMP:
				e.isakmp = slices.DeleteFunc(e.isakmp, func(o *isakmpSA) bool { return o == sa })
				e.log.Info("ike: the peer deleted the ISAKMP SA", "peer", peer)
			}
		case isakmp.PayloadNotify:
			if n, err := isakmp.ParseNotify(p.Body); err == nil && n.Type == isakmp.NotifyInitialContact {
				gone = append(gone, e.initialContact(sa)...)
			}
		}
	}
	for _, c := range gone {
		c.sa = nil // the peer has them no longer: no DELETE back
		e.log.Info("ike: the peer deleted ESP SAs", "peer", peer, "in", fmt.Sprintf("%08x", c.c.SPIIn))
	}
	return sa, gone
}

// initialContact drops what the peer, starting afresh, no longer has: the
// other ISAKMP SAs with it and their children, which are not deleted at
// the peer since it has them no longer.
//
// Only what was made before this exchange began goes: when both sides start
// at once, each says INITIAL-CONTACT, and the other's new SAs must stay.
func (e *Engine) initialContact(sa *isakmpSA) []*child {
	e.isakmp = slices.DeleteFunc(e.isakmp, func(o *isakmpSA) bool {
		return o != sa && o.peer == sa.peer && o.p1.Done() && o.established.Before(sa.started)
	})
	gone := e.takeChildren(func(c *child) bool { return c.peer == sa.peer && c.created.Before(sa.started) })
	for _, c := range gone {
		c.sa = nil
		e.log.Info("ike: the peer started afresh (INITIAL-CONTACT): old ESP SAs dropped", "peer", sa.peer, "in", fmt.Sprintf("%08x", c.c.SPIIn))
	}
	return gone
}

// takeChildren removes the children f selects and returns them.
func (e *Engine) takeChildren(f func(*child) bool) []*child {
	var taken []*child
	e.children = slices.DeleteFunc(e.children, func(c *child) bool {
		if f(c) {
			taken = append(taken, c)
			return true
		}
		return false
	})
	return taken
}

func beUint32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
