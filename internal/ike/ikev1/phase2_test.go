package ikev1

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	"gif/internal/ike/isakmp"
	"gif/internal/ipsec"
)

// seedQuick is the seed's phase 2 on bridge1 with ipsecctl's defaults:
// ESP aes-128 and hmac-sha2-256, PFS with modp3072, tunnel mode, the
// EtherIP packets between the bridges.
func seedQuick() Phase2Config {
	return Phase2Config{
		Local: netip.PrefixFrom(bridge1, 32), Remote: netip.PrefixFrom(bridge2, 32), IPProto: 97,
		Mode: ipsec.Tunnel, Enc: "aes", Auth: "hmac-sha2-256", Group: "modp3072", Lifetime: 20 * time.Minute,
	}
}

// mirror is a Quick Mode configuration seen from the other side.
func mirror(c Phase2Config) Phase2Config {
	c.Local, c.Remote = c.Remote, c.Local
	return c
}

// onlyFlow is a responder's policy that has one flow, cfg.
func onlyFlow(cfg Phase2Config) QuickPolicy {
	return func(remote, local netip.Prefix, proto uint8) (Phase2Config, bool) {
		return cfg, remote == cfg.Remote && local == cfg.Local && proto == cfg.IPProto
	}
}

// runQuickMode runs a Quick Mode under a fresh Main Mode of the seed's
// bridges: bridge1 initiates with i, bridge2 answers by its policy.
func runQuickMode(t *testing.T, i Phase2Config, policy QuickPolicy) (qi, qr *Phase2, err error) {
	t.Helper()
	b1, b2 := seedConfigs(true)
	ini, resp, err := runMainMode(t, b1, b2)
	if err != nil {
		t.Fatal(err)
	}
	qi, msg1, err := ini.StartQuick(i, 0x1000)
	if err != nil {
		t.Fatal(err)
	}
	qr, msg2, err := resp.AnswerQuick(msg1, policy, 0x2000)
	if err != nil {
		return qi, nil, err
	}
	msg3, err := qi.Handle(msg2)
	if err != nil {
		return qi, qr, err
	}
	if again, err := qr.Handle(msg2); err == nil || again != nil {
		t.Errorf("the responder took its own message 2: %v", err)
	}
	if again, err := qr.Handle(msg1); err != nil || !bytes.Equal(again, msg2) {
		t.Errorf("message 1 again: %v; answered with message 2: %v", err, bytes.Equal(again, msg2))
	}
	bad := bytes.Clone(msg3)
	bad[len(bad)-1] ^= 1 // the padding or HASH(3) garbled
	if _, err := qr.Handle(bad); err == nil {
		t.Error("the responder took a garbled message 3")
	}
	if _, err := qr.Handle(msg3); err != nil {
		return qi, qr, err
	}
	return qi, qr, nil
}

func TestQuickMode(t *testing.T) {
	for _, c := range []struct {
		name            string
		change          func(*Phase2Config)
		enc, auth       string
		encLen, authLen int
	}{
		{"seed defaults", func(*Phase2Config) {}, "aes", "hmac-sha2-256", 16, 32},
		{"no PFS, aes-256, sha2-512, transport", func(c *Phase2Config) {
			c.Group, c.Enc, c.Auth, c.Mode = "none", "aes-256", "hmac-sha2-512", ipsec.Transport
		}, "aes", "hmac-sha2-512", 32, 64},
		{"aes-128-gcm, ecp256", func(c *Phase2Config) { c.Enc, c.Auth, c.Group = "aes-128-gcm", "", "ecp256" }, "aes-128-gcm", "", 20, 0},
		{"aes-256-ctr, sha1, subnets", func(c *Phase2Config) {
			c.Enc, c.Auth = "aes-256-ctr", "hmac-sha1"
			c.Local, c.Remote, c.IPProto = netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.0/24"), 0
		}, "aesctr", "hmac-sha1", 36, 20},
		{"null", func(c *Phase2Config) { c.Enc = "null" }, "null", "hmac-sha2-256", 0, 32},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := seedQuick()
			c.change(&cfg)
			qi, qr, err := runQuickMode(t, cfg, onlyFlow(mirror(cfg)))
			if err != nil {
				t.Fatal(err)
			}
			i, r := qi.Child, qr.Child
			if i == nil || r == nil {
				t.Fatalf("done: %v, %v", qi.Done(), qr.Done())
			}
			if i.SPIIn != 0x1000 || i.SPIOut != 0x2000 || r.SPIIn != 0x2000 || r.SPIOut != 0x1000 {
				t.Errorf("SPIs: initiator in %x out %x, responder in %x out %x", i.SPIIn, i.SPIOut, r.SPIIn, r.SPIOut)
			}
			if i.Enc != c.enc || i.Auth != c.auth || len(i.EncKeyOut) != c.encLen || len(i.AuthKeyOut) != c.authLen {
				t.Errorf("initiator: %s %d bytes, %s %d bytes; want %s %d, %s %d", i.Enc, len(i.EncKeyOut), i.Auth, len(i.AuthKeyOut), c.enc, c.encLen, c.auth, c.authLen)
			}
			if !bytes.Equal(i.EncKeyOut, r.EncKeyIn) || !bytes.Equal(i.AuthKeyOut, r.AuthKeyIn) ||
				!bytes.Equal(i.EncKeyIn, r.EncKeyOut) || !bytes.Equal(i.AuthKeyIn, r.AuthKeyOut) {
				t.Error("the keys of one direction differ between the sides")
			}
			if c.encLen > 0 && bytes.Equal(i.EncKeyIn, i.EncKeyOut) {
				t.Error("both directions have the same key")
			}
			if i.Local != cfg.Local || r.Local != cfg.Remote || i.Mode != cfg.Mode || i.Lifetime != 20*time.Minute {
				t.Errorf("flows: %v and %v, mode %s, lifetime %v", i.Local, r.Local, i.Mode, i.Lifetime)
			}
		})
	}
}

