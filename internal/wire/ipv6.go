package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// IPv6 is an IPv6 packet, header first (RFC 8200 §3):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version| Traffic Class |           Flow Label                  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Payload Length        |  Next Header  |   Hop Limit   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	+                                                               +
//	|                                                               |
//	+                         Source Address                        +
//	|                                                               |
//	+                                                               +
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	+                                                               +
//	|                                                               |
//	+                      Destination Address                      +
//	|                                                               |
//	+                                                               +
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The traffic class is laid out like the IPv4 TOS byte: DSCP, then ECN. The
// accessors need the 40-byte header; Payload needs a packet from ParseIPv6
// or CheckIPv6.
type IPv6 []byte

const (
	ipv6VersionTCFlow = 0
	ipv6PayloadLen    = 4
	ipv6NextHeader    = 6
	ipv6HopLimit      = 7
	ipv6Src           = 8
	ipv6Dst           = 24

	ipv6TCShift   = 20
	ipv6TCMask    = 0xff << ipv6TCShift
	ipv6FlowLabel = 0xfffff
)

// ParseIPv6 validates the IPv6 packet at the start of b and returns it
// without the bytes beyond its payload length. Errors wrap ErrTruncated or
// ErrVersion. A jumbogram (payload length 0, RFC 2675) is returned as its
// bare header.
func ParseIPv6(b []byte) (IPv6, error) {
	ip, err := CheckIPv6(b)
	if err != nil {
		return nil, fmt.Errorf("parse IPv6: %w: %s", err, ipv6Detail(b))
	}
	return ip, nil
}

// CheckIPv6 is ParseIPv6 returning the bare sentinel errors.
func CheckIPv6(b []byte) (IPv6, error) {
	if len(b) == 0 {
		return nil, ErrTruncated
	}
	if Version(b) != 6 {
		return nil, ErrVersion
	}
	if len(b) < IPv6HeaderLen {
		return nil, ErrTruncated
	}
	n := IPv6HeaderLen + int(IPv6(b).PayloadLength())
	if len(b) < n {
		return nil, ErrTruncated
	}
	return b[:n], nil
}

// ipv6Detail describes what CheckIPv6 looked at.
func ipv6Detail(b []byte) string {
	switch {
	case len(b) == 0:
		return "no bytes"
	case len(b) < IPv6HeaderLen:
		return fmt.Sprintf("version %d, %d bytes", Version(b), len(b))
	}
	return fmt.Sprintf("version %d, payload length %d, %d bytes",
		Version(b), IPv6(b).PayloadLength(), len(b))
}

func (b IPv6) versionTCFlow() uint32 { return binary.BigEndian.Uint32(b[ipv6VersionTCFlow:]) }

// TrafficClass returns the traffic class: DSCP and ECN.
func (b IPv6) TrafficClass() uint8 { return uint8(b.versionTCFlow() >> ipv6TCShift) }

// SetTrafficClass sets the traffic class. IPv6 has no header checksum.
func (b IPv6) SetTrafficClass(tc uint8) {
	v := b.versionTCFlow()&^ipv6TCMask | uint32(tc)<<ipv6TCShift
	binary.BigEndian.PutUint32(b[ipv6VersionTCFlow:], v)
}

// FlowLabel returns the 20-bit flow label.
func (b IPv6) FlowLabel() uint32 { return b.versionTCFlow() & ipv6FlowLabel }

// PayloadLength returns the length of what follows the 40-byte header.
func (b IPv6) PayloadLength() uint16 { return binary.BigEndian.Uint16(b[ipv6PayloadLen:]) }

// NextHeader returns the protocol number of what follows the header.
func (b IPv6) NextHeader() uint8 { return b[ipv6NextHeader] }

// HopLimit returns the hop limit.
func (b IPv6) HopLimit() uint8 { return b[ipv6HopLimit] }

// Src returns the source address.
func (b IPv6) Src() netip.Addr { return netip.AddrFrom16([16]byte(b[ipv6Src:ipv6Dst])) }

// Dst returns the destination address.
func (b IPv6) Dst() netip.Addr { return netip.AddrFrom16([16]byte(b[ipv6Dst:IPv6HeaderLen])) }

// Payload returns the bytes after the header, up to the payload length.
func (b IPv6) Payload() []byte { return b[IPv6HeaderLen : IPv6HeaderLen+int(b.PayloadLength())] }

// IPv6Fields are the fields Encode writes into a header.
type IPv6Fields struct {
	TrafficClass  uint8
	FlowLabel     uint32 // the low 20 bits are used
	PayloadLength uint16
	NextHeader    uint8
	HopLimit      uint8
	Src, Dst      netip.Addr // IPv6 addresses
}

// Encode writes a header with f into b, which must be at least
// IPv6HeaderLen long.
func (b IPv6) Encode(f IPv6Fields) {
	v := uint32(6)<<28 | uint32(f.TrafficClass)<<ipv6TCShift | f.FlowLabel&ipv6FlowLabel
	binary.BigEndian.PutUint32(b[ipv6VersionTCFlow:], v)
	binary.BigEndian.PutUint16(b[ipv6PayloadLen:], f.PayloadLength)
	b[ipv6NextHeader] = f.NextHeader
	b[ipv6HopLimit] = f.HopLimit
	src, dst := f.Src.As16(), f.Dst.As16()
	copy(b[ipv6Src:], src[:])
	copy(b[ipv6Dst:], dst[:])
}

// IPv6Fragment is the IPv6 fragment extension header (RFC 8200 §4.5). The
// accessors need IPv6FragmentHeaderLen bytes.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Next Header  |   Reserved    |      Fragment Offset    |Res|M|
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         Identification                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type IPv6Fragment []byte

// NextHeader returns the protocol number of the fragmented payload.
func (b IPv6Fragment) NextHeader() uint8 { return b[0] }

// FragmentOffset returns the fragment offset in bytes.
func (b IPv6Fragment) FragmentOffset() uint16 { return binary.BigEndian.Uint16(b[2:]) &^ 0b111 }

// MF reports whether the more fragments flag is set.
func (b IPv6Fragment) MF() bool { return b[3]&1 != 0 }

// ID returns the identification field.
func (b IPv6Fragment) ID() uint32 { return binary.BigEndian.Uint32(b[4:]) }
