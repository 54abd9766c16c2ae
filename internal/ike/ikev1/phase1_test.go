package ikev1

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"gif/internal/ike/isakmp"
)

var (
	bridge1 = netip.MustParseAddr("1.2.3.4")
	bridge2 = netip.MustParseAddr("4.3.2.1")
)

// rsaKeys are two 2048-bit keys, made once for the package's tests.
var rsaKeys = sync.OnceValue(func() [2]*rsa.PrivateKey {
	var k [2]*rsa.PrivateKey
	for i := range k {
		var err error
		if k[i], err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	}
	return k
})

// seedConfigs are the phase-1 configurations of the seed's two bridges
// with ipsecctl's defaults, by pre-shared key or by RSA keys.
func seedConfigs(psk bool) (b1, b2 Phase1Config) {
	b1 = Phase1Config{Local: bridge1, Peer: bridge2, Enc: "aes", Hash: "hmac-sha1", Group: "modp3072", Lifetime: time.Hour}
	b2 = b1
	b2.Local, b2.Peer = bridge2, bridge1
	if psk {
		b1.PSK, b2.PSK = []byte("seed secret"), []byte("seed secret")
		return b1, b2
	}
	k := rsaKeys()
	b1.Key, b1.PeerKey = k[0], &k[1].PublicKey
	b2.Key, b2.PeerKey = k[1], &k[0].PublicKey
	return b1, b2
}

// runMainMode runs a Main Mode between initiator i and responder r in
// memory, and returns both sides; the error is the first side's that
// failed.
func runMainMode(t *testing.T, i, r Phase1Config) (ini, resp *Phase1, err error) {
	t.Helper()
	ini, msg, err := StartPhase1(i)
	if err != nil {
		t.Fatal(err)
	}
	first, err := isakmp.Parse(msg)
	if err != nil {
		t.Fatalf("message 1: %v", err)
	}
	if resp, msg, err = AnswerPhase1(r, first); err != nil {
		return ini, nil, err
	}
	// Messages 2, 4 and 6 go to the initiator, 3 and 5 to the responder.
	sides := []*Phase1{ini, resp}
	for k := 0; msg != nil; k++ {
		if msg, err = sides[k%2].Handle(msg); err != nil {
			return ini, resp, err
		}
	}
	return ini, resp, nil
}

// begin runs a Main Mode's first two messages and returns both sides and
// message 2.
func begin(tb testing.TB, i, r Phase1Config) (ini, resp *Phase1, msg1, msg2 []byte) {
	tb.Helper()
	ini, msg1, err := StartPhase1(i)
	if err != nil {
		tb.Fatal(err)
	}
	first, err := isakmp.Parse(msg1)
	if err != nil {
		tb.Fatalf("message 1: %v", err)
	}
	if resp, msg2, err = AnswerPhase1(r, first); err != nil {
		tb.Fatalf("message 2: %v", err)
	}
	return ini, resp, msg1, msg2
}

func TestMainMode(t *testing.T) {
	for _, psk := range []bool{true, false} {
		b1, b2 := seedConfigs(psk)
		ini, resp, err := runMainMode(t, b1, b2)
		if err != nil {
			t.Fatalf("psk %v: %v", psk, err)
		}
		if !ini.Done() || !resp.Done() {
			t.Fatalf("psk %v: done %v and %v", psk, ini.Done(), resp.Done())
		}
		if !bytes.Equal(ini.Keys.D, resp.Keys.D) || !bytes.Equal(ini.Keys.A, resp.Keys.A) || !bytes.Equal(ini.LastBlock(), resp.LastBlock()) {
			t.Errorf("psk %v: the sides' keys or IVs differ", psk)
		}
		for _, c := range []struct {
			side *Phase1
			peer netip.Addr
		}{{ini, bridge2}, {resp, bridge1}} {
			if p, err := c.side.PeerID.Prefix(); err != nil || p.Addr() != c.peer {
				t.Errorf("psk %v: peer ID %v, %v; want %s", psk, p, err, c.peer)
			}
		}
		if ini.Lifetime != time.Hour || ini.keyLen != 16 || ini.group.Name != "modp3072" || ini.hash.Name != "hmac-sha1" {
			t.Errorf("psk %v: agreed %v, %d-byte key, %s, %s", psk, ini.Lifetime, ini.keyLen, ini.group.Name, ini.hash.Name)
		}
	}
}

// TestInitialContact: the side that says it has no other SA with the peer
// says so in its message 5 or 6.
func TestInitialContact(t *testing.T) {
	for _, initiatorSays := range []bool{true, false} {
		b1, b2 := seedConfigs(false)
		b1.InitialContact, b2.InitialContact = initiatorSays, !initiatorSays
		ini, resp, err := runMainMode(t, b1, b2)
		if err != nil {
			t.Fatal(err)
		}
		if resp.PeerInitialContact != initiatorSays || ini.PeerInitialContact == initiatorSays {
			t.Errorf("initiator says %v: the responder heard %v, the initiator %v", initiatorSays, resp.PeerInitialContact, ini.PeerInitialContact)
		}
	}
}

