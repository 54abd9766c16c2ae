package integration

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gif/internal/netns"
)

// domainTable is the Linux routing table the tests give tunneldomain.
const domainTable = "100"

// domainNet is, for one outer family, how a reaches b's tunnel endpoint:
// through eth0 by the main table and through eth1 by table domainTable.
type domainNet struct {
	family           int
	endA, endB       string // tunnel endpoints, on lo
	eth1A, eth1B     string // the addresses of eth1, with prefix length
	viaEth0, viaEth1 string // b's address on eth0 and on eth1
	viaEth0FromB     string // a's address on eth0
}

var domainNets = []domainNet{
	{4, "198.51.100.100", "198.51.100.200", "203.0.113.1/24", "203.0.113.2/24", outerB4, "203.0.113.2", outerA4},
	{6, "2001:db8:a::1", "2001:db8:b::1", "2001:db8:e1::1/64", "2001:db8:e1::2/64", outerB6, "2001:db8:e1::2", outerA6},
}

// TestTunnelDomain checks that tunneldomain sends the outer packets by its
// routing table, and by that table only, with the policy rules in place
// exactly while an interface uses the table.
func TestTunnelDomain(t *testing.T) {
	for _, n := range domainNets {
		t.Run(fmt.Sprintf("outer-IPv%d", n.family), func(t *testing.T) {
			a, b := newPair(t)
			n.build(t, a, b)
			// -inet6: no router solicitations the kernel sends on its own,
			// which cross at times the test does not choose.
			a.gif("ifconfig", "gif0", "tunnel", n.endA, n.endB, "inet", innerA4, innerB4, "-inet6", "up")
			b.gif("ifconfig", "gif0", "tunnel", n.endB, n.endA, "inet", innerB4, innerA4, "-inet6", "up")
			if rules := domainRules(a, n.family); rules != "" {
				t.Fatalf("rules before tunneldomain:\n%s", rules)
			}

			a.gif("ifconfig", "gif0", "tunneldomain", domainTable)
			want := regexp.MustCompile(`(?m)^1000:\s+from all fwmark 0x64 lookup 100\s*\n1001:\s+from all fwmark 0x64 unreachable\s*$`)
			if rules := domainRules(a, n.family); !want.MatchString(rules) {
				t.Fatalf("rules with tunneldomain %s:\n%s", domainTable, rules)
			}
			if st := a.status("gif0"); st.Domain != 100 {
				t.Fatalf("ifconfig shows domain %d", st.Domain)
			}
			n.expectPath(t, a, b, "eth1", "by table "+domainTable)

			// Without a route in table 100 the peer is unreachable: the
			// main table's route must not take over.
			a.sh("ip", "route", "del", n.endB, "table", domainTable)
			capture, err := b.Capture("eth0", "src host "+n.endA)
			if err != nil {
				t.Fatal(err)
			}
			if res := a.ping(innerB4, 1, "-W", "1"); res.Received != 0 {
				t.Fatalf("ping crossed the tunnel without a route in table %s:\n%s", domainTable, res.Output)
			}
			if pkts, err := capture.Stop(); err != nil || len(pkts) != 0 {
				t.Fatalf("outer packets left through eth0: %s (%v); want none", describe(pkts), err)
			}
			a.sh("ip", "route", "add", n.endB, "via", n.viaEth1, "table", domainTable)

			// The rules go with the daemon, and come back with it.
			stopDaemon(t, a)
			if rules := domainRules(a, n.family); rules != "" {
				t.Fatalf("rules after the daemon stopped:\n%s", rules)
			}
			a.gif("ifconfig", "gif0")
			if rules := domainRules(a, n.family); !want.MatchString(rules) {
				t.Fatalf("rules after the daemon restarted:\n%s", rules)
			}
			n.expectPath(t, a, b, "eth1", "by table "+domainTable+" after a restart")

			a.gif("ifconfig", "gif0", "-tunneldomain")
			if rules := domainRules(a, n.family); rules != "" {
				t.Fatalf("rules after -tunneldomain:\n%s", rules)
			}
			n.expectPath(t, a, b, "eth0", "by the main table after -tunneldomain")
		})
	}
}

