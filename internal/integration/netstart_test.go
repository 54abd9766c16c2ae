package integration

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gif/internal/control"
	"gif/internal/netns"
)

// writeFiles writes name → content into a new directory and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// seedFiles is the seed's example kept as files on one bridge host, with a
// ! line that records the interface name it was given.
func seedFiles(src, dst, bang string) map[string]string {
	return map[string]string{
		"sysctl.conf":      "# EtherIP without IPsec\nnet.inet.etherip.allow=1\n",
		"hostname.bridge0": "add gif0 add eth1\nup link2\n",
		"hostname.gif0":    "tunnel " + src + " " + dst + "\n!echo configured $if > " + bang + "\nup\n",
		"hostname.eth1":    "up\n",
	}
}

// TestNetstartSeedExample starts the seed's example from hostname.if files
// and checks that the bridges join the two LANs; a second run changes
// nothing, and -C prints files that say the same.
func TestNetstartSeedExample(t *testing.T) {
	n := newSeedLAN(t)
	bang := filepath.Join(t.TempDir(), "bang")
	dir1 := writeFiles(t, seedFiles(seedB1, seedB2, bang))
	dir2 := writeFiles(t, seedFiles(seedB2, seedB1, filepath.Join(t.TempDir(), "bang2")))
	n.b1.gif("netstart", "-d", dir1)
	n.b2.gif("netstart", "-d", dir2)
	n.h1.mustPing(lanH2, 3)
	n.h1.mustPing(lanH2v6, 2)
	if got, err := os.ReadFile(bang); err != nil || string(got) != "configured gif0\n" {
		t.Fatalf("the ! line wrote %q (%v), want the interface name", got, err)
	}
	before := stripCounters(n.b1.gif("ifconfig"))
	out := n.b1.gif("netstart", "-d", dir1)
	if after := stripCounters(n.b1.gif("ifconfig")); after != before {
		t.Fatalf("a second netstart changed the configuration:\nbefore %s\nafter %s", before, after)
	}
	if strings.Contains(out, "error") {
		t.Fatalf("second netstart: %s", out)
	}
	running := n.b1.gif("ifconfig", "-C")
	for _, want := range []string{"hostname.gif0\ntunnel 1.2.3.4 4.3.2.1", "hostname.bridge0\nadd gif0\nadd eth1", "link2", "up"} {
		if !strings.Contains(running, want) {
			t.Errorf("ifconfig -C lacks %q:\n%s", want, running)
		}
	}
	n.h1.mustPing(lanH2, 1)
}

// TestNetstartDryRun prints the commands in netstart's order, whatever the
// order of the files, without starting a daemon.
func TestNetstartDryRun(t *testing.T) {
	a, _ := newPair(t)
	dir := writeFiles(t, seedFiles(seedB1, seedB2, "/nonexistent/bang"))
	out := a.gif("netstart", "-n", "-d", dir)
	want := []string{
		"gif sysctl net.inet.etherip.allow=1",
		"gif ifconfig eth1 up",
		"gif ifconfig gif0 create",
		"gif ifconfig gif0 tunnel 1.2.3.4 4.3.2.1",
		"echo configured gif0 > /nonexistent/bang",
		"gif ifconfig gif0 up",
		"gif ifconfig bridge0 create",
		"gif ifconfig bridge0 add gif0 add eth1",
		"gif ifconfig bridge0 up link2",
	}
	last := -1
	for _, w := range want {
		i := strings.Index(out, w)
		if i < 0 || i < last {
			t.Fatalf("netstart -n: %q missing or out of order:\n%s", w, out)
		}
		last = i
	}
	if pids := a.pids(); len(pids) > 0 {
		t.Fatalf("netstart -n started a daemon (pids %v)", pids)
	}
}

