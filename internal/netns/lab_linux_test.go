package netns_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"gif/internal/netns"
	"gif/internal/netns/netnstest"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestPingBothWays(t *testing.T) {
	t.Parallel()
	_, a, b := netnstest.NewPair(t)
	ctx := testContext(t)
	for _, tt := range []struct {
		from *netns.Host
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
	_, a, b := netnstest.NewPair(t)
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
	_, a, _ := netnstest.NewPair(t)
	if _, err := a.Capture("nosuch0", ""); err == nil {
		t.Fatal("captured on a missing interface")
	}
}

func TestDoStaysInNamespace(t *testing.T) {
	t.Parallel()
	_, a, _ := netnstest.NewPair(t)
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
	_, a, _ := netnstest.NewPair(t)
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
	lab, a, b := netnstest.NewPair(t)
	p, err := a.Start("sleep", "60")
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	default:
		t.Error("process still running after Close")
	}
	list, err := netns.Command(testContext(t), "ip", "netns", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []*netns.Host{a, b} {
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
	_, a, _ := netnstest.NewPair(t)
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
	<-p.Done()
	if err := p.Stop(); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("stop of a failed process: %v", err)
	}
}

// stubborn starts a shell that ignores SIGTERM, as do the children it
// starts, and waits until it says so.
func stubborn(t *testing.T, h *netns.Host) *netns.Proc {
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
	_, a, _ := netnstest.NewPair(t)
	if err := stubborn(t, a).Kill9(); err != nil {
		t.Errorf("kill -9: %v", err)
	}
}

func TestProcStopFallsBackToKill(t *testing.T) {
	t.Parallel()
	_, a, _ := netnstest.NewPair(t)
	p := stubborn(t, a)
	start := time.Now()
	err := p.Stop()
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("stop of a process that ignores SIGTERM: %v", err)
	}
	if d := time.Since(start); d < netns.StopGrace {
		t.Errorf("killed after %v, before the grace period", d)
	}
}
