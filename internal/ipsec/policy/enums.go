package policy

import (
	"fmt"
	"slices"
	"strconv"
)

// Proto is the IPsec protocol of an SA, a flow or an ike rule.
type Proto uint8

const (
	ESP Proto = iota
	AH
)

var protoNames = words[Proto]{"esp", "ah"}

// ParseProto returns the Proto ipsec.conf calls name: "esp" or "ah".
func ParseProto(name string) (Proto, bool) { return protoNames.parse(name) }

func (p Proto) String() string                { return protoNames.name(p, "Proto") }
func (p Proto) MarshalText() ([]byte, error)  { return protoNames.marshal(p, "IPsec protocol") }
func (p *Proto) UnmarshalText(b []byte) error { return protoNames.unmarshal(p, b, "IPsec protocol") }

// Dir is the direction of a flow.
type Dir uint8

const (
	In Dir = iota
	Out
)

var dirNames = words[Dir]{"in", "out"}

// ParseDir returns the Dir ipsec.conf calls name: "in" or "out".
func ParseDir(name string) (Dir, bool) { return dirNames.parse(name) }

func (d Dir) String() string                { return dirNames.name(d, "Dir") }
func (d Dir) MarshalText() ([]byte, error)  { return dirNames.marshal(d, "flow direction") }
func (d *Dir) UnmarshalText(b []byte) error { return dirNames.unmarshal(d, b, "flow direction") }

// FlowType is what a flow does with the packets it covers.
type FlowType uint8

const (
	// Require protects them, and an incoming packet must come protected.
	Require FlowType = iota
	// Use protects them when an SA exists.
	Use
	// Acquire is use that asks a key daemon for SAs; without one, use.
	Acquire
	// DontAcq is require that asks no key daemon; without one, require.
	DontAcq
	// Deny drops them.
	Deny
	// Bypass lets them pass in the clear.
	Bypass
)

var flowTypeNames = words[FlowType]{"require", "use", "acquire", "dontacq", "deny", "bypass"}

// ParseFlowType returns the FlowType ipsec.conf calls name: "require",
// "use", "acquire", "dontacq", "deny" or "bypass".
func ParseFlowType(name string) (FlowType, bool) { return flowTypeNames.parse(name) }

func (t FlowType) String() string                { return flowTypeNames.name(t, "FlowType") }
func (t FlowType) MarshalText() ([]byte, error)  { return flowTypeNames.marshal(t, "flow type") }
func (t *FlowType) UnmarshalText(b []byte) error { return flowTypeNames.unmarshal(t, b, "flow type") }

// Protects reports whether the flow's packets go through SAs: neither
// deny nor bypass.
func (t FlowType) Protects() bool { return t != Deny && t != Bypass }

// Requires reports whether a packet the flow covers must come protected:
// require, and dontacq, which is require without a key daemon.
func (t FlowType) Requires() bool { return t == Require || t == DontAcq }

// Start is when an ike rule negotiates.
type Start uint8

const (
	// Active negotiates at once.
	Active Start = iota
	// Passive waits for the peer.
	Passive
	// Dynamic is active, with dead peer detection.
	Dynamic
)

var startNames = words[Start]{"active", "passive", "dynamic"}

// ParseStart returns the Start ipsec.conf calls name: "active", "passive"
// or "dynamic".
func ParseStart(name string) (Start, bool) { return startNames.parse(name) }

func (s Start) String() string                { return startNames.name(s, "Start") }
func (s Start) MarshalText() ([]byte, error)  { return startNames.marshal(s, "ike start") }
func (s *Start) UnmarshalText(b []byte) error { return startNames.unmarshal(s, b, "ike start") }

// words are the ipsec.conf words of an enum's values, in value order.
type words[T ~uint8] []string

func (w words[T]) parse(name string) (T, bool) {
	i := slices.Index(w, name)
	return T(i), i >= 0
}

func (w words[T]) name(v T, typ string) string {
	if int(v) < len(w) {
		return w[v]
	}
	return typ + "(" + strconv.Itoa(int(v)) + ")"
}

func (w words[T]) marshal(v T, what string) ([]byte, error) {
	if int(v) >= len(w) {
		return nil, fmt.Errorf("bad %s %d", what, v)
	}
	return []byte(w[v]), nil
}

func (w words[T]) unmarshal(v *T, text []byte, what string) error {
	x, ok := w.parse(string(text))
	if !ok {
		return fmt.Errorf("bad %s %q: want one of %v", what, text, []string(w))
	}
	*v = x
	return nil
}
