package ike

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"gif/internal/conf/ipsecconf"
	"gif/internal/ike/ikev1"
	"gif/internal/ike/isakmp"
	"gif/internal/ipsec/policy"
)

var (
	bridge1 = netip.MustParseAddr("1.2.3.4")
	bridge2 = netip.MustParseAddr("4.3.2.1")
)

// seedRule is the seed's ike line of the bridge at local, parsed, with a
// pre-shared key and the lifetimes given.
func seedRule(t testing.TB, local, peer netip.Addr, psk string, main, quick time.Duration) policy.IKE {
	t.Helper()
	line := fmt.Sprintf("ike esp proto etherip from %s to %s main lifetime %d quick lifetime %d psk %q\n",
		local, peer, int(main.Seconds()), int(quick.Seconds()), psk)
	cfg, err := ipsecconf.Parse("ipsec.conf", []byte(line), nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.IKE[0]
}

// installed is a fake Installer: the children installed now.
type installed struct {
	mu       sync.Mutex
	children []*ikev1.ChildSA
	removed  int
}

func (in *installed) Install(rule policy.IKE, local, peer netip.Addr, c *ikev1.ChildSA) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.children = append(in.children, c)
}

func (in *installed) Remove(local, peer netip.Addr, c *ikev1.ChildSA) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for i, o := range in.children {
		if o == c {
			in.children = append(in.children[:i], in.children[i+1:]...)
			in.removed++
			return
		}
	}
}

func (in *installed) list() []*ikev1.ChildSA {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]*ikev1.ChildSA(nil), in.children...)
}

// fakeNet carries datagrams between engines by address, in order, and
// loses those that drop says to.
type fakeNet struct {
	engines map[netip.Addr]*Engine
	queue   []datagram
	drop    func(n int) bool
	sent    int
	// nat maps the source port of what an address sends, as a NAT in
	// front of it would; keepalives counts NAT keepalives by sender.
	nat        map[netip.Addr]uint16
	keepalives map[netip.Addr]int
}

type datagram struct {
	msg      []byte
	from, to netip.Addr
}

// port is one engine's side of the fake network.
type port struct {
	net   *fakeNet
	local netip.Addr
}

func (p port) Send(msg []byte, from netip.Addr, to netip.AddrPort) error {
	p.net.sent++
	if p.net.drop != nil && p.net.drop(p.net.sent) {
		return nil
	}
	p.net.queue = append(p.net.queue, datagram{bytes.Clone(msg), from, to.Addr()})
	return nil
}

func (p port) Keepalive(from netip.Addr, to netip.AddrPort) error {
	p.net.keepalives[from]++
	return nil
}

// deliver hands every queued datagram over, and what they bring in turn.
func (n *fakeNet) deliver() {
	for len(n.queue) > 0 {
		d := n.queue[0]
		n.queue = n.queue[1:]
		srcPort := uint16(Port)
		if p, ok := n.nat[d.from]; ok {
			srcPort = p
		}
		if e, ok := n.engines[d.to]; ok {
			e.Receive(d.msg, netip.AddrPortFrom(d.from, srcPort), d.to)
		}
	}
}

// lab is the seed's two bridges with engines on a fake network and a
// shared fake clock.
type lab struct {
	net    *fakeNet
	now    time.Time
	e1, e2 *Engine
	i1, i2 *installed
}

func newLab(t testing.TB, r1, r2 policy.IKE) *lab {
	l := &lab{net: &fakeNet{engines: map[netip.Addr]*Engine{}, nat: map[netip.Addr]uint16{}, keepalives: map[netip.Addr]int{}},
		now: time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return l.now }
	l.i1, l.i2 = &installed{}, &installed{}
	l.e1 = New(Config{KeyDir: t.TempDir(), Now: clock}, port{l.net, bridge1}, l.i1)
	l.e2 = New(Config{KeyDir: t.TempDir(), Now: clock}, port{l.net, bridge2}, l.i2)
	l.net.engines[bridge1], l.net.engines[bridge2] = l.e1, l.e2
	l.e1.Load([]policy.IKE{r1})
	l.e2.Load([]policy.IKE{r2})
	return l
}

// run advances the clock by d in steps of a quarter second, ticking both
// engines and delivering what they send.
func (l *lab) run(d time.Duration) {
	for end := l.now.Add(d); l.now.Before(end); l.now = l.now.Add(250 * time.Millisecond) {
		l.e1.Tick()
		l.e2.Tick()
		l.net.deliver()
	}
}

