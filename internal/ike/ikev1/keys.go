// Package ikev1 is IKEv1 (RFC 2409) as isakmpd(8) speaks it for OpenBSD's
// ike rules: Main Mode and Quick Mode. This file holds the key derivation
// of RFC 2409 §5 and Appendix B, pure functions of their inputs.
package ikev1

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"hash"
	"slices"

	"gif/internal/ike/isakmp"
)

// Hash is a phase-1 hash algorithm. Its HMAC is the PRF of the exchange,
// since no PRF attribute is negotiated (RFC 2409 §4).
type Hash struct {
	ID   uint16 // the value of the Hash Algorithm attribute
	Name string // as ipsec.conf names it
	New  func() hash.Hash
}

var hashes = []*Hash{
	{isakmp.HashSHA1, "hmac-sha1", sha1.New},
	{isakmp.HashSHA2256, "hmac-sha2-256", sha256.New},
	{isakmp.HashSHA2384, "hmac-sha2-384", sha512.New384},
	{isakmp.HashSHA2512, "hmac-sha2-512", sha512.New},
}

// HashByID returns the hash of the attribute value id, or nil.
func HashByID(id uint16) *Hash {
	i := slices.IndexFunc(hashes, func(h *Hash) bool { return h.ID == id })
	if i < 0 {
		return nil
	}
	return hashes[i]
}

// HashByName returns the hash ipsec.conf calls name, or nil.
func HashByName(name string) *Hash {
	i := slices.IndexFunc(hashes, func(h *Hash) bool { return h.Name == name })
	if i < 0 {
		return nil
	}
	return hashes[i]
}

// PRF returns prf(key, data...): the HMAC of the data's concatenation.
func (h *Hash) PRF(key []byte, data ...[]byte) []byte {
	m := hmac.New(h.New, key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

// Sum returns the plain hash of the data's concatenation.
func (h *Hash) Sum(data ...[]byte) []byte {
	m := h.New()
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

// SKEYIDPreShared is SKEYID of pre-shared key authentication:
// prf(pre-shared-key, Ni_b | Nr_b).
func (h *Hash) SKEYIDPreShared(psk, ni, nr []byte) []byte { return h.PRF(psk, ni, nr) }

// SKEYIDSignature is SKEYID of signature authentication:
// prf(Ni_b | Nr_b, g^xy).
func (h *Hash) SKEYIDSignature(ni, nr, gxy []byte) []byte {
	return h.PRF(slices.Concat(ni, nr), gxy)
}

// Keys are the keying material of a phase-1 SA (RFC 2409 §5).
type Keys struct {
	SKEYID []byte
	D      []byte // SKEYID_d, from which phase-2 keys come
	A      []byte // SKEYID_a, which authenticates phase-2 and informational messages
	E      []byte // SKEYID_e, from which the encryption key comes
}

// DeriveKeys computes SKEYID_d, _a and _e:
//
//	SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0)
//	SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1)
//	SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2)
func (h *Hash) DeriveKeys(skeyid, gxy []byte, ckyI, ckyR [8]byte) Keys {
	k := Keys{SKEYID: skeyid}
	k.D = h.PRF(skeyid, gxy, ckyI[:], ckyR[:], []byte{0})
	k.A = h.PRF(skeyid, k.D, gxy, ckyI[:], ckyR[:], []byte{1})
	k.E = h.PRF(skeyid, k.A, gxy, ckyI[:], ckyR[:], []byte{2})
	return k
}

// EncryptionKey returns the first n bytes of the key SKEYID_e gives: itself
// when long enough, else K1 | K2 | ... with K1 = prf(SKEYID_e, 0) and
// Ki = prf(SKEYID_e, Ki-1) (RFC 2409 Appendix B).
func (h *Hash) EncryptionKey(skeyidE []byte, n int) []byte {
	if len(skeyidE) >= n {
		return slices.Clone(skeyidE[:n])
	}
	var ka []byte
	k := h.PRF(skeyidE, []byte{0})
	for {
		ka = append(ka, k...)
		if len(ka) >= n {
			return ka[:n]
		}
		k = h.PRF(skeyidE, k)
	}
}

// Phase1IV is the IV of the first encrypted message of phase 1:
// hash(g^xi | g^xr), cut to the cipher's block size.
func (h *Hash) Phase1IV(gxi, gxr []byte, blockSize int) []byte {
	return h.Sum(gxi, gxr)[:blockSize]
}

// MessageIV is the first IV of a Quick Mode or Informational exchange:
// hash(the last cipher block of phase 1 | M-ID), cut to the block size
// (RFC 2409 Appendix B).
func (h *Hash) MessageIV(lastBlock []byte, messageID uint32) []byte {
	return h.Sum(lastBlock, binary.BigEndian.AppendUint32(nil, messageID))[:len(lastBlock)]
}

// AuthHash is HASH_I or HASH_R of Main Mode, the one with the initiator's
// values first for HASH_I (RFC 2409 §5):
//
//	HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b)
//	HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b)
//
// SAi_b is the body of the initiator's SA payload, ID_b the body of the
// sender's ID payload.
func (h *Hash) AuthHash(skeyid, gxOwn, gxPeer []byte, ckyOwn, ckyPeer [8]byte, saiB, idB []byte) []byte {
	return h.PRF(skeyid, gxOwn, gxPeer, ckyOwn[:], ckyPeer[:], saiB, idB)
}

// KeyMaterial returns n bytes of KEYMAT for the SA of protocol with spi
// (RFC 2409 §5.5), with PFS when gqmxy is not nil:
//
//	KEYMAT = K1 | K2 | ...
//	K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)
//	Ki = prf(SKEYID_d, Ki-1 | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)
func (h *Hash) KeyMaterial(skeyidD, gqmxy []byte, protocol isakmp.ProtocolID, spi, ni, nr []byte, n int) []byte {
	seed := slices.Concat(gqmxy, []byte{byte(protocol)}, spi, ni, nr)
	var keymat, k []byte
	for len(keymat) < n {
		k = h.PRF(skeyidD, k, seed)
		keymat = append(keymat, k...)
	}
	return keymat[:n]
}

// MessageHash authenticates a Quick Mode or Informational message (RFC
// 2409 §5.5, §5.7): prf(SKEYID_a, M-ID | payloads), where payloads are
// those after the HASH payload as sent, generic headers included. With the
// initiator's nonce body it is Quick Mode's HASH(2):
// prf(SKEYID_a, M-ID | Ni_b | payloads).
func (h *Hash) MessageHash(skeyidA []byte, messageID uint32, ni, payloads []byte) []byte {
	return h.PRF(skeyidA, binary.BigEndian.AppendUint32(nil, messageID), ni, payloads)
}

// QuickHash3 is the third message's HASH(3) of Quick Mode:
// prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b).
func (h *Hash) QuickHash3(skeyidA []byte, messageID uint32, ni, nr []byte) []byte {
	return h.PRF(skeyidA, []byte{0}, binary.BigEndian.AppendUint32(nil, messageID), ni, nr)
}
