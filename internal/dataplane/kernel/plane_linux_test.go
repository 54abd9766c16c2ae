package kernel

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"gif/internal/dataplane"
	"gif/internal/ipsec/policy"
	"gif/internal/link"
	"gif/internal/netns"
	"gif/internal/netns/netnstest"
	"gif/internal/tools"
	"gif/internal/tunnel"
)

// tunnelProcessEnv makes the test binary run TestTunnelProcess: a kernel
// plane carrying gif0 in the namespace it runs in.
const tunnelProcessEnv = "GIF_KERNEL_TUNNEL_PROCESS"

// planeReport is what TestTunnelProcess says after each command: how it
// attaches, what the kernel's maps hold, which plane gif0 is on, and the
// counters.
type planeReport struct {
	Attacher        string
	Egress, Ingress int // entries in egress_tunnels and ingress_tunnels
	Plane           dataplane.PlaneState
	Gif0            tunnel.InterfaceStats
	IPIP            tunnel.IPIPStats
	UnknownPair     uint64 // pass_reasons[PassUnknownPair]
	Passed          [NumPassReasons]uint64
}

// TestTunnelProcess is not a test: run by TestCarries in a namespace
// (tunnelProcessEnv = "LOCAL PEER INNER INNERPEER"), it creates gif0 with
// the inner addresses, attaches it to a kernel plane with no outer
// transport (what the kernel plane does not carry is lost), publishes
// the tunnel LOCAL-PEER and obeys commands on its standard input, each
// answered with a planeReport: "report", "down", "up", "ipsec" (a flow
// covers the tunnel), "detach".
func TestTunnelProcess(t *testing.T) {
	env := os.Getenv(tunnelProcessEnv)
	if env == "" {
		return
	}
	var local, peer, inner, innerPeer netip.Addr
	for i, a := range []*netip.Addr{&local, &peer, &inner, &innerPeer} {
		*a = netip.MustParseAddr(strings.Fields(env)[i])
	}
	useAttacherFromEnv(t)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	dev, err := link.CreateTUN("gif0", 1280)
	if err != nil {
		t.Fatal(err)
	}
	if err := link.AddAddr("gif0", link.Addr{Prefix: netip.PrefixFrom(inner, 32), Peer: innerPeer}); err != nil {
		t.Fatal(err)
	}
	if err := link.SetUp("gif0", true); err != nil {
		t.Fatal(err)
	}
	p, err := New(dataplane.NewUserspace(log), log)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ifc := p.Attach(dev, false, new(tunnel.Counters))
	c := tunnel.NewConfig("gif0")
	c.Src, c.Dst, c.Up = local, peer, true
	ifc.SetConfig(&c)
	ifc.SetRunning(true)
	publish := func(pol *dataplane.SPD) {
		ip, ether := dataplane.Tables([]*dataplane.Iface{ifc})
		p.Publish(&dataplane.View{IPTable: ip, EtherTable: ether, Local: map[netip.Addr]bool{local: true},
			Sysctl: &tunnel.Sysctl{Fastpath: 1}, Policy: pol})
	}
	publish(nil)
	waitUnderlay(t, p)
	waitEgress(t, p, ifc)
	report := func() {
		r := planeReport{Attacher: p.tc.String(), Egress: entriesOf(t, p.egressMap), Ingress: entriesOf(t, p.ingressMap), Plane: ifc.PlaneState()}
		r.IPIP = p.Counters().IPIP.Snapshot()
		r.Gif0 = ifc.Counters().Snapshot()
		passed, err := p.Passed()
		if err != nil {
			t.Fatal(err)
		}
		r.UnknownPair, r.Passed = passed[PassUnknownPair], passed
		b, _ := json.Marshal(r)
		fmt.Println(string(b))
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "down":
			ifc.SetRunning(false)
			publish(nil)
		case "up":
			ifc.SetRunning(true)
			publish(nil)
		case "ipsec":
			pol, err := dataplane.CompilePolicy(policy.Config{Flows: []policy.Flow{{Proto: policy.ESP, Dir: policy.Out,
				Src: netip.PrefixFrom(local, 32), Dst: netip.PrefixFrom(peer, 32), Type: policy.Bypass}}}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			publish(pol)
		case "detach":
			ifc.Detach()
		}
		report()
	}
}

