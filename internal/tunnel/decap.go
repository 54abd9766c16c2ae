package tunnel

import (
	"errors"

	"gif/internal/wire"
)

// Decap checks and adjusts, in place, an inner packet that arrived with
// outer protocol proto and outer TOS/traffic class outerTOS. It returns the
// inner packet's length (trailing bytes beyond the inner IP length are not
// part of it) or why to drop it.
//
// Protocol 4 must carry a valid IPv4 packet and 41 a valid IPv6 packet.
// With ecn the ECN field is combined as RFC 3168 §9.1.1 full functionality
// and OpenBSD's ip_ecn_egress(ECN_ALLOWED) do: an outer CE marks an
// ECN-capable inner packet CE and drops a Not-ECT one; every other
// combination leaves the inner packet as it is (in particular outer ECT(1)
// over inner ECT(0) is not propagated, as RFC 6040 would). Without ecn
// nothing changes. The inner DSCP and TTL are never changed.
func Decap(proto uint8, outerTOS uint8, ecn bool, inner []byte) (int, Drop) {
	outer := wire.ECNOf(outerTOS)
	switch proto {
	case wire.ProtoIPv4:
		ip, err := wire.CheckIPv4(inner)
		if err != nil {
			return 0, dropFor(err)
		}
		tos := ip.TOS()
		e, ok := ecnEgress(ecn, outer, wire.ECNOf(tos))
		if !ok {
			return 0, DropECN
		}
		if e != wire.ECNOf(tos) {
			ip.SetTOS(wire.WithECN(tos, e))
		}
		return len(ip), DropNone
	case wire.ProtoIPv6:
		ip, err := wire.CheckIPv6(inner)
		if err != nil {
			return 0, dropFor(err)
		}
		tc := ip.TrafficClass()
		e, ok := ecnEgress(ecn, outer, wire.ECNOf(tc))
		if !ok {
			return 0, DropECN
		}
		if e != wire.ECNOf(tc) {
			ip.SetTrafficClass(wire.WithECN(tc, e))
		}
		return len(ip), DropNone
	default:
		return 0, DropFamily
	}
}

// ecnEgress returns the inner ECN codepoint after decapsulation, or false
// if the packet must be dropped.
func ecnEgress(ecn bool, outer, inner wire.ECN) (wire.ECN, bool) {
	switch {
	case !ecn || outer != wire.CE:
		return inner, true
	case inner == wire.NotECT:
		return inner, false
	default:
		return wire.CE, true
	}
}

// dropFor maps a parse error to its counter: a packet cut short is a
// header drop, anything else (wrong version, malformed header) a family one.
func dropFor(err error) Drop {
	if errors.Is(err, wire.ErrTruncated) {
		return DropShort
	}
	return DropFamily
}
