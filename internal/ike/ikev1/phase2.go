package ikev1

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"time"

	"gif/internal/ike/dh"
	"gif/internal/ike/isakmp"
	"gif/internal/ipsec"
)

// Phase2Config is what a Quick Mode negotiates: ESP for the flow between
// Local and Remote, as an ike rule's quick settings name it.
type Phase2Config struct {
	Local, Remote netip.Prefix
	IPProto       uint8 // 0 for any
	Mode          ipsec.Mode
	// Enc, Auth and Group are as ipsec.conf names them; Auth is "" for an
	// AEAD Enc and Group "none" for no PFS.
	Enc, Auth, Group string
	Lifetime         time.Duration
}

// espEnc is an ESP encryption algorithm Quick Mode can name, with the name
// and key length gif's ESP gives it.
type espEnc struct {
	name    string // as ipsec.conf names it in quick mode
	id      uint8  // ESP transform ID
	bits    int    // key length, 0 for null
	salt    int    // bytes of KEYMAT after the key: nonce or salt
	aead    bool
	espName string // gif's ESP's name
}

var espEncs = []espEnc{
	{"aes", isakmp.ESPAES, 128, 0, false, "aes"},
	{"aes-128", isakmp.ESPAES, 128, 0, false, "aes"},
	{"aes-192", isakmp.ESPAES, 192, 0, false, "aes"},
	{"aes-256", isakmp.ESPAES, 256, 0, false, "aes"},
	{"aesctr", isakmp.ESPAESCTR, 128, 4, false, "aesctr"},
	{"aes-128-ctr", isakmp.ESPAESCTR, 128, 4, false, "aesctr"},
	{"aes-192-ctr", isakmp.ESPAESCTR, 192, 4, false, "aesctr"},
	{"aes-256-ctr", isakmp.ESPAESCTR, 256, 4, false, "aesctr"},
	{"aes-128-gcm", isakmp.ESPAESGCM, 128, 4, true, "aes-128-gcm"},
	{"aes-256-gcm", isakmp.ESPAESGCM, 256, 4, true, "aes-256-gcm"},
	{"null", isakmp.ESPNull, 0, 0, false, "null"},
}

// espAuth is an ESP authentication algorithm, with its key length.
type espAuth struct {
	name   string
	id     uint16
	keyLen int
}

var espAuths = []espAuth{
	{"hmac-sha1", isakmp.AuthAlgHMACSHA1, 20},
	{"hmac-sha2-256", isakmp.AuthAlgHMACSHA2256, 32},
	{"hmac-sha2-384", isakmp.AuthAlgHMACSHA2384, 48},
	{"hmac-sha2-512", isakmp.AuthAlgHMACSHA2512, 64},
}

func findESPEnc(name string) *espEnc {
	for i := range espEncs {
		if espEncs[i].name == name {
			return &espEncs[i]
		}
	}
	return nil
}

func findESPAuth(name string) *espAuth {
	for i := range espAuths {
		if espAuths[i].name == name {
			return &espAuths[i]
		}
	}
	return nil
}

// ChildSA is what a Quick Mode made: the two ESP SAs of a flow, with keys
// as gif's ESP takes them (an aesctr or GCM key ends with its salt).
type ChildSA struct {
	Local, Remote netip.Prefix
	IPProto       uint8
	Mode          ipsec.Mode
	SPIIn, SPIOut uint32 // SPIIn is the one this side chose, the peer sends with
	Enc, Auth     string // gif's ESP's names; Auth "" with an AEAD
	EncKeyIn      []byte
	EncKeyOut     []byte
	AuthKeyIn     []byte
	AuthKeyOut    []byte
	Lifetime      time.Duration
	// UDPEncap says that the SAs' ESP travels in UDP, port 4500 (RFC 3948).
	UDPEncap bool
}

