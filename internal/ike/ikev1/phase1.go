package ikev1

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"net/netip"
	"time"

	"gif/internal/ike/dh"
	"gif/internal/ike/isakmp"
	"gif/internal/ike/pki"
)

// nonceLen is the length of the nonces gif sends, within RFC 2409's 8 to
// 256 bytes.
const nonceLen = 32

// Phase1Config is what one side of a Main Mode offers and knows.
type Phase1Config struct {
	Local, Peer netip.Addr
	// Enc, Hash and Group are as ipsec.conf names them: "aes" proposes a
	// 128-bit key and accepts 128 to 256 bits, "aes-256" only 256.
	Enc, Hash, Group string
	Lifetime         time.Duration
	// PSK authenticates with a pre-shared key; without it, Key signs and
	// PeerKey checks the peer's signature (RSA_SIG).
	PSK     []byte
	Key     *rsa.PrivateKey
	PeerKey *rsa.PublicKey
	// Rand is where cookies, nonces and secrets come from; crypto/rand
	// when nil.
	Rand io.Reader
	// InitialContact tells the peer that this side has no other SA with
	// it, so that it drops the ones it still has (after a restart, say).
	InitialContact bool
	// LocalID and PeerID are the identities of phase 1 (srcid and dstid);
	// nil is the side's address.
	LocalID, PeerID *isakmp.ID
	// NATT offers NAT traversal (RFC 3947); LocalPort and PeerPort are the
	// ports the NAT-D hashes name, 500 when zero.
	NATT                bool
	LocalPort, PeerPort uint16
}

// Failure is why an exchange failed, with the notification that tells the
// peer.
type Failure struct {
	Notify isakmp.NotifyType
	Err    error
}

func (f *Failure) Error() string { return fmt.Sprintf("%v: %v", f.Notify, f.Err) }
func (f *Failure) Unwrap() error { return f.Err }

func fail(n isakmp.NotifyType, format string, args ...any) error {
	return &Failure{Notify: n, Err: fmt.Errorf(format, args...)}
}

// phase1Step is where a Main Mode stands: the number of the last message
// sent or received.
type phase1Step int

// Phase1 is one Main Mode exchange and, once Done, the ISAKMP SA it made:
// its cookies, keys, cipher and the IV that Quick Mode starts from.
type Phase1 struct {
	cfg       Phase1Config
	Initiator bool
	ICookie   [8]byte
	RCookie   [8]byte
	step      phase1Step

	// What the SA payloads agreed.
	hash     *Hash
	group    *dh.Group
	keyLen   int // bytes
	psk      bool
	Lifetime time.Duration

	saiB     []byte // the initiator's SA body, as sent
	secret   *dh.Private
	gxi, gxr []byte
	ni, nr   []byte
	Keys     Keys
	cipher   *Cipher
	PeerID   isakmp.ID
	// PeerInitialContact says that the peer has no other SA with this
	// side: the old ones are to go.
	PeerInitialContact bool
	// natt says that both sides do NAT traversal; NATDetected that a NAT
	// is on the way (see Floats).
	natt        bool
	NATDetected bool
	// BehindNAT says that the NAT changed this side's address or port:
	// it is the side that sends NAT keepalives.
	BehindNAT bool
	exchange
}

// SetInitialContact says whether this side's message 5 or 6, when it
// comes to be sent, says INITIAL-CONTACT: whether this side has no other SA
// with the peer then, which may have changed since the exchange began.
func (p *Phase1) SetInitialContact(v bool) { p.cfg.InitialContact = v }

// Done reports whether the exchange has made its ISAKMP SA.
func (p *Phase1) Done() bool { return p.step == 6 }

func (c *Phase1Config) rand() io.Reader {
	if c.Rand == nil {
		return rand.Reader
	}
	return c.Rand
}

// keyBits returns the key length an enc name proposes, and the range it
// accepts.
func keyBits(enc string) (propose, min, max int) {
	switch enc {
	case "aes-128":
		return 128, 128, 128
	case "aes-192":
		return 192, 192, 192
	case "aes-256":
		return 256, 256, 256
	}
	return 128, 128, 256
}

