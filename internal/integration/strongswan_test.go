package integration

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gif/internal/ike/pki"
	"gif/internal/netns"
	"gif/internal/netns/netnstest"
)

// charonChild reads the SPIs of charon's installed etherip child SA from
// swanctl --list-sas.
var charonChild = regexp.MustCompile(`etherip: #\d+, reqid \d+, INSTALLED, (\S+), [^\n]*\n(?:[^\n]*\n)*?\s+in\s+([0-9a-f]{8})[^\n]*\n\s+out\s+([0-9a-f]{8})`)

// TestStrongSwanDaemon: gif's daemon with an ike rule for the EtherIP flow
// negotiates with strongSwan's charon, whose userspace ESP claims a NAT:
// both float to port 4500, charon installs the SAs with ESP in UDP, both
// report the same SPIs, and traffic crosses. By pre-shared key and by RSA
// raw keys, with gif initiating (an active rule) and with charon
// initiating (a passive rule, swanctl --initiate).
func TestStrongSwanDaemon(t *testing.T) {
	for _, c := range []struct {
		name         string
		rsa, passive bool
	}{{"psk gif initiates", false, false}, {"rsa gif initiates", true, false}, {"psk charon initiates", false, true}, {"rsa charon initiates", true, true}} {
		t.Run(c.name, func(t *testing.T) { strongSwanDaemon(t, c.rsa, c.passive) })
	}
}

func strongSwanDaemon(t *testing.T, rsaKeys, passive bool) {
	const psk = "a lab-only pre-shared key"
	lab := netnstest.NewLab(t, "gifss")
	a := newNode(t, lab, "a")
	b, err := lab.Host("b")
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Link(a.Host, "eth0", b, "eth0"); err != nil {
		t.Fatal(err)
	}
	for h, addr := range map[*netns.Host]string{a.Host: outerA4, b: outerB4} {
		if err := h.AddAddr("eth0", addr+"/24"); err != nil {
			t.Fatal(err)
		}
	}
	auth, rule := netnstest.CharonAuth{PSK: psk}, ` psk "`+psk+`"`
	if rsaKeys {
		// gif's key as its daemon makes it, charon's given to gif where
		// isakmpd keeps a peer's.
		gifKey, _, err := pki.LocalKey(a.ikeDir())
		if err != nil {
			t.Fatal(err)
		}
		charonKey, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKIXPublicKey(&charonKey.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		path := pki.PeerKeyPath(a.ikeDir(), netip.MustParseAddr(outerB4))
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
			t.Fatal(err)
		}
		auth, rule = netnstest.CharonAuth{Key: charonKey, Peer: &gifKey.PublicKey}, ""
	}
	start := ""
	if passive {
		start = " passive"
	}
	c, err := netnstest.StartCharon(b, t.TempDir(), netip.MustParseAddr(outerB4), netip.MustParseAddr(outerA4), auth)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("charon's log:\n%s", c.Log())
		}
	})
	path := filepath.Join(t.TempDir(), "ipsec.conf")
	conf := "ike" + start + " esp proto etherip from " + outerA4 + " to " + outerB4 + rule + "\n"
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	a.gif("ipsecctl", "-f", path)
	if passive {
		if out, err := c.Swanctl("--initiate", "--child", "etherip", "--timeout", "15"); err != nil {
			t.Fatalf("charon's initiate: %v\n%s\ngif:\n%s", err, out, a.gif("ipsecctl", "-s", "ike"))
		}
	}
	var m []string
	for deadline := time.Now().Add(15 * time.Second); m == nil; time.Sleep(200 * time.Millisecond) {
		sas, err := c.Swanctl("--list-sas")
		if err != nil {
			t.Fatal(err)
		}
		m = charonChild.FindStringSubmatch(sas)
		if m == nil && time.Now().After(deadline) {
			t.Fatalf("charon installed no child SA:\n%s\ngif:\n%s", sas, a.gif("ipsecctl", "-s", "ike"))
		}
	}
	if m[1] != "TUNNEL-in-UDP" {
		t.Errorf("charon's child SA is %s, want TUNNEL-in-UDP", m[1])
	}
	// charon's in is gif's out and the other way round.
	want := "spi in 0x" + m[3] + " out 0x" + m[2]
	if out := a.gif("ipsecctl", "-s", "ike"); !strings.Contains(out, want) {
		t.Errorf("gif's ipsecctl -s ike lacks %q:\n%s", want, out)
	}

	// The data plane: an Ethernet frame that charon's side sends in
	// EtherIP crosses the SA, in UDP, into a's bridge to host h, and h's
	// answer comes back the same way.
	h := newNode(t, lab, "h")
	if err := lab.Link(a.Host, "eth1", h.Host, "eth0"); err != nil {
		t.Fatal(err)
	}
	if err := h.AddAddr("eth0", "198.51.100.10/24"); err != nil {
		t.Fatal(err)
	}
	h.sh("ip", "neigh", "add", "198.51.100.20", "lladdr", "02:00:00:00:00:02", "dev", "eth0")
	for _, args := range [][]string{
		{"ifconfig", "bridge0", "add", "gif0", "add", "eth1"},
		{"ifconfig", "gif0", "tunnel", outerA4, outerB4, "up"},
		{"ifconfig", "eth1", "up"},
		{"ifconfig", "bridge0", "up"},
	} {
		a.gif(args...)
	}
	script := fmt.Sprintf(`import socket
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 97)
s.settimeout(10)
frame = Ether(src='02:00:00:00:00:02', dst='ff:ff:ff:ff:ff:ff')/IP(src='198.51.100.20', dst='198.51.100.10')/ICMP(id=97)
s.sendto(b'\x30\x00' + raw(frame), (%q, 0))
while True:
    data, addr = s.recvfrom(4000)
    f = Ether(data[22:])
    if ICMP in f and f[ICMP].type == 0 and f[ICMP].id == 97:
        print('echo reply from', f[IP].src, 'in EtherIP from', addr[0])
        break
`, outerA4)
	out, err := netnstest.Scapy(t.Context(), b, script)
	if err != nil {
		t.Fatalf("scapy on charon's side: %v\n%s\ngif:\n%s", err, out, a.gif("ipsecctl", "-s", "all"))
	}
	if !strings.Contains(out, "echo reply from 198.51.100.10 in EtherIP from "+outerA4) {
		t.Errorf("scapy on charon's side printed %q", out)
	}
	sas, _ := c.Swanctl("--list-sas")
	if strings.Contains(sas, " 0 packets") {
		t.Errorf("charon counted no packet on its child SA:\n%s", sas)
	}
}
