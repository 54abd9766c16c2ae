package link

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"gif/internal/wire"
)

const (
	ipv4FlagsAt  = 6      // where an IPv4 header keeps its flags and fragment offset
	ipv4MFOffset = 0x3fff // MF and the fragment offset
	tcpDataOffAt = 12     // where a TCP header keeps its data offset
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
	l, ok := linkIP.parseTCPLayout(pkt)
	if !ok {
		return segment{}, false
	}
	gsoType := uint8(unix.VIRTIO_NET_HDR_GSO_TCPV6)
	if l.v6 {
		ok = int(wire.IPv6(pkt).PayloadLength())+wire.IPv6HeaderLen == len(pkt)
	} else {
		gsoType = unix.VIRTIO_NET_HDR_GSO_TCPV4
		ok = int(wire.IPv4(pkt).TotalLength()) == len(pkt) &&
			binary.BigEndian.Uint16(pkt[ipv4FlagsAt:])&ipv4MFOffset == 0
	}
	if !ok || binary.BigEndian.Uint16(pkt[l.tcp+tcpChecksumAt:]) != uint16(pseudoHeaderSum(pkt, l, len(pkt)-l.tcp)) {
		return segment{}, false
	}
	return segment{size: len(pkt), ipLen: l.tcp, tcpLen: l.data - l.tcp, gsoType: gsoType}, true
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