// proposal returns the phase-1 SA this side proposes: one transform.
func (c *Phase1Config) proposal() (*isakmp.SA, error) {
	h, g := HashByName(c.Hash), dh.ByName(c.Group)
	if h == nil || g == nil {
		return nil, fmt.Errorf("phase 1: hash %q or group %q unknown", c.Hash, c.Group)
	}
	auth := uint16(isakmp.AuthRSASig)
	if c.PSK != nil {
		auth = isakmp.AuthPSK
	}
	bits, _, _ := keyBits(c.Enc)
	return &isakmp.SA{DOI: isakmp.DOIIPsec, Situation: isakmp.SituationIdentityOnly, Proposals: []isakmp.Proposal{{
		Number: 1, Protocol: isakmp.ProtoISAKMP,
		Transforms: []isakmp.Transform{{Number: 1, ID: isakmp.TransformKeyIKE, Attributes: []isakmp.Attribute{
			isakmp.BasicAttr(isakmp.P1Encryption, isakmp.EncAES),
			isakmp.BasicAttr(isakmp.P1KeyLength, uint16(bits)),
			isakmp.BasicAttr(isakmp.P1Hash, h.ID),
			isakmp.BasicAttr(isakmp.P1AuthMethod, auth),
			isakmp.BasicAttr(isakmp.P1Group, g.ID),
			isakmp.BasicAttr(isakmp.P1LifeType, isakmp.LifeSeconds),
			isakmp.UintAttr(isakmp.P1LifeDuration, uint32(c.Lifetime/time.Second)),
		}}},
	}}}, nil
}

// choose picks the first transform of sa that c accepts, and sets p's
// algorithms to it.
func (p *Phase1) choose(sa *isakmp.SA) (*isakmp.Transform, error) {
	if sa.DOI != isakmp.DOIIPsec {
		return nil, fail(isakmp.NotifyDOINotSupported, "phase 1: DOI %d", sa.DOI)
	}
	if sa.Situation != isakmp.SituationIdentityOnly {
		return nil, fail(isakmp.NotifySituationNotSupported, "phase 1: situation %d", sa.Situation)
	}
	var why []string
	for _, prop := range sa.Proposals {
		if prop.Protocol != isakmp.ProtoISAKMP {
			why = append(why, fmt.Sprintf("proposal %d is for %v", prop.Number, prop.Protocol))
			continue
		}
		for i := range prop.Transforms {
			t := &prop.Transforms[i]
			if err := p.accept(t); err != nil {
				why = append(why, fmt.Sprintf("transform %d: %v", t.Number, err))
				continue
			}
			return t, nil
		}
	}
	return nil, fail(isakmp.NotifyNoProposalChosen, "phase 1: nothing acceptable (want %s %s %s %s): %v",
		p.cfg.Enc, p.cfg.Hash, p.cfg.Group, authName(p.cfg.PSK != nil), why)
}

func authName(psk bool) string {
	if psk {
		return "psk"
	}
	return "rsa"
}

// accept checks one phase-1 transform against c, and takes its values.
func (p *Phase1) accept(t *isakmp.Transform) error {
	if t.ID != isakmp.TransformKeyIKE {
		return fmt.Errorf("transform ID %d", t.ID)
	}
	enc, _ := t.Value(isakmp.P1Encryption)
	bits, _ := t.Value(isakmp.P1KeyLength)
	hashID, _ := t.Value(isakmp.P1Hash)
	auth, _ := t.Value(isakmp.P1AuthMethod)
	groupID, _ := t.Value(isakmp.P1Group)
	_, lo, hi := keyBits(p.cfg.Enc)
	wantAuth := uint64(isakmp.AuthRSASig)
	if p.cfg.PSK != nil {
		wantAuth = isakmp.AuthPSK
	}
	h, g := HashByID(uint16(hashID)), dh.ByID(uint16(groupID))
	switch {
	case enc != isakmp.EncAES || bits < uint64(lo) || bits > uint64(hi) || bits%64 != 0:
		return fmt.Errorf("encryption %d with a %d-bit key", enc, bits)
	case h == nil || h.Name != p.cfg.Hash:
		return fmt.Errorf("hash %d", hashID)
	case g == nil || g.Name != p.cfg.Group:
		return fmt.Errorf("group %d", groupID)
	case auth != wantAuth:
		return fmt.Errorf("authentication method %d", auth)
	}
	life := p.cfg.Lifetime
	if lt, ok := t.Value(isakmp.P1LifeType); ok && lt == isakmp.LifeSeconds {
		if d, ok := t.Value(isakmp.P1LifeDuration); ok && d > 0 && time.Duration(d)*time.Second < life {
			life = time.Duration(d) * time.Second
		}
	}
	p.hash, p.group, p.keyLen, p.psk, p.Lifetime = h, g, int(bits/8), p.cfg.PSK != nil, life
	return nil
}

