package ikev1

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gif/internal/ike/isakmp"
	"gif/internal/netns"
)

// The strongSwan lab: gif's side a (192.0.2.1) and charon on b
// (192.0.2.2), joined by a veth.
var (
	labA = netip.MustParseAddr("192.0.2.1")
	labB = netip.MustParseAddr("192.0.2.2")
)

const charonBin = "/usr/lib/ipsec/charon"

// charon is strongSwan's IKE daemon in a host of the lab, with its own
// /run (its pid file and sockets) and configuration directory.
type charon struct {
	t    *testing.T
	host *netns.Host
	dir  string
	proc *netns.Proc
}

// startCharon starts charon on h with an IKEv1 connection "gif" to peer,
// authenticated as auth says, whose child "etherip" is the EtherIP flow between
// the two addresses with ipsecctl's quick mode defaults. Its plugins are
// kernel-libipsec's userspace ESP, since this kernel has no ESP of its own.
// charonAuth is how charon authenticates: a pre-shared key, or its own
// RSA key and gif's public key (PEM), as raw keys without certificates.
type charonAuth struct {
	psk  string
	key  *rsa.PrivateKey
	peer *rsa.PublicKey
}

// pemOf returns the PEM of an RSA private key (PKCS#8) or public key.
func pemOf(t *testing.T, key any) string {
	t.Helper()
	typ := "PUBLIC KEY"
	var der []byte
	var err error
	if k, ok := key.(*rsa.PrivateKey); ok {
		typ = "PRIVATE KEY"
		der, err = x509.MarshalPKCS8PrivateKey(k)
	} else {
		der, err = x509.MarshalPKIXPublicKey(key)
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func startCharon(t *testing.T, h *netns.Host, local, peer netip.Addr, auth charonAuth) *charon {
	t.Helper()
	for _, path := range []string{charonBin, "/usr/sbin/swanctl"} {
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("strongSwan is missing (apt-get install strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-extra-plugins libstrongswan-standard-plugins): %v", err)
		}
	}
	c := &charon{t: t, host: h, dir: t.TempDir()}
	method, ownPub, peerPub := "psk", "", ""
	if auth.psk == "" {
		// charon finds the peer's key in pubkey/ beside swanctl.conf.
		method = "pubkey"
		ownPub = "\n            pubkeys = " + filepath.Join(c.dir, "own.pub")
		peerPub = "\n             pubkeys = peer.pem"
	}
	conf := fmt.Sprintf(`charon {
  load_modular = no
  load = random nonce openssl aes sha1 sha2 hmac kdf gcm gmp pem pkcs1 pubkey kernel-libipsec kernel-netlink socket-default vici
  install_routes = no
  retransmit_tries = 3
  plugins {
    vici { socket = unix://%[1]s/charon.vici }
    kernel-libipsec { allow_peer_ts = yes }
  }
  filelog {
    lab { path = %[1]s/charon.log
          flush_line = yes
          default = 1
          ike = 2
          chd = 4 }
  }
  syslog { daemon { default = -1 } }
}
`, c.dir)
	swanctl := fmt.Sprintf(`connections {
  gif {
    version = 1
    local_addrs = %[1]s
    remote_addrs = %[2]s
    proposals = aes128-sha1-modp3072
    rekey_time = 0
    local { auth = %[4]s
            id = %[1]s%[5]s }
    remote { auth = %[4]s
             id = %[2]s%[6]s }
    children {
      etherip {
        local_ts = %[1]s/32[97]
        remote_ts = %[2]s/32[97]
        mode = tunnel
        esp_proposals = aes128-sha256-modp3072
        start_action = none
      }
    }
  }
}
secrets {
  ike-gif { id-1 = %[1]s
            id-2 = %[2]s
            secret = "%[3]s" }
}
`, local, peer, auth.psk, method, ownPub, peerPub)
	files := map[string]string{"strongswan.conf": conf, "swanctl.conf": swanctl}
	if auth.psk == "" {
		files["private/own.pem"], files["own.pub"], files["pubkey/peer.pem"] =
			pemOf(t, auth.key), pemOf(t, &auth.key.PublicKey), pemOf(t, auth.peer)
	}
	for name, data := range files {
		path := filepath.Join(c.dir, name)
		os.MkdirAll(filepath.Dir(path), 0o700)
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// kernel-libipsec routes the peer into its TUN device; IKE must go
	// around it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := h.Run(ctx, "ip", "rule", "add", "pref", "100", "ipproto", "udp", "lookup", "main"); err != nil {
		t.Fatal(err)
	}
	var err error
	c.proc, err = h.Start("unshare", "-m", "sh", "-c",
		"mount -t tmpfs charonrun /run && STRONGSWAN_CONF="+filepath.Join(c.dir, "strongswan.conf")+" exec "+charonBin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(c.dir, "charon.log"))
			t.Logf("charon's log:\n%s", log)
		}
	})
	for i := 0; ; i++ {
		if _, err := os.Stat(filepath.Join(c.dir, "charon.vici")); err == nil {
			break
		}
		if i == 100 {
			t.Fatalf("charon did not open its vici socket:\n%s", c.proc.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.swanctl("--load-all", "--file", filepath.Join(c.dir, "swanctl.conf"))
	return c
}

// swanctl runs swanctl against this charon and returns its output.
func (c *charon) swanctl(args ...string) string {
	c.t.Helper()
	out, err := c.swanctlTry(args...)
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

func (c *charon) swanctlTry(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.host.Run(ctx, "swanctl", append(args, "--uri", "unix://"+filepath.Join(c.dir, "charon.vici"))...)
}

// newStrongSwanLab builds the two hosts and charon on b.
func newStrongSwanLab(t *testing.T, auth charonAuth) (a *netns.Host, c *charon) {
	t.Helper()
	lab := netns.NewTestLab(t, "gifike")
	a, err := lab.Host("a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := lab.Host("b")
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Link(a, "eth0", b, "eth0"); err != nil {
		t.Fatal(err)
	}
	for h, addr := range map[*netns.Host]netip.Addr{a: labA, b: labB} {
		if err := h.AddAddr("eth0", addr.String()+"/24"); err != nil {
			t.Fatal(err)
		}
	}
	return a, startCharon(t, b, labB, labA, auth)
}

// udpIn opens gif's IKE socket, port 500, in host h.
func udpIn(t *testing.T, h *netns.Host, addr netip.Addr) *net.UDPConn {
	t.Helper()
	var conn *net.UDPConn
	err := h.Do(func() (err error) {
		conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 500)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// converse sends msg to the peer until an answer comes, and returns it.
func converse(t *testing.T, conn *net.UDPConn, peer netip.Addr, msg []byte) []byte {
	t.Helper()
	buf := make([]byte, 65535)
	for try := 0; try < 4; try++ {
		if _, err := conn.WriteToUDPAddrPort(msg, netip.AddrPortFrom(peer, 500)); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _, err := conn.ReadFromUDPAddrPort(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return append([]byte(nil), buf[:n]...)
	}
	t.Fatal("no answer from the peer")
	return nil
}

// logged returns the bytes charon's log dumps after the line that ends
// with label, such as "encryption initiator key" (charon logs keys with
// chd = 4), or nil.
func (c *charon) logged(label string) []byte {
	log, err := os.ReadFile(filepath.Join(c.dir, "charon.log"))
	if err != nil {
		c.t.Fatal(err)
	}
	head := regexp.MustCompile(regexp.QuoteMeta(label) + ` => (\d+) bytes`)
	row := regexp.MustCompile(`^\s*\d+\[CHD\]\s+\d+: ((?:[0-9A-F]{2} )+)`)
	lines := strings.Split(string(log), "\n")
	for i, line := range lines {
		m := head.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		var n int
		fmt.Sscan(m[1], &n)
		var out []byte
		for _, l := range lines[i+1:] {
			r := row.FindStringSubmatch(l)
			if r == nil || len(out) >= n {
				break
			}
			b, _ := hex.DecodeString(strings.ReplaceAll(r[1], " ", ""))
			out = append(out, b...)
		}
		return out
	}
	return nil
}

// loggedSPI returns the SPI charon logs for its inbound or outbound ESP SA.
func (c *charon) loggedSPI(direction string) string {
	log, err := os.ReadFile(filepath.Join(c.dir, "charon.log"))
	if err != nil {
		c.t.Fatal(err)
	}
	m := regexp.MustCompile(`adding ` + direction + ` ESP SA\n[^\n]*SPI 0x([0-9a-f]{8})`).FindSubmatch(log)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// interopAuths are the two ways the tests authenticate: gif's Phase1Config
// and charon's side of it.
func interopAuths() map[string]struct {
	gif    func(*Phase1Config)
	charon charonAuth
} {
	const psk = "a lab-only pre-shared key"
	k := rsaKeys()
	return map[string]struct {
		gif    func(*Phase1Config)
		charon charonAuth
	}{
		"psk": {func(c *Phase1Config) { c.PSK = []byte(psk) }, charonAuth{psk: psk}},
		"rsa": {func(c *Phase1Config) { c.Key, c.PeerKey = k[0], &k[1].PublicKey }, charonAuth{key: k[1], peer: &k[0].PublicKey}},
	}
}

// labPhase1 is gif's phase 1 in the lab with ipsecctl's defaults.
func labPhase1() Phase1Config {
	return Phase1Config{Local: labA, Peer: labB, Enc: "aes", Hash: "hmac-sha1", Group: "modp3072", Lifetime: time.Hour}
}

// labQuick is gif's quick mode in the lab: the EtherIP flow between the
// hosts with ipsecctl's defaults.
func labQuick() Phase2Config {
	return Phase2Config{Local: netip.PrefixFrom(labA, 32), Remote: netip.PrefixFrom(labB, 32), IPProto: 97,
		Mode: "tunnel", Enc: "aes", Auth: "hmac-sha2-256", Group: "modp3072", Lifetime: 20 * time.Minute}
}

// TestStrongSwanInitiator: gif initiates Main Mode and Quick Mode with
// the seed's defaults, by pre-shared key and by RSA raw keys; charon
// establishes the IKE SA and derives the child SA's keys and SPIs that gif
// has.
func TestStrongSwanInitiator(t *testing.T) {
	for name, auth := range interopAuths() {
		t.Run(name, func(t *testing.T) {
			a, c := newStrongSwanLab(t, auth.charon)
			conn := udpIn(t, a, labA)
			cfg := labPhase1()
			auth.gif(&cfg)
			p1, msg, err := StartPhase1(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for msg != nil {
				if msg, err = p1.Handle(converse(t, conn, labB, msg)); err != nil {
					t.Fatalf("Main Mode: %v", err)
				}
			}
			if sas := c.swanctl("--list-sas"); !strings.Contains(sas, "ESTABLISHED") || !strings.Contains(sas, "IKEv1") {
				t.Fatalf("charon after Main Mode:\n%s", sas)
			}
			p2, msg, err := p1.StartQuick(labQuick(), 0xc0a80001)
			if err != nil {
				t.Fatal(err)
			}
			msg3, err := p2.Handle(converse(t, conn, labB, msg))
			if err != nil {
				t.Fatalf("Quick Mode: %v", err)
			}
			if _, err := conn.WriteToUDPAddrPort(msg3, netip.AddrPortFrom(labB, 500)); err != nil {
				t.Fatal(err)
			}
			c.checkChild(p2.Child, true)
		})
	}
}

// checkChild checks that charon derived the keys and SPIs of child, which
// gif made as initiator or responder. charon derives them on the last
// message of Quick Mode; its kernel-libipsec then refuses to install them
// without UDP encapsulation (NAT-T), which gif does not do yet.
func (c *charon) checkChild(child *ChildSA, gifInitiated bool) {
	t := c.t
	t.Helper()
	for i := 0; i < 50 && c.logged("integrity responder key") == nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	gifsI, gifsR := child.EncKeyOut, child.EncKeyIn // the initiator's and responder's keys, as gif has them
	authI, authR := child.AuthKeyOut, child.AuthKeyIn
	if !gifInitiated {
		gifsI, gifsR, authI, authR = gifsR, gifsI, authR, authI
	}
	for _, k := range []struct {
		label string
		gif   []byte
	}{
		{"encryption initiator key", gifsI}, {"encryption responder key", gifsR},
		{"integrity initiator key", authI}, {"integrity responder key", authR},
	} {
		if got := c.logged(k.label); !bytes.Equal(got, k.gif) || len(got) == 0 {
			t.Errorf("charon's %s is %x, gif's %x", k.label, got, k.gif)
		}
	}
	// charon's inbound SA is gif's outbound one and the other way round.
	if in, want := c.loggedSPI("inbound"), fmt.Sprintf("%08x", child.SPIOut); in != want {
		t.Errorf("charon's inbound SPI %q, gif's outbound %s", in, want)
	}
	if out, want := c.loggedSPI("outbound"), fmt.Sprintf("%08x", child.SPIIn); out != want {
		t.Errorf("charon's outbound SPI %q, gif's inbound %s", out, want)
	}
}

// TestStrongSwanResponder: charon initiates Main Mode and Quick Mode
// (swanctl --initiate) and gif answers, by pre-shared key and by RSA raw
// keys.
func TestStrongSwanResponder(t *testing.T) {
	for name, auth := range interopAuths() {
		t.Run(name, func(t *testing.T) {
			a, c := newStrongSwanLab(t, auth.charon)
			conn := udpIn(t, a, labA)
			cfg := labPhase1()
			auth.gif(&cfg)
			quick := labQuick()
			policy := func(remote, local netip.Prefix, proto uint8) (Phase2Config, bool) {
				return quick, remote == quick.Remote && local == quick.Local && proto == quick.IPProto
			}
			done := make(chan error, 1)
			go func() {
				_, err := c.swanctlTry("--initiate", "--child", "etherip", "--timeout", "20")
				done <- err
			}()
			var p1 *Phase1
			var p2 *Phase2
			buf := make([]byte, 65535)
			// charon, unable to install the SAs, sends no message 3 but an
			// Informational NO-PROPOSAL-CHOSEN; either ends the exchange.
			for p2 == nil || !p2.Done() {
				conn.SetReadDeadline(time.Now().Add(15 * time.Second))
				n, from, err := conn.ReadFromUDPAddrPort(buf)
				if err != nil {
					t.Fatalf("waiting for charon: %v", err)
				}
				raw := buf[:n]
				h, _, err := isakmp.ParseHeader(raw)
				if err != nil {
					t.Fatalf("from charon: %v", err)
				}
				var reply []byte
				switch {
				case p1 == nil:
					m, err := isakmp.Parse(raw)
					if err != nil {
						t.Fatal(err)
					}
					p1, reply, err = AnswerPhase1(cfg, m)
					if err != nil {
						t.Fatalf("Main Mode message 1: %v", err)
					}
				case h.Exchange == isakmp.ExchangeMain:
					if reply, err = p1.Handle(raw); err != nil {
						t.Fatalf("Main Mode: %v", err)
					}
				case h.Exchange == isakmp.ExchangeQuick && p2 == nil:
					if p2, reply, err = p1.AnswerQuick(raw, policy, 0xc0a80002); err != nil {
						t.Fatalf("Quick Mode message 1: %v", err)
					}
				case h.Exchange == isakmp.ExchangeQuick:
					if reply, err = p2.Handle(raw); err != nil {
						t.Fatalf("Quick Mode: %v", err)
					}
				case h.Exchange == isakmp.ExchangeInformational && p2 != nil:
					c.checkChild(p2.child(), false)
					<-done
					return
				}
				if reply != nil {
					if _, err := conn.WriteToUDPAddrPort(reply, from); err != nil {
						t.Fatal(err)
					}
				}
			}
			c.checkChild(p2.Child, false)
			<-done // swanctl reports the install's failure; its log was checked
		})
	}
}
