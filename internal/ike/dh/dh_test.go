package dh

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
	"testing"
)

// group2Hex is the 1024-bit MODP prime as RFC 2409 §6.2 (and RFC 7296
// Appendix B.2) print it.
const group2Hex = `FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1
29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD
EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245
E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED
EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE65381
FFFFFFFF FFFFFFFF`

func TestMODPPrimes(t *testing.T) {
	want, err := hex.DecodeString(strings.Join(strings.Fields(group2Hex), ""))
	if err != nil {
		t.Fatal(err)
	}
	if got := ByName("modp1024").modp.prime().Bytes(); !bytes.Equal(got, want) {
		t.Errorf("modp1024 prime = %X, want RFC 2409's %X", got, want)
	}
	// The tails of RFC 3526's primes, before the last 64 one bits.
	for name, tail := range map[string]string{"modp2048": "15728E5A8AACAA68", "modp3072": "4B82D120A93AD2CA"} {
		p := ByName(name).modp.prime().Text(16)
		if !strings.HasSuffix(strings.ToUpper(p), tail+"FFFFFFFFFFFFFFFF") {
			t.Errorf("%s prime ends with %s, want %s then 64 one bits", name, p[len(p)-32:], tail)
		}
	}
	// Each prime is a safe prime of its size: a wrong digit of pi would
	// make it one with negligible probability.
	for _, g := range groups {
		if g.modp == nil {
			continue
		}
		p := g.modp.prime()
		q := new(big.Int).Rsh(p, 1)
		if p.BitLen() != g.modp.bits || !p.ProbablyPrime(0) || !q.ProbablyPrime(0) {
			t.Errorf("%s: %d-bit prime, prime %v, (p-1)/2 prime %v", g.Name, p.BitLen(), p.ProbablyPrime(0), q.ProbablyPrime(0))
		}
	}
}

func TestAgreement(t *testing.T) {
	for _, g := range groups {
		a, err := g.Generate(nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := g.Generate(nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Public()) != g.PublicLen() {
			t.Errorf("%s: public value of %d bytes, want %d", g.Name, len(a.Public()), g.PublicLen())
		}
		ab, err := a.Shared(b.Public())
		if err != nil {
			t.Fatalf("%s: %v", g.Name, err)
		}
		ba, err := b.Shared(a.Public())
		if err != nil {
			t.Fatalf("%s: %v", g.Name, err)
		}
		wantLen := g.PublicLen()
		if g.modp == nil {
			wantLen = g.coordLen
		}
		if !bytes.Equal(ab, ba) || len(ab) != wantLen {
			t.Errorf("%s: shared secrets differ or are not %d bytes: %x, %x", g.Name, wantLen, ab, ba)
		}
		if ByID(g.ID) != g {
			t.Errorf("ByID(%d) is not %s", g.ID, g.Name)
		}
	}
	if ByID(1) != nil || ByName("modp768") != nil {
		t.Error("the 768-bit group is offered")
	}
}

func TestBadPublic(t *testing.T) {
	m := ByName("modp2048")
	k, err := m.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	p := m.modp.prime()
	size := m.PublicLen()
	for name, v := range map[string][]byte{
		"0":     make([]byte, size),
		"1":     pad(big.NewInt(1), size),
		"p-1":   pad(new(big.Int).Sub(p, big.NewInt(1)), size),
		"p":     pad(p, size),
		"short": k.Public()[1:],
	} {
		if _, err := k.Shared(v); !errors.Is(err, ErrPublic) {
			t.Errorf("modp2048 Shared(%s) = %v, want ErrPublic", name, err)
		}
	}
	e := ByName("ecp256")
	ek, err := e.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	off := bytes.Clone(ek.Public())
	off[len(off)-1] ^= 1 // Y no longer on the curve
	for name, v := range map[string][]byte{"off the curve": off, "short": ek.Public()[:63], "zero": make([]byte, 64)} {
		if _, err := ek.Shared(v); !errors.Is(err, ErrPublic) {
			t.Errorf("ecp256 Shared(%s) = %v, want ErrPublic", name, err)
		}
	}
}

func BenchmarkGenerateMODP3072(b *testing.B) {
	g := ByName("modp3072")
	g.modp.prime()
	for b.Loop() {
		if _, err := g.Generate(nil); err != nil {
			b.Fatal(err)
		}
	}
}