func TestQuickModeFailures(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(i, r *Phase2Config)
		notify isakmp.NotifyType
	}{
		{"another protocol", func(i, r *Phase2Config) { i.IPProto = 4 }, isakmp.NotifyInvalidIDInformation},
		{"another network", func(i, r *Phase2Config) { i.Local = netip.MustParsePrefix("1.2.3.0/24") }, isakmp.NotifyInvalidIDInformation},
		{"PFS against none", func(i, r *Phase2Config) { r.Group = "none" }, isakmp.NotifyNoProposalChosen},
		{"another PFS group", func(i, r *Phase2Config) { r.Group = "modp2048" }, isakmp.NotifyNoProposalChosen},
		{"aes-256 against aes", func(i, r *Phase2Config) { i.Enc = "aes-256" }, isakmp.NotifyNoProposalChosen},
		{"another auth", func(i, r *Phase2Config) { r.Auth = "hmac-sha1" }, isakmp.NotifyNoProposalChosen},
		{"transport against tunnel", func(i, r *Phase2Config) { i.Mode = ipsec.Transport }, isakmp.NotifyNoProposalChosen},
	} {
		t.Run(c.name, func(t *testing.T) {
			i := seedQuick()
			r := mirror(i)
			c.change(&i, &r)
			policy := func(remote, local netip.Prefix, proto uint8) (Phase2Config, bool) {
				return r, remote == r.Remote && local == r.Local && proto == r.IPProto
			}
			_, _, err := runQuickMode(t, i, policy)
			var f *Failure
			if !errors.As(err, &f) || f.Notify != c.notify {
				t.Errorf("Quick Mode = %v, want %v", err, c.notify)
			}
		})
	}
}

// TestInformational: a delete sent under one side's ISAKMP SA opens on the
// other's; a changed one does not.
func TestInformational(t *testing.T) {
	b1, b2 := seedConfigs(true)
	ini, resp, err := runMainMode(t, b1, b2)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := ini.Informational(DeleteESP(0x1000, 0x1001), ini.InitialContact())
	if err != nil {
		t.Fatal(err)
	}
	pl, err := resp.OpenInformational(msg)
	if err != nil || len(pl) != 2 || pl[0].Type != isakmp.PayloadDelete || pl[1].Type != isakmp.PayloadNotify {
		t.Fatalf("OpenInformational = %v, %v", pl, err)
	}
	d, err := isakmp.ParseDelete(pl[0].Body)
	if err != nil || d.Protocol != isakmp.ProtoESP || len(d.SPIs) != 2 || !bytes.Equal(d.SPIs[1], []byte{0, 0, 0x10, 0x01}) {
		t.Errorf("delete = %+v, %v", d, err)
	}
	bad := bytes.Clone(msg)
	bad[len(bad)-20] ^= 1
	if _, err := resp.OpenInformational(bad); err == nil {
		t.Error("a changed informational message opened")
	}
	self, err := isakmp.ParseDelete(resp.DeleteSelf().Body)
	if err != nil || self.Protocol != isakmp.ProtoISAKMP || !bytes.Equal(self.SPIs[0][:8], ini.ICookie[:]) {
		t.Errorf("DeleteSelf = %+v, %v", self, err)
	}
}

// TestNATTraversal: both sides offer NAT traversal; with a NAT that
// changed the initiator's port, both find it, float, and agree on ESP in
// UDP; with none, or with one side not offering it, nothing changes.
func TestNATTraversal(t *testing.T) {
	for _, c := range []struct {
		name         string
		natt1, natt2 bool
		peerPortAtB2 uint16 // the initiator's port as bridge2 sees it
		float        bool
	}{
		{"no NAT", true, true, 500, false},
		{"NAT", true, true, 1024, true},
		{"NAT, the responder does not offer it", true, false, 1024, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			b1, b2 := seedConfigs(true)
			b1.NATT, b2.NATT, b2.PeerPort = c.natt1, c.natt2, c.peerPortAtB2
			ini, resp, err := runMainMode(t, b1, b2)
			if err != nil {
				t.Fatal(err)
			}
			if ini.Floats() != c.float || resp.Floats() != c.float {
				t.Fatalf("floats: initiator %v, responder %v; want %v", ini.Floats(), resp.Floats(), c.float)
			}
			// The NAT changed the initiator's port: it is behind it.
			if ini.BehindNAT != c.float || resp.BehindNAT {
				t.Errorf("behind the NAT: initiator %v, responder %v; want %v, false", ini.BehindNAT, resp.BehindNAT, c.float)
			}
			q := seedQuick()
			qi, msg1, err := ini.StartQuick(q, 0x1000)
			if err != nil {
				t.Fatal(err)
			}
			qr, msg2, err := resp.AnswerQuick(msg1, onlyFlow(mirror(q)), 0x2000)
			if err != nil {
				t.Fatal(err)
			}
			msg3, err := qi.Handle(msg2)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := qr.Handle(msg3); err != nil {
				t.Fatal(err)
			}
			if qi.Child.UDPEncap != c.float || qr.Child.UDPEncap != c.float {
				t.Errorf("ESP in UDP: initiator %v, responder %v; want %v", qi.Child.UDPEncap, qr.Child.UDPEncap, c.float)
			}
		})
	}
}
