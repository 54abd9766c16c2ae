package integration

import (
	"os/exec"
	"strings"
	"testing"

	"gif/internal/tools"
)

// TestDemo runs `gif demo`, the README's first quick-start command, as a
// user would: it must succeed, show traffic across the seed's bridges and
// through each IP mode, and leave no namespace behind.
func TestDemo(t *testing.T) {
	before := netnsList(t)
	out, err := exec.CommandContext(t.Context(), gifBin, "demo").CombinedOutput()
	if err != nil {
		t.Fatalf("gif demo: %v\n%s", err, out)
	}
	for _, want := range []string{
		"b1# gif ifconfig bridge0 add gif0 add eth1",
		"1500-byte frames h1 -> h2  3/3 replies",
		"SHA-256 matches",
		"b1# gif ipsecctl -f ipsec.conf",
		"wire between the bridges",
		"ike esp proto etherip from 1.2.3.4 to 4.3.2.1",
		"b1# gif ipsecctl -s ike",
		"ESP SA pairs made ", // 1, or 2 when both bridges start a Quick Mode at once
		"IPv4 in IPv4", "IPv6 in IPv4", "IPv4 in IPv6", "IPv6 in IPv6",
		"namespaces and interfaces removed",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("gif demo output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "ESP SA pairs made 0") || !strings.Contains(string(out), "failed 0") {
		t.Errorf("gif demo's IKE made nothing or failed:\n%s", out)
	}
	if n := strings.Count(string(out), "3/3 replies"); n != 9 {
		t.Errorf("%d lines with 3/3 replies, want 9 (3 across the bridges, 1 under manual keys, 1 under IKE, 4 modes):\n%s", n, out)
	}
	after := netnsList(t)
	if strings.Count(after, "gifdemo") != strings.Count(before, "gifdemo") {
		t.Errorf("gif demo left namespaces behind:\n%s", after)
	}
}

// netnsList returns what `ip netns list` shows.
func netnsList(t *testing.T) string {
	t.Helper()
	cmd, err := tools.Command(t.Context(), "ip", "netns", "list")
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	return string(out)
}