// Phase2 is one Quick Mode exchange under a phase-1 SA.
type Phase2 struct {
	p1        *Phase1
	cfg       Phase2Config
	Initiator bool
	MessageID uint32
	step      int
	spiIn     [4]byte
	spiOut    [4]byte
	ni, nr    []byte
	secret    *dh.Private
	enc       *espEnc
	auth      *espAuth
	group     *dh.Group // nil without PFS
	lifetime  time.Duration
	gqmxy     []byte
	Child     *ChildSA // once done
	exchange
}

// Done reports whether the exchange has made its SAs.
func (q *Phase2) Done() bool { return q.Child != nil }

// proposal returns the ESP proposal of cfg with SPI spi.
func (q *Phase2) proposal() (*isakmp.SA, error) {
	c := q.cfg
	enc := findESPEnc(c.Enc)
	if enc == nil {
		return nil, fmt.Errorf("quick mode: enc %q unknown", c.Enc)
	}
	attrs := []isakmp.Attribute{
		isakmp.BasicAttr(isakmp.IPsecLifeType, isakmp.LifeSeconds),
		isakmp.UintAttr(isakmp.IPsecLifeDuration, uint32(c.Lifetime/time.Second)),
	}
	if c.Group != "none" {
		g := dh.ByName(c.Group)
		if g == nil {
			return nil, fmt.Errorf("quick mode: group %q unknown", c.Group)
		}
		attrs = append(attrs, isakmp.BasicAttr(isakmp.IPsecGroup, g.ID))
	}
	attrs = append(attrs, isakmp.BasicAttr(isakmp.IPsecEncapMode, q.encap()))
	if !enc.aead && c.Auth != "" {
		a := findESPAuth(c.Auth)
		if a == nil {
			return nil, fmt.Errorf("quick mode: auth %q unknown", c.Auth)
		}
		attrs = append(attrs, isakmp.BasicAttr(isakmp.IPsecAuthAlg, a.id))
	}
	if enc.bits != 0 {
		attrs = append(attrs, isakmp.BasicAttr(isakmp.IPsecKeyLength, uint16(enc.bits)))
	}
	return &isakmp.SA{DOI: isakmp.DOIIPsec, Situation: isakmp.SituationIdentityOnly, Proposals: []isakmp.Proposal{{
		Number: 1, Protocol: isakmp.ProtoESP, SPI: q.spiIn[:],
		Transforms: []isakmp.Transform{{Number: 1, ID: enc.id, Attributes: attrs}},
	}}}, nil
}

// encap is the encapsulation mode of q's SAs: in UDP when phase 1 found a
// NAT (RFC 3947 §5).
func (q *Phase2) encap() uint16 {
	transport := q.cfg.Mode == ipsec.Transport
	switch {
	case q.p1.Floats() && transport:
		return isakmp.EncapUDPTransport
	case q.p1.Floats():
		return isakmp.EncapUDPTunnel
	case transport:
		return isakmp.EncapTransport
	}
	return isakmp.EncapTunnel
}

