// Package wire reads and writes the headers gif puts on the wire: IPv4,
// IPv6, the EtherIP header of RFC 3378 and Ethernet. Each header type is a
// byte slice with accessors, in the style of gVisor's tcpip/header; the
// accessors do not allocate.
//
// Parse* validate a packet and wrap the sentinel errors below with detail
// for people. Check* do the same validation but return the bare sentinels,
// so that rejecting a packet on a per-packet path costs no allocation.
package wire

import (
	"errors"
	"strconv"
)

// IP protocol numbers gif carries or looks through.
const (
	ProtoIPv4         = 4  // IPv4 in IP (RFC 2003)
	ProtoIPv6         = 41 // IPv6 in IP (RFC 4213)
	ProtoIPv6Fragment = 44 // IPv6 fragment extension header (RFC 8200)
	ProtoEtherIP      = 97 // Ethernet in IP (RFC 3378)
)

// Header lengths in bytes.
const (
	IPv4MinHeaderLen      = 20
	IPv6HeaderLen         = 40
	IPv6FragmentHeaderLen = 8
	EtherIPHeaderLen      = 2
	EthernetHeaderLen     = 14
)

// EtherTypes of the frames whose payload gif looks into.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeIPv6 = 0x86dd
)

// Sentinel errors of the parsers; test for them with errors.Is.
var (
	// ErrTruncated means the bytes end before the header does, or before
	// the length the header claims.
	ErrTruncated = errors.New("truncated")
	// ErrVersion means the version field is not the expected one (or, in
	// an EtherIP header, the reserved bits are not zero).
	ErrVersion = errors.New("bad version")
	// ErrHeaderLength means an IPv4 IHL below 5.
	ErrHeaderLength = errors.New("bad header length")
	// ErrTotalLength means an IPv4 total length shorter than its header.
	ErrTotalLength = errors.New("bad total length")
)

// Version returns the IP version nibble of packet b, or 0 when b is empty.
func Version(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	return int(b[0] >> 4)
}

// ECN is an explicit congestion notification codepoint (RFC 3168 §5): the
// two low bits of the IPv4 TOS byte or of the IPv6 traffic class.
type ECN uint8

// The ECN codepoints.
const (
	NotECT ECN = 0b00 // not ECN-capable transport
	ECT1   ECN = 0b01 // ECN-capable transport, ECT(1)
	ECT0   ECN = 0b10 // ECN-capable transport, ECT(0)
	CE     ECN = 0b11 // congestion experienced
)

const ecnMask = 0b11

// ECNOf returns the ECN codepoint of a TOS byte or traffic class.
func ECNOf(tos uint8) ECN { return ECN(tos & ecnMask) }

// WithECN returns tos with its ECN field set to e and its DSCP kept.
func WithECN(tos uint8, e ECN) uint8 { return tos&^ecnMask | uint8(e)&ecnMask }

func (e ECN) String() string {
	switch e {
	case NotECT:
		return "Not-ECT"
	case ECT1:
		return "ECT(1)"
	case ECT0:
		return "ECT(0)"
	case CE:
		return "CE"
	}
	return "ECN(" + strconv.Itoa(int(e)) + ")"
}