// paired checks that each child installed on one side has its mirror on
// the other: the same SPIs crossed and the same keys.
func paired(t *testing.T, a, b []*ikev1.ChildSA) {
	t.Helper()
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("installed: %d and %d pairs of SAs", len(a), len(b))
	}
	for _, x := range a {
		found := false
		for _, y := range b {
			if x.SPIIn == y.SPIOut && x.SPIOut == y.SPIIn {
				found = true
				if !bytes.Equal(x.EncKeyIn, y.EncKeyOut) || !bytes.Equal(x.AuthKeyOut, y.AuthKeyIn) {
					t.Errorf("SPIs %08x/%08x: the keys differ", x.SPIIn, x.SPIOut)
				}
			}
		}
		if !found {
			t.Errorf("SPIs %08x/%08x have no mirror", x.SPIIn, x.SPIOut)
		}
	}
}

// TestSeedBothActive: the seed's two ike lines, both active, negotiate at
// once without a deadlock; each side installs what the other does.
func TestSeedBothActive(t *testing.T) {
	l := newLab(t, seedRule(t, bridge1, bridge2, "k", time.Hour, 20*time.Minute), seedRule(t, bridge2, bridge1, "k", time.Hour, 20*time.Minute))
	l.run(2 * time.Second)
	paired(t, l.i1.list(), l.i2.list())
	if n := l.e1.Counters.Established2.Load(); n == 0 || l.e1.Counters.Failed() != 0 {
		t.Errorf("bridge1: %d SAs made, %d failures", n, l.e1.Counters.Failed())
	}
	if s := l.e1.Counters.Snapshot(); s.Started[PhaseMain] == 0 || s.Started[PhaseQuick] < s.Established2 {
		t.Errorf("bridge1: begun %v, %d pairs made", s.Started, s.Established2)
	}
	// Nothing more happens while the SAs last.
	before := l.net.sent
	l.run(time.Minute)
	if l.net.sent != before {
		t.Errorf("%d messages sent while nothing was due", l.net.sent-before)
	}
}

// TestLossAndRetransmit: the first three datagrams are lost; messages are
// sent again until the SAs are made.
func TestLossAndRetransmit(t *testing.T) {
	r1 := seedRule(t, bridge1, bridge2, "k", time.Hour, 20*time.Minute)
	r2 := seedRule(t, bridge2, bridge1, "k", time.Hour, 20*time.Minute)
	r2.Start = policy.Passive
	l := newLab(t, r1, r2)
	l.net.drop = func(n int) bool { return n <= 3 }
	l.run(30 * time.Second)
	paired(t, l.i1.list(), l.i2.list())
	if l.e1.Counters.Retransmits.Load()+l.e2.Counters.Retransmits.Load() == 0 {
		t.Error("no message was sent again")
	}
}

// TestRekey: SAs are renewed before their lifetime ends, so that at every
// moment a pair is installed on both sides, and the old pair goes at its
// end.
func TestRekey(t *testing.T) {
	l := newLab(t, seedRule(t, bridge1, bridge2, "k", 10*time.Minute, time.Minute), seedRule(t, bridge2, bridge1, "k", 10*time.Minute, time.Minute))
	l.run(2 * time.Second)
	first := l.i1.list()
	for range 4 * 60 * 4 { // four quick lifetimes
		l.run(250 * time.Millisecond)
		if len(l.i1.list()) == 0 || len(l.i2.list()) == 0 {
			t.Fatalf("at %v a side had no SAs", l.now)
		}
	}
	now := l.i1.list()
	for _, c := range now {
		for _, f := range first {
			if c == f {
				t.Error("an SA of the first pair outlived its lifetime")
			}
		}
	}
	if l.i1.removed == 0 || l.e1.Counters.Established2.Load() < 4 {
		t.Errorf("removed %d, made %d", l.i1.removed, l.e1.Counters.Established2.Load())
	}
	paired(t, l.i1.list(), l.i2.list())
}

// TestCloseDeletes: a side that stops tells the other, which drops the
// SAs at once.
func TestCloseDeletes(t *testing.T) {
	l := newLab(t, seedRule(t, bridge1, bridge2, "k", time.Hour, 20*time.Minute), seedRule(t, bridge2, bridge1, "k", time.Hour, 20*time.Minute))
	l.run(2 * time.Second)
	l.e2.Close()
	l.net.deliver()
	if n := len(l.i1.list()); n != 0 || len(l.i2.list()) != 0 {
		t.Errorf("after bridge2 closed: %d and %d pairs installed", n, len(l.i2.list()))
	}
}