// StartPhase1 begins a Main Mode as initiator and returns its first
// message: the SA proposal.
func StartPhase1(cfg Phase1Config) (*Phase1, []byte, error) {
	p := &Phase1{cfg: cfg, Initiator: true}
	if _, err := io.ReadFull(cfg.rand(), p.ICookie[:]); err != nil {
		return nil, nil, fmt.Errorf("phase 1: cookie: %w", err)
	}
	sa, err := cfg.proposal()
	if err != nil {
		return nil, nil, err
	}
	p.saiB = sa.Append(nil)
	p.step = 1
	pl := []isakmp.Payload{{Type: isakmp.PayloadSA, Body: p.saiB}}
	if cfg.NATT {
		pl = append(pl, natTPayload())
	}
	return p, p.send(pl...), nil
}

// AnswerPhase1 answers the first message of a Main Mode, which hdr and
// its payloads are, as responder.
func AnswerPhase1(cfg Phase1Config, msg *isakmp.Message) (*Phase1, []byte, error) {
	p := &Phase1{cfg: cfg, ICookie: msg.ICookie}
	body, ok := msg.Find(isakmp.PayloadSA)
	if !ok {
		return nil, nil, fail(isakmp.NotifyPayloadMalformed, "phase 1: first message without SA")
	}
	sa, err := isakmp.ParseSA(body)
	if err != nil {
		return nil, nil, fail(isakmp.NotifyPayloadMalformed, "phase 1: %w", err)
	}
	t, err := p.choose(sa)
	if err != nil {
		return nil, nil, err
	}
	if _, err := io.ReadFull(cfg.rand(), p.RCookie[:]); err != nil {
		return nil, nil, fmt.Errorf("phase 1: cookie: %w", err)
	}
	p.saiB = bytes.Clone(body)
	chosen := isakmp.SA{DOI: isakmp.DOIIPsec, Situation: isakmp.SituationIdentityOnly, Proposals: []isakmp.Proposal{{
		Number: sa.Proposals[0].Number, Protocol: isakmp.ProtoISAKMP, Transforms: []isakmp.Transform{*t},
	}}}
	p.step = 2
	pl := []isakmp.Payload{{Type: isakmp.PayloadSA, Body: chosen.Append(nil)}}
	if p.natt = cfg.NATT && offersNATT(msg); p.natt {
		pl = append(pl, natTPayload())
	}
	return p, p.send(pl...), nil
}

// send makes a message of p's exchange in the clear, and keeps it.
func (p *Phase1) send(pl ...isakmp.Payload) []byte {
	m := isakmp.Message{Header: isakmp.Header{ICookie: p.ICookie, RCookie: p.RCookie, Exchange: isakmp.ExchangeMain}, Payloads: pl}
	p.lastSent = m.Append(nil)
	return p.lastSent
}

// sendEncrypted makes an encrypted message of p's exchange, and keeps it.
func (p *Phase1) sendEncrypted(pl ...isakmp.Payload) []byte {
	return p.seal(p.cipher, isakmp.Header{ICookie: p.ICookie, RCookie: p.RCookie, Exchange: isakmp.ExchangeMain}, pl)
}

// Handle takes the peer's next message of the exchange and returns the
// answer, nil when there is none to send (the initiator, once done).
func (p *Phase1) Handle(raw []byte) ([]byte, error) { return p.take(raw, p.handle) }

func (p *Phase1) handle(raw []byte) ([]byte, error) {
	h, body, err := isakmp.ParseHeader(raw)
	if err != nil {
		return nil, fail(isakmp.NotifyPayloadMalformed, "phase 1: %w", err)
	}
	if h.Exchange != isakmp.ExchangeMain || h.ICookie != p.ICookie || (p.step > 1 && h.RCookie != p.RCookie) {
		return nil, fail(isakmp.NotifyInvalidCookie, "phase 1: message of another exchange")
	}
	var pl []isakmp.Payload
	if h.Flags&isakmp.FlagEncryption != 0 {
		if p.cipher == nil {
			return nil, fail(isakmp.NotifyInvalidFlags, "phase 1: encrypted before the keys are made")
		}
		plain, next, err := p.cipher.Decrypt(p.iv, body)
		if err != nil {
			return nil, fail(isakmp.NotifyPayloadMalformed, "phase 1: %w", err)
		}
		if pl, _, err = isakmp.ParsePayloads(h.Next, plain); err != nil {
			return nil, fail(isakmp.NotifyPayloadMalformed, "phase 1: decrypted: %w (a wrong pre-shared key garbles it so)", err)
		}
		p.iv = next
	} else {
		if p.step >= 4 {
			return nil, fail(isakmp.NotifyInvalidFlags, "phase 1: message %d in the clear", p.step+1)
		}
		m, err := isakmp.Parse(raw)
		if err != nil {
			return nil, fail(isakmp.NotifyPayloadMalformed, "phase 1: %w", err)
		}
		pl = m.Payloads
	}
	msg := &isakmp.Message{Header: h, Payloads: pl}
	switch {
	case p.Initiator && p.step == 1:
		p.RCookie = h.RCookie
		return p.gotSA(msg)
	case p.step == 2 && !p.Initiator, p.step == 3 && p.Initiator:
		return p.gotKE(msg)
	case p.step == 4 && !p.Initiator, p.step == 5 && p.Initiator:
		return p.gotAuth(msg)
	}
	return nil, fail(isakmp.NotifyInvalidExchangeType, "phase 1: unexpected message after message %d", p.step)
}

