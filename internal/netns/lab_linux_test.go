package netns

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// newPair returns hosts a and b joined by a veth pair, gift0 in a and gift1
// in b, with 192.0.2.1/24, 2001:db8::1/64 on a and 192.0.2.2/24,
// 2001:db8::2/64 on b.
func newPair(t *testing.T) (lab *Lab, a, b *Host) {
	t.Helper()
	lab = NewTestLab(t, "gift")
	var err error
	if a, err = lab.Host("a"); err != nil {
		t.Fatal(err)
	}
	if b, err = lab.Host("b"); err != nil {
		t.Fatal(err)
	}
	if err := lab.Link(a, "gift0", b, "gift1"); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []struct {
		h      *Host
		ifname string
		cidr   string
	}{
		{a, "gift0", "192.0.2.1/24"}, {a, "gift0", "2001:db8::1/64"},
		{b, "gift1", "192.0.2.2/24"}, {b, "gift1", "2001:db8::2/64"},
	} {
		if err := addr.h.AddAddr(addr.ifname, addr.cidr); err != nil {
			t.Fatal(err)
		}
	}
	return lab, a, b
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestPingBothWays(t *testing.T) {
	t.Parallel()
	_, a, b := newPair(t)
	ctx := testContext(t)
	for _, tt := range []struct {
		from *Host
		dst  string
	}{
		{a, "192.0.2.2"}, {b, "192.0.2.1"}, {a, "2001:db8::2"}, {b, "2001:db8::1"},
	} {
		res, err := tt.from.Ping(ctx, tt.dst, "-c", "2", "-i", "0.01")
		if err != nil {
			t.Fatal(err)
		}
		if res.Transmitted != 2 || res.Received != 2 || res.AvgRTT <= 0 {
			t.Errorf("ping %s from %s: %+v", tt.dst, tt.from, res)
		}
	}
	// Nobody has this address: the replies are lost, which is no error.
	res, err := a.Ping(ctx, "192.0.2.99", "-W", "0.2")
	if err != nil || res.Transmitted != 1 || res.Received != 0 {
		t.Errorf("ping of a missing host: %+v, %v", res, err)
	}
	// No route: ping prints no summary.
	if _, err := a.Ping(ctx, "198.51.100.1"); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("ping without a route: %v", err)
	}
}

func TestCaptureEcho(t *testing.T) {
	t.Parallel()
	_, a, b := newPair(t)
	c, err := b.Capture("gift1", "icmp")
	if err != nil {
		t.Fatal(err)
	}
	if res, err := a.Ping(testContext(t), "192.0.2.2"); err != nil || res.Received != 1 {
		t.Fatalf("ping: %+v, %v", res, err)
	}
	packets, err := c.Stop()
	if err != nil {
		t.Fatal(err)
	}
	var request, reply bool
	for _, p := range packets {
		if p.ICMP == nil || len(p.IP) != 1 {
			t.Errorf("captured %q despite the filter", p.Protocols)
			continue
		}
		ip := p.IP[0]
		switch {
		case p.ICMP.Type == 8 && ip.Src == netip.MustParseAddr("192.0.2.1") && ip.TTL == 64:
			request = true
		case p.ICMP.Type == 0 && ip.Src == netip.MustParseAddr("192.0.2.2") && ip.TTL == 64:
			reply = true
		default:
			t.Errorf("unexpected packet: %+v %+v", ip, p.ICMP)
		}
	}
	if !request || !reply {
		t.Errorf("captured %d packets; echo request %v, reply %v", len(packets), request, reply)
	}
}

func TestCaptureBadInterface(t *testing.T) {
	t.Parallel()
	_, a, _ := newPair(t)
	if _, err := a.Capture("nosuch0", ""); err == nil {
		t.Fatal("captured on a missing interface")
	}
}

