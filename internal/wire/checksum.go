package wire

import (
	"encoding/binary"
	"math/bits"
)

// Checksum returns the 16-bit ones' complement sum (RFC 1071) of b added to
// initial, which can carry the sum of other bytes such as a pseudo-header.
// A checksum field holds the complement of the sum of the bytes it covers,
// so bytes that include a correct checksum sum to 0xffff.
//
// It adds 64-bit words: ones' complement addition does not care how the
// 16-bit words are grouped, and 2^64 ≡ 1 modulo 2^16-1.
func Checksum(b []byte, initial uint32) uint16 {
	sum, carry := uint64(initial), uint64(0)
	for len(b) >= 32 {
		sum, carry = bits.Add64(sum, binary.BigEndian.Uint64(b[0:8]), carry)
		sum, carry = bits.Add64(sum, binary.BigEndian.Uint64(b[8:16]), carry)
		sum, carry = bits.Add64(sum, binary.BigEndian.Uint64(b[16:24]), carry)
		sum, carry = bits.Add64(sum, binary.BigEndian.Uint64(b[24:32]), carry)
		b = b[32:]
	}
	for len(b) >= 8 {
		sum, carry = bits.Add64(sum, binary.BigEndian.Uint64(b), carry)
		b = b[8:]
	}
	if len(b) >= 4 {
		sum, carry = bits.Add64(sum, uint64(binary.BigEndian.Uint32(b)), carry)
		b = b[4:]
	}
	if len(b) >= 2 {
		sum, carry = bits.Add64(sum, uint64(binary.BigEndian.Uint16(b)), carry)
		b = b[2:]
	}
	if len(b) == 1 {
		// An odd last byte is the high byte of a word padded with zero.
		sum, carry = bits.Add64(sum, uint64(b[0])<<8, carry)
	}
	sum, carry = bits.Add64(sum, 0, carry)
	sum += carry // sum is 0 if carry is 1, so this cannot overflow

	sum = sum>>32 + sum&0xffffffff
	sum = sum>>16 + sum&0xffff
	sum = sum>>16 + sum&0xffff
	sum = sum>>16 + sum&0xffff
	return uint16(sum)
}

// updateChecksum adjusts the checksum at field after one 16-bit word it
// covers changed from old to new: RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m').
// Unlike recomputing, it keeps a corrupt header corrupt.
func updateChecksum(field []byte, old, new uint16) {
	sum := uint32(^binary.BigEndian.Uint16(field)) + uint32(^old) + uint32(new)
	sum = sum>>16 + sum&0xffff
	sum = sum>>16 + sum&0xffff
	binary.BigEndian.PutUint16(field, ^uint16(sum))
}
