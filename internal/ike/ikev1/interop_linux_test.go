package ikev1

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"gif/internal/ike/isakmp"
	"gif/internal/ipsec"
	"gif/internal/netns"
	"gif/internal/netns/netnstest"
)

// The strongSwan lab: gif's side a (192.0.2.1) and charon on b
// (192.0.2.2), joined by a veth.
var (
	labA = netip.MustParseAddr("192.0.2.1")
	labB = netip.MustParseAddr("192.0.2.2")
)

// charon wraps netnstest.Charon for a test: failures are fatal, and its log
// is shown when the test fails.
type charon struct {
	*netnstest.Charon
	t *testing.T
}

func startCharon(t *testing.T, h *netns.Host, local, peer netip.Addr, auth netnstest.CharonAuth) *charon {
	t.Helper()
	c, err := netnstest.StartCharon(h, t.TempDir(), local, peer, auth)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("charon's log:\n%s", c.Log())
		}
	})
	return &charon{c, t}
}

func (c *charon) swanctl(args ...string) string {
	c.t.Helper()
	out, err := c.Swanctl(args...)
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

// newStrongSwanLab builds the two hosts and charon on b.
func newStrongSwanLab(t *testing.T, auth netnstest.CharonAuth) (a *netns.Host, c *charon) {
	t.Helper()
	lab := netnstest.NewLab(t, "gifike")
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

// interopAuths are the two ways the tests authenticate: gif's Phase1Config
// and charon's side of it.
func interopAuths() map[string]struct {
	gif    func(*Phase1Config)
	charon netnstest.CharonAuth
} {
	const psk = "a lab-only pre-shared key"
	k := rsaKeys()
	return map[string]struct {
		gif    func(*Phase1Config)
		charon netnstest.CharonAuth
	}{
		"psk": {func(c *Phase1Config) { c.PSK = []byte(psk) }, netnstest.CharonAuth{PSK: psk}},
		"rsa": {func(c *Phase1Config) { c.Key, c.PeerKey = k[0], &k[1].PublicKey }, netnstest.CharonAuth{Key: k[1], Peer: &k[0].PublicKey}},
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
		Mode: ipsec.Tunnel, Enc: "aes", Auth: "hmac-sha2-256", Group: "modp3072", Lifetime: 20 * time.Minute}
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
// without UDP encapsulation, since these exchanges leave NAT traversal off
// (the daemon's test, TestStrongSwanDaemon, has it).
func (c *charon) checkChild(child *ChildSA, gifInitiated bool) {
	t := c.t
	t.Helper()
	for i := 0; i < 50 && c.Logged("integrity responder key") == nil; i++ {
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
		if got := c.Logged(k.label); !bytes.Equal(got, k.gif) || len(got) == 0 {
			t.Errorf("charon's %s is %x, gif's %x", k.label, got, k.gif)
		}
	}
	// charon's inbound SA is gif's outbound one and the other way round.
	if in, want := c.LoggedSPI("inbound"), fmt.Sprintf("%08x", child.SPIOut); in != want {
		t.Errorf("charon's inbound SPI %q, gif's outbound %s", in, want)
	}
	if out, want := c.LoggedSPI("outbound"), fmt.Sprintf("%08x", child.SPIIn); out != want {
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
				_, err := c.Swanctl("--initiate", "--child", "etherip", "--timeout", "20")
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