// entriesOf counts the entries of a BPF map.
func entriesOf(t *testing.T, m kvMap) int {
	it := m.(*ebpf.Map).Iterate()
	n := 0
	var k, v []byte
	for it.Next(&k, &v) {
		n++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// planeEnd is a TestTunnelProcess running in a namespace.
type planeEnd struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin *bufio.Writer
	w     interface{ Close() error }
	out   *bufio.Scanner
}

func startPlaneEnd(t *testing.T, h *netns.Host, tc attacher, local, peer, inner, innerPeer string) *planeEnd {
	t.Helper()
	cmd, err := tools.Command(context.Background(), "ip", "netns", "exec", h.Name(), os.Args[0], "-test.run=^TestTunnelProcess$", "-test.count=1")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), tunnelProcessEnv+"="+strings.Join([]string{local, peer, inner, innerPeer}, " "), attacherEnv+"="+tc.String())
	cmd.Stderr = os.Stderr
	w, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(); waitOrKill(cmd) })
	e := &planeEnd{t: t, cmd: cmd, stdin: bufio.NewWriter(w), w: w, out: bufio.NewScanner(stdout)}
	if !e.out.Scan() || e.out.Text() != "ready" {
		t.Fatalf("tunnel process in %s: %q, %v", h, e.out.Text(), e.out.Err())
	}
	return e
}

func waitOrKill(cmd *exec.Cmd) {
	cmd.Process.Kill()
	cmd.Wait()
}

// do sends command and returns the report that answers it.
func (e *planeEnd) do(command string) planeReport {
	e.t.Helper()
	fmt.Fprintln(e.stdin, command)
	e.stdin.Flush()
	if !e.out.Scan() {
		e.t.Fatalf("tunnel process: no answer to %s: %v", command, e.out.Err())
	}
	var r planeReport
	if err := json.Unmarshal(e.out.Bytes(), &r); err != nil {
		e.t.Fatalf("tunnel process: %q: %v", e.out.Text(), err)
	}
	return r
}

// TestCarries, with each attacher: two kernel planes, neither with an
// outer transport, carry pings through ip4in4 between two namespaces, counted in gif0's counters
// and ipipstat; a tunnel brought down, under an IPsec flow or detached
// has left the maps when Publish (or Detach) returns, and what arrives
// for it then passes to the userspace plane as an unknown pair. The
// namespaces forward nothing: the plane turns forwarding on for lo, which
// the FIB helper routes from, and back off when it closes.
func TestCarries(t *testing.T) {
	for _, kind := range attachKinds {
		t.Run(kind.tc.String(), func(t *testing.T) { testCarries(t, kind.tc) })
	}
}

func testCarries(t *testing.T, tc attacher) {
	_, a, b := netnstest.NewPair(t)
	endA := startPlaneEnd(t, a, tc, "192.0.2.1", "192.0.2.2", "198.51.100.1", "198.51.100.2")
	endB := startPlaneEnd(t, b, tc, "192.0.2.2", "192.0.2.1", "198.51.100.2", "198.51.100.1")
	if got := loForwarding(t, a); got != "1" {
		t.Errorf("net.ipv4.conf.lo.forwarding is %s with the plane; want 1", got)
	}
	if res, err := a.Ping(context.Background(), "198.51.100.2", "-c", "3", "-i", "0.2"); err != nil || res.Received != 3 {
		t.Fatalf("ping through the kernel planes: %+v, %v; a %+v b %+v", res, err, endA.do("report"), endB.do("report"))
	}
	r := endA.do("report")
	if r.Attacher != tc.String() {
		t.Errorf("the plane attached with %s, want %s", r.Attacher, tc)
	}
	if r.Egress != 1 || r.Ingress != 1 || !r.Plane.Kernel {
		t.Errorf("running tunnel: %+v, want one entry in each map, on the kernel plane", r)
	}
	if r.Gif0.OPackets < 3 || r.Gif0.IPackets < 3 || r.IPIP.OPackets != r.Gif0.OPackets || r.IPIP.IPackets != r.Gif0.IPackets {
		t.Errorf("after 3 pings: gif0 %+v, ipipstat %+v", r.Gif0, r.IPIP)
	}

	for _, step := range []struct{ command, why string }{
		{"down", whyNotRunning}, {"up", ""}, {"ipsec", whyIPsec}, {"up", ""}, {"detach", ""},
	} {
		r := endA.do(step.command)
		wantEntries := 0
		if step.command == "up" {
			wantEntries = 1
		}
		if r.Egress != wantEntries || r.Ingress != wantEntries {
			t.Fatalf("after %s: %d egress and %d ingress entries, want %d", step.command, r.Egress, r.Ingress, wantEntries)
		}
		if step.command == "detach" {
			continue
		}
		if r.Plane.Kernel != (step.why == "") || r.Plane.Why != step.why {
			t.Errorf("after %s: plane %+v, want why %q", step.command, r.Plane, step.why)
		}
		if step.command == "up" {
			continue
		}
		before := r.UnknownPair
		if res, err := b.Ping(context.Background(), "198.51.100.1", "-c", "2", "-i", "0.2"); err != nil || res.Received != 0 {
			t.Errorf("after %s: ping %+v, %v: want none through, with no userspace transport to carry it", step.command, res, err)
		}
		if r := endA.do("report"); r.UnknownPair <= before {
			t.Errorf("after %s: pass_reasons[unknown pair] %d, was %d: the replies arriving for gif0 should pass", step.command, r.UnknownPair, before)
		}
	}

	// The egress program routes from lo, which New made forward (the
	// namespaces start with forwarding off); Close puts lo back.
	endA.w.Close()
	for endA.out.Scan() {
	}
	if got := loForwarding(t, a); got != "0" {
		t.Errorf("net.ipv4.conf.lo.forwarding is %s after the plane closed; want 0 as before", got)
	}
}

