package tunnel

import "net/netip"

// OpKind names one ifconfig parameter.
type OpKind string

// The operations ifconfig can apply to a gif interface, in the words of
// OpenBSD's ifconfig(8).
const (
	OpCreate       OpKind = "create"
	OpDestroy      OpKind = "destroy"
	OpUp           OpKind = "up"
	OpDown         OpKind = "down"
	OpMTU          OpKind = "mtu"         // Int
	OpDescription  OpKind = "description" // Text; "" clears it (-description)
	OpTunnel       OpKind = "tunnel"      // Src, Dst
	OpDeleteTunnel OpKind = "-tunnel"
	OpAddAddr      OpKind = "addr"       // Addr
	OpDeleteAddr   OpKind = "addrdelete" // Addr (Peer and prefix length ignored)
	OpNoInet6      OpKind = "-inet6"
	OpTunnelTTL    OpKind = "tunnelttl"    // Int: 1..255 or TTLCopy
	OpTunnelDF     OpKind = "tunneldf"     // Bool
	OpTunnelECN    OpKind = "tunnelecn"    // Bool
	OpTunnelDomain OpKind = "tunneldomain" // Int
	OpLLAddr       OpKind = "lladdr"       // LLAddr; the zero LLAddr chooses a random one
	OpFastpath     OpKind = "fastpath"     // Bool: may take the kernel data plane (fastpath) or not (-fastpath)

	// Bridge operations (ifconfig bridgeN ...).
	OpBridgeAdd OpKind = "add"  // Text: the member interface
	OpBridgeDel OpKind = "del"  // Text: the member interface
	OpLinkFlag  OpKind = "link" // Int: 0, 1 or 2; Bool: set (link2) or clear (-link2)
)

// Op is one parsed ifconfig parameter. Token holds the words it was parsed
// from, so that an error can name them.
type Op struct {
	Kind   OpKind     `json:"kind"`
	Token  string     `json:"token"`
	Src    netip.Addr `json:"src,omitzero"`
	Dst    netip.Addr `json:"dst,omitzero"`
	Addr   Addr       `json:"addr,omitzero"`
	Int    int        `json:"int,omitempty"`
	Bool   bool       `json:"bool,omitempty"`
	Text   string     `json:"text,omitempty"`
	LLAddr LLAddr     `json:"lladdr,omitzero"`
}
