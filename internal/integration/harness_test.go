// Package integration drives the gif binary as a user would, on hosts built
// in network namespaces, and checks what crosses the wire with tshark and
// scapy.
package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gif/internal/netns"
	"gif/internal/netns/netnstest"
)

// gifBin is the gif binary built for this test run.
var gifBin string

func TestMain(m *testing.M) {
	if len(os.Args) == 2 && os.Args[1] == impostorArg {
		runImpostor()
	}
	dir, err := os.MkdirTemp("", "gif-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	gifBin = filepath.Join(dir, "gif")
	if out, err := exec.Command("go", "build", "-o", gifBin, "gif/cmd/gif").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build gif: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// commandTimeout bounds one command run inside a host.
const commandTimeout = 30 * time.Second

// node is a host of the lab with its own gif state directory.
type node struct {
	*netns.Host
	t        *testing.T
	stateDir string
	// userspace keeps the host's daemon off the kernel plane
	// (GIF_KERNEL_PLANE=0): every tunnel on the userspace plane.
	userspace bool
}

func newNode(t *testing.T, lab *netns.Lab, name string) *node {
	t.Helper()
	h, err := lab.Host(name)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{Host: h, t: t, stateDir: t.TempDir()}
	t.Cleanup(func() {
		if t.Failed() {
			if log, err := os.ReadFile(filepath.Join(n.stateDir, "daemon.log")); err == nil {
				t.Logf("daemon log of %s:\n%s", name, log)
			}
		}
	})
	return n
}

// gifTry runs the gif command in the host and returns its standard output.
func (n *node) gifTry(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	return n.Run(ctx, "env", append(n.env(), append([]string{gifBin}, args...)...)...)
}

// env is the environment of the gif commands run in the host, and so of
// the daemon the first one starts.
func (n *node) env() []string {
	env := []string{"GIF_STATE_DIR=" + n.stateDir, "GIF_IKE_DIR=" + n.ikeDir()}
	if n.userspace {
		env = append(env, "GIF_KERNEL_PLANE=0")
	}
	return env
}

// ikeDir is where the host's daemon keeps the RSA keys of ike rules.
func (n *node) ikeDir() string { return filepath.Join(n.stateDir, "isakmpd") }

// gif runs the gif command in the host and fails the test if it fails.
func (n *node) gif(args ...string) string {
	n.t.Helper()
	out, err := n.gifTry(args...)
	if err != nil {
		n.t.Fatalf("%s: gif %s: %v", n.Name(), strings.Join(args, " "), err)
	}
	return out
}

// startDaemon starts n's daemon in the foreground with args, waits until it
// serves, and stops it when the test ends.
func (n *node) startDaemon(t *testing.T, args ...string) *netns.Proc {
	t.Helper()
	return n.startDaemonCommand(t, append([]string{gifBin, "daemon"}, args...)...)
}

// startDaemonCommand is startDaemon with the command line that runs the
// daemon, in n's environment.
func (n *node) startDaemonCommand(t *testing.T, argv ...string) *netns.Proc {
	t.Helper()
	p, err := n.Start("env", append(n.env(), argv...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stop the daemon of %s: %v", n.Name(), err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	if err := p.WaitFor(ctx, "gif daemon serving"); err != nil {
		t.Fatalf("%s: %v\n%s", n.Name(), err, p.Output())
	}
	return p
}

// pids returns the processes in the host, and fails the test if it cannot.
func (n *node) pids() []int {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	pids, err := n.Pids(ctx)
	if err != nil {
		n.t.Fatalf("%s: %v", n.Name(), err)
	}
	return pids
}

// sh runs a command in the host and fails the test if it fails.
func (n *node) sh(name string, args ...string) string {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	out, err := n.Run(ctx, name, args...)
	if err != nil {
		n.t.Fatalf("%s: %v", n.Name(), err)
	}
	return out
}

// ping sends count echo requests to dst and returns how many came back.
func (n *node) ping(dst string, count int, args ...string) netns.PingResult {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	argv := append([]string{"-c", fmt.Sprint(count), "-i", "0.2", "-W", "2"}, args...)
	res, err := n.Ping(ctx, dst, argv...)
	if err != nil {
		n.t.Fatalf("%s: ping %s: %v", n.Name(), dst, err)
	}
	return res
}

// mustPing fails the test unless every one of count echo requests to dst
// is answered.
func (n *node) mustPing(dst string, count int, args ...string) netns.PingResult {
	n.t.Helper()
	res := n.ping(dst, count, args...)
	if res.Received != count {
		n.t.Fatalf("%s: ping %s %v: %d of %d answered\n%s", n.Name(), dst, args, res.Received, count, res.Output)
	}
	return res
}

// Outer (underlay) addresses of the two hosts on their shared segment.
const (
	outerA4, outerB4 = "192.0.2.1", "192.0.2.2"
	outerA6, outerB6 = "2001:db8::1", "2001:db8::2"
	// Inner addresses, carried through the tunnel.
	innerA4, innerB4 = "198.51.100.1", "198.51.100.2"
	innerA6, innerB6 = "2001:db8:1::1", "2001:db8:1::2"
)

// newPair builds hosts a and b joined by a veth pair (eth0 on both) with
// the outer addresses.
func newPair(t *testing.T) (a, b *node) {
	t.Helper()
	return newPairOn(t, defaultPlane)
}

// The data planes a daemon can carry its tunnels on. The mode tests run on
// each; the other tests on the default, the kernel plane wherever the
// daemon can load its programs.
const (
	kernelPlane    = "kernel"
	userspacePlane = "userspace"
	defaultPlane   = kernelPlane
)

var planes = []string{kernelPlane, userspacePlane}

// newPairOn is newPair with daemons that carry what they can on plane.
func newPairOn(t *testing.T, plane string) (a, b *node) {
	t.Helper()
	lab := netnstest.NewLab(t, "gift")
	a, b = newNode(t, lab, "a"), newNode(t, lab, "b")
	a.userspace, b.userspace = plane == userspacePlane, plane == userspacePlane
	if err := lab.Link(a.Host, "eth0", b.Host, "eth0"); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		n    *node
		addr string
	}{
		{a, outerA4 + "/24"}, {a, outerA6 + "/64"}, {b, outerB4 + "/24"}, {b, outerB6 + "/64"},
	} {
		if err := step.n.AddAddr("eth0", step.addr); err != nil {
			t.Fatal(err)
		}
	}
	return a, b
}

// tunnelBoth configures gif0 on a and b as the two ends of one tunnel over
// the given outer family (4 or 6), carrying the given inner families.
func tunnelBoth(a, b *node, outer int, inner ...int) {
	srcA, srcB := outerA4, outerB4
	if outer == 6 {
		srcA, srcB = outerA6, outerB6
	}
	for _, end := range []struct {
		n             *node
		src, dst      string
		local4, peer4 string
		local6, peer6 string
	}{
		{a, srcA, srcB, innerA4, innerB4, innerA6, innerB6},
		{b, srcB, srcA, innerB4, innerA4, innerB6, innerA6},
	} {
		args := []string{"ifconfig", "gif0", "tunnel", end.src, end.dst}
		for _, f := range inner {
			if f == 4 {
				args = append(args, "inet", end.local4, end.peer4)
			} else {
				args = append(args, "inet6", end.local6, end.peer6, "prefixlen", "128")
			}
		}
		end.n.gif(append(args, "up")...)
	}
}

// transferSize is how much a TCP transfer through the tunnel carries.
const transferSize = 4 << 20

// transfer sends transferSize random bytes over TCP from one host to addr
// on the other and checks that they arrive intact.
func transfer(t *testing.T, from, to *node, addr string) {
	t.Helper()
	var ln net.Listener
	if err := to.Do(func() (err error) {
		ln, err = net.Listen("tcp", net.JoinHostPort(addr, "5001"))
		return err
	}); err != nil {
		t.Fatalf("listen on %s in %s: %v", addr, to.Name(), err)
	}
	defer ln.Close()
	data := make([]byte, transferSize)
	rand.Read(data)
	want := sha256.Sum256(data)
	type result struct {
		sum [32]byte
		n   int64
		err error
	}
	got := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- result{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(commandTimeout))
		h := sha256.New()
		n, err := io.Copy(h, c)
		var r result
		copy(r.sum[:], h.Sum(nil))
		r.n, r.err = n, err
		got <- r
	}()
	var conn net.Conn
	if err := from.Do(func() (err error) {
		conn, err = net.DialTimeout("tcp", net.JoinHostPort(addr, "5001"), 5*time.Second)
		return err
	}); err != nil {
		t.Fatalf("connect from %s to %s: %v", from.Name(), addr, err)
	}
	conn.SetDeadline(time.Now().Add(commandTimeout))
	start := time.Now()
	if _, err := io.Copy(conn, bytes.NewReader(data)); err != nil {
		t.Fatalf("send to %s: %v", addr, err)
	}
	conn.Close()
	r := <-got
	if r.err != nil {
		t.Fatalf("receive at %s: %v", addr, r.err)
	}
	if r.n != transferSize || r.sum != want {
		t.Fatalf("transfer to %s: got %d bytes (sha256 %x), sent %d (sha256 %x)", addr, r.n, r.sum[:8], transferSize, want[:8])
	}
	t.Logf("transferred %d bytes to %s in %v", r.n, addr, time.Since(start).Round(time.Millisecond))
}
