package ikev1

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"time"

	"gif/internal/ike/isakmp"
)

// NAT traversal (RFC 3947): both sides say they can in Main Mode's first
// two messages, then send in messages 3 and 4 the hashes of the addresses
// and ports they see. When a hash differs, a NAT is on the way, and the
// exchange moves to UDP port 4500 from message 5 on, where ESP travels
// in UDP too (RFC 3948). strongSwan's userspace ESP always claims a NAT.

// natTVendorID is RFC 3947's vendor ID: MD5("RFC 3947").
var natTVendorID, _ = hex.DecodeString("4a131c81070358455c5728f20e95452f")

// NATTPort is the port of IKE and ESP after a NAT is found.
const NATTPort = 4500

// KeepaliveInterval is how often the side behind a NAT sends a NAT
// keepalive, so that the NAT keeps its mapping while no ESP flows (RFC
// 3948 §4 suggests 20 s).
const KeepaliveInterval = 20 * time.Second

func (c *Phase1Config) ports() (local, peer uint16) {
	local, peer = c.LocalPort, c.PeerPort
	if local == 0 {
		local = 500
	}
	if peer == 0 {
		peer = 500
	}
	return local, peer
}

// natTPayload is the vendor ID that offers NAT traversal.
func natTPayload() isakmp.Payload {
	return isakmp.Payload{Type: isakmp.PayloadVendorID, Body: natTVendorID}
}

// offersNATT reports whether a message carries RFC 3947's vendor ID.
func offersNATT(msg *isakmp.Message) bool {
	for _, p := range msg.Payloads {
		if p.Type == isakmp.PayloadVendorID && bytes.Equal(p.Body, natTVendorID) {
			return true
		}
	}
	return false
}

// natD is the hash of a NAT-D payload: HASH(CKY-I | CKY-R | IP | Port).
func (p *Phase1) natD(addr netip.Addr, port uint16) []byte {
	return p.hash.Sum(p.ICookie[:], p.RCookie[:], addr.Unmap().AsSlice(), binary.BigEndian.AppendUint16(nil, port))
}

// natDPayloads are this side's NAT-D payloads: the peer's address as this
// side sends to it, then its own.
func (p *Phase1) natDPayloads() []isakmp.Payload {
	local, peer := p.cfg.ports()
	return []isakmp.Payload{
		{Type: isakmp.PayloadNATD, Body: p.natD(p.cfg.Peer, peer)},
		{Type: isakmp.PayloadNATD, Body: p.natD(p.cfg.Local, local)},
	}
}

// checkNATD compares the peer's NAT-D payloads with what this side sees: a
// NAT changed this side's address when the first is not its own, the
// peer's when none of the others is the peer's.
func (p *Phase1) checkNATD(msg *isakmp.Message) {
	var hashes [][]byte
	for _, pl := range msg.Payloads {
		if pl.Type == isakmp.PayloadNATD {
			hashes = append(hashes, pl.Body)
		}
	}
	local, peer := p.cfg.ports()
	if len(hashes) < 2 || !bytes.Equal(hashes[0], p.natD(p.cfg.Local, local)) {
		p.NATDetected, p.BehindNAT = true, true
		return
	}
	peerHash := p.natD(p.cfg.Peer, peer)
	for _, h := range hashes[1:] {
		if bytes.Equal(h, peerHash) {
			return
		}
	}
	p.NATDetected = true
}

// Floats reports whether the exchange moves to port 4500 after message 4,
// and its ESP into UDP: both sides do NAT traversal and a NAT is on the way.
func (p *Phase1) Floats() bool { return p.natt && p.NATDetected }
