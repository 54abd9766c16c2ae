package tunnel

import (
	"encoding/binary"

	"gif/internal/wire"
)

// EncapEtherIP returns the outer header fields for an Ethernet frame read
// from the TAP of a gif that is a bridge member, as historic OpenBSD's
// etherip_output sets them:
//
//   - the protocol is 97;
//   - the TOS or traffic class is 0: a frame has no TOS to copy, so the
//     outer packet carries no DSCP and is Not-ECT whatever c.ECN says;
//   - the TTL is c.TTL; for TTLCopy, which has no inner TTL to copy here,
//     it is DefaultTTL, the ip_defttl etherip_output always used;
//   - DF is c.DF.
func EncapEtherIP(c *Config) Outer {
	o := Outer{Proto: wire.ProtoEtherIP, TTL: uint8(c.TTL), DF: c.DF}
	if c.TTL == TTLCopy {
		o.TTL = DefaultTTL
	}
	return o
}

// DecapEtherIP checks payload, what follows the outer IP header of a
// protocol 97 packet, and returns the offset of the Ethernet frame in it or
// why to drop it. It makes the checks of OpenBSD's etherip_decap, in its
// order:
//
//  1. shorter than the EtherIP header and an Ethernet header: DropShort
//     (etheripstat hdrops);
//  2. a header other than 30 00 or the legacy 03 00: DropVersion
//     (etheripstat adrops).
//
// The checks around them are the caller's, as they need the host's state:
// before, the policy check (net.inet.etherip.allow is 0 and the packet was
// not IPsec-protected: pdrops); after, the lookup of the UP gif with the
// packet's address pair, which must be a bridge member (noifdrops).
func DecapEtherIP(payload []byte) (int, Drop) {
	if len(payload) < wire.EtherIPHeaderLen+wire.EthernetHeaderLen {
		return 0, DropShort
	}
	if _, err := wire.CheckEtherIP(payload); err != nil {
		return 0, DropVersion
	}
	return wire.EtherIPHeaderLen, DropNone
}

// LoopsFrame is Loops for an Ethernet frame read from the TAP of a gif that
// is a bridge member: it reports whether the IPv4 or IPv6 packet the frame
// carries, after up to maxVLANTags VLAN tags, is already an outer packet of
// that tunnel. Frames of other types never loop.
func LoopsFrame(c *Config, frame []byte) bool {
	return Loops(c, framePacket(frame))
}

// VLAN tags (IEEE 802.1Q) between the MAC addresses and the EtherType.
const (
	etherTypeVLAN = 0x8100 // 802.1Q customer tag
	etherTypeQinQ = 0x88a8 // 802.1ad service tag, outside a customer tag
	vlanTagLen    = 4      // TPID and TCI: a tag moves the EtherType 4 bytes on
	// maxVLANTags is how many tags framePacket looks past: two for QinQ.
	maxVLANTags = 2
)

// framePacket returns the IPv4 or IPv6 packet carried by an Ethernet frame,
// or nil.
func framePacket(frame []byte) []byte {
	if len(frame) < wire.EthernetHeaderLen {
		return nil
	}
	etherType, b := wire.Ethernet(frame).EtherType(), wire.Ethernet(frame).Payload()
	for range maxVLANTags {
		if etherType != etherTypeVLAN && etherType != etherTypeQinQ {
			break
		}
		if len(b) < vlanTagLen {
			return nil
		}
		etherType, b = binary.BigEndian.Uint16(b[2:]), b[vlanTagLen:]
	}
	switch etherType {
	case wire.EtherTypeIPv4, wire.EtherTypeIPv6:
		return b
	}
	return nil
}