// gotSA takes the responder's choice (message 2) and sends KE and Ni.
func (p *Phase1) gotSA(msg *isakmp.Message) ([]byte, error) {
	body, ok := msg.Find(isakmp.PayloadSA)
	if !ok {
		return nil, fail(isakmp.NotifyPayloadMalformed, "phase 1: message 2 without SA")
	}
	sa, err := isakmp.ParseSA(body)
	if err != nil {
		return nil, fail(isakmp.NotifyPayloadMalformed, "phase 1: message 2: %w", err)
	}
	if len(sa.Proposals) != 1 || len(sa.Proposals[0].Transforms) != 1 {
		return nil, fail(isakmp.NotifyBadProposalSyntax, "phase 1: the responder chose %d proposals", len(sa.Proposals))
	}
	if _, err := p.choose(sa); err != nil {
		return nil, err
	}
	p.natt = p.cfg.NATT && offersNATT(msg)
	return p.sendKE(3)
}

// sendKE makes this side's DH secret and nonce and sends them.
func (p *Phase1) sendKE(step phase1Step) ([]byte, error) {
	var err error
	if p.secret, err = p.group.Generate(p.cfg.rand()); err != nil {
		return nil, err
	}
	nonce := make([]byte, nonceLen)
	if _, err := io.ReadFull(p.cfg.rand(), nonce); err != nil {
		return nil, fmt.Errorf("phase 1: nonce: %w", err)
	}
	if p.Initiator {
		p.gxi, p.ni = p.secret.Public(), nonce
	} else {
		p.gxr, p.nr = p.secret.Public(), nonce
	}
	p.step = step
	pl := []isakmp.Payload{{Type: isakmp.PayloadKE, Body: p.secret.Public()}, {Type: isakmp.PayloadNonce, Body: nonce}}
	if p.natt {
		pl = append(pl, p.natDPayloads()...)
	}
	return p.send(pl...), nil
}

// gotKE takes the peer's KE and nonce (message 3 or 4), makes the keys, and
// sends what comes next: KE and Nr, or the initiator's identity.
func (p *Phase1) gotKE(msg *isakmp.Message) ([]byte, error) {
	ke, okKE := msg.Find(isakmp.PayloadKE)
	nonce, okN := msg.Find(isakmp.PayloadNonce)
	if !okKE || !okN {
		return nil, fail(isakmp.NotifyPayloadMalformed, "phase 1: message %d without KE or nonce", p.step+1)
	}
	if len(nonce) < 8 || len(nonce) > 256 {
		return nil, fail(isakmp.NotifyPayloadMalformed, "phase 1: nonce of %d bytes", len(nonce))
	}
	if p.natt {
		p.checkNATD(msg)
	}
	var reply []byte
	if p.Initiator {
		p.gxr, p.nr = bytes.Clone(ke), bytes.Clone(nonce)
	} else {
		p.gxi, p.ni = bytes.Clone(ke), bytes.Clone(nonce)
		var err error
		if reply, err = p.sendKE(4); err != nil {
			return nil, err
		}
	}
	gxy, err := p.secret.Shared(ke)
	if err != nil {
		return nil, fail(isakmp.NotifyInvalidKeyInformation, "phase 1: %w", err)
	}
	skeyid := p.hash.SKEYIDSignature(p.ni, p.nr, gxy)
	if p.psk {
		skeyid = p.hash.SKEYIDPreShared(p.cfg.PSK, p.ni, p.nr)
	}
	p.Keys = p.hash.DeriveKeys(skeyid, gxy, p.ICookie, p.RCookie)
	if p.cipher, err = NewCipher(p.hash.EncryptionKey(p.Keys.E, p.keyLen)); err != nil {
		return nil, err
	}
	p.iv = p.hash.Phase1IV(p.gxi, p.gxr, p.cipher.BlockSize())
	if !p.Initiator {
		return reply, nil
	}
	p.step = 5
	return p.sendAuth()
}

