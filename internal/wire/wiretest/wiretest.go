// Package wiretest builds the packets and frames tests send through gif:
// IPv4 and IPv6 packets, Ethernet frames and EtherIP payloads, from
// addresses written as strings.
package wiretest

import (
	"encoding/binary"
	"net"
	"net/netip"

	"gif/internal/wire"
)

// IPv4 returns an IPv4 packet from src to dst, ID 1, that carries payload
// as protocol proto.
func IPv4(src, dst string, tos, ttl, proto uint8, payload []byte) []byte {
	b := make([]byte, wire.IPv4MinHeaderLen+len(payload))
	wire.IPv4(b).Encode(wire.IPv4Fields{
		TOS: tos, TotalLength: uint16(len(b)), ID: 1, TTL: ttl, Protocol: proto,
		Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst),
	})
	copy(b[wire.IPv4MinHeaderLen:], payload)
	return b
}

// IPv6 returns an IPv6 packet from src to dst that carries payload after
// next header next.
func IPv6(src, dst string, tc, hops, next uint8, payload []byte) []byte {
	b := make([]byte, wire.IPv6HeaderLen+len(payload))
	wire.IPv6(b).Encode(wire.IPv6Fields{
		TrafficClass: tc, PayloadLength: uint16(len(payload)), NextHeader: next, HopLimit: hops,
		Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst),
	})
	copy(b[wire.IPv6HeaderLen:], payload)
	return b
}

// Ethernet returns a frame from src to dst that carries payload as
// etherType.
func Ethernet(dst, src net.HardwareAddr, etherType uint16, payload []byte) []byte {
	b := make([]byte, wire.EthernetHeaderLen, wire.EthernetHeaderLen+len(payload))
	copy(b, dst)
	copy(b[6:], src)
	binary.BigEndian.PutUint16(b[12:], etherType)
	return append(b, payload...)
}

// EtherIP returns an EtherIP payload: the header bytes b0 b1, then frame.
func EtherIP(b0, b1 byte, frame []byte) []byte {
	return append([]byte{b0, b1}, frame...)
}
