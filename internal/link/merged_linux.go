package link

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"gif/internal/wire"
)

// Header offsets of the IP packets mergedTCP looks at.
const (
	ipv4FlagsAt    = 6
	ipv4MFOffset   = 0x3fff // MF and the fragment offset
	tcpDataOffAt   = 12
	ipv4AddrsAt    = 12
	ipv6AddrsAt    = 8
	ipv6AddrsEndAt = 40
)

// mergedTCP recognizes a TCP super-packet that the kernel built by GRO from
// several segments as they arrived from the network, before gif received
// the outer packet that carries it: Linux then delivers a raw socket one
// outer packet holding one large inner segment whose TCP checksum field
// holds only the pseudo-header sum (tcp_gro_complete leaves the rest to
// whoever segments it again, CHECKSUM_PARTIAL). Written to a TUN device as
// it is, the kernel would find the checksum wrong; written behind the
// virtio-net header of segment.header, the kernel takes it as the
// super-packet it is.
//
// A segment whose full checksum happens to equal its pseudo-header sum (one
// in 65536) passes as merged too; the kernel then trusts a checksum it
// would otherwise have verified, which GRO had verified already for the
// segments it merged.
func mergedTCP(pkt []byte) (segment, bool) {
	var (
		ipLen   int
		sum     uint16
		gsoType uint8
	)
	switch wire.Version(pkt) {
	case 4:
		if len(pkt) < wire.IPv4MinHeaderLen {
			return segment{}, false
		}
		ip := wire.IPv4(pkt)
		ipLen = ip.HeaderLen()
		if ip.Protocol() != unix.IPPROTO_TCP || int(ip.TotalLength()) != len(pkt) || ipLen < wire.IPv4MinHeaderLen ||
			binary.BigEndian.Uint16(pkt[ipv4FlagsAt:])&ipv4MFOffset != 0 {
			return segment{}, false
		}
		sum = pseudoSum(pkt[ipv4AddrsAt:wire.IPv4MinHeaderLen], len(pkt)-ipLen)
		gsoType = unix.VIRTIO_NET_HDR_GSO_TCPV4
	case 6:
		if len(pkt) < wire.IPv6HeaderLen {
			return segment{}, false
		}
		ip := wire.IPv6(pkt)
		ipLen = wire.IPv6HeaderLen
		if ip.NextHeader() != unix.IPPROTO_TCP || int(ip.PayloadLength())+ipLen != len(pkt) {
			return segment{}, false
		}
		sum = pseudoSum(pkt[ipv6AddrsAt:ipv6AddrsEndAt], len(pkt)-ipLen)
		gsoType = unix.VIRTIO_NET_HDR_GSO_TCPV6
	default:
		return segment{}, false
	}
	if len(pkt) < ipLen+tcpMinLen {
		return segment{}, false
	}
	tcpLen := int(pkt[ipLen+tcpDataOffAt]>>4) * 4
	if tcpLen < tcpMinLen || ipLen+tcpLen > len(pkt) ||
		binary.BigEndian.Uint16(pkt[ipLen+tcpChecksumAt:]) != sum {
		return segment{}, false
	}
	return segment{size: len(pkt), ipLen: ipLen, tcpLen: tcpLen, gsoType: gsoType}, true
}

// segment is a TCP segment that mergedTCP recognized.
type segment struct {
	size, ipLen, tcpLen int
	gsoType             uint8
}

// header fills in the virtio-net header that asks the kernel to finish the
// checksum and, for a segment longer than one of a device with this MTU
// carries, to treat it as a super-packet of such segments.
func (s segment) header(mtu int) virtioNetHdr {
	gsoType, mss := s.gsoType, mtu-s.ipLen-s.tcpLen
	if mss <= 0 || s.size-s.ipLen-s.tcpLen <= mss {
		gsoType, mss = unix.VIRTIO_NET_HDR_GSO_NONE, 0
	}
	return virtioNetHdr{
		flags:      unix.VIRTIO_NET_HDR_F_NEEDS_CSUM,
		gsoType:    gsoType,
		hdrLen:     uint16(s.ipLen + s.tcpLen),
		gsoSize:    uint16(mss),
		csumStart:  uint16(s.ipLen),
		csumOffset: tcpChecksumAt,
	}
}

// pseudoSum is the ones' complement sum of a TCP pseudo-header: the
// addresses, the protocol and the TCP length.
func pseudoSum(addrs []byte, tcpLen int) uint16 {
	return wire.Checksum(addrs, unix.IPPROTO_TCP+uint32(tcpLen))
}
