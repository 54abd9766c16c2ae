package main

import (
	"bytes"
	"net/netip"
	"testing"

	"gif/internal/conf/ipsecconf"
	"gif/internal/ipsec"
	"gif/internal/ipsec/policy"
)

func TestESPPacketLen(t *testing.T) {
	// A 1420-byte packet: 1422 with the trailer, padded to 1424 for both
	// block sizes; 20 IPv4 + 8 ESP + IV + 1424 + 16 ICV.
	if got := espPacketLen(1420, espDefault); got != 20+8+16+1424+16 {
		t.Errorf("aes-cbc: %d, want 1484", got)
	}
	if got := espPacketLen(1420, espGCM); got != 20+8+8+1424+16 {
		t.Errorf("aes-128-gcm: %d, want 1476", got)
	}
	// 1423 + 2 = 1425 pads to 1440 for CBC, 1428 for GCM.
	if got := espPacketLen(1423, espDefault); got != 20+8+16+1440+16 {
		t.Errorf("aes-cbc, odd length: %d, want 1500", got)
	}
	if got := espPacketLen(1423, espGCM); got != 20+8+8+1428+16 {
		t.Errorf("aes-128-gcm, odd length: %d, want 1480", got)
	}
}

// TestIPsecConf parses what each host loads with gif's own ipsec.conf
// parser: the two hosts must agree on SPIs and keys, direction by
// direction.
func TestIPsecConf(t *testing.T) {
	for _, s := range []espSuite{espGCM, espDefault} {
		k := newESPKeys(s)
		a, err := ipsecconf.Parse("a", []byte(ipsecConf(s, underA4, underB4, "ipencap", espSPIs, k, false)), nil)
		if err != nil {
			t.Fatalf("%s: a: %v", s.Name, err)
		}
		b, err := ipsecconf.Parse("b", []byte(ipsecConf(s, underB4, underA4, "ipencap", espSPIs, k, true)), nil)
		if err != nil {
			t.Fatalf("%s: b: %v", s.Name, err)
		}
		if len(a.SAs) != 2 || len(b.SAs) != 2 {
			t.Fatalf("%s: %d and %d SAs, want 2 each", s.Name, len(a.SAs), len(b.SAs))
		}
		find := func(sas []policy.SA, src string) policy.SA {
			for _, sa := range sas {
				if sa.Src == netip.MustParseAddr(src) {
					return sa
				}
			}
			t.Fatalf("%s: no SA from %s", s.Name, src)
			return policy.SA{}
		}
		for _, src := range []string{underA4, underB4} {
			x, y := find(a.SAs, src), find(b.SAs, src)
			if x.SPI != y.SPI || !bytes.Equal(x.EncKey, y.EncKey) || !bytes.Equal(x.AuthKey, y.AuthKey) {
				t.Errorf("%s: the SA from %s differs between the hosts: %+v and %+v", s.Name, src, x, y)
			}
		}
		out := find(a.SAs, underA4)
		if out.SPI != espSPIs[0] || out.Mode != ipsec.Tunnel || len(out.EncKey) != s.EncKeyLen || len(out.AuthKey) != s.AuthKeyLen {
			t.Errorf("%s: SA a to b: %+v", s.Name, out)
		}
		wantEnc, wantAuth := "aes-128-gcm", ""
		if s.Name == espDefault.Name {
			wantEnc, wantAuth = "aes", "hmac-sha2-256"
		}
		if out.Enc != wantEnc || out.Auth != wantAuth {
			t.Errorf("%s: enc %q auth %q, want %q %q", s.Name, out.Enc, out.Auth, wantEnc, wantAuth)
		}
		if bytes.Equal(k.enc[0], k.enc[1]) {
			t.Errorf("%s: both directions have the same key", s.Name)
		}
		for _, f := range append(a.Flows, b.Flows...) {
			if f.IPProto != 4 || f.Type != policy.Require {
				t.Errorf("%s: flow %+v, want IP protocol 4, require", s.Name, f)
			}
		}
	}
}