// accept checks a proposed or chosen ESP proposal against q's
// configuration and takes its values: the same algorithms, key length,
// group and mode; the shorter lifetime.
func (q *Phase2) accept(sa *isakmp.SA) error {
	c := q.cfg
	want := findESPEnc(c.Enc)
	var why []string
	for _, prop := range sa.Proposals {
		if prop.Protocol != isakmp.ProtoESP || len(prop.SPI) != 4 {
			why = append(why, fmt.Sprintf("proposal %d: %v with a %d-byte SPI", prop.Number, prop.Protocol, len(prop.SPI)))
			continue
		}
		for _, t := range prop.Transforms {
			bits, _ := t.Value(isakmp.IPsecKeyLength)
			authID, hasAuth := t.Value(isakmp.IPsecAuthAlg)
			groupID, hasGroup := t.Value(isakmp.IPsecGroup)
			mode, _ := t.Value(isakmp.IPsecEncapMode)
			wantAuth := findESPAuth(c.Auth)
			switch {
			case want == nil || t.ID != want.id || int(bits) != want.bits:
				why = append(why, fmt.Sprintf("transform %d: ESP transform %d with a %d-bit key", t.Number, t.ID, bits))
			case !want.aead && (wantAuth == nil || !hasAuth || uint16(authID) != wantAuth.id):
				why = append(why, fmt.Sprintf("transform %d: authentication %d", t.Number, authID))
			case want.aead && hasAuth:
				why = append(why, fmt.Sprintf("transform %d: authentication %d with an AEAD", t.Number, authID))
			case (c.Group == "none") == hasGroup || hasGroup && (dh.ByID(uint16(groupID)) == nil || dh.ByID(uint16(groupID)).Name != c.Group):
				why = append(why, fmt.Sprintf("transform %d: PFS group %d", t.Number, groupID))
			case uint16(mode) != q.encap():
				why = append(why, fmt.Sprintf("transform %d: encapsulation mode %d", t.Number, mode))
			default:
				q.enc, q.auth = want, nil
				if !want.aead {
					q.auth = wantAuth
				}
				if hasGroup {
					q.group = dh.ByID(uint16(groupID))
				}
				q.lifetime = c.Lifetime
				if lt, ok := t.Value(isakmp.IPsecLifeType); ok && lt == isakmp.LifeSeconds {
					if d, ok := t.Value(isakmp.IPsecLifeDuration); ok && d > 0 && time.Duration(d)*time.Second < q.lifetime {
						q.lifetime = time.Duration(d) * time.Second
					}
				}
				copy(q.spiOut[:], prop.SPI)
				return nil
			}
		}
	}
	return fail(isakmp.NotifyNoProposalChosen, "quick mode: nothing acceptable (want %s %s group %s %s): %v", c.Enc, c.Auth, c.Group, c.Mode, why)
}

// StartQuick begins a Quick Mode under the done phase-1 SA p1, offering
// the ESP SA of cfg whose inbound SPI is spi.
func (p1 *Phase1) StartQuick(cfg Phase2Config, spi uint32) (*Phase2, []byte, error) {
	r := p1.cfg.rand()
	q := &Phase2{p1: p1, cfg: cfg, Initiator: true}
	binary.BigEndian.PutUint32(q.spiIn[:], spi)
	var id [4]byte
	for q.MessageID == 0 {
		if _, err := io.ReadFull(r, id[:]); err != nil {
			return nil, nil, fmt.Errorf("quick mode: message ID: %w", err)
		}
		q.MessageID = binary.BigEndian.Uint32(id[:])
	}
	q.iv = p1.hash.MessageIV(p1.LastBlock(), q.MessageID)
	sa, err := q.proposal()
	if err != nil {
		return nil, nil, err
	}
	if cfg.Group != "none" {
		q.group = dh.ByName(cfg.Group)
	}
	pl, err := q.offer(r, sa.Append(nil))
	if err != nil {
		return nil, nil, err
	}
	hash := p1.hash.MessageHash(p1.Keys.A, q.MessageID, nil, isakmp.AppendPayloads(nil, pl))
	q.step = 1
	return q, q.send(append([]isakmp.Payload{{Type: isakmp.PayloadHash, Body: hash}}, pl...)), nil
}

// offer makes this side's nonce and, with PFS, its DH secret, and returns
// the payloads after the HASH: SA, nonce, KE and the flow's IDs, the
// initiator's first.
func (q *Phase2) offer(r io.Reader, saBody []byte) ([]isakmp.Payload, error) {
	nonce := make([]byte, nonceLen)
	if _, err := io.ReadFull(r, nonce); err != nil {
		return nil, fmt.Errorf("quick mode: nonce: %w", err)
	}
	pl := []isakmp.Payload{{Type: isakmp.PayloadSA, Body: saBody}, {Type: isakmp.PayloadNonce, Body: nonce}}
	if q.Initiator {
		q.ni = nonce
	} else {
		q.nr = nonce
	}
	if q.group != nil {
		var err error
		if q.secret, err = q.group.Generate(r); err != nil {
			return nil, err
		}
		pl = append(pl, isakmp.Payload{Type: isakmp.PayloadKE, Body: q.secret.Public()})
	}
	idI, idR := q.cfg.Local, q.cfg.Remote
	if !q.Initiator {
		idI, idR = idR, idI
	}
	return append(pl, isakmp.Payload{Type: isakmp.PayloadID, Body: flowID(idI, q.cfg.IPProto)},
		isakmp.Payload{Type: isakmp.PayloadID, Body: flowID(idR, q.cfg.IPProto)}), nil
}

