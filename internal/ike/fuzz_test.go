package ike

import (
	"net/netip"
	"testing"
	"time"
)

// FuzzReceive feeds an engine any datagrams from its peer, after seeds that
// are the messages of a real negotiation: it must drop and count what is
// wrong, and never panic.
func FuzzReceive(f *testing.F) {
	var recorded [][]byte
	{
		l := newLab(f, seedRule(f, bridge1, bridge2, "k", time.Hour, 20*time.Minute),
			seedRule(f, bridge2, bridge1, "k", time.Hour, 20*time.Minute))
		l.net.drop = func(int) bool { return false }
		l.e1.Tick()
		for len(l.net.queue) > 0 {
			d := l.net.queue[0]
			recorded = append(recorded, d.msg)
			l.net.queue = l.net.queue[1:]
			l.net.engines[d.to].Receive(d.msg, netip.AddrPortFrom(d.from, Port), d.to)
		}
	}
	for _, m := range recorded {
		f.Add(m, m)
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		l := newLab(t, seedRule(t, bridge1, bridge2, "k", time.Hour, 20*time.Minute),
			seedRule(t, bridge2, bridge1, "k", time.Hour, 20*time.Minute))
		for _, m := range [][]byte{a, b, a} {
			l.e2.Receive(m, netip.AddrPortFrom(bridge1, Port), bridge2)
		}
		l.net.queue = nil
		if in, dropped := l.e2.Counters.In.Load(), l.e2.Counters.Dropped.Load(); dropped > in {
			t.Fatalf("%d dropped of %d received", dropped, in)
		}
	})
}
