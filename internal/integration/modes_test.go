package integration

import (
	"encoding/json"
	"fmt"
	"gif/internal/control"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// status returns what `gif ifconfig -j NAME` says of one interface.
func (n *node) status(name string) control.InterfaceStatus {
	n.t.Helper()
	var r control.ShowResult
	if err := json.Unmarshal([]byte(n.gif("ifconfig", "-j", name)), &r); err != nil || len(r.Interfaces) != 1 {
		n.t.Fatalf("%s: gif ifconfig -j %s: %v (%d gif interfaces)", n.Name(), name, err, len(r.Interfaces))
	}
	return r.Interfaces[0]
}

// ipipStat returns the number of the line of `gif netstat -s -p ipip` whose
// words match the regular expression what.
func (n *node) ipipStat(what string) int {
	n.t.Helper()
	out := n.gif("netstat", "-s", "-p", "ipip")
	m := regexp.MustCompile(`(?m)^\s+(\d+) ` + what + `$`).FindStringSubmatch(out)
	if m == nil {
		n.t.Fatalf("%s: no %q in netstat output:\n%s", n.Name(), what, out)
	}
	v, _ := strconv.Atoi(m[1])
	return v
}

var modes = []struct {
	name         string
	outer, inner int
}{
	{"IPv4-in-IPv4", 4, 4},
	{"IPv6-in-IPv4", 4, 6},
	{"IPv4-in-IPv6", 6, 4},
	{"IPv6-in-IPv6", 6, 6},
}

// TestModes runs each of the four IP modes on each data plane: ping and a
// TCP transfer both ways.
func TestModes(t *testing.T) {
	for _, plane := range planes {
		for _, m := range modes {
			t.Run(plane+"/"+m.name, func(t *testing.T) {
				a, b := newPairOn(t, plane)
				tunnelBoth(a, b, m.outer, m.inner)
				a.wantPlane("gif0", plane)
				b.wantPlane("gif0", plane)
				dst := innerB4
				if m.inner == 6 {
					dst = innerB6
				}
				a.mustPing(dst, 3)
				transfer(t, a, b, dst)
				transfer(t, b, a, map[int]string{4: innerA4, 6: innerA6}[m.inner])
				st := a.status("gif0")
				if !st.Running || st.Stats.IPackets == 0 || st.Stats.OPackets == 0 {
					t.Fatalf("gif0 on a: running %v, counters %+v", st.Running, st.Stats)
				}
				// netstat shows what the kernel plane carried.
				if plane == kernelPlane && a.ipipStat("packets? carried in the kernel") == 0 {
					t.Fatalf("netstat on a shows no packet carried on the kernel plane")
				}
			})
		}
	}
}

// planeTimeout bounds how long a gif takes to reach its plane: the kernel
// plane attaches its egress program a moment after the gif's device comes.
const planeTimeout = 5 * time.Second

// wantPlane fails the test unless the host's gif called name is carried by
// plane within planeTimeout.
func (n *node) wantPlane(name, plane string) {
	n.t.Helper()
	for deadline := time.Now().Add(planeTimeout); ; time.Sleep(50 * time.Millisecond) {
		st := n.status(name)
		if st.Plane == plane {
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("%s: %s is on the %s plane (%s) after %v; want the %s plane", n.Name(), name, st.Plane, st.PlaneReason, planeTimeout, plane)
		}
	}
}

// TestBothFamiliesOneInterface carries IPv4 and IPv6 on one gif at once.
func TestBothFamiliesOneInterface(t *testing.T) {
	for _, outer := range []int{4, 6} {
		t.Run(fmt.Sprintf("outer-IPv%d", outer), func(t *testing.T) {
			a, b := newPair(t)
			tunnelBoth(a, b, outer, 4, 6)
			a.mustPing(innerB4, 2)
			a.mustPing(innerB6, 2)
			b.mustPing(innerA4, 2)
			b.mustPing(innerA6, 2)
		})
	}
}

// TestMTU checks the interface MTU as the inner hosts see it, and that
// inner packets larger than the outer path are fragmented by the outer IP.
func TestMTU(t *testing.T) {
	for _, plane := range planes {
		t.Run(plane, func(t *testing.T) { testMTU(t, plane) })
	}
}

func testMTU(t *testing.T, plane string) {
	a, b := newPairOn(t, plane)
	tunnelBoth(a, b, 4, 4, 6)
	a.wantPlane("gif0", plane)
	if mtu := a.status("gif0").MTU; mtu != 1280 {
		t.Fatalf("default mtu %d, want 1280", mtu)
	}
	// 1280 - 28: the largest ICMP payload that fits unfragmented.
	a.mustPing(innerB4, 2, "-s", "1252", "-M", "do")
	if res := a.ping(innerB4, 1, "-s", "1253", "-M", "do"); res.Received != 0 {
		t.Fatalf("a 1281-byte packet with DF crossed a 1280-byte gif:\n%s", res.Output)
	}
	a.gif("ifconfig", "gif0", "mtu", "1500")
	b.gif("ifconfig", "gif0", "mtu", "1500")
	if out := a.sh("ip", "link", "show", "gif0"); !strings.Contains(out, "mtu 1500") {
		t.Fatalf("Linux does not show mtu 1500: %s", out)
	}
	// Capture only IPv4 fragments: MF set or a fragment offset.
	capture, err := b.Capture("eth0", "ip[6:2] & 0x3fff != 0")
	if err != nil {
		t.Fatal(err)
	}
	// 1500-byte inner packets over a 1500-byte path: the outer packet is 1520
	// bytes, so the outer IP must fragment it.
	a.mustPing(innerB4, 3, "-s", "1472", "-M", "do")
	a.mustPing(innerB6, 3, "-s", "1452", "-M", "do")
	transfer(t, a, b, innerB4)
	fragments, err := capture.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if len(fragments) < 6 {
		t.Fatalf("%d outer IPv4 fragments seen, want at least 6 (two per ping)", len(fragments))
	}
	for _, bad := range []string{"1279", "8193"} {
		out, err := a.gifTry("ifconfig", "gif0", "mtu", bad)
		if err == nil || !strings.Contains(err.Error(), "1280..8192") {
			t.Fatalf("mtu %s: want an error naming the range 1280..8192, got %v %s", bad, err, out)
		}
	}
}

// TestDuplicatePair configures two interfaces with one tunnel pair: the one
// with the lowest index receives all traffic.
func TestDuplicatePair(t *testing.T) {
	a, b := newPair(t)
	a.gif("ifconfig", "gif1", "tunnel", outerA4, outerB4, "inet", "198.51.100.3", innerB4, "up")
	a.gif("ifconfig", "gif0", "tunnel", outerA4, outerB4, "inet", innerA4, innerB4, "up")
	b.gif("ifconfig", "gif0", "tunnel", outerB4, outerA4, "inet", innerB4, innerA4, "up")
	b.mustPing(innerA4, 3)
	if st := a.status("gif1"); st.Stats.IPackets != 0 {
		t.Fatalf("gif1 (higher index) received %d packets", st.Stats.IPackets)
	}
	if st := a.status("gif0"); st.Stats.IPackets < 3 {
		t.Fatalf("gif0 (lowest index) received %d packets, want >= 3", st.Stats.IPackets)
	}
	// With gif0 down, gif1 is the lowest UP interface with the pair.
	a.gif("ifconfig", "gif0", "down")
	b.sh("ip", "route", "add", "198.51.100.3/32", "dev", "gif0")
	b.mustPing("198.51.100.3", 2)
	if st := a.status("gif1"); st.Stats.IPackets < 2 {
		t.Fatalf("gif1 received %d packets after gif0 went down", st.Stats.IPackets)
	}
}

// TestDuplicatePairWarns checks the warning given when a second interface
// takes a pair that another has.
func TestDuplicatePairWarns(t *testing.T) {
	a, _ := newPair(t)
	a.gif("ifconfig", "gif1", "tunnel", outerA4, outerB4)
	ctxOut, err := a.gifStderr("ifconfig", "gif0", "tunnel", outerA4, outerB4)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ctxOut, "also configured on gif1") || !strings.Contains(ctxOut, "gif0 (the lowest index)") {
		t.Fatalf("no duplicate-pair warning: %q", ctxOut)
	}
}