// flowID is the ID body of one side of a flow: an address for one host, a
// subnet otherwise.
func flowID(p netip.Prefix, proto uint8) []byte {
	if p.IsSingleIP() {
		return isakmp.AddrID(p.Addr(), proto, 0).Append(nil)
	}
	return isakmp.PrefixID(p, proto, 0).Append(nil)
}

// send makes an encrypted message of q's exchange, and keeps it.
func (q *Phase2) send(pl []isakmp.Payload) []byte {
	return q.seal(q.p1.cipher, isakmp.Header{ICookie: q.p1.ICookie, RCookie: q.p1.RCookie, Exchange: isakmp.ExchangeQuick,
		MessageID: q.MessageID}, pl)
}

// open decrypts a message of q's exchange and checks that its first
// payload is a HASH; it returns the HASH's body and the bytes of the
// payloads after it, as sent.
func (q *Phase2) open(raw []byte) (hash []byte, rest []byte, pl []isakmp.Payload, err error) {
	h, body, err := isakmp.ParseHeader(raw)
	if err != nil {
		return nil, nil, nil, fail(isakmp.NotifyPayloadMalformed, "quick mode: %w", err)
	}
	if h.Exchange != isakmp.ExchangeQuick || h.MessageID != q.MessageID || h.Flags&isakmp.FlagEncryption == 0 {
		return nil, nil, nil, fail(isakmp.NotifyInvalidMessageID, "quick mode: not a message of exchange %08x", q.MessageID)
	}
	plain, next, err := q.p1.cipher.Decrypt(q.iv, body)
	if err != nil {
		return nil, nil, nil, fail(isakmp.NotifyPayloadMalformed, "quick mode: %w", err)
	}
	pl, _, err = isakmp.ParsePayloads(h.Next, plain)
	if err != nil {
		return nil, nil, nil, fail(isakmp.NotifyPayloadMalformed, "quick mode: decrypted: %w", err)
	}
	if len(pl) == 0 || pl[0].Type != isakmp.PayloadHash {
		return nil, nil, nil, fail(isakmp.NotifyPayloadMalformed, "quick mode: the first payload is not HASH")
	}
	q.iv = next
	return pl[0].Body, plain[4+len(pl[0].Body) : 4+len(pl[0].Body)+isakmp.PayloadsLen(pl[1:])], pl[1:], nil
}

// quickPayloads are the payloads of a Quick Mode's first or second
// message.
type quickPayloads struct {
	sa, nonce, ke []byte
	ids           [][]byte
}

func readQuick(pl []isakmp.Payload) (quickPayloads, error) {
	var qp quickPayloads
	for _, p := range pl {
		switch p.Type {
		case isakmp.PayloadSA:
			qp.sa = p.Body
		case isakmp.PayloadNonce:
			qp.nonce = p.Body
		case isakmp.PayloadKE:
			qp.ke = p.Body
		case isakmp.PayloadID:
			qp.ids = append(qp.ids, p.Body)
		}
	}
	switch {
	case qp.sa == nil || qp.nonce == nil:
		return qp, fail(isakmp.NotifyPayloadMalformed, "quick mode: no SA or nonce")
	case len(qp.nonce) < 8 || len(qp.nonce) > 256:
		return qp, fail(isakmp.NotifyPayloadMalformed, "quick mode: nonce of %d bytes", len(qp.nonce))
	case len(qp.ids) != 0 && len(qp.ids) != 2:
		return qp, fail(isakmp.NotifyPayloadMalformed, "quick mode: %d IDs", len(qp.ids))
	}
	return qp, nil
}

