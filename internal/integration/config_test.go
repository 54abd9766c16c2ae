package integration

import (
	"fmt"
	"strings"
	"testing"
)

// TestSourceNotLocal: a tunnel whose source is not this host's is warned
// about and stays out of RUNNING until the address appears.
func TestSourceNotLocal(t *testing.T) {
	a, b := newPair(t)
	stderr, err := a.gifStderr("ifconfig", "gif0", "tunnel", "192.0.2.11", outerB4, "inet", innerA4, innerB4, "up")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "192.0.2.11 is not an address of this host") {
		t.Fatalf("no warning about the source: %q", stderr)
	}
	if out := a.gif("ifconfig", "gif0"); strings.Contains(out, "RUNNING") {
		t.Fatalf("gif0 is RUNNING without its source address:\n%s", out)
	}
	b.gif("ifconfig", "gif0", "tunnel", outerB4, "192.0.2.11", "inet", innerB4, innerA4, "up")
	if res := a.ping(innerB4, 1); res.Received != 0 {
		t.Fatal("a gif that is not RUNNING sent packets")
	}
	if err := a.AddAddr("eth0", "192.0.2.11/24"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "gif0 to become RUNNING", func() bool { return a.status("gif0").Running })
	a.mustPing(innerB4, 2)
}

// TestSourceJustAdded: a script that adds an address and right after sets
// a tunnel from it gets no warning and a RUNNING gif, though the daemon's
// watch hears of the address only once the changes settle.
func TestSourceJustAdded(t *testing.T) {
	a, _ := newPair(t)
	a.gif("ifconfig", "gif0", "create") // starts the daemon, which then lists the addresses only when they change
	const tries = 20
	for i := range tries {
		src := fmt.Sprintf("192.0.2.%d", 100+i)
		if err := a.AddAddr("eth0", src+"/24"); err != nil {
			t.Fatal(err)
		}
		stderr, err := a.gifStderr("ifconfig", "gif0", "tunnel", src, outerB4, "up")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(stderr, "not an address of this host") {
			t.Errorf("try %d of %d: warned about a source just added: %q", i+1, tries, stderr)
		}
		if !a.status("gif0").Running {
			t.Errorf("try %d of %d: gif0 is not RUNNING from %s", i+1, tries, src)
		}
	}
}

// TestNoInet6 checks the link-local address and -inet6.
func TestNoInet6(t *testing.T) {
	a, b := newPair(t)
	tunnelBoth(a, b, 6, 4, 6)
	st := a.status("gif0")
	if !st.LinkLocal.IsValid() || !st.LinkLocal.IsLinkLocalUnicast() {
		t.Fatalf("no link-local address on an up gif: %v", st.LinkLocal)
	}
	if out := a.sh("ip", "-6", "addr", "show", "dev", "gif0"); !strings.Contains(out, st.LinkLocal.String()+"/64") {
		t.Fatalf("Linux does not have %s on gif0:\n%s", st.LinkLocal, out)
	}
	a.gif("ifconfig", "gif0", "-inet6")
	if out := a.sh("ip", "-6", "addr", "show", "dev", "gif0"); strings.TrimSpace(out) != "" {
		t.Fatalf("IPv6 addresses left after -inet6:\n%s", out)
	}
	if out := a.gif("ifconfig", "gif0"); strings.Contains(out, "\tinet6 ") {
		t.Fatalf("ifconfig still shows inet6 after -inet6:\n%s", out)
	}
	if got := strings.TrimSpace(a.sh("cat", "/proc/sys/net/ipv6/conf/gif0/disable_ipv6")); got != "1" {
		t.Fatalf("disable_ipv6 is %s after -inet6", got)
	}
	// The pure IPv4-over-IPv6 tunnel still carries IPv4.
	a.mustPing(innerB4, 2)
	// No route is as good as no reply.
	if res, err := a.Ping(t.Context(), innerB6); err == nil && res.Received != 0 {
		t.Fatal("IPv6 crossed a gif with -inet6")
	}
	// An IPv6 address turns IPv6 back on.
	a.gif("ifconfig", "gif0", "inet6", innerA6, innerB6, "prefixlen", "128")
	a.mustPing(innerB6, 2)
}

// TestAllOrNothing: a command with one bad parameter changes nothing.
func TestAllOrNothing(t *testing.T) {
	a, _ := newPair(t)
	a.gif("ifconfig", "gif0", "tunnel", outerA4, outerB4, "inet", innerA4, innerB4, "up")
	// Its plane changes on its own a moment later (the egress program
	// attached): compare once it has.
	a.wantPlane("gif0", defaultPlane)
	before := a.gif("ifconfig", "gif0")
	for _, args := range [][]string{
		{"mtu", "1400", "tunnelttl", "0"},                  // refused by the parser
		{"mtu", "1400", "inet", "198.51.100.77", "delete"}, // refused by the model
		{"mtu", "1400", "description", "x", "mtu", "9000"}, // the last one is out of range
	} {
		out, err := a.gifTry(append([]string{"ifconfig", "gif0"}, args...)...)
		if err == nil {
			t.Fatalf("%v: accepted: %s", args, out)
		}
		if after := a.gif("ifconfig", "gif0"); after != before {
			t.Fatalf("%v changed the interface:\nbefore:\n%s\nafter:\n%s", args, before, after)
		}
		if out := a.sh("ip", "link", "show", "gif0"); !strings.Contains(out, "mtu 1280") {
			t.Fatalf("%v changed the Linux MTU: %s", args, out)
		}
	}
	// Errors name the argument and why.
	_, err := a.gifTry("ifconfig", "gif0", "tunnel", outerA4, outerB6)
	if err == nil || !strings.Contains(err.Error(), "IPv4") || !strings.Contains(err.Error(), "IPv6") {
		t.Fatalf("mixed-family tunnel: %v", err)
	}
}

