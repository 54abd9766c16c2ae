package wire

import (
	"encoding/binary"
	"net"
)

// Ethernet is an Ethernet II frame without FCS, header first (IEEE 802.3
// §3.1.1). The accessors need EthernetHeaderLen bytes.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                 Destination MAC Address                       |
//	+                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                               |                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//	|                    Source MAC Address                         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           EtherType           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type Ethernet []byte

const (
	ethernetDst       = 0
	ethernetSrc       = 6
	ethernetEtherType = 12
)

// Dst returns the destination MAC address: a view into b, not a copy.
func (b Ethernet) Dst() net.HardwareAddr {
	return net.HardwareAddr(b[ethernetDst:ethernetSrc:ethernetSrc])
}

// Src returns the source MAC address: a view into b, not a copy.
func (b Ethernet) Src() net.HardwareAddr {
	return net.HardwareAddr(b[ethernetSrc:ethernetEtherType:ethernetEtherType])
}

// EtherType returns the type of the payload (or the 802.1Q TPID).
func (b Ethernet) EtherType() uint16 { return binary.BigEndian.Uint16(b[ethernetEtherType:]) }

// Payload returns the bytes after the header.
func (b Ethernet) Payload() []byte { return b[EthernetHeaderLen:] }
