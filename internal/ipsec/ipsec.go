// Package ipsec is ESP (RFC 4303) for gif's own outer packets: the
// transforms ipsec.conf(5) names, security associations with their
// sequence numbers and 64-packet replay windows, the SA database keyed by
// SPI and destination, and OpenBSD's espstat counters. It does no I/O:
// Seal and Open work in place on packet buffers and do not allocate.
package ipsec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
)

// ProtoESP is the IP protocol number of ESP.
const ProtoESP = 50

// HeaderLen is the length of the ESP header: SPI and sequence number.
const HeaderLen = 8

// ReplayWindow is how many packets behind the highest sequence number
// received an SA still accepts, once each (RFC 4303 §3.4.3).
const ReplayWindow = 64

// Header is an ESP packet, header first (RFC 4303 §2):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|               Security Parameters Index (SPI)                 |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                      Sequence Number                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    IV (the transform's length)                |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~          Payload, Padding, Pad Length, Next Header            ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Integrity Check Value (the transform's length)        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Everything from the IV to the Next Header is encrypted. The accessors
// need HeaderLen bytes.
type Header []byte

// SPI returns the Security Parameters Index.
func (h Header) SPI() uint32 { return binary.BigEndian.Uint32(h[0:]) }

// Seq returns the sequence number.
func (h Header) Seq() uint32 { return binary.BigEndian.Uint32(h[4:]) }

// Sentinel errors of Seal and Open, one per espstat counter, so that a
// dropped packet costs no allocation; test for them with errors.Is.
var (
	// ErrShort: too short for the ESP header, IV, trailer and ICV
	// (espstat hdrops).
	ErrShort = errors.New("ESP packet too short")
	// ErrNoSA: no SA has the packet's SPI and destination (espstat notdb).
	ErrNoSA = errors.New("no SA for SPI and destination")
	// ErrAuth: the ICV does not verify (espstat badauth).
	ErrAuth = errors.New("ESP authentication failed")
	// ErrReplay: the sequence number was seen already, or is older than
	// the replay window (espstat replay).
	ErrReplay = errors.New("ESP packet replayed")
	// ErrPadding: the ciphertext is not a whole number of blocks, or the
	// padding is not the 1, 2, 3... of RFC 4303 §2.4 (espstat badilen).
	ErrPadding = errors.New("bad ESP payload size or padding")
	// ErrSeqWrap: the SA has sent 2³²-1 packets and needs new keys, or a
	// packet came with sequence number 0, which a sender reaches only by
	// wrapping (espstat wrap).
	ErrSeqWrap = errors.New("ESP sequence number wrapped")
	// ErrNoSpace: the buffer given to Seal lacks the room that Overhead
	// reports. A caller's mistake, not counted.
	ErrNoSpace = errors.New("no room for the ESP header or trailer")
)

// Mode is how an SA carries its payload.
type Mode uint8

const (
	// Tunnel carries a whole IP packet (next header 4 or 41), as ipsecctl
	// does by default.
	Tunnel Mode = iota
	// Transport carries the payload of the outer packet itself (for gif,
	// EtherIP or the inner IP packet).
	Transport
)

func (m Mode) String() string {
	switch m {
	case Tunnel:
		return "tunnel"
	case Transport:
		return "transport"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// ParseMode returns the Mode ipsec.conf(5) calls name, "tunnel" or
// "transport".
func ParseMode(name string) (Mode, bool) {
	switch name {
	case "tunnel":
		return Tunnel, true
	case "transport":
		return Transport, true
	}
	return 0, false
}

// MarshalText gives the mode's ipsec.conf name, which the control API and
// the stored rules carry.
func (m Mode) MarshalText() ([]byte, error) {
	if m != Tunnel && m != Transport {
		return nil, fmt.Errorf("bad IPsec mode %d", m)
	}
	return []byte(m.String()), nil
}

// UnmarshalText reads what MarshalText gives.
func (m *Mode) UnmarshalText(text []byte) error {
	v, ok := ParseMode(string(text))
	if !ok {
		return fmt.Errorf("bad IPsec mode %q: want tunnel or transport", text)
	}
	*m = v
	return nil
}

// Algorithm names ipsecctl uses when a rule names none (ipsec.conf(5)).
const (
	DefaultAuth = "hmac-sha2-256"
	DefaultEnc  = "aes"
)

// Params describe an SA as an ipsec.conf(5) rule does, for one direction.
type Params struct {
	SPI      uint32
	Src, Dst netip.Addr
	Mode     Mode
	// Auth is hmac-sha1, hmac-sha2-256, hmac-sha2-384 or hmac-sha2-512;
	// empty (or "none") with the AEAD transforms aes-*-gcm and
	// chacha20-poly1305, which authenticate by themselves.
	Auth string
	// Enc is aes (AES-CBC with a 128-, 192- or 256-bit key), aes-128,
	// aes-192, aes-256, aesctr (AES-CTR, RFC 3686), aes-128-ctr,
	// aes-192-ctr, aes-256-ctr, aes-128-gcm, aes-192-gcm, aes-256-gcm
	// (RFC 4106), chacha20-poly1305 (RFC 7634) or null.
	Enc string
	// AuthKey and EncKey are the raw keys. The keys of CTR, GCM and
	// ChaCha20-Poly1305 end with their 4-byte salt, as in ipsec.conf.
	AuthKey, EncKey []byte
}
