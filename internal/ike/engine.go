// Package ike runs the key exchanges of ipsec.conf's ike rules, as
// isakmpd(8) does for OpenBSD's ipsecctl: IKEv1 Main Mode and Quick Mode
// (package ikev1) with each rule's peer, retransmission, rekeying before
// lifetimes end, DELETE and INITIAL-CONTACT. The SAs it negotiates go to an
// Installer, the daemon's SAD and SPD, the same tables manual keys fill.
//
// An Engine does no I/O of its own: datagrams arrive through Receive and
// leave through a Transport, and time passes through Tick, so that it runs
// against fakes in tests.
package ike

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"gif/internal/ike/ikev1"
	"gif/internal/ike/isakmp"
	"gif/internal/ike/pki"
	"gif/internal/ipsec/policy"
)

// Port is IKE's UDP port.
const Port = 500

// Tuning of the exchanges.
const (
	// retransmitFirst is the wait before a message is sent again; each
	// retry doubles it, up to maxTries sends.
	retransmitFirst = time.Second
	maxTries        = 6
	// retryAfter is how long an active rule whose exchange failed waits
	// before it tries again.
	retryAfter = 30 * time.Second
	// rekeyAt is the part of a lifetime after which an SA is renewed;
	// the responder's side waits a little longer, so that the two sides
	// rarely renew the same SA at once.
	rekeyAt          = 0.85
	rekeyAtResponder = 0.92
)

// Transport sends IKE datagrams.
type Transport interface {
	Send(msg []byte, from netip.Addr, to netip.AddrPort) error
	// Keepalive sends a NAT keepalive (RFC 3948 §2.3) to port 4500.
	Keepalive(from netip.Addr, to netip.AddrPort) error
}

// Installer is where negotiated SAs go.
type Installer interface {
	// Install adds the two ESP SAs of child, made for rule between the
	// phase-1 addresses local and peer; outbound packets of the rule's flow
	// use the newest.
	Install(rule policy.IKE, local, peer netip.Addr, child *ikev1.ChildSA)
	// Remove drops the SAs of child.
	Remove(local, peer netip.Addr, child *ikev1.ChildSA)
}

