// Package dh is the Diffie-Hellman of IKE, for any IKE version: the MODP
// groups of RFC 2409 and RFC 3526 over math/big and the ECP groups of RFC
// 5903 over crypto/ecdh, with the encodings IKE puts in its KE payloads
// and uses for the shared secret.
package dh

import (
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"sync"
)

// ErrPublic means a peer's public value is not one of the group: of the
// wrong length, out of range, or not on the curve.
var ErrPublic = errors.New("not a public value of the group")

// Group is a Diffie-Hellman group, by its number in IANA's registry of IKE
// groups (the same for IKEv1 and IKEv2).
type Group struct {
	ID   uint16
	Name string // as ipsec.conf names it: modp3072, ecp256, ...
	modp *modp
	ec   ecdh.Curve
	// coordLen is the length of an ECP coordinate.
	coordLen int
}

// groups are the groups gif offers; none weaker than 1024-bit MODP.
var groups = []*Group{
	{ID: 2, Name: "modp1024", modp: newMODP(1024, 129093, 256)},
	{ID: 5, Name: "modp1536", modp: newMODP(1536, 741804, 256)},
	{ID: 14, Name: "modp2048", modp: newMODP(2048, 124476, 256)},
	{ID: 15, Name: "modp3072", modp: newMODP(3072, 1690314, 256)},
	{ID: 16, Name: "modp4096", modp: newMODP(4096, 240904, 384)},
	{ID: 17, Name: "modp6144", modp: newMODP(6144, 929484, 384)},
	{ID: 18, Name: "modp8192", modp: newMODP(8192, 4743158, 512)},
	{ID: 19, Name: "ecp256", ec: ecdh.P256(), coordLen: 32},
	{ID: 20, Name: "ecp384", ec: ecdh.P384(), coordLen: 48},
	{ID: 21, Name: "ecp521", ec: ecdh.P521(), coordLen: 66},
}

// ByID returns the group numbered id, or nil.
func ByID(id uint16) *Group {
	i := slices.IndexFunc(groups, func(g *Group) bool { return g.ID == id })
	if i < 0 {
		return nil
	}
	return groups[i]
}

// ByName returns the group called name, or nil.
func ByName(name string) *Group {
	i := slices.IndexFunc(groups, func(g *Group) bool { return g.Name == name })
	if i < 0 {
		return nil
	}
	return groups[i]
}

// PublicLen is the length of a public value of the group: the prime's
// length for MODP, two coordinates for ECP.
func (g *Group) PublicLen() int {
	if g.modp != nil {
		return g.modp.size()
	}
	return 2 * g.coordLen
}

// Private is one side's secret of an exchange.
type Private struct {
	g      *Group
	x      *big.Int // MODP
	ec     *ecdh.PrivateKey
	public []byte
}

// Generate makes a new secret and its public value, with randomness from
// r (crypto/rand when nil).
func (g *Group) Generate(r io.Reader) (*Private, error) {
	if r == nil {
		r = rand.Reader
	}
	k := &Private{g: g}
	if g.modp != nil {
		x, err := rand.Int(r, g.modp.maxExp)
		if err != nil {
			return nil, fmt.Errorf("%s: secret exponent: %w", g.Name, err)
		}
		k.x = x.Add(x, big.NewInt(2)) // never 0 or 1
		k.public = pad(new(big.Int).Exp(big.NewInt(2), k.x, g.modp.prime()), g.modp.size())
		return k, nil
	}
	ec, err := g.ec.GenerateKey(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", g.Name, err)
	}
	return g.fromECDH(ec), nil
}

func (g *Group) fromECDH(ec *ecdh.PrivateKey) *Private {
	// crypto/ecdh writes an uncompressed point, 0x04 X Y; IKE sends X Y
	// (RFC 5903 §7).
	return &Private{g: g, ec: ec, public: ec.PublicKey().Bytes()[1:]}
}

// Group returns the group of k.
func (k *Private) Group() *Group { return k.g }