// TestUnmatched counts outer packets that no interface claims.
func TestUnmatched(t *testing.T) {
	a, b := newPair(t)
	a.gif("ifconfig", "gif0", "tunnel", outerA4, outerB4, "inet", innerA4, innerB4, "up")
	// b tunnels from an address a has no gif for.
	if err := b.AddAddr("eth0", "192.0.2.3/24"); err != nil {
		t.Fatal(err)
	}
	b.gif("ifconfig", "gif0", "tunnel", "192.0.2.3", outerA4, "inet", innerB4, innerA4, "up")
	before := a.ipipStat("packets? dropped due to policy")
	b.ping(innerA4, 3)
	after := a.ipipStat("packets? dropped due to policy")
	if after-before != 3 {
		t.Fatalf("pdrops went from %d to %d, want +3", before, after)
	}
	if st := a.status("gif0"); st.Stats.IPackets != 0 {
		t.Fatalf("gif0 claimed %d packets of another pair", st.Stats.IPackets)
	}
}

// TestRestart kills the daemon with SIGKILL: the next command starts a new
// one, which restores the interfaces, and traffic flows again.
func TestRestart(t *testing.T) {
	a, b := newPair(t)
	tunnelBoth(a, b, 4, 4, 6)
	a.gif("ifconfig", "gif0", "mtu", "1400", "description", "to b", "tunnelttl", "32")
	a.gif("sysctl", "net.inet.ipip.allow=1")
	a.mustPing(innerB4, 2)
	before := a.status("gif0")
	killDaemon(t, a)
	stderr, err := a.gifStderr("ifconfig", "gif0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "started the gif daemon") {
		t.Fatalf("no word of the daemon starting: %q", stderr)
	}
	after := a.status("gif0")
	if after.MTU != 1400 || after.Description != "to b" || after.TTL != 32 || !after.Running ||
		fmt.Sprint(after.Addrs) != fmt.Sprint(before.Addrs) || after.Src != before.Src || after.Dst != before.Dst {
		t.Fatalf("after restart:\n%+v\nbefore:\n%+v", after.Config, before.Config)
	}
	if out := a.gif("sysctl", "net.inet.ipip.allow"); strings.TrimSpace(out) != "net.inet.ipip.allow=1" {
		t.Fatalf("sysctl after restart: %q", out)
	}
	a.mustPing(innerB4, 2)
	a.mustPing(innerB6, 2)
}

