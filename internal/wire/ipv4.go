package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// IPv4 is an IPv4 packet, header first (RFC 791 §3.1):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version|  IHL  |Type of Service|          Total Length         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Identification        |Flags|      Fragment Offset    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Time to Live |    Protocol   |         Header Checksum       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       Source Address                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Destination Address                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Options                    |    Padding    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The TOS byte is the DSCP (RFC 2474) in its high six bits and the ECN
// field (RFC 3168) in its low two. The accessors need at least the 20-byte
// fixed header; HeaderLen and Payload need a packet from ParseIPv4 or
// CheckIPv4.
type IPv4 []byte

const (
	ipv4VersionIHL = 0
	ipv4TOS        = 1
	ipv4TotalLen   = 2
	ipv4ID         = 4
	ipv4FlagsFrag  = 6
	ipv4TTL        = 8
	ipv4Protocol   = 9
	ipv4Checksum   = 10
	ipv4Src        = 12
	ipv4Dst        = 16

	ipv4DF         = 0x4000
	ipv4MF         = 0x2000
	ipv4FragOffset = 0x1fff
)

// ParseIPv4 validates the IPv4 packet at the start of b and returns it
// without the bytes beyond its total length. Errors wrap ErrTruncated,
// ErrVersion, ErrHeaderLength or ErrTotalLength.
func ParseIPv4(b []byte) (IPv4, error) {
	ip, err := CheckIPv4(b)
	if err != nil {
		return nil, fmt.Errorf("parse IPv4: %w: %s", err, ipv4Detail(b))
	}
	return ip, nil
}

// CheckIPv4 is ParseIPv4 returning the bare sentinel errors.
func CheckIPv4(b []byte) (IPv4, error) {
	if len(b) == 0 {
		return nil, ErrTruncated
	}
	if Version(b) != 4 {
		return nil, ErrVersion
	}
	if len(b) < IPv4MinHeaderLen {
		return nil, ErrTruncated
	}
	ip := IPv4(b)
	hl := ip.HeaderLen()
	switch total := int(ip.TotalLength()); {
	case hl < IPv4MinHeaderLen:
		return nil, ErrHeaderLength
	case len(b) < hl:
		return nil, ErrTruncated
	case total < hl:
		return nil, ErrTotalLength
	case len(b) < total:
		return nil, ErrTruncated
	default:
		return ip[:total], nil
	}
}

// ipv4Detail describes what CheckIPv4 looked at.
func ipv4Detail(b []byte) string {
	switch {
	case len(b) == 0:
		return "no bytes"
	case len(b) < IPv4MinHeaderLen:
		return fmt.Sprintf("version %d, %d bytes", Version(b), len(b))
	}
	ip := IPv4(b)
	return fmt.Sprintf("version %d, IHL %d, total length %d, %d bytes",
		Version(b), ip.HeaderLen()/4, ip.TotalLength(), len(b))
}

// HeaderLen returns the header length in bytes, options included.
func (b IPv4) HeaderLen() int { return int(b[ipv4VersionIHL]&0x0f) * 4 }

// TOS returns the type of service byte: DSCP and ECN.
func (b IPv4) TOS() uint8 { return b[ipv4TOS] }

// SetTOS sets the type of service byte and updates the header checksum
// incrementally (RFC 1624), so a header that was correct stays correct and
// a corrupt one stays corrupt.
func (b IPv4) SetTOS(tos uint8) {
	old := binary.BigEndian.Uint16(b[ipv4VersionIHL:])
	b[ipv4TOS] = tos
	updateChecksum(b[ipv4Checksum:], old, binary.BigEndian.Uint16(b[ipv4VersionIHL:]))
}

// TotalLength returns the length of the packet, header included.
func (b IPv4) TotalLength() uint16 { return binary.BigEndian.Uint16(b[ipv4TotalLen:]) }

// ID returns the identification field.
func (b IPv4) ID() uint16 { return binary.BigEndian.Uint16(b[ipv4ID:]) }

// DF reports whether the don't fragment flag is set.
func (b IPv4) DF() bool { return binary.BigEndian.Uint16(b[ipv4FlagsFrag:])&ipv4DF != 0 }

// MF reports whether the more fragments flag is set.
func (b IPv4) MF() bool { return binary.BigEndian.Uint16(b[ipv4FlagsFrag:])&ipv4MF != 0 }

// FragmentOffset returns the fragment offset in bytes.
func (b IPv4) FragmentOffset() uint16 {
	return (binary.BigEndian.Uint16(b[ipv4FlagsFrag:]) & ipv4FragOffset) << 3
}

// TTL returns the time to live.
func (b IPv4) TTL() uint8 { return b[ipv4TTL] }

// Protocol returns the protocol number of the payload.
func (b IPv4) Protocol() uint8 { return b[ipv4Protocol] }

// Checksum returns the header checksum field.
func (b IPv4) Checksum() uint16 { return binary.BigEndian.Uint16(b[ipv4Checksum:]) }

// ChecksumValid reports whether the header checksum is correct.
func (b IPv4) ChecksumValid() bool { return Checksum(b[:b.HeaderLen()], 0) == 0xffff }

// Src returns the source address.
func (b IPv4) Src() netip.Addr { return netip.AddrFrom4([4]byte(b[ipv4Src:ipv4Dst])) }

// Dst returns the destination address.
func (b IPv4) Dst() netip.Addr { return netip.AddrFrom4([4]byte(b[ipv4Dst:IPv4MinHeaderLen])) }

// Payload returns the bytes after the header, up to the total length.
func (b IPv4) Payload() []byte { return b[b.HeaderLen():b.TotalLength()] }

// IPv4Fields are the fields Encode writes into a header without options.
type IPv4Fields struct {
	TOS         uint8
	TotalLength uint16
	ID          uint16
	DF          bool
	TTL         uint8
	Protocol    uint8
	Src, Dst    netip.Addr // IPv4 addresses
}

// Encode writes a 20-byte header with f and its checksum into b, which must
// be at least IPv4MinHeaderLen long.
func (b IPv4) Encode(f IPv4Fields) {
	b[ipv4VersionIHL] = 4<<4 | IPv4MinHeaderLen/4
	b[ipv4TOS] = f.TOS
	binary.BigEndian.PutUint16(b[ipv4TotalLen:], f.TotalLength)
	binary.BigEndian.PutUint16(b[ipv4ID:], f.ID)
	var flags uint16
	if f.DF {
		flags = ipv4DF
	}
	binary.BigEndian.PutUint16(b[ipv4FlagsFrag:], flags)
	b[ipv4TTL] = f.TTL
	b[ipv4Protocol] = f.Protocol
	binary.BigEndian.PutUint16(b[ipv4Checksum:], 0)
	src, dst := f.Src.As4(), f.Dst.As4()
	copy(b[ipv4Src:], src[:])
	copy(b[ipv4Dst:], dst[:])
	binary.BigEndian.PutUint16(b[ipv4Checksum:], ^Checksum(b[:IPv4MinHeaderLen], 0))
}
