package cli

import (
	"context"
	"slices"
	"strings"
	"testing"

	"gif/internal/netns/netnstest"
	"gif/internal/tunnel"
)

func TestNonZeroStats(t *testing.T) {
	var b strings.Builder
	printEtherIPStats(&b, tunnel.EtherIPStats{PDrops: 1, IPackets: 1915, OBytes: 4391292})
	want := []string{"1 packet dropped due to policy", "1915 input ethernet-in-IP packets", "4391292 output bytes"}
	if got := nonZeroStats(b.String()); !slices.Equal(got, want) {
		t.Errorf("from:\n%s\ngot %q, want %q", b.String(), got, want)
	}
	if got := nonZeroStats("etherip:\n\t0 input bytes\n\t10 attempts to use tunnel\n"); !slices.Equal(got, []string{"10 attempts to use tunnel"}) {
		t.Errorf("got %q", got)
	}
}

// TestDemoLAN builds the demo's hosts without gif: the bridge hosts reach
// each other over the seed's addresses, and the checks see traffic cross
// and see it fail.
func TestDemoLAN(t *testing.T) {
	lab := netnstest.NewLab(t, "gifcli")
	ctx := t.Context()
	n, err := newDemoLAN(ctx, lab)
	if err != nil {
		t.Fatal(err)
	}
	if got := hostName(n.b2); got != "b2" {
		t.Errorf("hostName(%s) = %q, want b2", n.b2.Name(), got)
	}
	if out, err := n.b1.Run(ctx, "ip", "-o", "addr", "show", "dev", "eth1"); err != nil || strings.Contains(out, "inet ") {
		t.Errorf("b1's internal interface: %v, want no IPv4 address:\n%s", err, out)
	}
	if res, err := pingAll(ctx, n.b1, demoB2); err != nil {
		t.Fatalf("b1 -> b2 over the on-link routes: %v", err)
	} else if !strings.HasPrefix(res, "3/3 replies, average rtt ") {
		t.Errorf("pingAll said %q", res)
	}
	if _, err := transfer(ctx, n.b1, n.b2, demoB2, 1<<20); err != nil {
		t.Fatalf("transfer b1 -> b2: %v", err)
	}

	// Without the bridges, network1 and network2 are apart.
	if res, err := pingAll(ctx, n.h1, demoH2, "-W", "1"); err == nil {
		t.Errorf("h1 reached h2 without bridges: %q", res)
	}
	if _, err := transfer(ctx, n.h1, n.h2, demoH1, 1<<10); err == nil {
		t.Error("transfer to an address of another host: no error")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := transfer(cancelled, n.b1, n.b2, demoB2, 1<<10); err == nil {
		t.Error("transfer with a cancelled context: no error")
	}
}