// Public returns the public value, as a KE payload carries it.
func (k *Private) Public() []byte { return k.public }

// Shared returns the shared secret with the peer whose public value is
// peer: g^xy padded to the prime's length for MODP, the x coordinate for
// ECP (RFC 5903 §7). A value that is not of the group is refused, since it
// could leak bits of the secret (RFC 2785).
func (k *Private) Shared(peer []byte) ([]byte, error) {
	g := k.g
	if len(peer) != g.PublicLen() {
		return nil, fmt.Errorf("%s: public value of %d bytes, want %d: %w", g.Name, len(peer), g.PublicLen(), ErrPublic)
	}
	if g.modp != nil {
		p := g.modp.prime()
		y := new(big.Int).SetBytes(peer)
		pMinus1 := new(big.Int).Sub(p, big.NewInt(1))
		if y.Cmp(big.NewInt(1)) <= 0 || y.Cmp(pMinus1) >= 0 {
			return nil, fmt.Errorf("%s: public value outside 2..p-2: %w", g.Name, ErrPublic)
		}
		return pad(y.Exp(y, k.x, p), g.modp.size()), nil
	}
	pub, err := g.ec.NewPublicKey(append([]byte{4}, peer...))
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", g.Name, ErrPublic, err)
	}
	return k.ec.ECDH(pub)
}

// pad returns x big-endian in size bytes.
func pad(x *big.Int, size int) []byte { return x.FillBytes(make([]byte, size)) }

// modp is a MODP group, generator 2.
type modp struct {
	bits int
	k    int64 // the RFC's constant, see prime
	// maxExp bounds the secret exponents: 2^expBits, twice the group's
	// strength or more (RFC 3526 §8).
	maxExp *big.Int
	prime  func() *big.Int
}

func newMODP(bits int, k int64, expBits int) *modp {
	m := &modp{bits: bits, k: k, maxExp: new(big.Int).Lsh(big.NewInt(1), uint(expBits))}
	m.prime = sync.OnceValue(m.compute)
	return m
}

func (m *modp) size() int { return m.bits / 8 }

// compute returns the prime as RFC 2409 §6 and RFC 3526 define it,
// 2^n - 2^(n-64) - 1 + 2^64 * (floor(2^(n-130) * pi) + k), rather than as
// a long hexadecimal constant that a typo could spoil unseen.
func (m *modp) compute() *big.Int {
	n := uint(m.bits)
	p := new(big.Int).Lsh(big.NewInt(1), n)
	p.Sub(p, new(big.Int).Lsh(big.NewInt(1), n-64))
	p.Sub(p, big.NewInt(1))
	t := piBits(n - 130)
	t.Add(t, big.NewInt(m.k))
	return p.Add(p, t.Lsh(t, 64))
}

// piBits returns floor(2^bits * pi).
func piBits(bits uint) *big.Int {
	// Machin: pi = 16 atan(1/5) - 4 atan(1/239), in fixed point with guard
	// bits that absorb the truncation of each term.
	const guard = 64
	one := new(big.Int).Lsh(big.NewInt(1), bits+guard)
	pi := new(big.Int).Mul(atanInv(5, one), big.NewInt(16))
	pi.Sub(pi, new(big.Int).Mul(atanInv(239, one), big.NewInt(4)))
	return pi.Rsh(pi, guard)
}

// atanInv returns atan(1/x) * one, by its series x^-1 - x^-3/3 + x^-5/5 ...
func atanInv(x int64, one *big.Int) *big.Int {
	sum := new(big.Int)
	power := new(big.Int).Div(one, big.NewInt(x)) // one / x^(2i+1)
	x2 := big.NewInt(x * x)
	term := new(big.Int)
	for i := int64(0); power.Sign() != 0; i++ {
		term.Div(power, big.NewInt(2*i+1))
		if i%2 == 0 {
			sum.Add(sum, term)
		} else {
			sum.Sub(sum, term)
		}
		power.Div(power, x2)
	}
	return sum
}