func loForwarding(t *testing.T, h *netns.Host) string {
	out, err := h.Run(context.Background(), "sysctl", "-n", "net.ipv4.conf.lo.forwarding")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// TestKilledPlanePasses, with each attacher: once a plane is killed
// (kill -9), what its peer still sends through the dead tunnel reaches
// the kernel stack, which a raw socket of protocol 4 sees, as it would
// with no gif program on the underlay; and what is routed into a gif
// device that persists goes into the device, not through the tunnel.
// Under clsact the killed plane's gif_ingress stays on the underlay (and
// its gif_egress on a persistent device) until the next start, its maps
// still holding the tunnel, but the programs that carry went with the
// plane: else the packets would go to the gif that went with it too (or
// through a tunnel no daemon runs any more).
func TestKilledPlanePasses(t *testing.T) {
	for _, kind := range attachKinds {
		for _, persistent := range []bool{false, true} {
			name := kind.tc.String() + "/gif0 the plane's"
			if persistent {
				name = kind.tc.String() + "/gif0 persistent"
			}
			t.Run(name, func(t *testing.T) { testKilledPlanePasses(t, kind, persistent) })
		}
	}
}

func testKilledPlanePasses(t *testing.T, kind attachKind, persistent bool) {
	ctx := context.Background()
	_, a, b := netnstest.NewPair(t)
	if persistent {
		if _, err := a.Run(ctx, "ip", "tuntap", "add", "gif0", "mode", "tun"); err != nil {
			t.Fatal(err)
		}
	}
	endA := startPlaneEnd(t, a, kind.tc, "192.0.2.1", "192.0.2.2", "198.51.100.1", "198.51.100.2")
	endB := startPlaneEnd(t, b, kind.tc, "192.0.2.2", "192.0.2.1", "198.51.100.2", "198.51.100.1")
	if res, err := b.Ping(ctx, "198.51.100.1", "-c", "2", "-i", "0.2"); err != nil || res.Received != 2 {
		t.Fatalf("ping through the kernel planes: %+v, %v", res, err)
	}

	endA.cmd.Process.Signal(syscall.SIGKILL)
	endA.cmd.Wait()
	leftover := 0
	if kind.tc.String() == "clsact" {
		leftover = 1
	}
	if got := kind.programs(t, a, "gift0", tcIngress); len(got) != leftover {
		t.Fatalf("after kill -9: %v on gift0 ingress, want %d programs", got, leftover)
	}
	var ipip net.PacketConn
	if err := a.Do(func() (err error) { ipip, err = net.ListenPacket("ip4:4", "192.0.2.1"); return err }); err != nil {
		t.Fatalf("listen for protocol 4 in %s: %v", a, err)
	}
	defer ipip.Close()
	if res, _ := b.Ping(ctx, "198.51.100.1", "-c", "3", "-i", "0.2"); res.Received != 0 {
		t.Fatalf("ping through a killed plane: %+v, want no reply", res)
	}
	ipip.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 2048)
	n, from, err := ipip.ReadFrom(buf)
	if err != nil {
		t.Fatalf("after kill -9, no tunnel packet from %s reached the kernel stack of %s (raw socket: %v): the killed plane's program took them", b, a, err)
	}
	if from.String() != "192.0.2.2" || n < 20 {
		t.Fatalf("raw socket of protocol 4: %d bytes from %s, want the tunnel's packets from 192.0.2.2", n, from)
	}

	if !persistent {
		return
	}
	if got := kind.programs(t, a, "gif0", tcEgress); len(got) != leftover {
		t.Fatalf("after kill -9: %v on the persistent gif0's egress, want %d programs", got, leftover)
	}
	before := endB.do("report").Gif0.IPackets
	a.Ping(ctx, "198.51.100.2", "-c", "2", "-i", "0.2")
	if after := endB.do("report").Gif0.IPackets; after != before {
		t.Fatalf("after kill -9, %d packets routed into the persistent gif0 went through the tunnel; want none", after-before)
	}
}