// QuickPolicy finds the Quick Mode configuration of the flow a peer
// proposes: its own side (the initiator's) and this side's, with the IP
// protocol; false when no rule has it.
type QuickPolicy func(remote, local netip.Prefix, ipProto uint8) (Phase2Config, bool)

// AnswerQuick answers the first message of a Quick Mode under the done
// phase-1 SA p1, as responder, with the inbound SPI spi.
func (p1 *Phase1) AnswerQuick(raw []byte, policy QuickPolicy, spi uint32) (*Phase2, []byte, error) {
	r := p1.cfg.rand()
	h, _, err := isakmp.ParseHeader(raw)
	if err != nil {
		return nil, nil, fail(isakmp.NotifyPayloadMalformed, "quick mode: %w", err)
	}
	q := &Phase2{p1: p1, MessageID: h.MessageID}
	binary.BigEndian.PutUint32(q.spiIn[:], spi)
	q.iv = p1.hash.MessageIV(p1.LastBlock(), q.MessageID)
	hash, rest, pl, err := q.open(raw)
	if err != nil {
		return nil, nil, err
	}
	if !bytes.Equal(hash, p1.hash.MessageHash(p1.Keys.A, q.MessageID, nil, rest)) {
		return nil, nil, fail(isakmp.NotifyInvalidHashInformation, "quick mode: HASH(1) does not match")
	}
	qp, err := readQuick(pl)
	if err != nil {
		return nil, nil, err
	}
	remote, local := netip.PrefixFrom(p1.cfg.Peer, p1.cfg.Peer.BitLen()), netip.PrefixFrom(p1.cfg.Local, p1.cfg.Local.BitLen())
	var proto uint8
	if qp.ids != nil {
		var errI, errR error
		var idI, idR isakmp.ID
		if idI, errI = isakmp.ParseID(qp.ids[0]); errI == nil {
			remote, errI = idI.Prefix()
		}
		if idR, errR = isakmp.ParseID(qp.ids[1]); errR == nil {
			local, errR = idR.Prefix()
		}
		if errI != nil || errR != nil || idI.Protocol != idR.Protocol || idI.Port != 0 || idR.Port != 0 {
			return nil, nil, fail(isakmp.NotifyInvalidIDInformation, "quick mode: IDs %x and %x: %v %v", qp.ids[0], qp.ids[1], errI, errR)
		}
		proto = idI.Protocol
	}
	cfg, ok := policy(remote, local, proto)
	if !ok {
		return nil, nil, fail(isakmp.NotifyInvalidIDInformation, "quick mode: no ike rule for %s to %s proto %d", remote, local, proto)
	}
	q.cfg = cfg
	q.ni = bytes.Clone(qp.nonce)
	sa, err := isakmp.ParseSA(qp.sa)
	if err != nil {
		return nil, nil, fail(isakmp.NotifyPayloadMalformed, "quick mode: %w", err)
	}
	if err := q.accept(sa); err != nil {
		return nil, nil, err
	}
	if (q.group != nil) != (qp.ke != nil) {
		return nil, nil, fail(isakmp.NotifyPayloadMalformed, "quick mode: a KE payload must come with PFS, and only then")
	}
	chosen, err := q.proposal()
	if err != nil {
		return nil, nil, err
	}
	chosen.Proposals[0].Number = sa.Proposals[0].Number
	out, err := q.offer(r, chosen.Append(nil))
	if err != nil {
		return nil, nil, err
	}
	if q.group != nil {
		if q.gqmxy, err = q.secret.Shared(qp.ke); err != nil {
			return nil, nil, fail(isakmp.NotifyInvalidKeyInformation, "quick mode: %w", err)
		}
	}
	if qp.ids == nil {
		out = out[:len(out)-2] // answer without IDs as asked without
	}
	hash2 := p1.hash.MessageHash(p1.Keys.A, q.MessageID, q.ni, isakmp.AppendPayloads(nil, out))
	q.step = 2
	q.lastGot = bytes.Clone(raw) // a repeat of message 1 gets message 2 again
	return q, q.send(append([]isakmp.Payload{{Type: isakmp.PayloadHash, Body: hash2}}, out...)), nil
}

