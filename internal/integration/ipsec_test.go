package integration

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gif/internal/ike/pki"
	"gif/internal/netns"
	"gif/internal/netns/netnstest"
)

// seedIPsecConf is the seed's ipsec.conf of each bridge, as written.
var seedIPsecConf = map[string]string{
	"b1": "esp from 1.2.3.4 to 4.3.2.1 spi 0x4242:0x4243 \\\n\tauthkey file \"auth1:auth2\" enckey file \"enc1:enc2\"\nflow esp proto etherip from 1.2.3.4 to 4.3.2.1\n",
	"b2": "esp from 4.3.2.1 to 1.2.3.4 spi 0x4243:0x4242 \\\n\tauthkey file \"auth2:auth1\" enckey file \"enc2:enc1\"\nflow esp proto etherip from 4.3.2.1 to 1.2.3.4\n",
}

// ipsecDirs writes the key files, made as `openssl rand -hex` makes them
// (32 bytes for hmac-sha2-256, 16 for aes), shared by both bridges, and
// each bridge's ipsec.conf, into one directory per bridge.
func ipsecDirs(t *testing.T) map[string]string {
	t.Helper()
	keys := map[string]int{"auth1": 32, "auth2": 32, "enc1": 16, "enc2": 16}
	dirs := map[string]string{}
	for host, conf := range seedIPsecConf {
		dir := filepath.Join(t.TempDir(), host)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		dirs[host] = dir
		if err := os.WriteFile(filepath.Join(dir, "ipsec.conf"), []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for name, size := range keys {
		key := make([]byte, size)
		rand.Read(key)
		for _, dir := range dirs {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dirs
}

// onlyESP stops capture and fails t unless every IP packet in it is ESP
// (or IKE, UDP, when ike is true) and at least ten are ESP.
func onlyESP(t *testing.T, capture *netns.Capture, ike bool) {
	t.Helper()
	pkts, err := capture.Stop()
	if err != nil {
		t.Fatal(err)
	}
	esp := 0
	for _, p := range pkts {
		switch {
		case len(p.IP) == 0:
		case p.IP[0].Proto == 50:
			esp++
		case p.IP[0].Proto != 17 || !ike:
			t.Fatalf("a packet between the bridges is neither ESP nor allowed IKE: %v %+v", p.Protocols, p.IP[0])
		}
	}
	if esp < 10 {
		t.Fatalf("only %d ESP packets captured", esp)
	}
}

// TestIPsecSeedExample protects the seed's bridges with its ipsec.conf
// files as written, with net.inet.etherip.allow=0: the LANs reach each
// other and the path between the bridges carries only ESP.
func TestIPsecSeedExample(t *testing.T) {
	n := newSeedLAN(t)
	n.configure(4)
	dirs := ipsecDirs(t)
	for host, b := range map[string]*node{"b1": n.b1, "b2": n.b2} {
		b.gif("sysctl", "net.inet.etherip.allow=0")
		b.sh("sh", "-c", "cd "+dirs[host]+" && env GIF_STATE_DIR="+b.stateDir+" GIF_IKE_DIR="+b.ikeDir()+" "+gifBin+" ipsecctl -f ipsec.conf")
	}
	capture, err := n.b2.Capture("eth0", "ip")
	if err != nil {
		t.Fatal(err)
	}
	n.h1.mustPing(lanH2, 3)
	n.h1.mustPing(lanH2v6, 2)
	transfer(t, n.h1, n.h2, lanH2)
	onlyESP(t, capture, false)
	out := n.b1.gif("ipsecctl", "-s", "all")
	for _, want := range []string{"flow esp out proto etherip from 1.2.3.4/32 to 4.3.2.1/32 peer 4.3.2.1 type require",
		"esp tunnel from 1.2.3.4 to 4.3.2.1 spi 0x00004242 auth hmac-sha2-256 enc aes"} {
		if !strings.Contains(out, want) {
			t.Errorf("ipsecctl -s all lacks %q:\n%s", want, out)
		}
	}
	// -d deletes the file's rules; without them nothing crosses, as
	// etherip.allow is 0.
	n.b1.sh("sh", "-c", "cd "+dirs["b1"]+" && env GIF_STATE_DIR="+n.b1.stateDir+" GIF_IKE_DIR="+n.b1.ikeDir()+" "+gifBin+" ipsecctl -d -f ipsec.conf")
	if out := n.b1.gif("ipsecctl", "-s", "all"); !strings.Contains(out, "No flows") || !strings.Contains(out, "No entries") {
		t.Fatalf("after ipsecctl -d:\n%s", out)
	}
	n.b2.gif("ipsecctl", "-F")
	if res := n.h1.ping(lanH2, 2); res.Received != 0 {
		t.Fatal("the LANs still reach each other with no SA on b2")
	}
}

// TestIPsecIKEShow: ipsecctl -nv reads and checks the seed's ike line and
// shows it with ipsecctl's defaults; a rule gif cannot run yet is refused
// at its line, and nothing of its file is loaded.
func TestIPsecIKEShow(t *testing.T) {
	lab := netnstest.NewLab(t, "gifk")
	h := newNode(t, lab, "h")
	dir := t.TempDir()
	write := func(conf string) string {
		path := filepath.Join(dir, "ipsec.conf")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	shown := h.gif("ipsecctl", "-nv", "-f", write("ike esp proto etherip from 1.2.3.4 to 4.3.2.1\n"))
	want := "ike active esp tunnel proto etherip from 1.2.3.4/32 to 4.3.2.1/32 peer 4.3.2.1 " +
		"main auth hmac-sha1 enc aes group modp3072 lifetime 3600 " +
		"quick auth hmac-sha2-256 enc aes group modp3072 lifetime 1200 rsa"
	if !strings.Contains(shown, want) {
		t.Errorf("ipsecctl -nv shows\n%s\nwant a line\n%s", shown, want)
	}
	path := write("flow esp proto etherip from 1.2.3.4 to 4.3.2.1\n" +
		"esp from 1.2.3.4 to 4.3.2.1 spi 0x4242 authkey " + strings.Repeat("11", 32) + " enckey " + strings.Repeat("33", 16) + "\n" +
		"ike ah from 1.2.3.4 to 4.3.2.1 psk x\n")
	out, err := h.gifTry("ipsecctl", "-f", path)
	if err == nil || !strings.Contains(err.Error(), path+":3: ike ah rules are not supported; gif does ESP") {
		t.Errorf("ipsecctl -f with an ike ah rule: %q, %v; want the refusal at line 3", out, err)
	}
	if st := h.gif("ipsecctl", "-s", "all"); !strings.Contains(st, "No flows") || !strings.Contains(st, "No entries") {
		t.Errorf("after the refused load, ipsecctl -s all shows\n%s", st)
	}
	// The daemon's first start made the host's RSA key, as OpenBSD's rc
	// does at boot.
	for path, mode := range map[string]os.FileMode{pki.LocalKeyPath(h.ikeDir()): 0o600, pki.LocalPubPath(h.ikeDir()): 0o644} {
		if st, err := os.Stat(path); err != nil || st.Mode() != mode {
			t.Errorf("%s: %v, %v; want mode %v", path, st, err, mode)
		}
	}
}
