package kernel

import "strconv"

// PassReason is why a tc program handed a packet to the userspace plane
// (TC_ACT_UNSPEC): the index of the pass_reasons map, enum pass_reason in
// bpf/gif.c, in the same order.
type PassReason uint32

// The reasons, as bpf/gif.c numbers them.
const (
	PassInnerNotIP    PassReason = iota // egress: neither IPv4 nor IPv6 inside
	PassGSONotTCP                       // egress: a GSO packet that is not TCP
	PassTooBig                          // egress: a segment does not fit the route MTU
	PassNoRoute                         // egress: no unicast route to the peer
	PassForwardingOff                   // egress: forwarding is off, the FIB helper refuses
	PassFIBError                        // egress: the FIB helper failed (old kernel?)
	PassLoop                            // egress: the route leads into a gif
	PassEncapFailed                     // egress: the kernel could not make room
	PassNotHost                         // ingress: not addressed to this host
	PassBadHeader                       // ingress: outer header malformed or cut short
	PassOptions                         // ingress: outer IPv4 options
	PassChecksum                        // ingress: outer IPv4 header checksum
	PassLength                          // ingress: outer length is not the packet's
	PassFragment                        // ingress: outer fragment
	PassUnknownPair                     // ingress: no tunnel for the address pair
	PassFamily                          // ingress: inner version is not the protocol's
	PassBadInner                        // ingress: inner header malformed or cut short
	PassECN                             // ingress: outer CE over an inner Not-ECT
	PassSpoof                           // ingress: inner source is an address of this host
	PassDecapFailed                     // ingress: the kernel could not remove the header
	NumPassReasons                      // the size of pass_reasons
)

var passReasonNames = [NumPassReasons]string{
	PassInnerNotIP:    "inner not IP",
	PassGSONotTCP:     "GSO not TCP",
	PassTooBig:        "too big for the route MTU",
	PassNoRoute:       "no route",
	PassForwardingOff: "forwarding off",
	PassFIBError:      "FIB lookup failed",
	PassLoop:          "route into a gif",
	PassEncapFailed:   "encapsulation failed",
	PassNotHost:       "not for this host",
	PassBadHeader:     "bad outer header",
	PassOptions:       "IPv4 options",
	PassChecksum:      "bad checksum",
	PassLength:        "bad length",
	PassFragment:      "fragment",
	PassUnknownPair:   "unknown pair",
	PassFamily:        "wrong inner family",
	PassBadInner:      "bad inner header",
	PassECN:           "ECN: CE over Not-ECT",
	PassSpoof:         "spoofed inner source",
	PassDecapFailed:   "decapsulation failed",
}

func (r PassReason) String() string {
	if r < NumPassReasons {
		return passReasonNames[r]
	}
	return "pass reason " + strconv.FormatUint(uint64(r), 10)
}
