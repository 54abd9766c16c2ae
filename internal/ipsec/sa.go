package ipsec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math"
	"net/netip"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/chacha20poly1305"
)

const (
	trailerLen    = 2 // pad length and next header
	explicitIVLen = 8 // CTR, GCM and ChaCha20-Poly1305 (RFC 3686, 4106, 7634)
	aeadICVLen    = 16
)

// SA is one security association: the keys and state of one direction of
// ESP. Seal and Open are safe for concurrent use.
type SA struct {
	params Params
	enc    encKind
	auth   *authAlg // nil with an AEAD transform

	ivLen  int
	icvLen int
	align  int // the encrypted part is padded to a multiple of this

	block cipher.Block // AES, for CBC, CTR and GCM
	// aead is the AEAD transform, or for CTR the AES-GCM whose counter
	// mode xorCTR borrows.
	aead cipher.AEAD
	salt [saltLen]byte

	// ivPrefix and ivOffset are random per SA, so that IVs differ from
	// those of an SA with the same key before a restart; see nextIV.
	ivPrefix uint64
	ivOffset uint64

	seq     atomic.Uint64 // the last sequence number sent
	replay  replayWindow
	scratch sync.Pool // of *scratch

	packets, bytes atomic.Uint64
}

// scratch is the state of one Seal or Open: HMAC and CBC state cannot be
// shared between goroutines, and a pool reuses them without allocating.
type scratch struct {
	mac     hash.Hash
	sum     [sha512.Size]byte
	cbcEnc  cbcMode
	cbcDec  cbcMode
	nonce   [saltLen + explicitIVLen]byte
	block   [aes.BlockSize]byte
	stream  [aes.BlockSize]byte
	ctrTail [aes.BlockSize]byte
}

// cbcMode is a CBC BlockMode whose IV can be reset, as every one from
// crypto/cipher can; crypto/tls relies on the same method.
type cbcMode interface {
	cipher.BlockMode
	SetIV([]byte)
}

// NewSA checks p's algorithms and key lengths and builds the cipher state.
func NewSA(p Params) (*SA, error) {
	sa, err := newSA(p)
	if err != nil {
		return nil, fmt.Errorf("new SA spi 0x%08x: %w", p.SPI, err)
	}
	return sa, nil
}

