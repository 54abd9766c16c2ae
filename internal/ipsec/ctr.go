package ipsec

import (
	"crypto/aes"
	"crypto/subtle"
	"encoding/binary"
)

// xorCTR encrypts or decrypts b in place with AES-CTR as RFC 3686 §4 lays
// out the counter block: the salt, the 8-byte IV, then a 32-bit block
// counter from 1. s.nonce holds the salt and IV.
//
// crypto/cipher cannot restart a CTR stream without allocating a new one
// (about 500 bytes) per packet, and block-at-a-time AES is five times
// slower than its pipelined CTR. But AES-GCM runs the same counter mode:
// with the 12-byte nonce salt‖IV it encrypts plaintext block i with the
// counter block salt‖IV‖(i+2) (NIST SP 800-38D §7.1). So sealing b[16:]
// with GCM applies RFC 3686's key stream from block 2 on; the GCM tag
// lands on the last 16 bytes, which are saved before and done, with the
// first block, one block at a time. The tag is never sent.
func (sa *SA) xorCTR(s *scratch, b []byte) {
	const bs = aes.BlockSize
	if len(b) <= 2*bs {
		sa.xorCTRBlocks(s, b, 0)
		return
	}
	middle, tail := b[bs:len(b)-bs], b[len(b)-bs:]
	copy(s.ctrTail[:], tail)
	sa.aead.Seal(middle[:0], s.nonce[:], middle, nil)
	copy(tail, s.ctrTail[:])
	sa.xorCTRBlocks(s, b[:bs], 0)
	sa.xorCTRBlocks(s, tail, len(b)-bs)
}

// xorCTRBlocks XORs b, which starts at byte pos of the payload, with the
// key stream, computing one block at a time.
func (sa *SA) xorCTRBlocks(s *scratch, b []byte, pos int) {
	const bs = aes.BlockSize
	copy(s.block[:], s.nonce[:])
	for len(b) > 0 {
		binary.BigEndian.PutUint32(s.block[len(s.nonce):], uint32(pos/bs+1))
		sa.block.Encrypt(s.stream[:], s.block[:])
		n := subtle.XORBytes(b, b, s.stream[pos%bs:])
		b, pos = b[n:], pos+n
	}
}