// TestNetstartErrors: each broken file is reported with file:line and
// leaves its interface as it was, and the other files still start.
func TestNetstartErrors(t *testing.T) {
	a, _ := newPair(t)
	for _, c := range []struct {
		name, content, want string
	}{
		{"hostname.gif1", "tunnel 192.0.2.1 192.0.2.2\ntunel 192.0.2.1 192.0.2.2\n", "hostname.gif1:2:"},
		{"hostname.gif2", "tunnel 192.0.2.1 192.0.2.300\n", "hostname.gif2:1:"},
		{"hostname.gif3", "description \"unbalanced\nup\n", "hostname.gif3:1:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{
				c.name:          c.content,
				"hostname.gif0": "tunnel " + outerA4 + " " + outerB4 + "\ninet 198.51.100.1 255.255.255.255\ndest 198.51.100.2\nup\n",
			})
			out, err := a.gifStderr("netstart", "-d", dir)
			if err == nil || !strings.Contains(out, filepath.Join(dir, c.want)) {
				t.Fatalf("netstart: %v, stderr %q; want an error naming %s", err, out, c.want)
			}
			ifname := strings.TrimPrefix(c.name, "hostname.")
			if _, err := a.gifTry("ifconfig", ifname); err == nil {
				t.Fatalf("%s exists after its file failed", ifname)
			}
			st := a.status("gif0")
			if !st.Up || len(st.Addrs) != 1 || st.Addrs[0].Peer.String() != "198.51.100.2" {
				t.Fatalf("gif0 from the good file: %+v", st.Config)
			}
		})
	}
	if _, err := a.gifTry("netstart", "-d", t.TempDir(), "gif9"); err == nil {
		t.Fatal("netstart of an interface without a file succeeded")
	}
}

// TestNetstartFileWhole: a file applies whole or not at all. A file whose
// third line only the daemon can refuse leaves no interface, in the
// daemon's state or in Linux, nor does a bridge file naming a missing
// member, nor a file with a ! line (which does not run); each error names
// its file and line, and the good file beside them still applies.
func TestNetstartFileWhole(t *testing.T) {
	a, _ := newPair(t)
	mark := filepath.Join(t.TempDir(), "mark")
	dir := writeFiles(t, map[string]string{
		"hostname.gif0":    "tunnel " + outerA4 + " " + outerB4 + "\nup\nmtu 99999\n",
		"hostname.bridge5": "add eth9\nup\n",
		"hostname.gif2":    "up\n!touch " + mark + "\nmtu 99999\n",
		"hostname.gif1":    "tunnel " + outerA4 + " " + outerB4 + "\ninet 198.51.100.1 255.255.255.255\ndest 198.51.100.2\nup\n",
	})
	out, err := a.gifStderr("netstart", "-d", dir)
	if err == nil {
		t.Fatalf("netstart succeeded; stderr %q", out)
	}
	for _, want := range []string{"hostname.gif0:3: gif0: \"mtu 99999\"", "hostname.bridge5:1: bridge5: \"add eth9\"", "hostname.gif2:3: gif2: \"mtu 99999\""} {
		if !strings.Contains(out, filepath.Join(dir, want)) {
			t.Errorf("stderr %q; want an error starting %s", out, filepath.Join(dir, want))
		}
	}
	if _, err := os.Stat(mark); err == nil {
		t.Error("the ! line of a file that fails ran")
	}
	var r control.ShowResult
	if err := json.Unmarshal([]byte(a.gif("ifconfig", "-j")), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Interfaces) != 1 || r.Interfaces[0].Name != "gif1" || len(r.Bridges) != 0 {
		t.Errorf("the daemon has %+v; want gif1 alone", r)
	}
	links := a.sh("ip", "-o", "link")
	for _, name := range []string{"gif0", "gif2", "bridge5"} {
		if regexp.MustCompile(`(?m)^\d+: ` + name + `[:@]`).MatchString(links) {
			t.Errorf("Linux has %s:\n%s", name, links)
		}
	}
	if st := a.status("gif1"); !st.Up || len(st.Addrs) != 1 || st.Addrs[0].Peer.String() != "198.51.100.2" {
		t.Fatalf("gif1 from the good file: %+v", st.Config)
	}
}

// TestNetstartNetmask keeps OpenBSD's file grammar: the second word of an
// inet line is a netmask, and one that is no netmask is an error naming
// the line (with the dest form a point-to-point peer wants); the file is
// not applied and netstart exits 1.
func TestNetstartNetmask(t *testing.T) {
	a, _ := newPair(t)
	dir := writeFiles(t, map[string]string{"hostname.gif0": "up\ninet 198.51.100.1 198.51.100.2\n"})
	out, err := a.gifStderr("netstart", "-d", dir)
	if err == nil || !strings.Contains(out, "hostname.gif0:2:") || !strings.Contains(out, "dest 198.51.100.2") {
		t.Fatalf("netstart: %v, stderr %q; want exit 1 and an error naming the line and the dest form", err, out)
	}
	if _, err := a.gifTry("ifconfig", "gif0"); err == nil {
		t.Fatal("gif0 exists after its file failed")
	}
}

