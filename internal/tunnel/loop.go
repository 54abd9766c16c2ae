package tunnel

import (
	"net/netip"

	"gif/internal/wire"
)

// maxNesting is how many levels of tunnel headers Loops looks through: a
// routing loop through n tunnels puts this tunnel's outer header n levels
// deep. Each level costs a few comparisons, and only packets that are
// themselves tunnel packets are looked into.
const maxNesting = 8

// Loops reports whether inner, read from the device of the interface
// configured by c, is already an outer packet of that same tunnel — at any
// of up to maxNesting levels of IP-in-IP (4/41) or EtherIP (97) nesting —
// which means the tunnel's outer route leads back into itself. Historic
// OpenBSD gif tags the mbuf with every gif it passes; a userspace gif sees
// only bytes, so it looks for its own outer header instead.
//
// inner is an IP packet; a frame read from the TAP of a bridge member is
// passed as its payload when its EtherType is IPv4 or IPv6. Inner headers
// cut short by fragmentation of an outer packet still count.
func Loops(c *Config, inner []byte) bool {
	if !c.HasTunnel() {
		return false
	}
	b := inner
	for range maxNesting {
		h, ok := readIPHeader(b)
		if !ok {
			return false
		}
		switch h.proto {
		case wire.ProtoIPv4, wire.ProtoIPv6:
			b = h.payload
		case wire.ProtoEtherIP:
			b = etherIPPacket(h.payload)
		default:
			return false
		}
		if h.src == c.Src && h.dst == c.Dst {
			return true
		}
	}
	return false
}

// ipHeader is what Loops needs of an IP header.
type ipHeader struct {
	proto    uint8
	src, dst netip.Addr
	payload  []byte
}

// readIPHeader reads the IP header at the start of b. The payload may be
// cut short, as inside the first fragment of a larger packet; it is empty
// in a later fragment, which does not start with a header.
func readIPHeader(b []byte) (ipHeader, bool) {
	switch wire.Version(b) {
	case 4:
		if len(b) < wire.IPv4MinHeaderLen {
			return ipHeader{}, false
		}
		ip := wire.IPv4(b)
		hl := ip.HeaderLen()
		if hl < wire.IPv4MinHeaderLen || hl > len(b) {
			return ipHeader{}, false
		}
		h := ipHeader{proto: ip.Protocol(), src: ip.Src(), dst: ip.Dst()}
		if ip.FragmentOffset() == 0 {
			h.payload = b[hl:max(hl, min(int(ip.TotalLength()), len(b)))]
		}
		return h, true
	case 6:
		if len(b) < wire.IPv6HeaderLen {
			return ipHeader{}, false
		}
		ip := wire.IPv6(b)
		h := ipHeader{
			proto:   ip.NextHeader(),
			src:     ip.Src(),
			dst:     ip.Dst(),
			payload: b[wire.IPv6HeaderLen:min(wire.IPv6HeaderLen+int(ip.PayloadLength()), len(b))],
		}
		// Outer IPv6 packets carry no extension headers, but the host
		// fragments them when they are larger than the device's MTU.
		if h.proto == wire.ProtoIPv6Fragment && len(h.payload) >= wire.IPv6FragmentHeaderLen {
			frag := wire.IPv6Fragment(h.payload)
			h.proto, h.payload = frag.NextHeader(), h.payload[wire.IPv6FragmentHeaderLen:]
			if frag.FragmentOffset() != 0 {
				h.payload = nil
			}
		}
		return h, true
	}
	return ipHeader{}, false
}

// etherIPPacket returns the IP packet inside an EtherIP payload, or nil.
func etherIPPacket(b []byte) []byte {
	e, err := wire.CheckEtherIP(b)
	if err != nil {
		return nil
	}
	return framePacket(e.Payload())
}
