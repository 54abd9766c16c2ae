package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"gif/internal/control"
	"gif/internal/daemon"
	"gif/internal/netns"
)

// The demo's addresses: the seed's external addresses of the two bridges,
// and one LAN in documentation space split across them.
const (
	demoB1, demoB2     = "1.2.3.4", "4.3.2.1"
	demoH1, demoH2     = "192.0.2.10", "192.0.2.20"
	demoH1v6, demoH2v6 = "2001:db8:10::10", "2001:db8:10::20"
)

const (
	// demoCommandTimeout bounds one command run in a host.
	demoCommandTimeout = 30 * time.Second
	// demoTransferSize is what the TCP check sends through the bridges.
	demoTransferSize = 4 << 20
	demoTransferPort = "5001"
)

// demoMain is `gif demo`: the example of gif(4), two Ethernet networks made
// one LAN by two bridges joined by EtherIP, built in network namespaces,
// configured with the seed's own commands and then checked with traffic;
// then a tunnel of each of the four IP modes, with a ping through each.
func demoMain(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		return fail(stderr, "demo", fmt.Errorf("takes no arguments"))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	lab, err := netns.NewLab("gifdemo")
	if err != nil {
		return fail(stderr, "demo", err)
	}
	err = runDemo(ctx, lab, stdout)
	if err == nil {
		fmt.Fprintln(stdout)
		err = runModesDemo(ctx, lab, stdout)
	}
	if ctx.Err() != nil {
		err = errors.New("interrupted") // whatever step it cut short
	}
	if cerr := lab.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	fmt.Fprintln(stdout, "\ndemo: namespaces and interfaces removed")
	if err != nil {
		return fail(stderr, "demo", err)
	}
	return 0
}

// demoLAN is the seed's topology: h1 on network1 behind bridge host b1, h2
// on network2 behind b2, b1 and b2 on a shared "internet" segment.
type demoLAN struct {
	h1, b1, b2, h2 *netns.Host
}

// newDemoLAN builds the hosts, the links and the addresses. The bridges'
// internal interfaces (eth1, the seed's fxp1) have no address.
func newDemoLAN(ctx context.Context, lab *netns.Lab) (demoLAN, error) {
	var n demoLAN
	for _, h := range []struct {
		host **netns.Host
		name string
	}{{&n.h1, "h1"}, {&n.b1, "b1"}, {&n.b2, "b2"}, {&n.h2, "h2"}} {
		var err error
		if *h.host, err = lab.Host(h.name); err != nil {
			return n, err
		}
	}
	for _, l := range []struct {
		a   *netns.Host
		aIf string
		b   *netns.Host
		bIf string
	}{
		{n.h1, "eth0", n.b1, "eth1"}, // network1
		{n.b1, "eth0", n.b2, "eth0"}, // the internet; eth0 is the seed's fxp0
		{n.b2, "eth1", n.h2, "eth0"}, // network2
	} {
		if err := lab.Link(l.a, l.aIf, l.b, l.bIf); err != nil {
			return n, err
		}
	}
	for _, a := range []struct {
		h    *netns.Host
		cidr string
	}{
		{n.h1, demoH1 + "/24"}, {n.h1, demoH1v6 + "/64"}, {n.h2, demoH2 + "/24"}, {n.h2, demoH2v6 + "/64"},
		{n.b1, demoB1 + "/32"}, {n.b2, demoB2 + "/32"},
	} {
		if err := a.h.AddAddr("eth0", a.cidr); err != nil {
			return n, err
		}
	}
	// The seed's addresses share no subnet: each is on-link for the other.
	for _, r := range []struct {
		h    *netns.Host
		peer string
	}{{n.b1, demoB2}, {n.b2, demoB1}} {
		if err := runIn(ctx, r.h, "ip", "route", "add", r.peer+"/32", "dev", "eth0"); err != nil {
			return n, err
		}
	}
	return n, nil
}

// seedCommands are the commands of gif(4)'s EXAMPLES for the bridge host
// whose external address is src, its peer's being dst, without the IPsec
// part, and with net.inet.etherip.allow set as DESCRIPTION asks then.
func seedCommands(src, dst string) [][]string {
	return [][]string{
		{"ifconfig", "bridge0", "add", "gif0", "add", "eth1"},
		{"ifconfig", "gif0", "tunnel", src, dst},
		{"sysctl", "net.inet.etherip.allow=1"},
		{"ifconfig", "eth1", "up"},
		{"ifconfig", "gif0", "up"},
		{"ifconfig", "bridge0", "up", "link2"},
	}
}

