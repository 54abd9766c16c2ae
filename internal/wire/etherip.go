package wire

import "fmt"

// EtherIP is an EtherIP packet (RFC 3378 §3): a 16-bit header, then an
// Ethernet frame without FCS.
//
//	 0                   1
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|VERSION|       RESERVED        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// VERSION is 3 and RESERVED is 0, so the header is 0x30 0x00. OpenBSD
// before 5.5 and FreeBSD 6.1 to 7.2 sent the version in the low nibble,
// 0x03 0x00; the parsers accept both, as OpenBSD 5.5 to 5.9 did.
type EtherIP []byte

const (
	etherIPHeader       = 0x30 // version 3 in the high nibble
	etherIPLegacyHeader = 0x03 // version 3 in the low nibble
)

// ParseEtherIP validates the EtherIP header at the start of b and returns
// b. Errors wrap ErrTruncated or ErrVersion.
func ParseEtherIP(b []byte) (EtherIP, error) {
	e, err := CheckEtherIP(b)
	switch err {
	case nil:
		return e, nil
	case ErrTruncated:
		return nil, fmt.Errorf("parse EtherIP: %w: %d bytes", err, len(b))
	default:
		return nil, fmt.Errorf("parse EtherIP: %w: header % x", err, b[:EtherIPHeaderLen])
	}
}

// CheckEtherIP is ParseEtherIP returning the bare sentinel errors.
func CheckEtherIP(b []byte) (EtherIP, error) {
	if len(b) < EtherIPHeaderLen {
		return nil, ErrTruncated
	}
	if b[0] != etherIPHeader && b[0] != etherIPLegacyHeader || b[1] != 0 {
		return nil, ErrVersion
	}
	return b, nil
}

// PutEtherIPHeader writes the RFC 3378 header, 0x30 0x00, into b, which
// must be at least EtherIPHeaderLen long.
func PutEtherIPHeader(b []byte) {
	b[0], b[1] = etherIPHeader, 0
}

// Legacy reports whether the header has the version in the low nibble.
func (b EtherIP) Legacy() bool { return b[0] == etherIPLegacyHeader }

// Payload returns the Ethernet frame after the header.
func (b EtherIP) Payload() []byte { return b[EtherIPHeaderLen:] }