// waitGone waits until the Linux interface name is gone from n.
func waitGone(t *testing.T, n *node, name string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := n.Run(t.Context(), "ip", "link", "show", name); err != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s still exists in %s", name, n.Name())
}

// TestTeardown: -tunnel stops the traffic, destroy leaves no device behind.
func TestTeardown(t *testing.T) {
	a, b := newPair(t)
	tunnelBoth(a, b, 4, 4)
	a.mustPing(innerB4, 1)
	a.gif("ifconfig", "gif0", "-tunnel")
	st := a.status("gif0")
	if st.HasTunnel() || st.Running {
		t.Fatalf("after -tunnel: tunnel %v..%v running %v", st.Src, st.Dst, st.Running)
	}
	if res := a.ping(innerB4, 1); res.Received != 0 {
		t.Fatal("ping crossed a gif without tunnel")
	}
	if out := a.gif("ifconfig", "gif0"); strings.Contains(out, "tunnel:") {
		t.Fatalf("ifconfig still shows a tunnel:\n%s", out)
	}
	a.gif("ifconfig", "gif0", "destroy")
	waitGone(t, a, "gif0")
	if _, err := a.gifTry("ifconfig", "gif0"); err == nil {
		t.Fatal("ifconfig shows a destroyed interface")
	}
	if out := a.sh("ip", "-o", "link"); regexp.MustCompile(`^\d+: gif|\n\d+: gif`).MatchString(out) {
		t.Fatalf("a gif device is left behind:\n%s", out)
	}
}

// gifStderr runs gif and returns what it printed on standard error.
func (n *node) gifStderr(args ...string) (string, error) {
	n.t.Helper()
	f, err := os.CreateTemp(n.t.TempDir(), "stderr")
	if err != nil {
		return "", err
	}
	defer f.Close()
	script := `"$@" 2>` + f.Name()
	argv := append(append([]string{"-c", script, "sh", "env"}, n.env()...), append([]string{gifBin}, args...)...)
	_, err = n.Run(n.t.Context(), "sh", argv...)
	out, rerr := os.ReadFile(f.Name())
	if err != nil {
		return string(out), fmt.Errorf("%w: %s", err, out)
	}
	return string(out), rerr
}