// demo runs gif commands on the bridge hosts, each host with its own state
// directory and so its own daemon.
type demo struct {
	demoLAN
	exe   string
	state map[*netns.Host]string
	out   io.Writer
}

// gif runs the gif binary in h and returns its standard output.
func (d *demo) gif(ctx context.Context, h *netns.Host, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, demoCommandTimeout)
	defer cancel()
	return h.Run(ctx, "env", append(d.env(h), args...)...)
}

// env is the environment and command that run gif in h: its own state
// directory, and its own directory of IKE keys in it.
func (d *demo) env(h *netns.Host) []string {
	return []string{"GIF_STATE_DIR=" + d.state[h], daemon.IKEDirEnv + "=" + d.ikeDir(h), d.exe}
}

// ikeDir is where h's daemon keeps its RSA keys for ike rules.
func (d *demo) ikeDir(h *netns.Host) string { return filepath.Join(d.state[h], "isakmpd") }

// typed prints a gif command as typed at h's prompt, runs it and prints its
// output.
func (d *demo) typed(ctx context.Context, h *netns.Host, args ...string) error {
	fmt.Fprintf(d.out, "%s# gif %s\n", hostName(h), strings.Join(args, " "))
	out, err := d.gif(ctx, h, args...)
	io.WriteString(d.out, out)
	return err
}

// hostName is the name the demo gave h, without the lab's prefix.
func hostName(h *netns.Host) string {
	_, name, _ := strings.Cut(h.Name(), "-")
	return name
}

func runDemo(ctx context.Context, lab *netns.Lab, stdout io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	lan, err := newDemoLAN(ctx, lab)
	if err != nil {
		return err
	}
	d := &demo{demoLAN: lan, exe: exe, state: map[*netns.Host]string{}, out: stdout}
	for _, h := range []*netns.Host{lan.b1, lan.b2} {
		dir, err := os.MkdirTemp("", "gif-demo-"+hostName(h)+"-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		d.state[h] = dir
	}
	fmt.Fprintf(stdout, `gif demo: the example of gif(4), two Ethernet networks made one LAN
  network1  h1 %s %s --- eth1 of b1
  internet  b1 eth0 %s --- b2 eth0 %s
  network2  eth1 of b2 --- h2 %s %s

`, demoH1, demoH1v6, demoB1, demoB2, demoH2, demoH2v6)
	for _, end := range []struct {
		h        *netns.Host
		src, dst string
	}{{lan.b1, demoB1, demoB2}, {lan.b2, demoB2, demoB1}} {
		for _, args := range seedCommands(end.src, end.dst) {
			if err := d.typed(ctx, end.h, args...); err != nil {
				return err
			}
		}
		fmt.Fprintln(stdout)
	}
	if err := d.typed(ctx, lan.b1, "ifconfig", "bridge0"); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	if err := d.check(ctx); err != nil {
		return err
	}
	if err := d.runIPsecDemo(ctx); err != nil {
		return err
	}
	return d.runIKEDemo(ctx)
}

// A demoCheck sends traffic across the LAN, or reads the counters it left,
// and says what it saw.
type demoCheck struct {
	what string
	run  func(ctx context.Context, d *demo) (string, error)
}

var demoChecks = []demoCheck{
	{"ping h1 -> h2", func(ctx context.Context, d *demo) (string, error) {
		return pingAll(ctx, d.h1, demoH2)
	}},
	{"ping6 h1 -> h2", func(ctx context.Context, d *demo) (string, error) {
		return pingAll(ctx, d.h1, demoH2v6)
	}},
	{"1500-byte frames h1 -> h2", func(ctx context.Context, d *demo) (string, error) {
		return pingAll(ctx, d.h1, demoH2, "-s", "1472", "-M", "do")
	}},
	{"TCP h1 -> h2", func(ctx context.Context, d *demo) (string, error) {
		took, err := transfer(ctx, d.h1, d.h2, demoH2, demoTransferSize)
		if err != nil {
			return "", err
		}
		mbits := float64(demoTransferSize*8) / took.Seconds() / 1e6
		return fmt.Sprintf("%d MiB in %v (%.0f Mbit/s), SHA-256 matches", demoTransferSize>>20, took.Round(time.Millisecond), mbits), nil
	}},
	{"b1 gif0 counters", func(ctx context.Context, d *demo) (string, error) {
		return d.gif0Counters(ctx)
	}},
	{"b1 netstat -s -p etherip", func(ctx context.Context, d *demo) (string, error) {
		out, err := d.gif(ctx, d.b1, "netstat", "-s", "-p", "etherip")
		if err != nil {
			return "", err
		}
		lines := nonZeroStats(out)
		if len(lines) == 0 {
			return "", errors.New("every counter is 0")
		}
		return strings.Join(lines, "\n"), nil
	}},
}

// check runs every check, and fails if any did.
func (d *demo) check(ctx context.Context) error {
	failed := 0
	for _, c := range demoChecks {
		result, err := c.run(ctx, d)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			failed++
			result = "FAILED: " + err.Error()
		}
		fmt.Fprintf(d.out, "%-26s %s\n", c.what, strings.ReplaceAll(result, "\n", "\n"+strings.Repeat(" ", 27)))
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d checks failed", failed, len(demoChecks))
	}
	return nil
}

