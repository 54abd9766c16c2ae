package ike

import (
	"fmt"
	"net/netip"
	"time"
)

// Status is what the engine is doing, for gif ipsecctl -s ike.
type Status struct {
	ISAKMP   []ISAKMPStatus    `json:"isakmp,omitempty"`
	Quick    []QuickStatus     `json:"quick,omitempty"`
	Children []ChildStatus     `json:"children,omitempty"`
	Counters map[string]uint64 `json:"counters"`
}

// ISAKMPStatus is one Main Mode or the phase-1 SA it made.
type ISAKMPStatus struct {
	Local     netip.Addr `json:"local"`
	Peer      netip.Addr `json:"peer"`
	Initiator bool       `json:"initiator"`
	// State is StateEstablished or what the exchange waits for.
	State string `json:"state"`
	// Expires is the seconds left of an established SA.
	Expires int64  `json:"expires,omitempty"`
	Cookies string `json:"cookies"`
}

// StateEstablished is the State of an ISAKMP SA that Main Mode made.
const StateEstablished = "established"

// QuickStatus is a Quick Mode on the way.
type QuickStatus struct {
	Peer      netip.Addr `json:"peer"`
	Initiator bool       `json:"initiator"`
	MessageID uint32     `json:"message_id"`
	State     string     `json:"state"`
}

// ChildStatus is an installed pair of ESP SAs.
type ChildStatus struct {
	Local   netip.Addr   `json:"local"`
	Peer    netip.Addr   `json:"peer"`
	Src     netip.Prefix `json:"src"`
	Dst     netip.Prefix `json:"dst"`
	IPProto uint8        `json:"ip_proto"`
	SPIIn   uint32       `json:"spi_in"`
	SPIOut  uint32       `json:"spi_out"`
	Enc     string       `json:"enc"`
	Auth    string       `json:"auth,omitempty"`
	Expires int64        `json:"expires"` // seconds left
	Renew   int64        `json:"renew"`   // seconds until renewal; 0 once renewed
}

// Status returns what the engine is doing now.
func (e *Engine) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.cfg.Now()
	left := func(t time.Time) int64 { return max(int64(t.Sub(now)/time.Second), 0) }
	var st Status
	for _, sa := range e.isakmp {
		s := ISAKMPStatus{Local: sa.local, Peer: sa.peer, Initiator: sa.p1.Initiator,
			Cookies: fmt.Sprintf("%x/%x", sa.p1.ICookie, sa.p1.RCookie)}
		switch {
		case sa.p1.Done():
			s.State, s.Expires = StateEstablished, left(sa.expires)
		default:
			s.State = fmt.Sprintf("Main Mode, sent %d times", sa.tries)
		}
		st.ISAKMP = append(st.ISAKMP, s)
	}
	for _, x := range e.quick {
		if x.q.Done() {
			continue
		}
		st.Quick = append(st.Quick, QuickStatus{Peer: x.sa.peer, Initiator: x.q.Initiator, MessageID: x.q.MessageID,
			State: fmt.Sprintf("Quick Mode, sent %d times", x.tries)})
	}
	for _, c := range e.children {
		cs := ChildStatus{Local: c.local, Peer: c.peer, Src: c.c.Local, Dst: c.c.Remote, IPProto: c.c.IPProto,
			SPIIn: c.c.SPIIn, SPIOut: c.c.SPIOut, Enc: c.c.Enc, Auth: c.c.Auth, Expires: left(c.expires)}
		if !c.renewed {
			cs.Renew = left(c.rekey)
		}
		st.Children = append(st.Children, cs)
	}
	st.Counters = map[string]uint64{
		"received": e.Counters.In.Load(), "sent": e.Counters.Out.Load(), "dropped": e.Counters.Dropped.Load(),
		"sent again": e.Counters.Retransmits.Load(), "failed": e.Counters.Failed(),
		"ISAKMP SAs made": e.Counters.Established1.Load(), "ESP SA pairs made": e.Counters.Established2.Load(),
	}
	return st
}

// Stats is a snapshot of Counters.
type Stats struct {
	In, Out, Dropped, Retransmits uint64
	Started                       [NumPhases]uint64
	Failures                      [NumPhases][NumFailReasons]uint64
	Established1, Established2    uint64
}

// Snapshot reads every counter.
func (c *Counters) Snapshot() Stats {
	s := Stats{In: c.In.Load(), Out: c.Out.Load(), Dropped: c.Dropped.Load(), Retransmits: c.Retransmits.Load(),
		Established1: c.Established1.Load(), Established2: c.Established2.Load()}
	for p := range c.Started {
		s.Started[p] = c.Started[p].Load()
		for r := range c.Failures[p] {
			s.Failures[p][r] = c.Failures[p][r].Load()
		}
	}
	return s
}