// ownID is this side's phase-1 identity: its address.
func (p *Phase1) ownID() []byte {
	if p.cfg.LocalID != nil {
		return p.cfg.LocalID.Append(nil)
	}
	return isakmp.AddrID(p.cfg.Local, 0, 0).Append(nil)
}

// peerIs reports whether id is who the peer must be: PeerID when set,
// else its address.
func (p *Phase1) peerIs(id isakmp.ID) bool {
	if want := p.cfg.PeerID; want != nil {
		return id.Type == want.Type && bytes.EqualFold(id.Data, want.Data)
	}
	pfx, err := id.Prefix()
	return err == nil && pfx.IsSingleIP() && pfx.Addr() == p.cfg.Peer
}

// authHash is HASH_I when mine is the initiator's, else HASH_R, over the
// sender's ID body.
func (p *Phase1) authHash(initiators bool, idB []byte) []byte {
	if initiators {
		return p.hash.AuthHash(p.Keys.SKEYID, p.gxi, p.gxr, p.ICookie, p.RCookie, p.saiB, idB)
	}
	return p.hash.AuthHash(p.Keys.SKEYID, p.gxr, p.gxi, p.RCookie, p.ICookie, p.saiB, idB)
}

// sendAuth sends this side's identity and its proof (message 5 or 6).
func (p *Phase1) sendAuth() ([]byte, error) {
	id := p.ownID()
	proof := p.authHash(p.Initiator, id)
	typ := isakmp.PayloadHash
	if !p.psk {
		sig, err := pki.Sign(p.cfg.Key, proof)
		if err != nil {
			// A key too small for the hash, say.
			return nil, fmt.Errorf("phase 1: sign with this host's RSA key: %w", err)
		}
		proof, typ = sig, isakmp.PayloadSig
	}
	pl := []isakmp.Payload{{Type: isakmp.PayloadID, Body: id}, {Type: typ, Body: proof}}
	if p.cfg.InitialContact {
		pl = append(pl, p.InitialContact())
	}
	return p.sendEncrypted(pl...), nil
}

// gotAuth checks the peer's identity and proof (message 5 or 6).
func (p *Phase1) gotAuth(msg *isakmp.Message) ([]byte, error) {
	idB, ok := msg.Find(isakmp.PayloadID)
	if !ok {
		return nil, fail(isakmp.NotifyPayloadMalformed, "phase 1: message %d without ID", p.step+1)
	}
	id, err := isakmp.ParseID(idB)
	if err != nil {
		return nil, fail(isakmp.NotifyPayloadMalformed, "phase 1: %w", err)
	}
	if !p.peerIs(id) {
		return nil, fail(isakmp.NotifyInvalidIDInformation, "phase 1: the peer says it is %v %q, not whom the rule names", id.Type, id.Data)
	}
	want := p.authHash(!p.Initiator, idB)
	if p.psk {
		got, ok := msg.Find(isakmp.PayloadHash)
		if !ok || !bytes.Equal(got, want) {
			return nil, fail(isakmp.NotifyAuthenticationFailed, "phase 1: the peer's hash does not match: another pre-shared key?")
		}
	} else {
		sig, ok := msg.Find(isakmp.PayloadSig)
		if !ok {
			return nil, fail(isakmp.NotifyPayloadMalformed, "phase 1: message %d without SIG", p.step+1)
		}
		if err := pki.Verify(p.cfg.PeerKey, want, sig); err != nil {
			return nil, fail(isakmp.NotifyInvalidSignature, "phase 1: the peer's signature does not verify with its public key: %w", err)
		}
	}
	p.PeerID = isakmp.ID{Type: id.Type, Protocol: id.Protocol, Port: id.Port, Data: bytes.Clone(id.Data)}
	for _, pl := range msg.Payloads {
		if n, err := isakmp.ParseNotify(pl.Body); pl.Type == isakmp.PayloadNotify && err == nil && n.Type == isakmp.NotifyInitialContact {
			p.PeerInitialContact = true
		}
	}
	if p.Initiator {
		p.step = 6
		return nil, nil
	}
	reply, err := p.sendAuth()
	if err != nil {
		return nil, err
	}
	p.step = 6
	return reply, nil
}

// LastBlock is the IV that follows phase 1: the last cipher block of its
// last message, from which Quick Mode and Informational IVs come.
func (p *Phase1) LastBlock() []byte { return p.iv }
