package integration

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gif/internal/control"
	"gif/internal/netns"
	"gif/internal/tools"
)

// withoutBPF names the capabilities a daemon in a container without BPF
// lacks, for setpriv's --bounding-set and --inh-caps: with neither, the
// kernel loads no tc program for it.
const withoutBPF = "-bpf,-sys_admin"

// Capability numbers (linux/capability.h) of what the daemon must lack
// and what it must keep.
const (
	capNetBindService = 10
	capNetAdmin       = 12
	capNetRaw         = 13
	capSysAdmin       = 21
	capBPF            = 39
)

// fallbackWarning is what the daemon logs, once, when BPF cannot run.
const fallbackWarning = "kernel data plane unavailable; every tunnel runs on the userspace plane"

// startWithoutBPF starts n's daemon with CAP_BPF and CAP_SYS_ADMIN out of
// its bounding and inheritable sets, and checks that it runs so.
func (n *node) startWithoutBPF(t *testing.T) *netns.Proc {
	t.Helper()
	p := n.startWithCaps(t, withoutBPF)
	for _, set := range []string{"CapEff", "CapBnd"} {
		caps := n.daemonCaps(t, set)
		for _, c := range []struct {
			bit  uint
			name string
			want bool
		}{{capBPF, "CAP_BPF", false}, {capSysAdmin, "CAP_SYS_ADMIN", false}, {capNetAdmin, "CAP_NET_ADMIN", true}, {capNetRaw, "CAP_NET_RAW", true}} {
			if has := caps&(1<<c.bit) != 0; has != c.want {
				t.Fatalf("%s: the daemon's %s (%x) has %s: %v, want %v", n.Name(), set, caps, c.name, has, c.want)
			}
		}
	}
	return p
}

// startWithCaps starts n's daemon with its bounding and inheritable
// capability sets changed by caps, in setpriv's syntax ("-bpf",
// "-all,+net_admin"), waits until it serves, and stops it when the test
// ends. The gif commands the test runs afterwards talk to it.
func (n *node) startWithCaps(t *testing.T, caps string) *netns.Proc {
	t.Helper()
	setpriv, err := tools.Path("setpriv")
	if err != nil {
		t.Fatal(err)
	}
	p := n.startDaemonCommand(t, setpriv, "--bounding-set="+caps, "--inh-caps="+caps, gifBin, "daemon")
	return p
}

// daemonCaps returns a capability set (CapEff, CapBnd, ...) of n's only
// process, its daemon, and fails the test if there are others.
func (n *node) daemonCaps(t *testing.T, set string) uint64 {
	t.Helper()
	pids := n.pids()
	if len(pids) != 1 {
		t.Fatalf("%s: %d processes, want the daemon alone", n.Name(), len(pids))
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pids[0]))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + set + `:\s+([0-9a-f]+)$`).FindSubmatch(status)
	if m == nil {
		t.Fatalf("%s: no %s in the daemon's status:\n%s", n.Name(), set, status)
	}
	caps, err := strconv.ParseUint(string(m[1]), 16, 64)
	if err != nil {
		t.Fatalf("%s: the daemon's %s: %v", n.Name(), set, err)
	}
	return caps
}

