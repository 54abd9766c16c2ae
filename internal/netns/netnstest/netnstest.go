// Package netnstest is what the tests need of netns and gif demo does not:
// a lab bound to a test, charon (strongSwan) as an IKE peer, and scapy to
// craft packets. It stays out of the gif binary.
package netnstest

import (
	"gif/internal/netns"
)

// T is the part of testing.TB that NewLab and NewPair use.
type T interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
}

// NewLab returns a lab that is closed when the test ends, and logs the
// output of the lab's processes to the test then.
func NewLab(t T, prefix string) *netns.Lab {
	t.Helper()
	l, err := netns.NewLab(prefix)
	if err != nil {
		t.Fatalf("%v", err)
	}
	l.LogOutputTo(t.Logf)
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Fatalf("close lab: %v", err)
		}
	})
	return l
}

// NewPair returns a lab with hosts a and b joined by a veth pair, gift0 in a
// and gift1 in b, with 192.0.2.1/24, 2001:db8::1/64 on a and 192.0.2.2/24,
// 2001:db8::2/64 on b.
func NewPair(t T) (lab *netns.Lab, a, b *netns.Host) {
	t.Helper()
	lab = NewLab(t, "gift")
	var err error
	if a, err = lab.Host("a"); err != nil {
		t.Fatalf("%v", err)
	}
	if b, err = lab.Host("b"); err != nil {
		t.Fatalf("%v", err)
	}
	if err := lab.Link(a, "gift0", b, "gift1"); err != nil {
		t.Fatalf("%v", err)
	}
	for _, addr := range []struct {
		h      *netns.Host
		ifname string
		cidr   string
	}{
		{a, "gift0", "192.0.2.1/24"}, {a, "gift0", "2001:db8::1/64"},
		{b, "gift1", "192.0.2.2/24"}, {b, "gift1", "2001:db8::2/64"},
	} {
		if err := addr.h.AddAddr(addr.ifname, addr.cidr); err != nil {
			t.Fatalf("%v", err)
		}
	}
	return lab, a, b
}
