// Package isakmp reads and writes ISAKMP messages (RFC 2408) with the
// IPsec domain of interpretation (RFC 2407), the wire format of IKEv1 (RFC
// 2409). It does no I/O and no cryptography: an encrypted message's body is
// decrypted by the caller and then parsed with ParsePayloads.
//
// A message is a header and a chain of payloads, each a type and a body:
// the bytes after the payload's generic header, as they are on the wire,
// since IKEv1 hashes some bodies as they were sent (SAi_b, IDii_b). Typed
// bodies (SA, ID, Notify, Delete) have their own Parse and Append.
package isakmp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Sentinel errors; the parsers wrap them with detail.
var (
	// ErrTruncated means the bytes end before a header or length says.
	ErrTruncated = errors.New("truncated")
	// ErrVersion means a major version other than IKEv1's 1.
	ErrVersion = errors.New("not ISAKMP version 1")
	// ErrMalformed means a field holds a value the format does not allow.
	ErrMalformed = errors.New("malformed")
)

// HeaderLen is the length of the ISAKMP header.
const HeaderLen = 28

// genericHeaderLen is the length of the header in front of every payload.
const genericHeaderLen = 4

// MaxMessageLen is the largest message Parse accepts: the largest UDP
// payload over IPv4.
const MaxMessageLen = 65507

// Header is the ISAKMP header (RFC 2408 §3.1):
//
//	                     1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	!                          Initiator                            !
//	!                            Cookie                             !
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	!                          Responder                            !
//	!                            Cookie                             !
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	!  Next Payload ! MjVer ! MnVer ! Exchange Type !     Flags     !
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	!                          Message ID                           !
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	!                            Length                             !
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The version is always 1.0 and Length is the whole message's; Parse
// checks both and Append writes them.
type Header struct {
	ICookie, RCookie [8]byte
	// Next is the type of the first payload.
	Next      PayloadType
	Exchange  ExchangeType
	Flags     Flags
	MessageID uint32
}

// Flags are the header's flag bits.
type Flags uint8

// The flags of RFC 2408 §3.1.
const (
	FlagEncryption Flags = 1 << 0 // the payloads are encrypted
	FlagCommit     Flags = 1 << 1 // the sender wants a CONNECTED notify before it uses the SA
	FlagAuthOnly   Flags = 1 << 2 // an authentication-only Informational exchange
)

// Payload is one payload of a message: its type and its body, the bytes
// after the generic payload header.
type Payload struct {
	Type PayloadType
	Body []byte
}

// Message is a parsed message whose payloads are in the clear.
type Message struct {
	Header
	Payloads []Payload
}

// ParseHeader reads the header of message b and returns it with the body,
// the bytes after it up to the header's length: the payloads, encrypted
// when the header has FlagEncryption.
func ParseHeader(b []byte) (Header, []byte, error) {
	var h Header
	if len(b) < HeaderLen {
		return h, nil, fmt.Errorf("ISAKMP header: %d bytes of %d: %w", len(b), HeaderLen, ErrTruncated)
	}
	if major := b[17] >> 4; major != 1 {
		return h, nil, fmt.Errorf("ISAKMP header: version %d.%d: %w", major, b[17]&0xf, ErrVersion)
	}
	length := binary.BigEndian.Uint32(b[24:28])
	switch {
	case length < HeaderLen || length > MaxMessageLen:
		return h, nil, fmt.Errorf("ISAKMP header: length %d: %w", length, ErrMalformed)
	case int(length) > len(b):
		return h, nil, fmt.Errorf("ISAKMP header: length %d, %d bytes came: %w", length, len(b), ErrTruncated)
	}
	copy(h.ICookie[:], b[0:8])
	copy(h.RCookie[:], b[8:16])
	h.Next = PayloadType(b[16])
	h.Exchange = ExchangeType(b[18])
	h.Flags = Flags(b[19])
	h.MessageID = binary.BigEndian.Uint32(b[20:24])
	return h, b[HeaderLen:length], nil
}

// AppendHeader appends h for a message whose body, the payloads after the
// header, is bodyLen bytes long.
func AppendHeader(b []byte, h Header, bodyLen int) []byte {
	b = append(b, h.ICookie[:]...)
	b = append(b, h.RCookie[:]...)
	b = append(b, byte(h.Next), 0x10, byte(h.Exchange), byte(h.Flags))
	b = binary.BigEndian.AppendUint32(b, h.MessageID)
	return binary.BigEndian.AppendUint32(b, uint32(HeaderLen+bodyLen))
}

// Parse reads a message whose payloads are in the clear. A message with
// FlagEncryption is refused: read its header with ParseHeader, decrypt
// the body, and parse that with ParsePayloads.
func Parse(b []byte) (*Message, error) {
	h, body, err := ParseHeader(b)
	if err != nil {
		return nil, err
	}
	if h.Flags&FlagEncryption != 0 {
		return nil, fmt.Errorf("ISAKMP message: encrypted: %w", ErrMalformed)
	}
	pl, rest, err := ParsePayloads(h.Next, body)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("ISAKMP message: %d bytes after the last payload: %w", len(rest), ErrMalformed)
	}
	return &Message{Header: h, Payloads: pl}, nil
}

// ParsePayloads reads the chain of payloads in b, the first of type next,
// and returns what follows the last: nothing in a message in the clear,
// the padding of a decrypted body. The bodies alias b.
func ParsePayloads(next PayloadType, b []byte) ([]Payload, []byte, error) {
	var pl []Payload
	for next != PayloadNone {
		if len(b) < genericHeaderLen {
			return nil, nil, fmt.Errorf("%v payload: header: %w", next, ErrTruncated)
		}
		length := int(binary.BigEndian.Uint16(b[2:4]))
		switch {
		case length < genericHeaderLen:
			return nil, nil, fmt.Errorf("%v payload: length %d: %w", next, length, ErrMalformed)
		case length > len(b):
			return nil, nil, fmt.Errorf("%v payload: length %d, %d bytes left: %w", next, length, len(b), ErrTruncated)
		}
		pl = append(pl, Payload{Type: next, Body: b[genericHeaderLen:length]})
		next = PayloadType(b[0])
		b = b[length:]
	}
	return pl, b, nil
}

// AppendPayloads appends the chain of payloads pl, each with its generic
// header; the header's Next is pl[0].Type.
func AppendPayloads(b []byte, pl []Payload) []byte {
	for i, p := range pl {
		next := PayloadNone
		if i+1 < len(pl) {
			next = pl[i+1].Type
		}
		b = append(b, byte(next), 0)
		b = binary.BigEndian.AppendUint16(b, uint16(genericHeaderLen+len(p.Body)))
		b = append(b, p.Body...)
	}
	return b
}

// PayloadsLen is the length AppendPayloads adds for pl.
func PayloadsLen(pl []Payload) int {
	n := 0
	for _, p := range pl {
		n += genericHeaderLen + len(p.Body)
	}
	return n
}

// Append appends m in the clear, setting its header's Next to the type of
// its first payload.
func (m *Message) Append(b []byte) []byte {
	h := m.Header
	h.Next = PayloadNone
	if len(m.Payloads) > 0 {
		h.Next = m.Payloads[0].Type
	}
	b = AppendHeader(b, h, PayloadsLen(m.Payloads))
	return AppendPayloads(b, m.Payloads)
}

// Find returns the body of the first payload of type t, and whether there
// is one.
func (m *Message) Find(t PayloadType) ([]byte, bool) {
	for _, p := range m.Payloads {
		if p.Type == t {
			return p.Body, true
		}
	}
	return nil, false
}