// TestWrongKey: another pre-shared key fails, counted, and makes nothing.
func TestWrongKey(t *testing.T) {
	l := newLab(t, seedRule(t, bridge1, bridge2, "k", time.Hour, 20*time.Minute), seedRule(t, bridge2, bridge1, "other", time.Hour, 20*time.Minute))
	l.run(10 * time.Second)
	if len(l.i1.list())+len(l.i2.list()) != 0 || l.e1.Counters.Failed()+l.e2.Counters.Failed() == 0 {
		t.Errorf("installed %d and %d, failures %d", len(l.i1.list()), len(l.i2.list()), l.e1.Counters.Failed()+l.e2.Counters.Failed())
	}
}

// TestUnreachableCounted: a peer that never answers fails Main Mode as
// unreachable, once every retransmission is spent.
func TestUnreachableCounted(t *testing.T) {
	l := newLab(t, seedRule(t, bridge1, bridge2, "k", time.Hour, 20*time.Minute), seedRule(t, bridge2, bridge1, "k", time.Hour, 20*time.Minute))
	l.net.drop = func(int) bool { return true }
	l.run(3 * time.Minute)
	s := l.e1.Counters.Snapshot()
	if n := s.Failures[PhaseMain][FailUnreachable]; n == 0 || n != l.e1.Counters.Failed() || s.Started[PhaseMain] < n {
		t.Errorf("failures %v, begun %v: want Main Mode's, all unreachable, no more than begun", s.Failures, s.Started)
	}
}

