package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gif/internal/ike/pki"
)

// seedIKE is the seed's dynamic keying line of each bridge, as written.
var seedIKE = map[string]string{
	"b1": "ike esp proto etherip from 1.2.3.4 to 4.3.2.1",
	"b2": "ike esp proto etherip from 4.3.2.1 to 1.2.3.4",
}

// placeRSAKeys makes each bridge's key and gives the other its public key,
// where isakmpd looks for it: pubkeys/ipv4/ADDRESS.
func placeRSAKeys(t *testing.T, n seedLAN) {
	t.Helper()
	for _, pair := range []struct {
		b, other *node
		addr     string
	}{{n.b1, n.b2, seedB1}, {n.b2, n.b1, seedB2}} {
		if _, _, err := pki.LocalKey(pair.b.ikeDir()); err != nil {
			t.Fatal(err)
		}
		pub, err := os.ReadFile(pki.LocalPubPath(pair.b.ikeDir()))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(pair.other.ikeDir(), "pubkeys", "ipv4", pair.addr)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, pub, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// loadIKE writes each bridge's ipsec.conf, its seed line and extra, and
// loads it with net.inet.etherip.allow=0.
func loadIKE(t *testing.T, n seedLAN, extra string) {
	t.Helper()
	for host, b := range map[string]*node{"b1": n.b1, "b2": n.b2} {
		path := filepath.Join(t.TempDir(), "ipsec.conf")
		if err := os.WriteFile(path, []byte(seedIKE[host]+extra+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		b.gif("sysctl", "net.inet.etherip.allow=0")
		b.gif("ipsecctl", "-f", path)
	}
}

// waitReach pings until the LANs reach each other, the SAs negotiated.
func waitReach(t *testing.T, n seedLAN) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); n.h1.ping(lanH2, 1).Received == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("the LANs do not reach each other:\nb1: %s\nb2: %s", n.b1.gif("ipsecctl", "-s", "all"), n.b2.gif("ipsecctl", "-s", "all"))
		}
	}
}