// TestScapyUDP sends a datagram with scapy from a to a socket that Do opened
// in b and that the test reads after Do has returned.
func TestScapyUDP(t *testing.T) {
	t.Parallel()
	_, a, b := newPair(t)
	var conn net.PacketConn
	err := b.Do(func() (err error) {
		conn, err = net.ListenPacket("udp4", "192.0.2.2:0")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	port := conn.LocalAddr().(*net.UDPAddr).Port

	out, err := a.Scapy(testContext(t), `
		send(IP(dst="192.0.2.2")/UDP(sport=4242, dport=`+strconv.Itoa(port)+`)/Raw(b"hello gif"))
		print("sent")
	`)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != "sent" {
		t.Errorf("scapy printed %q", out)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 100)
	n, from, err := conn.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); got != "hello gif" || from.String() != "192.0.2.1:4242" {
		t.Errorf("received %q from %s", got, from)
	}
}

func TestScapyError(t *testing.T) {
	t.Parallel()
	_, a, _ := newPair(t)
	_, err := a.Scapy(testContext(t), "raise SystemExit('gif test failure')")
	if err == nil || !strings.Contains(err.Error(), "gif test failure") {
		t.Errorf("got %v", err)
	}
}

func TestDoStaysInNamespace(t *testing.T) {
	t.Parallel()
	_, a, _ := newPair(t)
	err := a.Do(func() error {
		_, err := net.InterfaceByName("gift0")
		return err
	})
	if err != nil {
		t.Fatalf("gift0 not found inside a: %v", err)
	}
	if _, err := net.InterfaceByName("gift0"); err == nil {
		t.Fatal("gift0 found outside a")
	}
}

func TestRunError(t *testing.T) {
	t.Parallel()
	_, a, _ := newPair(t)
	_, err := a.Run(testContext(t), "ip", "link", "show", "nosuch0")
	if err == nil {
		t.Fatal("no error for a missing device")
	}
	for _, want := range []string{"netns exec " + a.Name(), "link show nosuch0", `Device "nosuch0" does not exist`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestCloseRemovesEverything(t *testing.T) {
	t.Parallel()
	lab, a, b := newPair(t)
	p, err := a.Start("sleep", "60")
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	default:
		t.Error("process still running after Close")
	}
	list, err := command(testContext(t), "ip", "netns", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []*Host{a, b} {
		if strings.Contains(list, h.Name()) {
			t.Errorf("namespace %s left after Close:\n%s", h.Name(), list)
		}
	}
	if err := lab.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := lab.Host("c"); err == nil {
		t.Error("added a host to a closed lab")
	}
}

func TestProcStop(t *testing.T) {
	t.Parallel()
	_, a, _ := newPair(t)
	p, err := a.Start("sleep", "60")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("stop sleep: %v", err)
	}

	// Stop reports a process that failed before it was stopped.
	p, err = a.Start("sh", "-c", "echo failing; exit 3")
	if err != nil {
		t.Fatal(err)
	}
	<-p.done
	if err := p.Stop(); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("stop of a failed process: %v", err)
	}
}

// stubborn starts a shell that ignores SIGTERM, as do the children it
// starts, and waits until it says so.
func stubborn(t *testing.T, h *Host) *Proc {
	p, err := h.Start("sh", "-c", `trap "" TERM; echo ready; sleep 60`)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitFor(testContext(t), "ready"); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProcKill9(t *testing.T) {
	t.Parallel()
	_, a, _ := newPair(t)
	if err := stubborn(t, a).Kill9(); err != nil {
		t.Errorf("kill -9: %v", err)
	}
}

func TestProcStopFallsBackToKill(t *testing.T) {
	t.Parallel()
	_, a, _ := newPair(t)
	p := stubborn(t, a)
	start := time.Now()
	err := p.Stop()
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("stop of a process that ignores SIGTERM: %v", err)
	}
	if d := time.Since(start); d < stopGrace {
		t.Errorf("killed after %v, before the grace period", d)
	}
}