// fallbackReason returns the reason the daemon's log gives, once, for
// running every tunnel on the userspace plane.
func fallbackReason(t *testing.T, n *node, daemon *netns.Proc) string {
	t.Helper()
	var lines []string
	for _, line := range strings.Split(daemon.Output(), "\n") {
		if strings.Contains(line, fallbackWarning) {
			lines = append(lines, line)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("%s: the daemon logged %q %d times, want once:\n%s", n.Name(), fallbackWarning, len(lines), daemon.Output())
	}
	m := regexp.MustCompile(`\blevel=WARN\b.*\breason=("(?:[^"\\]|\\.)*"|\S+)`).FindStringSubmatch(lines[0])
	if m == nil {
		t.Fatalf("%s: the fallback is not a warning with a reason: %s", n.Name(), lines[0])
	}
	reason := m[1]
	if unquoted, err := strconv.Unquote(reason); err == nil {
		reason = unquoted
	}
	if reason == "" {
		t.Fatalf("%s: the fallback's reason is empty: %s", n.Name(), lines[0])
	}
	return reason
}

// Addresses of TestFallbackWithoutBPF's IP tunnels between b1 and b2: gif1
// over a second pair of IPv4 outer addresses, gif2 over the seed's IPv6
// ones, each carrying both inner families.
const (
	fallbackB1v4, fallbackB2v4 = "198.51.100.101", "198.51.100.102"
	gif1B1, gif1B2             = "203.0.113.1", "203.0.113.2"
	gif1B1v6, gif1B2v6         = "2001:db8:41::1", "2001:db8:41::2"
	gif2B1, gif2B2             = "203.0.113.5", "203.0.113.6"
	gif2B1v6, gif2B2v6         = "2001:db8:61::1", "2001:db8:61::2"
)

// TestFallbackWithoutBPF runs the daemons of the seed's two bridges as in a
// container without CAP_BPF and CAP_SYS_ADMIN. Each says once, with the
// reason, that every tunnel runs on the userspace plane, and does carry
// every mode there: IPv4 and IPv6 in IPv4 (gif1), IPv4 and IPv6 in IPv6
// (gif2) and the seed's EtherIP between the LANs (gif0). ifconfig gives
// the plane and the reason of each gif. gif1's tunnel is set before its
// source address exists, so it becomes RUNNING only if the daemon follows
// the host's addresses without CAP_SYS_ADMIN.
func TestFallbackWithoutBPF(t *testing.T) {
	n := newSeedLAN(t)
	daemons := map[*node]*netns.Proc{n.b1: n.b1.startWithoutBPF(t), n.b2: n.b2.startWithoutBPF(t)}
	n.configure(4)
	for _, end := range []struct {
		b          *node
		src, dst   string
		in4, peer4 [2]string // gif1's, gif2's
		in6, peer6 [2]string
		src6, dst6 string
	}{
		{n.b1, fallbackB1v4, fallbackB2v4, [2]string{gif1B1, gif2B1}, [2]string{gif1B2, gif2B2},
			[2]string{gif1B1v6, gif2B1v6}, [2]string{gif1B2v6, gif2B2v6}, seedB1v6, seedB2v6},
		{n.b2, fallbackB2v4, fallbackB1v4, [2]string{gif1B2, gif2B2}, [2]string{gif1B1, gif2B1},
			[2]string{gif1B2v6, gif2B2v6}, [2]string{gif1B1v6, gif2B1v6}, seedB2v6, seedB1v6},
	} {
		b := end.b
		b.gif("ifconfig", "gif1", "tunnel", end.src, end.dst,
			"inet", end.in4[0], end.peer4[0], "inet6", end.in6[0], end.peer6[0], "prefixlen", "128", "up")
		if b.status("gif1").Running {
			t.Fatalf("%s: gif1 is RUNNING before its source %s is on the host", b.Name(), end.src)
		}
		if err := b.AddAddr("eth0", end.src+"/24"); err != nil {
			t.Fatal(err)
		}
		b.gif("ifconfig", "gif2", "tunnel", end.src6, end.dst6,
			"inet", end.in4[1], end.peer4[1], "inet6", end.in6[1], end.peer6[1], "prefixlen", "128", "up")
	}
	for _, b := range []*node{n.b1, n.b2} {
		waitFor(t, b.Name()+"'s gif1 to follow its new source address into RUNNING", func() bool { return b.status("gif1").Running })
	}

	n.b1.mustPing(gif1B2, 3)   // IPv4 in IPv4
	n.b1.mustPing(gif1B2v6, 3) // IPv6 in IPv4
	n.b1.mustPing(gif2B2, 3)   // IPv4 in IPv6
	n.b1.mustPing(gif2B2v6, 3) // IPv6 in IPv6
	n.h1.mustPing(lanH2, 3)    // EtherIP over IPv4, between the LANs
	n.h1.mustPing(lanH2v6, 3)

	for _, b := range []*node{n.b1, n.b2} {
		reason := fallbackReason(t, b, daemons[b])
		for _, gif := range []string{"gif0", "gif1", "gif2"} {
			st := b.status(gif)
			if st.Plane != control.PlaneUserspace || st.PlaneReason != reason {
				t.Errorf("%s: ifconfig -j %s gives plane %q (%q), want %q (%q)", b.Name(), gif, st.Plane, st.PlaneReason, control.PlaneUserspace, reason)
			}
			if st.Stats.IPackets == 0 || st.Stats.OPackets == 0 {
				t.Errorf("%s: %s counted %d packets in and %d out, want some each way", b.Name(), gif, st.Stats.IPackets, st.Stats.OPackets)
			}
			if out, want := b.gif("ifconfig", gif), "\n\tdataplane: userspace ("+reason+")\n"; !strings.Contains(out, want) {
				t.Errorf("%s: ifconfig %s lacks the line %q:\n%s", b.Name(), gif, want[1:], out)
			}
		}
	}
}