func newSA(p Params) (*SA, error) {
	// RFC 4303 §2.1: 1 to 255 are reserved by IANA, 0 never goes on the wire.
	if p.SPI < 256 {
		return nil, fmt.Errorf("SPI %d is reserved", p.SPI)
	}
	p.Src, p.Dst = p.Src.Unmap(), p.Dst.Unmap()
	if !p.Src.IsValid() || !p.Dst.IsValid() || p.Src.Is4() != p.Dst.Is4() {
		return nil, fmt.Errorf("bad addresses from %v to %v", p.Src, p.Dst)
	}
	if p.Mode != Tunnel && p.Mode != Transport {
		return nil, fmt.Errorf("bad mode %v", p.Mode)
	}
	auth, enc, err := lookupAlgs(p)
	if err != nil {
		return nil, err
	}
	p.AuthKey, p.EncKey = clone(p.AuthKey), clone(p.EncKey)
	sa := &SA{params: p, enc: enc.kind, auth: auth, align: 4}
	if auth != nil {
		sa.icvLen = auth.icvLen
	}
	key := p.EncKey
	if enc.kind == encCTR || enc.kind.aead() {
		key = key[:len(key)-saltLen]
		copy(sa.salt[:], p.EncKey[len(key):])
		sa.ivLen = explicitIVLen
	}
	switch enc.kind {
	case encCBC, encCTR, encGCM:
		if sa.block, err = aes.NewCipher(key); err != nil {
			return nil, err
		}
	}
	switch enc.kind {
	case encCBC:
		sa.ivLen, sa.align = aes.BlockSize, aes.BlockSize
		if _, ok := cipher.NewCBCEncrypter(sa.block, make([]byte, aes.BlockSize)).(cbcMode); !ok {
			return nil, errors.New("AES-CBC without SetIV")
		}
	case encCTR, encGCM:
		if sa.aead, err = cipher.NewGCM(sa.block); err != nil {
			return nil, err
		}
	case encChaCha:
		if sa.aead, err = chacha20poly1305.New(key); err != nil {
			return nil, err
		}
	}
	if enc.kind.aead() {
		sa.icvLen = aeadICVLen
	}
	var random [16]byte
	rand.Read(random[:]) // never fails: it crashes the program instead

	sa.ivPrefix = binary.BigEndian.Uint64(random[:8])
	sa.ivOffset = binary.BigEndian.Uint64(random[8:])
	sa.scratch.New = sa.newScratch
	return sa, nil
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

func (sa *SA) newScratch() any {
	s := new(scratch)
	if sa.auth != nil {
		s.mac = hmac.New(sa.auth.hash, sa.params.AuthKey)
	}
	if sa.enc == encCBC {
		s.cbcEnc = cipher.NewCBCEncrypter(sa.block, s.block[:]).(cbcMode)
		s.cbcDec = cipher.NewCBCDecrypter(sa.block, s.block[:]).(cbcMode)
	}
	copy(s.nonce[:], sa.salt[:])
	return s
}

// Params returns what the SA was made from, keys included.
func (sa *SA) Params() Params {
	p := sa.params
	p.AuthKey, p.EncKey = clone(p.AuthKey), clone(p.EncKey)
	return p
}

// SPI returns the SA's Security Parameters Index.
func (sa *SA) SPI() uint32 { return sa.params.SPI }

// Src returns the SA's source address.
func (sa *SA) Src() netip.Addr { return sa.params.Src }

// Dst returns the SA's destination address.
func (sa *SA) Dst() netip.Addr { return sa.params.Dst }

// Mode returns the SA's mode.
func (sa *SA) Mode() Mode { return sa.params.Mode }

// SAStats counts the packets an SA sealed or opened, and their payload
// bytes.
type SAStats struct {
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// Stats returns the SA's counters.
func (sa *SA) Stats() SAStats {
	return SAStats{Packets: sa.packets.Load(), Bytes: sa.bytes.Load()}
}

// LastSeq returns the sequence number of the last packet sealed.
func (sa *SA) LastSeq() uint64 { return sa.seq.Load() }

// SkipTo makes the next packet sealed carry a sequence number above seq
// (if it would not already). A daemon that restarts with the same manual
// keys skips what it may have sent before, since the peer's replay window
// would refuse those numbers again.
func (sa *SA) SkipTo(seq uint64) {
	for {
		cur := sa.seq.Load()
		if cur >= seq || sa.seq.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// Overhead reports the room Seal needs before the payload (ESP header and
// IV) and at most after it (padding, pad length, next header and ICV).
func (sa *SA) Overhead() (head, tail int) {
	return HeaderLen + sa.ivLen, sa.align - 1 + trailerLen + sa.icvLen
}

// Seal protects the payload buf[off:off+n] in place: it writes the ESP
// header and IV into buf[off-head:off], and the padding, pad length,
// nextHeader and ICV after the payload, within len(buf). nextHeader is
// the payload's protocol: 4 or 41 in tunnel mode, 97 for EtherIP in
// transport mode. Seal returns where the ESP packet starts and its length.
func (sa *SA) Seal(buf []byte, off, n int, nextHeader uint8) (start, length int, err error) {
	head := HeaderLen + sa.ivLen
	padLen := (sa.align - (n+trailerLen)%sa.align) % sa.align
	end := off + n + padLen + trailerLen // of the encrypted part
	if off < head || n < 0 || end+sa.icvLen > len(buf) {
		return 0, 0, ErrNoSpace
	}
	seq := sa.seq.Add(1)
	if seq > math.MaxUint32 {
		return 0, 0, ErrSeqWrap
	}
	start = off - head
	binary.BigEndian.PutUint32(buf[start:], sa.params.SPI)
	binary.BigEndian.PutUint32(buf[start+4:], uint32(seq))
	trailer := buf[off+n : end]
	for i := range padLen {
		trailer[i] = byte(i + 1) // RFC 4303 §2.4
	}
	trailer[padLen], trailer[padLen+1] = byte(padLen), nextHeader

	s := sa.scratch.Get().(*scratch)
	defer sa.scratch.Put(s)
	iv, plain := buf[start+HeaderLen:off], buf[off:end]
	sa.nextIV(s, iv, seq)
	switch sa.enc {
	case encCBC:
		s.cbcEnc.SetIV(iv)
		s.cbcEnc.CryptBlocks(plain, plain)
	case encCTR:
		sa.xorCTR(s, plain)
	case encGCM, encChaCha:
		sa.aead.Seal(plain[:0], s.nonce[:], plain, buf[start:start+HeaderLen])
	}
	if sa.auth != nil {
		copy(buf[end:end+sa.icvLen], s.hmac(buf[start:end]))
	}
	sa.packets.Add(1)
	sa.bytes.Add(uint64(n))
	return start, end + sa.icvLen - start, nil
}

// nextIV writes the IV for sequence number seq into iv, and for the
// counter-mode transforms also into the nonce.
//
// The IVs must never repeat under one key, and with CBC must not be
// predictable (RFC 3602 §3). Manual keys outlive a restart, which sets
// the sequence number back to 1, so an IV cannot be the sequence number
// alone. CBC's IV is the AES encryption, under the SA's key, of a random
// 64-bit prefix and the sequence number: NIST SP 800-38A Appendix C's way
// to make unpredictable IVs from a nonce. The 8-byte IV of CTR, GCM and
// ChaCha20-Poly1305 is the sequence number plus a random 64-bit offset:
// unique within the SA as the sequence number is (RFC 4106 §3.1 allows a
// counter), and another run's IVs overlap this run's only if their
// offsets fall within 2³² of each other.
func (sa *SA) nextIV(s *scratch, iv []byte, seq uint64) {
	switch sa.enc {
	case encCBC:
		binary.BigEndian.PutUint64(s.block[:8], sa.ivPrefix)
		binary.BigEndian.PutUint64(s.block[8:], seq)
		sa.block.Encrypt(iv, s.block[:])
	case encCTR, encGCM, encChaCha:
		binary.BigEndian.PutUint64(iv, sa.ivOffset+seq)
		copy(s.nonce[saltLen:], iv)
	}
}

// hmac returns the ICV of b.
func (s *scratch) hmac(b []byte) []byte {
	s.mac.Reset()
	s.mac.Write(b)
	return s.mac.Sum(s.sum[:0])
}

// Open checks and decrypts the ESP packet buf[off:off+n] in place, as
// RFC 4303 §3.4 orders it: the replay window is checked, then the ICV;
// only a packet whose ICV verifies moves the window. Then come the
// decryption and the padding check. Open returns where the payload starts,
// its length and its next header. A dummy packet (next header 59, RFC
// 4303 §2.6) is returned like any other, for the caller to drop. A packet
// Open refuses may have been changed.
func (sa *SA) Open(buf []byte, off, n int) (start, length int, nextHeader uint8, err error) {
	head := HeaderLen + sa.ivLen
	minCiphertext := trailerLen
	if sa.enc == encCBC {
		minCiphertext = aes.BlockSize
	}
	if off < 0 || n < head+minCiphertext+sa.icvLen || off+n > len(buf) {
		return 0, 0, 0, ErrShort
	}
	pkt := buf[off : off+n]
	icvAt := n - sa.icvLen
	seq := Header(pkt).Seq()
	if err := sa.replay.check(seq); err != nil {
		return 0, 0, 0, err
	}
	ciphertext := pkt[head:icvAt]
	if sa.enc == encCBC && len(ciphertext)%aes.BlockSize != 0 {
		return 0, 0, 0, ErrPadding
	}

	s := sa.scratch.Get().(*scratch)
	defer sa.scratch.Put(s)
	iv := pkt[HeaderLen:head]
	if sa.ivLen == explicitIVLen {
		copy(s.nonce[saltLen:], iv)
	}
	if sa.auth != nil {
		if !hmac.Equal(s.hmac(pkt[:icvAt])[:sa.icvLen], pkt[icvAt:]) {
			return 0, 0, 0, ErrAuth
		}
	} else if _, err := sa.aead.Open(ciphertext[:0], s.nonce[:], pkt[head:], pkt[:HeaderLen]); err != nil {
		return 0, 0, 0, ErrAuth
	}
	if err := sa.replay.accept(seq); err != nil {
		return 0, 0, 0, err // a copy that another goroutine accepted meanwhile
	}
	switch sa.enc {
	case encCBC:
		s.cbcDec.SetIV(iv)
		s.cbcDec.CryptBlocks(ciphertext, ciphertext)
	case encCTR:
		sa.xorCTR(s, ciphertext)
	}

	padLen := int(ciphertext[len(ciphertext)-2])
	length = len(ciphertext) - trailerLen - padLen
	if length < 0 {
		return 0, 0, 0, ErrPadding
	}
	for i, b := range ciphertext[length : length+padLen] {
		if b != byte(i+1) {
			return 0, 0, 0, ErrPadding
		}
	}
	sa.packets.Add(1)
	sa.bytes.Add(uint64(length))
	return off + head, length, ciphertext[len(ciphertext)-1], nil
}