// build gives a and b, joined on eth0 by newPair, a second link, eth1, and
// the tunnel endpoints, and routes a's packets to b's endpoint through eth0
// by the main table and through eth1 by table domainTable. b answers
// through eth0.
func (n domainNet) build(t *testing.T, a, b *node) {
	t.Helper()
	a.sh("ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1", "netns", b.Name())
	for _, step := range []struct {
		node      *node
		eth1, end string
	}{{a, n.eth1A, n.endA}, {b, n.eth1B, n.endB}} {
		if err := step.node.AddAddr("eth1", step.eth1); err != nil {
			t.Fatal(err)
		}
		if err := step.node.AddAddr("lo", step.end+fmt.Sprintf("/%d", bits(n.family))); err != nil {
			t.Fatal(err)
		}
		step.node.sh("ip", "link", "set", "eth1", "up")
		// b receives through eth1 what it answers through eth0.
		step.node.sh("sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.eth1.rp_filter=0")
	}
	a.sh("ip", "route", "add", n.endB, "via", n.viaEth0)
	a.sh("ip", "route", "add", n.endB, "via", n.viaEth1, "table", domainTable)
	b.sh("ip", "route", "add", n.endA, "via", n.viaEth0FromB)
	// Resolve the next hops now: a packet waiting for one would leave
	// long after it was routed, into a capture of a later step.
	a.mustPing(n.viaEth0, 1)
	a.mustPing(n.viaEth1, 1)
	b.mustPing(n.viaEth0FromB, 1)
}

func bits(family int) int {
	if family == 6 {
		return 128
	}
	return 32
}

// expectPath pings through the tunnel and checks that a's outer packets
// reach b through the interface want and not the other.
func (n domainNet) expectPath(t *testing.T, a, b *node, want, why string) {
	t.Helper()
	const pings = 3
	filter := "src host " + n.endA
	eth0, err := b.Capture("eth0", filter)
	if err != nil {
		t.Fatal(err)
	}
	eth1, err := b.Capture("eth1", filter)
	if err != nil {
		t.Fatal(err)
	}
	a.mustPing(innerB4, pings)
	// Stopped together: each Stop waits for dumpcap to flush.
	pkts1, err1 := make(chan []netns.Packet, 1), make(chan error, 1)
	go func() {
		pkts, err := eth1.Stop()
		pkts1 <- pkts
		err1 <- err
	}()
	pkts0, err0 := eth0.Stop()
	if err := errors.Join(err0, <-err1); err != nil {
		t.Fatalf("capture on b: %v", err)
	}
	seen := map[string][]netns.Packet{"eth0": pkts0, "eth1": <-pkts1}
	other := map[string]string{"eth0": "eth1", "eth1": "eth0"}[want]
	if len(seen[want]) < pings || len(seen[other]) != 0 {
		t.Fatalf("%s: outer packets from %s arrived at b's %s: %s, and at %s: %s; want %d or more through %s only",
			why, n.endA, want, describe(seen[want]), other, describe(seen[other]), pings, want)
	}
}

// describe lists the layers of each packet.
func describe(pkts []netns.Packet) string {
	out := make([]string, len(pkts))
	for i, p := range pkts {
		out[i] = strings.Join(p.Protocols, ":")
		for _, ip := range p.IP {
			out[i] += fmt.Sprintf(" %v->%v", ip.Src, ip.Dst)
		}
		if p.ICMP != nil {
			out[i] += fmt.Sprintf(" type %d", p.ICMP.Type)
		}
	}
	return fmt.Sprintf("%d %v", len(pkts), out)
}

// domainRules returns the policy rules of family with a firewall mark in
// n, one a line.
func domainRules(n *node, family int) string {
	n.t.Helper()
	var lines []string
	for _, line := range strings.Split(n.sh("ip", "-"+strconv.Itoa(family), "rule", "show"), "\n") {
		if strings.Contains(line, "fwmark") {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "\n")
}

// stopDaemon stops the daemon of n with SIGTERM and waits for it to end.
func stopDaemon(t *testing.T, n *node) {
	t.Helper()
	running := n.pids()
	if len(running) == 0 {
		t.Fatalf("no daemon process in %s", n.Name())
	}
	for _, pid := range running {
		syscall.Kill(pid, syscall.SIGTERM)
	}
	for deadline := time.Now().Add(5 * time.Second); len(n.pids()) > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the daemon of %s did not stop", n.Name())
		}
	}
}

// TestTunnelDomainRange checks that tunneldomain refuses Linux's reserved
// tables and numbers beyond 2^31-1, naming the range.
func TestTunnelDomainRange(t *testing.T) {
	a, _ := newPair(t)
	a.gif("ifconfig", "gif0", "tunnel", outerA4, outerB4)
	for _, bad := range []string{"254", "253", "255", "-1", "2147483648"} {
		out, err := a.gifTry("ifconfig", "gif0", "tunneldomain", bad)
		if err == nil || !strings.Contains(err.Error(), "0..2147483647") {
			t.Errorf("tunneldomain %s: want an error naming the range 0..2147483647, got %v %s", bad, err, out)
		}
	}
	if st := a.status("gif0"); st.Domain != 0 {
		t.Errorf("domain %d after refused values", st.Domain)
	}
	for _, good := range []string{"252", "256", "2147483647"} {
		a.gif("ifconfig", "gif0", "tunneldomain", good)
	}
}