// Config is what an Engine needs besides its rules.
type Config struct {
	// KeyDir holds the RSA keys (pki.DefaultDir when empty).
	KeyDir string
	Log    *slog.Logger
	// Rand is where cookies, nonces, SPIs and secrets come from;
	// crypto/rand when nil.
	Rand io.Reader
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Counters are the engine's counts, for gif ipsecctl -s ike and the
// daemon's metrics.
type Counters struct {
	In, Out      atomic.Uint64 // messages received and sent
	Dropped      atomic.Uint64 // messages refused: malformed, forged, of no exchange
	Retransmits  atomic.Uint64
	Started      [NumPhases]atomic.Uint64 // exchanges begun, as initiator or responder
	Failures     [NumPhases][NumFailReasons]atomic.Uint64
	Established1 atomic.Uint64 // ISAKMP SAs made
	Established2 atomic.Uint64 // pairs of ESP SAs made
}

// Failed returns how many exchanges failed, whatever the phase and reason.
func (c *Counters) Failed() uint64 {
	var n uint64
	for p := range c.Failures {
		for r := range c.Failures[p] {
			n += c.Failures[p][r].Load()
		}
	}
	return n
}

// Phase is the phase of an exchange: Main Mode, which makes an ISAKMP SA,
// or Quick Mode, which makes a pair of ESP SAs under one.
type Phase uint8

const (
	PhaseMain Phase = iota
	PhaseQuick

	NumPhases = iota
)

// String names the phase as the log does.
func (p Phase) String() string {
	if p == PhaseMain {
		return "Main Mode"
	}
	return "Quick Mode"
}

// FailReason is why an exchange failed, as far as a counter tells.
type FailReason uint8

const (
	FailOther          FailReason = iota // anything else: a malformed answer, a notification, a local error
	FailNoProposal                       // no proposal chosen: the two sides' transforms do not meet
	FailAuthentication                   // the peer's hash or signature did not check out
	FailUnreachable                      // no answer after every retransmission
	FailConfig                           // the rule cannot be negotiated as written: no local address, no key

	NumFailReasons = iota
)

var failReasonNames = [NumFailReasons]string{
	FailOther:          "other",
	FailNoProposal:     "no_proposal_chosen",
	FailAuthentication: "authentication_failed",
	FailUnreachable:    "peer_unreachable",
	FailConfig:         "configuration",
}

// String is the reason as one word, for metrics' labels.
func (r FailReason) String() string { return failReasonNames[r] }

// Engine negotiates the SAs of a set of ike rules. Its methods may be
// called from several goroutines.
type Engine struct {
	cfg       Config
	transport Transport
	installer Installer
	log       *slog.Logger
	Counters  Counters

	mu       sync.Mutex
	rules    []policy.IKE
	isakmp   []*isakmpSA
	quick    []*quickExchange
	children []*child
	retry    map[int]time.Time // rule index: when an active rule may try again
	gone     []*child          // children of rules Load removed, to delete at the next Tick
	goneSAs  []*isakmpSA       // ISAKMP SAs with peers no rule has any more, likewise
	now      time.Time
}

// isakmpSA is a Main Mode and, once done, the phase-1 SA it made.
type isakmpSA struct {
	p1           *ikev1.Phase1
	local, peer  netip.Addr
	peerPort     uint16 // 500, or where NAT traversal floated
	rule         int    // the rule it was made for, or -1 as responder
	started      time.Time
	sent         time.Time
	tries        int
	awaiting     bool // whether this side waits for the peer's message
	established  time.Time
	expires      time.Time
	keepalive    time.Time // when the next NAT keepalive is due
	renewed      bool
	pendingRules []int // rules whose Quick Mode waits for this SA
}

// quickExchange is a Quick Mode in flight.
type quickExchange struct {
	sa       *isakmpSA
	q        *ikev1.Phase2
	rule     int
	sent     time.Time
	tries    int
	awaiting bool
}

// child is an installed pair of ESP SAs.
type child struct {
	c           *ikev1.ChildSA
	rule        int
	sa          *isakmpSA // for DELETE; nil once the peer deleted it
	local, peer netip.Addr
	created     time.Time
	rekey       time.Time
	expires     time.Time
	renewed     bool
}

// New returns an engine with no rules.
func New(cfg Config, t Transport, in Installer) *Engine {
	if cfg.KeyDir == "" {
		cfg.KeyDir = pki.DefaultDir
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Engine{cfg: cfg, transport: t, installer: in, log: cfg.Log, retry: map[int]time.Time{}}
}

// Load replaces the rules. At the next Tick the SAs of rules no longer
// there are deleted and active rules start negotiating: Load itself calls
// neither the Transport nor the Installer, so its caller may hold the
// Installer's locks.
func (e *Engine) Load(rules []policy.IKE) {
	e.mu.Lock()
	old := e.rules
	e.rules = rules
	var gone []*child
	kept := e.children[:0]
	for _, c := range e.children {
		if i := indexRule(rules, old[c.rule]); i >= 0 {
			c.rule = i
			kept = append(kept, c)
		} else {
			gone = append(gone, c)
		}
	}
	e.children = kept
	e.quick = nil
	e.retry = map[int]time.Time{}
	kept2 := e.isakmp[:0]
	for _, sa := range e.isakmp {
		sa.pendingRules = nil
		if sa.rule >= 0 {
			sa.rule = indexRule(rules, old[sa.rule])
		}
		if e.ruleForPeer(sa.peer) < 0 {
			e.goneSAs = append(e.goneSAs, sa) // no rule has this peer any more
			continue
		}
		kept2 = append(kept2, sa)
	}
	e.isakmp = kept2
	e.gone = append(e.gone, gone...)
	e.mu.Unlock()
	// This host's RSA key is made as soon as a rule needs it, as OpenBSD's
	// rc makes it at boot, so that its local.pub can go to the peers.
	for _, r := range rules {
		if r.PSK == "" {
			e.localKey()
			break
		}
	}
}

// localKey returns this host's RSA key, made and logged the first time.
func (e *Engine) localKey() (*rsa.PrivateKey, error) {
	key, created, err := pki.LocalKey(e.cfg.KeyDir)
	if err != nil {
		e.log.Warn("ike: this host's RSA key: "+err.Error(), "dir", e.cfg.KeyDir)
		return nil, err
	}
	if created {
		e.log.Info("ike: made this host's RSA key; give the peers "+pki.LocalPubPath(e.cfg.KeyDir), "key", pki.LocalKeyPath(e.cfg.KeyDir))
	}
	return key, nil
}

// indexRule finds r in rules by what it negotiates, its place aside.
func indexRule(rules []policy.IKE, r policy.IKE) int {
	for i, o := range rules {
		o.File, o.Line = r.File, r.Line
		if o == r {
			return i
		}
	}
	return -1
}

// remove deletes children: the peer is told, unless it deleted them, and
// the installer drops them.
func (e *Engine) remove(gone []*child) {
	for _, c := range gone {
		if c.sa != nil && c.sa.p1.Done() {
			if msg, err := c.sa.p1.Informational(ikev1.DeleteESP(c.c.SPIIn)); err == nil {
				e.send(msg, c.sa)
			}
		}
		e.installer.Remove(c.local, c.peer, c.c)
	}
}

// Close deletes every SA: the peers are told.
func (e *Engine) Close() {
	e.mu.Lock()
	gone := e.children
	sas := e.isakmp
	e.children, e.isakmp, e.quick = nil, nil, nil
	e.mu.Unlock()
	e.remove(gone)
	e.removeSAs(sas)
}

// removeSAs tells the peers of established ISAKMP SAs that they are gone.
func (e *Engine) removeSAs(sas []*isakmpSA) {
	for _, sa := range sas {
		if sa.p1.Done() {
			if msg, err := sa.p1.Informational(sa.p1.DeleteSelf()); err == nil {
				e.send(msg, sa)
			}
		}
	}
}

// send sends a message of sa's exchanges to the peer's port: 500, or
// 4500 once NAT traversal has floated there.
func (e *Engine) send(msg []byte, sa *isakmpSA) {
	e.Counters.Out.Add(1)
	e.mu.Lock()
	to := netip.AddrPortFrom(sa.peer, sa.peerPort)
	e.mu.Unlock()
	if err := e.transport.Send(msg, sa.local, to); err != nil {
		e.log.Debug("ike: send", "to", to, "err", err)
	}
}

// localOf is the address a rule's phase 1 runs from: local, or the
// source when it is one address.
func localOf(r policy.IKE) netip.Addr {
	if r.Local.IsValid() {
		return r.Local
	}
	if r.Src.IsSingleIP() {
		return r.Src.Addr()
	}
	return netip.Addr{}
}

// phase1Config is what Main Mode with r's peer needs.
func (e *Engine) phase1Config(r policy.IKE, local, peer netip.Addr) (ikev1.Phase1Config, error) {
	c := ikev1.Phase1Config{Local: local, Peer: peer, Enc: r.Main.Enc, Hash: r.Main.Auth, Group: r.Main.Group,
		Lifetime: r.Main.Lifetime, Rand: e.cfg.Rand, InitialContact: !e.knows(peer), NATT: true}
	if r.SrcID != "" {
		id := isakmp.NamedID(r.SrcID)
		c.LocalID = &id
	}
	if r.DstID != "" {
		id := isakmp.NamedID(r.DstID)
		c.PeerID = &id
	}
	if r.PSK != "" {
		c.PSK = []byte(r.PSK)
		return c, nil
	}
	key, err := e.localKey()
	if err != nil {
		return c, configError{err}
	}
	if c.PeerKey, err = pki.PeerKey(e.cfg.KeyDir, peer, c.PeerID); err != nil {
		return c, configError{err}
	}
	c.Key = key
	return c, nil
}

// knows reports whether an ISAKMP SA or ESP SAs with peer exist.
func (e *Engine) knows(peer netip.Addr) bool {
	for _, sa := range e.isakmp {
		if sa.peer == peer && sa.p1.Done() {
			return true
		}
	}
	for _, c := range e.children {
		if c.peer == peer {
			return true
		}
	}
	return false
}

// phase2Config is what Quick Mode for r needs.
func phase2Config(r policy.IKE) ikev1.Phase2Config {
	return ikev1.Phase2Config{Local: r.Src, Remote: r.Dst, IPProto: r.IPProto, Mode: r.Mode,
		Enc: r.Quick.Enc, Auth: r.Quick.Auth, Group: r.Quick.Group, Lifetime: r.Quick.Lifetime}
}

// newSPI returns a random SPI above the reserved ones that no child uses
// inbound.
func (e *Engine) newSPI() uint32 {
	var b [4]byte
	for {
		io.ReadFull(e.cfg.Rand, b[:])
		spi := binary.BigEndian.Uint32(b[:])
		if spi < 0x100 {
			continue
		}
		taken := false
		for _, c := range e.children {
			taken = taken || c.c.SPIIn == spi
		}
		if !taken {
			return spi
		}
	}
}

// fail ends an exchange of phase with one log line that says why, counts
// it by reason, and lets its rule try again later.
func (e *Engine) fail(rule int, peer netip.Addr, phase Phase, err error) {
	why, words := reason(err)
	e.Counters.Failures[phase][why].Add(1)
	e.log.Warn("ike: "+phase.String()+" failed: "+words, "peer", peer)
	if rule >= 0 {
		e.retry[rule] = e.now.Add(retryAfter)
	}
}

// errUnreachable is the failure of an exchange whose peer never answered.
var errUnreachable = errors.New("peer unreachable: no answer after " + fmt.Sprint(maxTries) + " tries")

// configError is a rule that cannot be negotiated as written.
type configError struct{ err error }

func (c configError) Error() string { return c.err.Error() }
func (c configError) Unwrap() error { return c.err }

// reason says why an exchange failed, as a FailReason and in words.
func reason(err error) (FailReason, string) {
	var f *ikev1.Failure
	if errors.As(err, &f) {
		switch f.Notify {
		case isakmp.NotifyNoProposalChosen:
			return FailNoProposal, "no proposal chosen: " + f.Err.Error()
		case isakmp.NotifyAuthenticationFailed, isakmp.NotifyInvalidSignature:
			return FailAuthentication, "authentication failed: " + f.Err.Error()
		}
	}
	switch {
	case errors.Is(err, errUnreachable):
		return FailUnreachable, err.Error()
	case errors.As(err, new(configError)):
		return FailConfig, err.Error()
	}
	return FailOther, err.Error()
}
