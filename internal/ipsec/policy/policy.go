// Package policy is gif's IPsec policy model: the manual SAs, flows and
// ike rules an ipsec.conf(5) file loads, as conf/ipsecconf reads them and
// the daemon and the IKE engine run them. Its JSON form is what the
// control API carries and what the daemon stores (ipsec.json): the enums
// travel as ipsec.conf's words.
package policy

import (
	"net/netip"
	"time"

	"gif/internal/ipsec"
)

// Config is what an ipsec.conf file loads, rule by rule in file order.
type Config struct {
	SAs   []SA
	Flows []Flow
	IKE   []IKE
}

// SA is one security association: one direction, as ipsecctl makes them.
type SA struct {
	File  string // the file and line of its rule (an included file's own)
	Line  int
	Proto Proto
	Mode  ipsec.Mode
	Src   netip.Addr
	Dst   netip.Addr
	SPI   uint32
	// Auth is the authentication algorithm, "" for an AEAD Enc and Enc is
	// "" for ah. AuthKey and EncKey have the lengths conf/ipsecconf's
	// package comment gives; the last 4 bytes of an aesctr, GCM or
	// chacha20-poly1305 key are its salt (RFC 3686, 4106, 7634). Both are
	// nil when unused.
	Auth, Enc       string
	AuthKey, EncKey []byte
	// UDPEncap says that the SA's ESP travels in UDP port 4500 (RFC 3948):
	// only SAs negotiated through a NAT have it.
	UDPEncap bool `json:",omitempty"`
}

// Flow is one entry of the security policy: packets from Src to Dst whose
// IP protocol is IPProto (0 for any) go through Proto to Peer, are dropped,
// or pass in the clear, as Type says.
type Flow struct {
	File    string // the file and line of its rule (an included file's own)
	Line    int
	Proto   Proto
	Dir     Dir
	IPProto uint8
	Src     netip.Prefix
	Dst     netip.Prefix
	// Peer is the far end of the SAs, or the zero Addr: for deny and bypass
	// flows, which have none, and after "peer any".
	Peer netip.Addr
	Type FlowType
}

// IKE is an ike rule for one source and destination: the flow between
// them, whose SAs are negotiated with Peer by IKEv1, as OpenBSD's ipsecctl
// has isakmpd(8) do.
type IKE struct {
	File    string // the file and line of its rule (an included file's own)
	Line    int
	Start   Start
	Proto   Proto
	Mode    ipsec.Mode
	IPProto uint8 // 0 for any
	Src     netip.Prefix
	Dst     netip.Prefix
	// Local is the address phase 1 runs from; the zero Addr lets the
	// route to the peer choose.
	Local netip.Addr
	// Peer is the other end of phase 1, the zero Addr for any peer (the
	// default peer, which only answers).
	Peer netip.Addr
	// Main is phase 1 (Main Mode), Quick phase 2 (Quick Mode).
	Main, Quick IKEPhase
	// SrcID and DstID are the identities of phase 1, "" for the local and
	// the peer's address.
	SrcID, DstID string
	// PSK is the pre-shared key; "" authenticates with RSA signatures.
	PSK string
}

// IKEPhase is the transforms and lifetime of one phase.
type IKEPhase struct {
	// Auth is phase 1's hash or phase 2's authentication algorithm; ""
	// in phase 2 when Enc authenticates by itself.
	Auth string
	// Enc is the encryption algorithm; "" for ah.
	Enc string
	// Group is the Diffie-Hellman group; in phase 2 the group of PFS, or
	// "none" for no PFS.
	Group    string
	Lifetime time.Duration
}
