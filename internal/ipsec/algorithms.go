package ipsec

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"strings"
)

// authAlg is an HMAC with its ICV truncated as RFC 2404 (SHA-1, 96 bits)
// and RFC 4868 (SHA-2, half the digest) say.
type authAlg struct {
	hash   func() hash.Hash
	keyLen int
	icvLen int
}

// The key lengths are ipsecctl's (parse.y authxfs): the digest length.
var authAlgs = map[string]authAlg{
	"hmac-sha1":     {sha1.New, 20, 12},
	"hmac-sha2-256": {sha256.New, 32, 16},
	"hmac-sha2-384": {sha512.New384, 48, 24},
	"hmac-sha2-512": {sha512.New, 64, 32},
}

type encKind uint8

const (
	encNull encKind = iota
	encCBC
	encCTR
	encGCM
	encChaCha
)

// aead reports whether the transform authenticates by itself.
func (k encKind) aead() bool { return k == encGCM || k == encChaCha }

// encAlg is an encryption transform and the key lengths ipsecctl accepts
// for it (parse.y encxfs), salt included.
type encAlg struct {
	kind    encKind
	keyLens []int
}

const saltLen = 4 // CTR, GCM and ChaCha20-Poly1305 keys end with a salt

var encAlgs = map[string]encAlg{
	"null":              {encNull, []int{0}},
	"aes":               {encCBC, []int{16, 24, 32}},
	"aes-128":           {encCBC, []int{16}},
	"aes-192":           {encCBC, []int{24}},
	"aes-256":           {encCBC, []int{32}},
	"aesctr":            {encCTR, []int{16 + saltLen, 24 + saltLen, 32 + saltLen}},
	"aes-128-ctr":       {encCTR, []int{16 + saltLen}},
	"aes-192-ctr":       {encCTR, []int{24 + saltLen}},
	"aes-256-ctr":       {encCTR, []int{32 + saltLen}},
	"aes-128-gcm":       {encGCM, []int{16 + saltLen}},
	"aes-192-gcm":       {encGCM, []int{24 + saltLen}},
	"aes-256-gcm":       {encGCM, []int{32 + saltLen}},
	"chacha20-poly1305": {encChaCha, []int{32 + saltLen}},
}

// lookupAlgs finds the transforms p names and checks its keys.
func lookupAlgs(p Params) (*authAlg, encAlg, error) {
	enc, ok := encAlgs[p.Enc]
	if !ok {
		return nil, encAlg{}, fmt.Errorf("unsupported enc %q", p.Enc)
	}
	if !slices.Contains(enc.keyLens, len(p.EncKey)) {
		return nil, encAlg{}, fmt.Errorf("enc %s: key of %s, want %s", p.Enc, bytesAndBits(len(p.EncKey)), wantLens(enc.keyLens))
	}
	noAuth := p.Auth == "" || p.Auth == "none"
	switch {
	case enc.kind.aead() && noAuth:
		if len(p.AuthKey) > 0 {
			return nil, encAlg{}, fmt.Errorf("enc %s authenticates by itself: no authkey wanted", p.Enc)
		}
		return nil, enc, nil
	case enc.kind.aead():
		return nil, encAlg{}, fmt.Errorf("enc %s authenticates by itself: auth %s not allowed", p.Enc, p.Auth)
	case noAuth:
		return nil, encAlg{}, fmt.Errorf("enc %s needs an auth algorithm: ESP without integrity is not supported", p.Enc)
	}
	auth, ok := authAlgs[p.Auth]
	if !ok {
		return nil, encAlg{}, fmt.Errorf("unsupported auth %q", p.Auth)
	}
	if len(p.AuthKey) != auth.keyLen {
		return nil, encAlg{}, fmt.Errorf("auth %s: key of %s, want %d bytes", p.Auth, bytesAndBits(len(p.AuthKey)), auth.keyLen)
	}
	return &auth, enc, nil
}

func bytesAndBits(n int) string {
	return fmt.Sprintf("%d bytes (%d bits)", n, 8*n)
}

// wantLens says "16, 24 or 32 bytes".
func wantLens(lens []int) string {
	s := make([]string, len(lens))
	for i, l := range lens {
		s[i] = strconv.Itoa(l)
	}
	if len(s) == 1 {
		return s[0] + " bytes"
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1] + " bytes"
}