// gif0Counters reads b1's gif0 counters, and fails unless frames crossed
// it both ways.
func (d *demo) gif0Counters(ctx context.Context) (string, error) {
	out, err := d.gif(ctx, d.b1, "ifconfig", "-j", "gif0")
	if err != nil {
		return "", err
	}
	var r control.ShowResult
	if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Interfaces) != 1 {
		return "", fmt.Errorf("gif ifconfig -j gif0: %v (%d interfaces)", err, len(r.Interfaces))
	}
	s := r.Interfaces[0].Stats
	result := fmt.Sprintf("%d packets (%d bytes) in, %d packets (%d bytes) out", s.IPackets, s.IBytes, s.OPackets, s.OBytes)
	if s.IPackets == 0 || s.OPackets == 0 {
		return "", fmt.Errorf("%s: want frames both ways", result)
	}
	return result, nil
}

// pingAll pings dst from h three times and fails unless every echo request
// was answered.
func pingAll(ctx context.Context, h *netns.Host, dst string, args ...string) (string, error) {
	const count = 3
	res, err := h.Ping(ctx, dst, append([]string{"-c", fmt.Sprint(count), "-i", "0.2", "-W", "2"}, args...)...)
	if err != nil {
		return "", err
	}
	result := fmt.Sprintf("%d/%d replies", res.Received, res.Transmitted)
	if res.Received != count {
		return "", errors.New(result)
	}
	return fmt.Sprintf("%s, average rtt %v", result, res.AvgRTT.Round(time.Microsecond)), nil
}

// nonZeroStats returns the counter lines of netstat -s output whose
// counters are not zero, without their indentation.
func nonZeroStats(out string) []string {
	var lines []string
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		n, _, ok := strings.Cut(line, " ")
		if ok && n != "0" && strings.Trim(n, "0123456789") == "" {
			lines = append(lines, line)
		}
	}
	return lines
}

// transfer sends size random bytes over TCP from host from to addr, on port
// demoTransferPort of host to, checks that their SHA-256 arrives intact and
// returns how long it took.
func transfer(ctx context.Context, from, to *netns.Host, addr string, size int) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, demoCommandTimeout)
	defer cancel()
	target := net.JoinHostPort(addr, demoTransferPort)
	var ln net.Listener
	if err := to.Do(func() (err error) {
		ln, err = net.Listen("tcp", target)
		return err
	}); err != nil {
		return 0, fmt.Errorf("listen in %s: %w", hostName(to), err)
	}
	defer ln.Close()
	type received struct {
		sum [sha256.Size]byte
		n   int64
		err error
	}
	got := make(chan received, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- received{err: err}
			return
		}
		defer c.Close()
		stop := context.AfterFunc(ctx, func() { c.Close() })
		defer stop()
		h := sha256.New()
		var r received
		r.n, r.err = io.Copy(h, c)
		copy(r.sum[:], h.Sum(nil))
		got <- r
	}()
	data := make([]byte, size)
	rand.Read(data)
	want := sha256.Sum256(data)
	var conn net.Conn
	if err := from.Do(func() (err error) {
		var dialer net.Dialer
		conn, err = dialer.DialContext(ctx, "tcp", target)
		return err
	}); err != nil {
		return 0, fmt.Errorf("connect from %s: %w", hostName(from), err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	start := time.Now()
	_, err := io.Copy(conn, bytes.NewReader(data))
	conn.Close()
	if err != nil {
		return 0, fmt.Errorf("send: %w", err)
	}
	r := <-got
	took := time.Since(start)
	if r.err != nil {
		return 0, fmt.Errorf("receive: %w", r.err)
	}
	if r.n != int64(size) || r.sum != want {
		return 0, fmt.Errorf("%d of %d bytes arrived with SHA-256 %x…, sent %x…", r.n, size, r.sum[:8], want[:8])
	}
	return took, nil
}

// runIn runs a command in h.
func runIn(ctx context.Context, h *netns.Host, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, demoCommandTimeout)
	defer cancel()
	_, err := h.Run(ctx, name, args...)
	return err
}