// TestIPsecSeedIKE: the seed's dynamic keying variant with its ike lines
// unchanged (RSA keys placed as on OpenBSD) and with a pre-shared key: with
// net.inet.etherip.allow=0 the LANs reach each other, and the path between
// the bridges carries only ESP and IKE.
func TestIPsecSeedIKE(t *testing.T) {
	for _, auth := range []string{"rsa", "psk"} {
		t.Run(auth, func(t *testing.T) {
			n := newSeedLAN(t)
			n.configure(4)
			extra := ""
			if auth == "rsa" {
				placeRSAKeys(t, n)
			} else {
				extra = ` psk "a lab-only pre-shared key"`
			}
			loadIKE(t, n, extra)
			// What crossed before both bridges had their rules is no
			// matter of theirs.
			capture, err := n.b2.Capture("eth0", "ip")
			if err != nil {
				t.Fatal(err)
			}
			waitReach(t, n)
			n.h1.mustPing(lanH2, 3)
			transfer(t, n.h1, n.h2, lanH2)
			onlyESP(t, capture, true)
			out := n.b1.gif("ipsecctl", "-s", "all")
			for _, want := range []string{"flow esp out proto etherip from 1.2.3.4/32 to 4.3.2.1/32 peer 4.3.2.1 type require",
				"esp tunnel from 1.2.3.4 to 4.3.2.1 spi 0x", "expires in 1", // of 1200 s
				"isakmp 1.2.3.4 <-> 4.3.2.1 ", " established, expires in ",
				"esp from 1.2.3.4/32 to 4.3.2.1/32 proto etherip peer 4.3.2.1 spi in 0x", "enc aes auth hmac-sha2-256, expires in",
				"ESP SA pairs made ", "failed 0"} {
				if !strings.Contains(out, want) {
					t.Errorf("ipsecctl -s all lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

var outboundSPI = regexp.MustCompile(`esp tunnel from 1\.2\.3\.4 to 4\.3\.2\.1 spi (0x[0-9a-f]+)`)

// TestIPsecIKERekey: with quick mode SAs of 10 seconds, the SAs are
// renewed while the LANs talk, and no ping is lost at the switch.
func TestIPsecIKERekey(t *testing.T) {
	n := newSeedLAN(t)
	n.configure(4)
	loadIKE(t, n, ` quick lifetime 10 psk "a lab-only pre-shared key"`)
	waitReach(t, n)
	before := outboundSPI.FindAllStringSubmatch(n.b1.gif("ipsecctl", "-s", "sa"), -1)
	res := n.h1.mustPing(lanH2, 120, "-i", "0.2") // 24 s: two renewals
	after := outboundSPI.FindAllStringSubmatch(n.b1.gif("ipsecctl", "-s", "sa"), -1)
	if len(before) == 0 || len(after) == 0 {
		t.Fatalf("outbound SAs before %v, after %v", before, after)
	}
	for _, a := range after {
		for _, b := range before {
			if a[1] == b[1] {
				t.Errorf("SA %s outlived its 10-second lifetime", a[1])
			}
		}
	}
	t.Logf("%d of %d pings answered across the renewals", res.Received, res.Transmitted)
}

// TestIPsecIKERestart: b1's daemon is killed and starts again from its
// state: it negotiates anew, says INITIAL-CONTACT, and b2 drops the SAs of
// before at once; the LANs reach each other again.
func TestIPsecIKERestart(t *testing.T) {
	n := newSeedLAN(t)
	n.configure(4)
	loadIKE(t, n, ` psk "a lab-only pre-shared key"`)
	waitReach(t, n)
	before := outboundSPI.FindAllStringSubmatch(n.b2.gif("ipsecctl", "-s", "sa"), -1)
	killDaemon(t, n.b1)
	n.b1.gif("ipsecctl", "-s", "all") // starts it again
	waitReach(t, n)
	n.h1.mustPing(lanH2, 3)
	after := n.b2.gif("ipsecctl", "-s", "all")
	for _, b := range before {
		if strings.Contains(after, b[1]) {
			t.Errorf("b2 kept SA %s of before b1's restart:\n%s", b[1], after)
		}
	}
}

// TestIKESourceAddress: a's ike rule is from its second address on eth0,
// not the one the route to b prefers. gif sends its IKE messages from the
// rule's address (IP_PKTINFO), so b, whose passive rule names that address
// and waits for it, answers, and both make their SAs.
func TestIKESourceAddress(t *testing.T) {
	const second = "192.0.2.3"
	a, b := newPair(t)
	if err := a.AddAddr("eth0", second+"/24"); err != nil {
		t.Fatal(err)
	}
	for _, side := range []struct {
		n        *node
		src, dst string
		start    string
	}{{a, second, outerB4, ""}, {b, outerB4, second, " passive"}} {
		path := filepath.Join(t.TempDir(), "ipsec.conf")
		rule := "ike" + side.start + " esp proto etherip from " + side.src + " to " + side.dst + ` psk "a lab-only pre-shared key"` + "\n"
		if err := os.WriteFile(path, []byte(rule), 0o600); err != nil {
			t.Fatal(err)
		}
		side.n.gif("ipsecctl", "-f", path)
	}
	waitFor(t, "both sides to make their SAs", func() bool {
		return !strings.Contains(a.gif("ipsecctl", "-s", "ike"), "ESP SA pairs made 0") &&
			!strings.Contains(b.gif("ipsecctl", "-s", "ike"), "ESP SA pairs made 0")
	})
	if out := a.gif("ipsecctl", "-s", "ike"); !strings.Contains(out, "isakmp "+second+" <-> "+outerB4) {
		t.Errorf("a's ipsecctl -s ike:\n%s", out)
	}
}

// TestIPsecIKENames: the seed's lines with srcid and dstid host names:
// each bridge says its name in Main Mode and finds the other's RSA key
// under pubkeys/fqdn/NAME, as isakmpd does.
func TestIPsecIKENames(t *testing.T) {
	n := newSeedLAN(t)
	n.configure(4)
	names := map[*node]string{n.b1: "bridge1.example", n.b2: "bridge2.example"}
	for b, other := range map[*node]*node{n.b1: n.b2, n.b2: n.b1} {
		if _, _, err := pki.LocalKey(b.ikeDir()); err != nil {
			t.Fatal(err)
		}
		pub, err := os.ReadFile(pki.LocalPubPath(b.ikeDir()))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(other.ikeDir(), "pubkeys", "fqdn", names[b])
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.WriteFile(dst, pub, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for host, b := range map[string]*node{"b1": n.b1, "b2": n.b2} {
		other := n.b2
		if b == n.b2 {
			other = n.b1
		}
		path := filepath.Join(t.TempDir(), "ipsec.conf")
		conf := seedIKE[host] + " srcid " + names[b] + " dstid " + names[other] + "\n"
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		b.gif("sysctl", "net.inet.etherip.allow=0")
		b.gif("ipsecctl", "-f", path)
	}
	waitReach(t, n)
	n.h1.mustPing(lanH2, 3)
}
