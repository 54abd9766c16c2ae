package integration

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gif/internal/netns/netnstest"
)

// The seed's example: two Ethernet networks made one LAN through two bridges
// joined by EtherIP. The bridges' external addresses are the seed's own.
const (
	seedB1, seedB2     = "1.2.3.4", "4.3.2.1"
	seedB1v6, seedB2v6 = "2001:db8::1", "2001:db8::2"
	lanH1, lanH2       = "192.0.2.10", "192.0.2.20"
	lanH1v6, lanH2v6   = "2001:db8:10::10", "2001:db8:10::20"
)

// seedLAN is the example's topology: h1 on network1 behind bridge host b1,
// h2 on network2 behind b2, b1 and b2 on a shared "internet" segment.
type seedLAN struct {
	h1, b1, b2, h2 *node
}

func newSeedLAN(t *testing.T) seedLAN {
	t.Helper()
	lab := netnstest.NewLab(t, "gife")
	n := seedLAN{newNode(t, lab, "h1"), newNode(t, lab, "b1"), newNode(t, lab, "b2"), newNode(t, lab, "h2")}
	for _, l := range []struct {
		a   *node
		aIf string
		b   *node
		bIf string
	}{
		{n.h1, "eth0", n.b1, "eth1"}, // network1; eth1 is the seed's fxp1
		{n.b1, "eth0", n.b2, "eth0"}, // the internet; eth0 is the seed's fxp0
		{n.b2, "eth1", n.h2, "eth0"}, // network2
	} {
		if err := lab.Link(l.a.Host, l.aIf, l.b.Host, l.bIf); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []struct {
		n    *node
		cidr string
	}{
		{n.h1, lanH1 + "/24"}, {n.h1, lanH1v6 + "/64"}, {n.h2, lanH2 + "/24"}, {n.h2, lanH2v6 + "/64"},
		{n.b1, seedB1 + "/32"}, {n.b1, seedB1v6 + "/64"}, {n.b2, seedB2 + "/32"}, {n.b2, seedB2v6 + "/64"},
	} {
		if err := a.n.AddAddr("eth0", a.cidr); err != nil {
			t.Fatal(err)
		}
	}
	// The seed's addresses are in no common subnet: each is on-link for the other.
	n.b1.sh("ip", "route", "add", seedB2+"/32", "dev", "eth0")
	n.b2.sh("ip", "route", "add", seedB1+"/32", "dev", "eth0")
	return n
}

// configure types the seed's commands on both bridges, with the outer
// addresses of the given family. The internal interfaces have no address.
func (n seedLAN) configure(outer int) {
	ends := [2][3]any{{n.b1, seedB1, seedB2}, {n.b2, seedB2, seedB1}}
	if outer == 6 {
		ends = [2][3]any{{n.b1, seedB1v6, seedB2v6}, {n.b2, seedB2v6, seedB1v6}}
	}
	for _, end := range ends {
		b, src, dst := end[0].(*node), end[1].(string), end[2].(string)
		b.gif("ifconfig", "bridge0", "add", "gif0", "add", "eth1")
		b.gif("ifconfig", "gif0", "tunnel", src, dst)
		b.gif("sysctl", "net.inet.etherip.allow=1")
		b.gif("ifconfig", "eth1", "up")
		b.gif("ifconfig", "gif0", "up")
		b.gif("ifconfig", "bridge0", "up", "link2")
	}
}

// etheripStat returns the number of the line of `gif netstat -s -p etherip`
// whose words match the regular expression what.
func (n *node) etheripStat(what string) int {
	n.t.Helper()
	out := n.gif("netstat", "-s", "-p", "etherip")
	m := regexp.MustCompile(`(?m)^\s+(\d+) ` + what + `$`).FindStringSubmatch(out)
	if m == nil {
		n.t.Fatalf("%s: no %q in netstat output:\n%s", n.Name(), what, out)
	}
	v, _ := strconv.Atoi(m[1])
	return v
}

// TestSeedExample runs the seed's EXAMPLES section over IPv4 and over IPv6.
func TestSeedExample(t *testing.T) {
	for _, outer := range []int{4, 6} {
		t.Run(fmt.Sprintf("outer-IPv%d", outer), func(t *testing.T) {
			n := newSeedLAN(t)
			n.configure(outer)
			// ARP and IPv6 neighbour discovery cross the bridges.
			n.h1.mustPing(lanH2, 3)
			n.h1.mustPing(lanH2v6, 3)
			n.h2.mustPing(lanH1, 2)
			// Full 1500-byte frames: the outer IP fragments them.
			n.h1.mustPing(lanH2, 2, "-s", "1472", "-M", "do")
			n.h1.mustPing(lanH2v6, 2, "-s", "1452", "-M", "do")
			transfer(t, n.h1, n.h2, lanH2)
			transfer(t, n.h2, n.h1, lanH1v6)
			if out := n.b1.sh("ip", "-o", "-4", "addr", "show", "dev", "eth1"); strings.Contains(out, "inet ") {
				t.Fatalf("the internal interface has an address:\n%s", out)
			}
			out := n.b1.gif("ifconfig", "bridge0")
			for _, want := range []string{"bridge0: flags=", "UP", "LINK2", "gif0", "eth1"} {
				if !strings.Contains(out, want) {
					t.Fatalf("ifconfig bridge0 lacks %q:\n%s", want, out)
				}
			}
			if got := n.b2.etheripStat("input ethernet-in-IP packets?"); got == 0 {
				t.Fatal("etheripstat counted no input")
			}
		})
	}
}

// TestEtherIPPolicy: with net.inet.etherip.allow=0 nothing crosses, and
// pdrops counts it.
func TestEtherIPPolicy(t *testing.T) {
	n := newSeedLAN(t)
	n.configure(4)
	n.h1.mustPing(lanH2, 1)
	n.b2.gif("sysctl", "net.inet.etherip.allow=0")
	before := n.b2.etheripStat("packets? dropped due to policy")
	if res := n.h1.ping(lanH2, 3); res.Received != 0 {
		t.Fatalf("%d pings crossed with net.inet.etherip.allow=0", res.Received)
	}
	if after := n.b2.etheripStat("packets? dropped due to policy"); after-before < 3 {
		t.Fatalf("pdrops went from %d to %d, want at least +3", before, after)
	}
}

// TestEtherIPWire asserts with tshark what a bridged gif sends: EtherIP
// version 3 carrying the Ethernet frame, outer TTL 64, TOS 0, DF clear,
// protocol 97.
func TestEtherIPWire(t *testing.T) {
	for _, outer := range []int{4, 6} {
		t.Run(fmt.Sprintf("outer-IPv%d", outer), func(t *testing.T) {
			n := newSeedLAN(t)
			n.configure(outer)
			n.h1.mustPing(lanH2, 1)
			capture, err := n.b2.Capture("eth0", "ip proto 97 or ip6 proto 97")
			if err != nil {
				t.Fatal(err)
			}
			n.h1.mustPing(lanH2, 3, "-Q", "0xb8")
			pkts, err := capture.Stop()
			if err != nil {
				t.Fatal(err)
			}
			requests := 0
			for _, p := range pkts {
				if p.EtherIP == nil || len(p.IP) < 2 {
					continue
				}
				o, inner := p.IP[0], p.IP[1]
				if p.EtherIP.Version != 3 || o.Version != outer || o.Proto != 97 || o.TTL != 64 || o.DSField != 0 || o.DF || o.Flow != 0 {
					t.Errorf("outer %+v etherip %+v: want IPv%d proto 97 ttl 64 tos 0 DF clear, EtherIP version 3", o, p.EtherIP, outer)
				}
				if p.ICMP != nil && p.ICMP.Type == 8 && inner.Src.String() == lanH1 && inner.DSField == 0xb8 {
					requests++
				}
			}
			if requests != 3 {
				t.Fatalf("%d EtherIP-carried echo requests decoded, want 3 (of %d packets)", requests, len(pkts))
			}
		})
	}
}

// TestEtherIPScapy sends EtherIP packets built by scapy to b1: the RFC
// header 30 00 and the legacy 03 00 are accepted, others counted and dropped.
func TestEtherIPScapy(t *testing.T) {
	n := newSeedLAN(t)
	n.configure(4)
	n.h1.mustPing(lanH2, 1) // resolves h1's MAC at h2, and b2's route to b1
	h1MAC := strings.TrimSpace(n.h1.sh("cat", "/sys/class/net/eth0/address"))
	h2MAC := strings.TrimSpace(n.h2.sh("cat", "/sys/class/net/eth0/address"))
	for i, c := range []struct {
		header string
		accept bool
		stat   string
	}{
		{`b'\x30\x00'`, true, ""},
		{`b'\x03\x00'`, true, ""},
		{`b'\x31\x00'`, false, "packets? dropped for other reasons"},
		{`b'\x20\x00'`, false, "packets? dropped for other reasons"},
	} {
		t.Run(c.header, func(t *testing.T) {
			before := n.b1.status("gif0").Stats.IPackets
			var statBefore int
			if c.stat != "" {
				statBefore = n.b1.etheripStat(c.stat)
			}
			capture, err := n.h1.Capture("eth0", "icmp")
			if err != nil {
				t.Fatal(err)
			}
			script := fmt.Sprintf(`send(IP(src=%q, dst=%q, proto=97)/Raw(%s)/Ether(src=%q, dst=%q)/IP(src=%q, dst=%q)/ICMP(id=%d))`,
				seedB2, seedB1, c.header, h2MAC, h1MAC, lanH2, lanH1, 100+i)
			if out, err := netnstest.Scapy(t.Context(), n.b2.Host, script); err != nil {
				t.Fatalf("scapy: %v\n%s", err, out)
			}
			if c.accept {
				waitFor(t, "b1 to receive the frame", func() bool { return n.b1.status("gif0").Stats.IPackets > before })
			} else {
				waitFor(t, c.stat, func() bool { return n.b1.etheripStat(c.stat) > statBefore })
			}
			pkts, err := capture.Stop()
			if err != nil {
				t.Fatal(err)
			}
			seen := 0
			for _, p := range pkts {
				if p.ICMP != nil && p.ICMP.Type == 8 && len(p.IP) > 0 && p.IP[0].Src.String() == lanH2 {
					seen++
				}
			}
			if c.accept && seen != 1 {
				t.Fatalf("h1 saw %d copies of the frame, want 1", seen)
			}
			if !c.accept && seen != 0 {
				t.Fatal("a frame with a bad EtherIP header reached h1")
			}
		})
	}
}

// TestBridgeMembership: leaving the bridge returns a gif to the IP modes
// with its tunnel and settings intact; destroying the bridge removes it.
func TestBridgeMembership(t *testing.T) {
	n := newSeedLAN(t)
	n.configure(4)
	n.h1.mustPing(lanH2, 1)
	if out := n.b1.sh("ip", "-d", "link", "show", "gif0"); !strings.Contains(out, "tap") || !strings.Contains(out, "master bridge0") {
		t.Fatalf("gif0 is not a TAP in bridge0:\n%s", out)
	}
	for _, b := range []*node{n.b1, n.b2} {
		b.gif("ifconfig", "bridge0", "del", "gif0")
	}
	n.b1.gif("ifconfig", "gif0", "inet", "198.51.100.1", "198.51.100.2")
	n.b2.gif("ifconfig", "gif0", "inet", "198.51.100.2", "198.51.100.1")
	n.b1.mustPing("198.51.100.2", 2)
	st := n.b1.status("gif0")
	if st.Src.String() != seedB1 || st.Dst.String() != seedB2 || !st.Up {
		t.Fatalf("gif0 lost its tunnel leaving the bridge: %+v", st.Config)
	}
	if out := n.b1.sh("ip", "-d", "link", "show", "gif0"); strings.Contains(out, "master") {
		t.Fatalf("gif0 still in a bridge:\n%s", out)
	}
	n.b1.gif("ifconfig", "bridge0", "destroy")
	if _, err := n.b1.Run(t.Context(), "ip", "link", "show", "bridge0"); err == nil {
		t.Fatal("bridge0 is still there after destroy")
	}
	// A gif named in add that does not exist yet is created, and says so.
	stderr, err := n.b1.gifStderr("ifconfig", "bridge1", "add", "gif5")
	if err != nil || !strings.Contains(stderr, "gif5: created") {
		t.Fatalf("add of a new gif: %v %q", err, stderr)
	}
}

// linkMAC returns the Ethernet address Linux shows for interface name.
func (n *node) linkMAC(name string) string {
	n.t.Helper()
	out := n.sh("ip", "-o", "link", "show", name)
	m := regexp.MustCompile(`link/ether ([0-9a-f:]{17})`).FindStringSubmatch(out)
	if m == nil {
		n.t.Fatalf("%s: no Ethernet address in:\n%s", n.Name(), out)
	}
	return m[1]
}

// TestBridgeLLAddrRestart: a bridged gif keeps its Ethernet address, and
// bridge0 (whose address follows its smallest port's) keeps its own, when
// the daemon is killed and started again; lladdr sets the address Linux
// shows, and that one survives a restart too. The LAN's ARP caches and
// switches stay right.
func TestBridgeLLAddrRestart(t *testing.T) {
	n := newSeedLAN(t)
	n.configure(4)
	n.h1.mustPing(lanH2, 1)
	restart := func(step string, wantGif, wantBridge string) {
		t.Helper()
		killDaemon(t, n.b1)
		// Any command starts the daemon again, which restores gif0.
		if got := n.b1.status("gif0").LLAddr.String(); got != wantGif {
			t.Fatalf("%s: after a restart gif ifconfig gif0 shows lladdr %s; want %s", step, got, wantGif)
		}
		if got := n.b1.linkMAC("gif0"); got != wantGif {
			t.Fatalf("%s: after a restart Linux shows gif0 with %s; before, %s", step, got, wantGif)
		}
		if got := n.b1.linkMAC("bridge0"); got != wantBridge {
			t.Fatalf("%s: after a restart Linux shows bridge0 with %s; before, %s", step, got, wantBridge)
		}
		n.h1.mustPing(lanH2, 1)
	}
	gifMAC, bridgeMAC := n.b1.linkMAC("gif0"), n.b1.linkMAC("bridge0")
	if shown := n.b1.gif("ifconfig", "gif0"); !strings.Contains(shown, "\tlladdr "+gifMAC+"\n") {
		t.Fatalf("gif ifconfig gif0 does not show gif0's address %s:\n%s", gifMAC, shown)
	}
	restart("random address", gifMAC, bridgeMAC)

	// The documentation address of RFC 7042 is smaller than any random
	// (locally administered) one: bridge0 takes it too.
	const set = "00:00:5e:00:53:01"
	n.b1.gif("ifconfig", "gif0", "lladdr", set)
	if got := n.b1.linkMAC("gif0"); got != set {
		t.Fatalf("after lladdr %s Linux shows gif0 with %s", set, got)
	}
	if got := n.b1.linkMAC("bridge0"); got != set {
		t.Fatalf("after lladdr %s Linux shows bridge0 with %s; its address follows its smallest port's", set, got)
	}
	if running := n.b1.gif("ifconfig", "-C"); !strings.Contains(running, "\nlladdr "+set+"\n") {
		t.Fatalf("gif ifconfig -C lacks lladdr %s:\n%s", set, running)
	}
	n.h1.mustPing(lanH2, 1)
	restart("set address", set, set)
}
