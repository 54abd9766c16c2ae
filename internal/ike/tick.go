package ike

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"gif/internal/ike/ikev1"
	"gif/internal/ipsec/policy"
)

// keepDone is how long a Quick Mode the initiator finished is kept, to
// send its last message again if the responder repeats its own.
const keepDone = 2 * time.Minute

// outgoing is a message of an ISAKMP SA's exchanges to send once the
// lock is released.
type outgoing struct {
	msg []byte
	sa  *isakmpSA
}

// Tick does what time brings: messages sent again or given up, SAs renewed
// before their lifetimes end and deleted at the end, and active rules
// negotiated. The daemon calls it a few times a second.
func (e *Engine) Tick() {
	e.mu.Lock()
	e.now = e.cfg.Now()
	var out []outgoing
	e.retransmitMain(&out)
	e.retransmitQuick(&out)
	gone := append(e.gone, e.expire()...)
	goneSAs := e.goneSAs
	e.gone, e.goneSAs = nil, nil
	for ri, r := range e.rules {
		if r.Start != policy.Passive && r.Peer.IsValid() && e.needs(ri) {
			e.ensure(ri, &out)
		}
	}
	keepalives := e.keepalives()
	e.mu.Unlock()
	for _, o := range out {
		e.send(o.msg, o.sa)
	}
	for _, to := range keepalives {
		if err := e.transport.Keepalive(to.local, to.peer); err != nil {
			e.log.Debug("ike: NAT keepalive", "to", to.peer, "err", err)
		}
	}
	e.remove(gone)
	e.removeSAs(goneSAs)
}

// backoff is the wait after the tries-th send of a message.
func backoff(tries int) time.Duration { return retransmitFirst << (tries - 1) }

func (e *Engine) retransmitMain(out *[]outgoing) {
	e.isakmp = slices.DeleteFunc(e.isakmp, func(sa *isakmpSA) bool {
		switch {
		case sa.p1.Done() && !e.now.Before(sa.expires):
			e.log.Info("ike: ISAKMP SA expired", "peer", sa.peer)
			return true
		case !sa.awaiting || e.now.Before(sa.sent.Add(backoff(sa.tries))):
			return false
		case sa.tries >= maxTries:
			e.fail(sa.rule, sa.peer, PhaseMain, errUnreachable)
			return true
		}
		sa.tries++
		sa.sent = e.now
		e.Counters.Retransmits.Add(1)
		*out = append(*out, outgoing{sa.p1.LastSent(), sa})
		return false
	})
}

func (e *Engine) retransmitQuick(out *[]outgoing) {
	e.quick = slices.DeleteFunc(e.quick, func(x *quickExchange) bool {
		switch {
		case !slices.Contains(e.isakmp, x.sa):
			return true
		case x.q.Done() || !x.awaiting:
			return !e.now.Before(x.sent.Add(keepDone))
		case e.now.Before(x.sent.Add(backoff(x.tries))):
			return false
		case x.tries >= maxTries:
			e.fail(x.rule, x.sa.peer, PhaseQuick, errUnreachable)
			return true
		}
		x.tries++
		x.sent = e.now
		e.Counters.Retransmits.Add(1)
		*out = append(*out, outgoing{x.q.LastSent(), x.sa})
		return false
	})
}

// expire takes the children whose lifetime ended, and marks those due to
// be renewed.
func (e *Engine) expire() []*child {
	gone := e.takeChildren(func(c *child) bool { return !e.now.Before(c.expires) })
	for _, c := range gone {
		e.log.Info("ike: ESP SAs expired", "peer", c.peer, "in", fmt.Sprintf("%08x", c.c.SPIIn))
		if !slices.Contains(e.isakmp, c.sa) {
			c.sa = e.usableSA(c.peer, time.Time{})
		}
	}
	for _, c := range e.children {
		if !c.renewed && !e.now.Before(c.rekey) {
			c.renewed = true
		}
	}
	return gone
}

// needs reports whether rule ri has no SAs that will last, no exchange
// on the way, and no failure to wait out.
func (e *Engine) needs(ri int) bool {
	if t, ok := e.retry[ri]; ok && e.now.Before(t) {
		return false
	}
	for _, c := range e.children {
		if c.rule == ri && !c.renewed {
			return false
		}
	}
	for _, x := range e.quick {
		if x.rule == ri && !x.q.Done() {
			return false
		}
	}
	for _, sa := range e.isakmp {
		if !sa.p1.Done() && slices.Contains(sa.pendingRules, ri) {
			return false
		}
	}
	return true
}

// usableSA returns an ISAKMP SA with peer that lasts beyond until, or nil.
func (e *Engine) usableSA(peer netip.Addr, until time.Time) *isakmpSA {
	for i := len(e.isakmp) - 1; i >= 0; i-- {
		sa := e.isakmp[i]
		if sa.peer == peer && sa.p1.Done() && sa.expires.After(until) {
			return sa
		}
	}
	return nil
}

// ensure starts what rule ri needs: its Quick Mode under an ISAKMP SA
// with its peer, waiting for one on the way, or a new Main Mode.
func (e *Engine) ensure(ri int, out *[]outgoing) {
	r := e.rules[ri]
	// An ISAKMP SA about to end is not worth a Quick Mode: renew it too.
	if sa := e.usableSA(r.Peer, e.now.Add(r.Main.Lifetime/10)); sa != nil {
		if msg := e.startQuick(sa, ri); msg != nil {
			*out = append(*out, outgoing{msg, sa})
		}
		return
	}
	for _, sa := range e.isakmp {
		if sa.peer == r.Peer && !sa.p1.Done() {
			sa.pendingRules = append(sa.pendingRules, ri)
			return
		}
	}
	e.Counters.Started[PhaseMain].Add(1)
	local := localOf(r)
	if !local.IsValid() {
		e.fail(ri, r.Peer, PhaseMain, configError{errors.New("the rule's source is a network: give its local address with local ADDR")})
		return
	}
	cfg, err := e.phase1Config(r, local, r.Peer)
	if err != nil {
		e.fail(ri, r.Peer, PhaseMain, err)
		return
	}
	p1, msg, err := ikev1.StartPhase1(cfg)
	if err != nil {
		e.fail(ri, r.Peer, PhaseMain, err)
		return
	}
	sa := &isakmpSA{p1: p1, local: local, peer: r.Peer, peerPort: Port, rule: ri, started: e.now, sent: e.now, tries: 1,
		awaiting: true, pendingRules: []int{ri}}
	e.isakmp = append(e.isakmp, sa)
	*out = append(*out, outgoing{msg, sa})
}

// keepalive is a NAT keepalive to send.
type keepalive struct {
	local netip.Addr
	peer  netip.AddrPort
}

// keepalives returns the NAT keepalives due: one every
// ikev1.KeepaliveInterval to each peer this side reaches through a NAT.
func (e *Engine) keepalives() []keepalive {
	var due []keepalive
	for _, sa := range e.isakmp {
		if !sa.p1.Done() || !sa.p1.Floats() || !sa.p1.BehindNAT || e.now.Before(sa.keepalive) {
			continue
		}
		sa.keepalive = e.now.Add(ikev1.KeepaliveInterval)
		due = append(due, keepalive{sa.local, netip.AddrPortFrom(sa.peer, sa.peerPort)})
	}
	return due
}
