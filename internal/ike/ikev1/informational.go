package ikev1

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"gif/internal/ike/isakmp"
)

// Informational makes an Informational message under the done phase-1 SA
// p, carrying pl (notifications and deletes) after HASH(1) (RFC 2409
// §5.7), with a fresh message ID and its own IV.
func (p *Phase1) Informational(pl ...isakmp.Payload) ([]byte, error) {
	var id [4]byte
	var mid uint32
	for mid == 0 {
		if _, err := io.ReadFull(p.cfg.rand(), id[:]); err != nil {
			return nil, fmt.Errorf("informational: message ID: %w", err)
		}
		mid = binary.BigEndian.Uint32(id[:])
	}
	hash := p.hash.MessageHash(p.Keys.A, mid, nil, isakmp.AppendPayloads(nil, pl))
	all := append([]isakmp.Payload{{Type: isakmp.PayloadHash, Body: hash}}, pl...)
	ct, _ := p.cipher.Encrypt(p.hash.MessageIV(p.LastBlock(), mid), isakmp.AppendPayloads(nil, all))
	h := isakmp.Header{ICookie: p.ICookie, RCookie: p.RCookie, Next: isakmp.PayloadHash,
		Exchange: isakmp.ExchangeInformational, Flags: isakmp.FlagEncryption, MessageID: mid}
	return append(isakmp.AppendHeader(nil, h, len(ct)), ct...), nil
}

// OpenInformational decrypts an Informational message under the done
// phase-1 SA p and checks its HASH(1); it returns the payloads after it.
func (p *Phase1) OpenInformational(raw []byte) ([]isakmp.Payload, error) {
	h, body, err := isakmp.ParseHeader(raw)
	if err != nil {
		return nil, fail(isakmp.NotifyPayloadMalformed, "informational: %w", err)
	}
	if h.Exchange != isakmp.ExchangeInformational || h.Flags&isakmp.FlagEncryption == 0 || h.MessageID == 0 {
		return nil, fail(isakmp.NotifyInvalidFlags, "informational: not encrypted under the ISAKMP SA")
	}
	plain, _, err := p.cipher.Decrypt(p.hash.MessageIV(p.LastBlock(), h.MessageID), body)
	if err != nil {
		return nil, fail(isakmp.NotifyPayloadMalformed, "informational: %w", err)
	}
	pl, _, err := isakmp.ParsePayloads(h.Next, plain)
	if err != nil || len(pl) == 0 || pl[0].Type != isakmp.PayloadHash {
		return nil, fail(isakmp.NotifyPayloadMalformed, "informational: decrypted, no HASH first: %v", err)
	}
	rest := plain[4+len(pl[0].Body) : 4+len(pl[0].Body)+isakmp.PayloadsLen(pl[1:])]
	if !bytes.Equal(pl[0].Body, p.hash.MessageHash(p.Keys.A, h.MessageID, nil, rest)) {
		return nil, fail(isakmp.NotifyInvalidHashInformation, "informational: HASH(1) does not match")
	}
	return pl[1:], nil
}

// DeleteESP is the Delete payload of ESP SAs by their SPIs (the ones the
// sender receives with).
func DeleteESP(spis ...uint32) isakmp.Payload {
	d := isakmp.Delete{DOI: isakmp.DOIIPsec, Protocol: isakmp.ProtoESP, SPISize: 4}
	for _, spi := range spis {
		d.SPIs = append(d.SPIs, binary.BigEndian.AppendUint32(nil, spi))
	}
	return isakmp.Payload{Type: isakmp.PayloadDelete, Body: d.Append(nil)}
}

// DeleteSelf is the Delete payload of the ISAKMP SA p: its two cookies.
func (p *Phase1) DeleteSelf() isakmp.Payload {
	d := isakmp.Delete{DOI: isakmp.DOIIPsec, Protocol: isakmp.ProtoISAKMP, SPISize: 16,
		SPIs: [][]byte{append(p.ICookie[:], p.RCookie[:]...)}}
	return isakmp.Payload{Type: isakmp.PayloadDelete, Body: d.Append(nil)}
}

// InitialContact is the notification that this side has no other SA with
// the peer: the peer drops its old ones (RFC 2407 §4.6.3.3).
func (p *Phase1) InitialContact() isakmp.Payload {
	n := isakmp.Notify{DOI: isakmp.DOIIPsec, Protocol: isakmp.ProtoISAKMP, Type: isakmp.NotifyInitialContact,
		SPI: append(p.ICookie[:], p.RCookie[:]...)}
	return isakmp.Payload{Type: isakmp.PayloadNotify, Body: n.Append(nil)}
}