// Handle takes the peer's next message of the exchange and returns the
// answer, nil when there is none.
func (q *Phase2) Handle(raw []byte) ([]byte, error) { return q.take(raw, q.handle) }

func (q *Phase2) handle(raw []byte) ([]byte, error) {
	p1 := q.p1
	hash, rest, pl, err := q.open(raw)
	if err != nil {
		return nil, err
	}
	switch {
	case q.Initiator && q.step == 1:
		qp, err := readQuick(pl)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(hash, p1.hash.MessageHash(p1.Keys.A, q.MessageID, q.ni, rest)) {
			return nil, fail(isakmp.NotifyInvalidHashInformation, "quick mode: HASH(2) does not match")
		}
		sa, err := isakmp.ParseSA(qp.sa)
		if err != nil {
			return nil, fail(isakmp.NotifyPayloadMalformed, "quick mode: %w", err)
		}
		if len(sa.Proposals) != 1 || len(sa.Proposals[0].Transforms) != 1 {
			return nil, fail(isakmp.NotifyBadProposalSyntax, "quick mode: the responder chose %d proposals", len(sa.Proposals))
		}
		if err := q.accept(sa); err != nil {
			return nil, err
		}
		q.nr = bytes.Clone(qp.nonce)
		if q.group != nil {
			if qp.ke == nil {
				return nil, fail(isakmp.NotifyPayloadMalformed, "quick mode: no KE for PFS")
			}
			if q.gqmxy, err = q.secret.Shared(qp.ke); err != nil {
				return nil, fail(isakmp.NotifyInvalidKeyInformation, "quick mode: %w", err)
			}
		}
		reply := q.send([]isakmp.Payload{{Type: isakmp.PayloadHash, Body: p1.hash.QuickHash3(p1.Keys.A, q.MessageID, q.ni, q.nr)}})
		q.finish()
		return reply, nil
	case !q.Initiator && q.step == 2:
		if len(pl) != 0 || !bytes.Equal(hash, p1.hash.QuickHash3(p1.Keys.A, q.MessageID, q.ni, q.nr)) {
			return nil, fail(isakmp.NotifyInvalidHashInformation, "quick mode: HASH(3) does not match")
		}
		q.finish()
		return nil, nil
	}
	return nil, fail(isakmp.NotifyInvalidMessageID, "quick mode: unexpected message after message %d", q.step)
}

// finish ends the exchange with its SAs.
func (q *Phase2) finish() {
	q.step = 3
	q.Child = q.child()
}

// child derives the keys of both SAs, known once the responder has sent
// message 2: encryption key first, then authentication key, from KEYMAT of
// each SPI.
func (q *Phase2) child() *ChildSA {
	encLen := q.enc.bits/8 + q.enc.salt
	authLen := 0
	c := &ChildSA{Local: q.cfg.Local, Remote: q.cfg.Remote, IPProto: q.cfg.IPProto, Mode: q.cfg.Mode,
		SPIIn: binary.BigEndian.Uint32(q.spiIn[:]), SPIOut: binary.BigEndian.Uint32(q.spiOut[:]),
		Enc: q.enc.espName, Lifetime: q.lifetime, UDPEncap: q.p1.Floats()}
	if q.auth != nil {
		c.Auth, authLen = q.auth.name, q.auth.keyLen
	}
	ni, nr := q.ni, q.nr
	keymat := func(spi []byte) (enc, auth []byte) {
		k := q.p1.hash.KeyMaterial(q.p1.Keys.D, q.gqmxy, isakmp.ProtoESP, spi, ni, nr, encLen+authLen)
		if encLen > 0 {
			enc = k[:encLen]
		}
		if authLen > 0 {
			auth = k[encLen:]
		}
		return enc, auth
	}
	c.EncKeyIn, c.AuthKeyIn = keymat(q.spiIn[:])
	c.EncKeyOut, c.AuthKeyOut = keymat(q.spiOut[:])
	return c
}
