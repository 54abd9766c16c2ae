package tunnel

import "gif/internal/wire"

// Outer is what the transport needs to build the outer header.
type Outer struct {
	Proto uint8 // wire.ProtoIPv4, wire.ProtoIPv6 or wire.ProtoEtherIP
	TOS   uint8 // IPv4 TOS or IPv6 traffic class
	TTL   uint8 // IPv4 TTL or IPv6 hop limit
	DF    bool  // IPv4 don't fragment; for IPv6, do not fragment at the source
}

// Encap returns the outer header fields for inner, an IP packet read from
// the device of the interface configured by c, as historic OpenBSD gif
// sets them (ipip_output):
//
//   - the protocol follows the inner IP version;
//   - the DSCP is copied from the inner packet; with c.ECN its ECN field is
//     copied too, except that CE becomes ECT(0) (RFC 3168 §9.1.1 full
//     functionality, ip_ecn_ingress ECN_ALLOWED; the inner CE reaches the
//     far end anyway); without c.ECN the outer packet is Not-ECT (limited
//     functionality);
//   - the TTL is c.TTL, or the inner TTL or hop limit for TTLCopy;
//   - DF is c.DF.
//
// The inner packet is not modified: gif does not decrement its TTL.
func Encap(c *Config, inner []byte) (Outer, Drop) {
	var o Outer
	var tos, ttl uint8
	switch wire.Version(inner) {
	case 4:
		if len(inner) < wire.IPv4MinHeaderLen {
			return Outer{}, DropShort
		}
		ip := wire.IPv4(inner)
		o.Proto, tos, ttl = wire.ProtoIPv4, ip.TOS(), ip.TTL()
	case 6:
		if len(inner) < wire.IPv6HeaderLen {
			return Outer{}, DropShort
		}
		ip := wire.IPv6(inner)
		o.Proto, tos, ttl = wire.ProtoIPv6, ip.TrafficClass(), ip.HopLimit()
	default:
		if len(inner) == 0 {
			return Outer{}, DropShort
		}
		return Outer{}, DropFamily
	}
	o.TOS = wire.WithECN(tos, ecnIngress(c.ECN, wire.ECNOf(tos)))
	o.TTL = uint8(c.TTL)
	if c.TTL == TTLCopy {
		o.TTL = ttl
	}
	o.DF = c.DF
	return o, DropNone
}

// ecnIngress returns the outer ECN codepoint for an inner one.
func ecnIngress(ecn bool, inner wire.ECN) wire.ECN {
	switch {
	case !ecn:
		return wire.NotECT
	case inner == wire.CE:
		return wire.ECT0
	default:
		return inner
	}
}