// TestFailReason: what each failure is counted as.
func TestFailReason(t *testing.T) {
	for _, c := range []struct {
		err  error
		want FailReason
	}{
		{&ikev1.Failure{Notify: isakmp.NotifyNoProposalChosen, Err: errors.New("x")}, FailNoProposal},
		{&ikev1.Failure{Notify: isakmp.NotifyAuthenticationFailed, Err: errors.New("x")}, FailAuthentication},
		{&ikev1.Failure{Notify: isakmp.NotifyInvalidSignature, Err: errors.New("x")}, FailAuthentication},
		{&ikev1.Failure{Notify: isakmp.NotifyPayloadMalformed, Err: errors.New("x")}, FailOther},
		{errUnreachable, FailUnreachable},
		{configError{errors.New("no key")}, FailConfig},
		{errors.New("x"), FailOther},
	} {
		if got, _ := reason(c.err); got != c.want {
			t.Errorf("reason(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestRestartInitialContact: bridge1 restarts with no SAs; its new Main
// Mode says INITIAL-CONTACT, and bridge2 drops the SAs it still had with
// it at once instead of at the end of their lifetime.
func TestRestartInitialContact(t *testing.T) {
	r1 := seedRule(t, bridge1, bridge2, "k", time.Hour, 20*time.Minute)
	l := newLab(t, r1, seedRule(t, bridge2, bridge1, "k", time.Hour, 20*time.Minute))
	l.run(2 * time.Second)
	old := l.i2.list()
	// The restarted bridge1: a new engine, nothing installed.
	l.i1 = &installed{}
	l.e1 = New(Config{KeyDir: t.TempDir(), Now: func() time.Time { return l.now }}, port{l.net, bridge1}, l.i1)
	l.net.engines[bridge1] = l.e1
	l.e1.Load([]policy.IKE{r1})
	l.run(2 * time.Second)
	for _, c := range l.i2.list() {
		for _, o := range old {
			if c == o {
				t.Errorf("bridge2 kept SPIs %08x/%08x of before the restart", c.SPIIn, c.SPIOut)
			}
		}
	}
	paired(t, l.i1.list(), l.i2.list())
}

// TestFlushDeletes: rules flushed (ipsecctl -F loads none) delete their
// SAs at the next tick and tell the peer, which drops them too.
func TestFlushDeletes(t *testing.T) {
	l := newLab(t, seedRule(t, bridge1, bridge2, "k", time.Hour, 20*time.Minute), seedRule(t, bridge2, bridge1, "k", time.Hour, 20*time.Minute))
	l.run(2 * time.Second)
	l.e2.Load(nil)
	if len(l.i2.list()) == 0 {
		t.Fatal("Load removed SAs at once; the Installer's locks may be held by its caller")
	}
	l.run(time.Second)
	if n := len(l.i1.list()); n != 0 || len(l.i2.list()) != 0 {
		t.Errorf("after bridge2's flush: %d and %d pairs installed", n, len(l.i2.list()))
	}
	// bridge1's rule is still active: it negotiates again, and bridge2,
	// without a rule, refuses.
	l.run(5 * time.Second)
	if len(l.i1.list())+len(l.i2.list()) != 0 || l.e2.Counters.Dropped.Load() == 0 {
		t.Errorf("after the flush: %d and %d pairs, bridge2 dropped %d", len(l.i1.list()), len(l.i2.list()), l.e2.Counters.Dropped.Load())
	}
}

// TestOtherSourceDropped: a message of an established exchange, sent again
// from another address, is dropped and counted, whatever its cookies.
func TestOtherSourceDropped(t *testing.T) {
	l := newLab(t, seedRule(t, bridge1, bridge2, "k", time.Hour, 20*time.Minute), seedRule(t, bridge2, bridge1, "k", time.Hour, 20*time.Minute))
	l.run(2 * time.Second)
	// bridge1 deletes the ESP SAs it has: bridge2 would take that message
	// from bridge1.
	e1 := l.e1
	e1.mu.Lock()
	c := e1.children[0]
	e1.mu.Unlock()
	last, err := c.sa.p1.Informational(ikev1.DeleteESP(c.c.SPIIn))
	if err != nil {
		t.Fatal(err)
	}
	if last == nil {
		t.Fatal("nothing recorded")
	}
	before, installed := l.e2.Counters.Dropped.Load(), len(l.i2.list())
	l.e2.Receive(last, netip.AddrPortFrom(netip.MustParseAddr("192.0.2.99"), Port), bridge2)
	if l.e2.Counters.Dropped.Load() != before+1 || len(l.i2.list()) != installed {
		t.Errorf("dropped %d (want %d), %d pairs installed (want %d)", l.e2.Counters.Dropped.Load(), before+1, len(l.i2.list()), installed)
	}
}

// TestNATKeepalive: bridge1 is behind a NAT that maps its port 500 to
// 1024. Both sides see it in the NAT-D hashes, float to port 4500 and agree
// on ESP in UDP, and bridge1, the side behind the NAT, sends a keepalive
// every 20 seconds while bridge2 sends none.
func TestNATKeepalive(t *testing.T) {
	r2 := seedRule(t, bridge2, bridge1, "k", time.Hour, 20*time.Minute)
	r2.Start = policy.Passive
	l := newLab(t, seedRule(t, bridge1, bridge2, "k", time.Hour, 20*time.Minute), r2)
	l.net.nat[bridge1] = 1024
	l.run(2 * time.Second)
	paired(t, l.i1.list(), l.i2.list())
	for _, c := range append(l.i1.list(), l.i2.list()...) {
		if !c.UDPEncap {
			t.Errorf("SPIs %08x/%08x: ESP not in UDP", c.SPIIn, c.SPIOut)
		}
	}
	l.run(time.Minute)
	if n := l.net.keepalives[bridge1]; n < 3 || n > 4 || l.net.keepalives[bridge2] != 0 {
		t.Errorf("keepalives in a minute and 2 s: bridge1 %d (want 3 or 4), bridge2 %d", n, l.net.keepalives[bridge2])
	}
}

// TestLateMainModeNoInitialContact: bridge1's first Main Mode reaches
// bridge2 before bridge2 has its rule and is dropped; bridge2 then
// negotiates, and bridge1's Main Mode, sent again, ends after that: it must
// not say INITIAL-CONTACT, or bridge2 would drop the SAs bridge1 still
// uses.
func TestLateMainModeNoInitialContact(t *testing.T) {
	r1 := seedRule(t, bridge1, bridge2, "k", time.Hour, 20*time.Minute)
	r2 := seedRule(t, bridge2, bridge1, "k", time.Hour, 20*time.Minute)
	l := newLab(t, r1, r2)
	l.e2.Load(nil)
	l.e1.Tick()
	l.net.deliver() // dropped: bridge2 has no rule yet
	l.e2.Load([]policy.IKE{r2})
	l.run(5 * time.Second) // bridge2 negotiates; bridge1 sends its first message again
	paired(t, l.i1.list(), l.i2.list())
	if l.i2.removed != 0 {
		t.Errorf("bridge2 dropped %d pairs of SAs", l.i2.removed)
	}
}