// TestServiceRestart runs the daemon as gif.service does (Type=notify, then
// netstart), stops it as systemctl does, and starts it again: the same
// configuration comes back, and traffic flows.
func TestServiceRestart(t *testing.T) {
	n := newSeedLAN(t)
	dir := writeFiles(t, seedFiles(seedB1, seedB2, filepath.Join(t.TempDir(), "bang")))
	n.b2.gif("netstart", "-d", writeFiles(t, seedFiles(seedB2, seedB1, filepath.Join(t.TempDir(), "bang"))))
	start := func() *netns.Proc {
		notify := filepath.Join(t.TempDir(), "notify")
		ready := listenNotify(t, notify)
		p, err := n.b1.Start("env", "NOTIFY_SOCKET="+notify, "GIF_STATE_DIR="+n.b1.stateDir, "GIF_IKE_DIR="+n.b1.ikeDir(), gifBin, "daemon")
		if err != nil {
			t.Fatal(err)
		}
		select {
		case msg := <-ready:
			if msg != "READY=1" {
				t.Fatalf("the daemon told systemd %q", msg)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the daemon never said READY=1:\n%s", p.Output())
		}
		n.b1.gif("netstart", "-d", dir)
		return p
	}
	p := start()
	n.h1.mustPing(lanH2, 2)
	before := n.b1.gif("ifconfig")
	if err := p.Stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, p.Output())
	}
	waitGone(t, n.b1, "gif0")
	p = start()
	defer p.Stop()
	if after := n.b1.gif("ifconfig"); stripCounters(after) != stripCounters(before) {
		t.Fatalf("after restart:\n%s\nbefore:\n%s", after, before)
	}
	n.h1.mustPing(lanH2, 2)
}

// stripCounters drops the lines of ifconfig's output that change with
// traffic and with device indexes. A bridged gif's lladdr stays: it is kept
// across restarts.
func stripCounters(s string) string {
	var keep []string
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && (f[0] == "counters:" || f[0] == "drops:" || f[0] == "index" || f[0] == "port") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}

// listenNotify plays systemd's notification socket and sends what the
// daemon says on it.
func listenNotify(t *testing.T, path string) <-chan string {
	t.Helper()
	// A path, not an abstract name: the daemon runs in another network
	// namespace, and abstract sockets belong to one.
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 4)
	go func() {
		defer l.Close()
		buf := make([]byte, 256)
		for {
			n, err := l.Read(buf)
			if err != nil {
				return
			}
			got <- string(buf[:n])
		}
	}()
	t.Cleanup(func() { l.Close() })
	return got
}

// TestNetstartIPsec keeps the seed's example with its IPsec as files:
// sysctl.conf turns net.inet.etherip.allow off, and netstart loads
// ipsec.conf, whose relative key file names are read from the directory,
// after the interfaces.
func TestNetstartIPsec(t *testing.T) {
	n := newSeedLAN(t)
	dirs := ipsecDirs(t)
	for host, b := range map[string]*node{"b1": n.b1, "b2": n.b2} {
		src, dst := seedB1, seedB2
		if host == "b2" {
			src, dst = seedB2, seedB1
		}
		files := seedFiles(src, dst, filepath.Join(t.TempDir(), "bang"))
		files["sysctl.conf"] = "net.inet.etherip.allow=0\n"
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(dirs[host], name), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if out := b.gif("netstart", "-n", "-d", dirs[host]); !strings.Contains(out, "gif ipsecctl -f ipsec.conf") {
			t.Fatalf("netstart -n does not load ipsec.conf:\n%s", out)
		}
		b.gif("netstart", "-d", dirs[host])
	}
	n.h1.mustPing(lanH2, 3)
	if out := n.b1.gif("netstat", "-s", "-p", "esp"); strings.Contains(out, "\t0 input ESP packets") {
		t.Fatalf("no ESP went in:\n%s", out)
	}
}