// TestTunnelOptions asserts on the wire what tunnelttl, tunneldf and
// -tunnelecn change.
func TestTunnelOptions(t *testing.T) {
	a, b := newPair(t)
	tunnelBoth(a, b, 4, 4)
	a.mustPing(innerB4, 1)
	for _, c := range []struct {
		args          []string
		ttl           int // 0: the inner TTL
		df            bool
		innerTOS, tos int
	}{
		{[]string{"tunnelttl", "32"}, 32, false, 0x03, 0x02},
		{[]string{"tunnelttl", "copy", "tunneldf"}, 0, true, 0x03, 0x02},
		{[]string{"tunnelttl", "64", "-tunneldf", "-tunnelecn"}, 64, false, 0xb9, 0xb8},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			a.gif(append([]string{"ifconfig", "gif0"}, c.args...)...)
			capture, err := b.Capture("eth0", tunnelFilter)
			if err != nil {
				t.Fatal(err)
			}
			a.mustPing(innerB4, 2, "-t", "17", "-Q", fmt.Sprintf("0x%02x", c.innerTOS))
			pkts, err := capture.Stop()
			if err != nil {
				t.Fatal(err)
			}
			requests := echoRequests(pkts, 4)
			if len(requests) != 2 {
				t.Fatalf("captured %d echo requests, want 2", len(requests))
			}
			want := c.ttl
			if want == 0 {
				want = 17
			}
			for _, p := range requests {
				if o := p.IP[0]; o.TTL != want || o.DF != c.df || o.DSField != c.tos {
					t.Errorf("outer ttl %d df %v tos 0x%02x, want ttl %d df %v tos 0x%02x", o.TTL, o.DF, o.DSField, want, c.df, c.tos)
				}
			}
		})
	}
	out := a.gif("ifconfig", "gif0")
	if !strings.Contains(out, "ttl 64 nodf noecn") {
		t.Fatalf("ifconfig tunnel line:\n%s", out)
	}
}

// TestSysctl reads and sets the variables as OpenBSD's sysctl(8) does.
func TestSysctl(t *testing.T) {
	a, _ := newPair(t)
	if out := a.gif("sysctl", "-a"); out != "net.inet.etherip.allow=0\nnet.inet.gif.fastpath=1\nnet.inet.ipip.allow=0\n" {
		t.Fatalf("sysctl -a:\n%s", out)
	}
	if out := a.gif("sysctl", "net.inet.etherip.allow=1"); out != "net.inet.etherip.allow: 0 -> 1\n" {
		t.Fatalf("set: %q", out)
	}
	if out := a.gif("sysctl", "net.inet.etherip.allow"); out != "net.inet.etherip.allow=1\n" {
		t.Fatalf("get: %q", out)
	}
	for _, bad := range []string{"net.inet.ipip.allow=3", "net.inet.ipip.allow=x", "net.inet.gre.allow=1"} {
		if _, err := a.gifTry("sysctl", bad); err == nil {
			t.Fatalf("sysctl %s accepted", bad)
		}
	}
}

// TestFreshGifSendsNothing: a gif that comes up sends nothing of its own,
// in the tunnel or as output errors (Linux would send an IPv6 router
// solicitation as soon as the link-local address is there, before the
// interface is RUNNING): after three pings each end counts exactly the
// three echo requests or replies each way and no error.
func TestFreshGifSendsNothing(t *testing.T) {
	a, b := newPair(t)
	tunnelBoth(a, b, 4, 4)
	a.mustPing(innerB4, 3)
	for _, n := range []*node{a, b} {
		s := n.status("gif0").Stats
		if s.OErrors != 0 || s.IErrors != 0 || s.OPackets != 3 || s.IPackets != 3 {
			t.Errorf("%s: gif0 counted %d packets out, %d in, %d output errors, %d input errors; want 3, 3, 0, 0",
				n.Name(), s.OPackets, s.IPackets, s.OErrors, s.IErrors)
		}
	}
}

// TestFastpathSwitches: -fastpath is kept, shown on the tunnel line, in
// -j and in -C's files, and fastpath undoes it; net.inet.gif.fastpath is 1
// until set to 0.
func TestFastpathSwitches(t *testing.T) {
	a, _ := newPair(t)
	a.gif("ifconfig", "gif0", "tunnel", outerA4, outerB4, "-fastpath")
	if out, want := a.gif("ifconfig", "gif0"), "ttl 64 nodf ecn -fastpath\n"; !strings.Contains(out, want) {
		t.Errorf("ifconfig gif0 lacks %q:\n%s", want, out)
	}
	if !a.status("gif0").NoFastpath {
		t.Error("ifconfig -j gif0 does not say nofastpath")
	}
	if out := a.gif("ifconfig", "-C"); !strings.Contains(out, "\n-fastpath\n") {
		t.Errorf("ifconfig -C lacks a -fastpath line:\n%s", out)
	}
	a.gif("ifconfig", "gif0", "fastpath")
	if out := a.gif("ifconfig", "gif0"); strings.Contains(out, "-fastpath") || a.status("gif0").NoFastpath {
		t.Errorf("after fastpath, ifconfig gif0 still says -fastpath:\n%s", out)
	}
	if out := a.gif("sysctl", "net.inet.gif.fastpath=0"); out != "net.inet.gif.fastpath: 1 -> 0\n" {
		t.Errorf("sysctl net.inet.gif.fastpath=0: %q", out)
	}
	if _, err := a.gifTry("sysctl", "net.inet.gif.fastpath=2"); err == nil {
		t.Error("sysctl net.inet.gif.fastpath=2 accepted")
	}
}