// TestMainModeChoice: the responder takes a shorter lifetime and, with
// plain aes, a longer key than 128 bits.
func TestMainModeChoice(t *testing.T) {
	b1, b2 := seedConfigs(true)
	b1.Enc, b1.Lifetime = "aes-256", 10*time.Minute
	ini, resp, err := runMainMode(t, b1, b2)
	if err != nil {
		t.Fatal(err)
	}
	if resp.keyLen != 32 || resp.Lifetime != 10*time.Minute || ini.Lifetime != 10*time.Minute {
		t.Errorf("responder took a %d-byte key for %v, initiator %v", resp.keyLen, resp.Lifetime, ini.Lifetime)
	}
}

func TestMainModeFailures(t *testing.T) {
	rsaKeys := rsaKeys()
	for _, c := range []struct {
		name   string
		change func(b1, b2 *Phase1Config)
		notify isakmp.NotifyType
	}{
		{"another group", func(b1, b2 *Phase1Config) { b2.Group = "modp2048" }, isakmp.NotifyNoProposalChosen},
		{"another hash", func(b1, b2 *Phase1Config) { b1.Hash = "hmac-sha2-256" }, isakmp.NotifyNoProposalChosen},
		{"aes-256 only", func(b1, b2 *Phase1Config) { b2.Enc = "aes-256" }, isakmp.NotifyNoProposalChosen},
		{"psk against rsa", func(b1, b2 *Phase1Config) { b2.PSK = nil; b2.Key, b2.PeerKey = rsaKeys[1], &rsaKeys[0].PublicKey }, isakmp.NotifyNoProposalChosen},
		{"another psk", func(b1, b2 *Phase1Config) { b2.PSK = []byte("guess") }, 0},
		{"another peer", func(b1, b2 *Phase1Config) { b2.Peer = netip.MustParseAddr("192.0.2.7") }, isakmp.NotifyInvalidIDInformation},
	} {
		t.Run(c.name, func(t *testing.T) {
			b1, b2 := seedConfigs(true)
			c.change(&b1, &b2)
			_, _, err := runMainMode(t, b1, b2)
			var f *Failure
			if !errors.As(err, &f) {
				t.Fatalf("Main Mode = %v, want a *Failure", err)
			}
			if c.notify != 0 && f.Notify != c.notify {
				t.Errorf("Main Mode failed with %v, want %v", err, c.notify)
			}
		})
	}
	// A signature by another key than the one the peer has.
	b1, b2 := seedConfigs(false)
	b2.PeerKey = &rsaKeys[1].PublicKey
	if _, _, err := runMainMode(t, b1, b2); err == nil || !errors.As(err, new(*Failure)) || err.(*Failure).Notify != isakmp.NotifyInvalidSignature {
		t.Errorf("Main Mode with the wrong public key = %v, want INVALID-SIGNATURE", err)
	}
}

// TestMainModeRepeat: a message that comes again is answered with the
// answer it had; one of another exchange is refused.
func TestMainModeRepeat(t *testing.T) {
	b1, b2 := seedConfigs(true)
	ini, resp, _, msg2 := begin(t, b1, b2)
	msg3, err := ini.Handle(msg2)
	if err != nil {
		t.Fatal(err)
	}
	msg4, err := resp.Handle(msg3)
	if err != nil {
		t.Fatal(err)
	}
	again, err := resp.Handle(msg3)
	if err != nil || !bytes.Equal(again, msg4) {
		t.Errorf("message 3 again: %v; answered the same: %v", err, bytes.Equal(again, msg4))
	}
	other := bytes.Clone(msg3)
	other[0] ^= 0xff // another initiator cookie
	if _, err := resp.Handle(other); err == nil {
		t.Error("a message of another exchange was taken")
	}
	// Message 4 is in the clear: a changed nonce shows when the keys it
	// made fail to authenticate.
	tampered := bytes.Clone(msg4)
	tampered[len(tampered)-1] ^= 1
	msg5, err := ini.Handle(tampered)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := resp.Handle(msg5); !errors.As(err, new(*Failure)) {
		t.Errorf("message 5 after a changed message 4: %v, want a *Failure", err)
	}
}

// TestMainModeNamedIDs: srcid and dstid as names: each side says its name
// and checks the other's, by pre-shared key and by RSA keys; a peer that
// names itself otherwise is refused.
func TestMainModeNamedIDs(t *testing.T) {
	for _, psk := range []bool{true, false} {
		for _, names := range [][2]string{{"bridge1.example", "bridge2.example"}, {"admin@bridge1.example", "bridge2.example"}} {
			b1, b2 := seedConfigs(psk)
			id1, id2 := isakmp.NamedID(names[0]), isakmp.NamedID(names[1])
			b1.LocalID, b1.PeerID, b2.LocalID, b2.PeerID = &id1, &id2, &id2, &id1
			ini, resp, err := runMainMode(t, b1, b2)
			if err != nil {
				t.Fatalf("psk %v, %v: %v", psk, names, err)
			}
			if string(resp.PeerID.Data) != names[0] || ini.PeerID.Type != isakmp.IDFQDN {
				t.Errorf("psk %v: the responder knows the initiator as %v %q", psk, resp.PeerID.Type, resp.PeerID.Data)
			}
			other := isakmp.NamedID("intruder.example")
			b2.PeerID = &other
			if _, _, err := runMainMode(t, b1, b2); !errors.As(err, new(*Failure)) || err.(*Failure).Notify != isakmp.NotifyInvalidIDInformation {
				t.Errorf("psk %v: a peer with another name: %v, want INVALID-ID-INFORMATION", psk, err)
			}
		}
	}
}
