package ipsecconf

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"gif/internal/ipsec"
	"gif/internal/ipsec/policy"
)

// The defaults of OpenBSD's ipsecctl (ike.c r1.85, ipsec.conf(5)).
var (
	defaultMain  = policy.IKEPhase{Auth: "hmac-sha1", Enc: "aes", Group: "modp3072", Lifetime: 3600 * time.Second}
	defaultQuick = policy.IKEPhase{Auth: "hmac-sha2-256", Enc: "aes", Group: "modp3072", Lifetime: 1200 * time.Second}
)

// The algorithms gif's IKEv1 negotiates: what Go's standard library does
// and, in phase 2, what gif's ESP has.
var (
	mainEncs   = []string{"aes", "aes-128", "aes-192", "aes-256"}
	mainAuths  = []string{"hmac-sha1", "hmac-sha2-256", "hmac-sha2-384", "hmac-sha2-512"}
	quickEncs  = []string{"aes", "aes-128", "aes-192", "aes-256", "aesctr", "aes-128-ctr", "aes-192-ctr", "aes-256-ctr", "aes-128-gcm", "aes-256-gcm", "null"}
	quickAEADs = []string{"aes-128-gcm", "aes-256-gcm"}
	quickAuths = mainAuths
	// groupAliases maps ipsecctl's grpN names to the group they name.
	groupAliases = map[string]string{
		"grp2": "modp1024", "grp5": "modp1536", "grp14": "modp2048", "grp15": "modp3072",
		"grp16": "modp4096", "grp17": "modp6144", "grp18": "modp8192",
		"grp19": "ecp256", "grp20": "ecp384", "grp21": "ecp521",
	}
	groups = []string{"modp1024", "modp1536", "modp2048", "modp3072", "modp4096", "modp6144", "modp8192", "ecp256", "ecp384", "ecp521"}
)

// ikeRule is an ike rule, read.
type ikeRule struct {
	first        token
	start        policy.Start
	proto        policy.Proto
	mode         ipsec.Mode
	ipProto      uint8
	src, dst     hostSpec
	local, peer  *netip.Addr // nil when not given; peer any is the zero Addr
	main, quick  policy.IKEPhase
	quickEncTok  *token // for errors about phase 2's enc
	quickAuthTok *token
	srcID, dstID string
	psk          string
}

// ike reads:
//
//	ike [active|passive|dynamic] [esp|ah] [tunnel|transport] [proto P]
//	    from SRC to DST [peer ADDR|any] [local ADDR]
//	    [main [auth A] [enc E] [group G] [lifetime T]]
//	    [quick [auth A] [enc E] [group G] [lifetime T]]
//	    [srcid ID] [dstid ID] [rsa | psk STRING]
//
// with the items after DST in any order.
func (p *parser) ike(r *rule) error {
	first := r.next()
	k := ikeRule{first: first, start: policy.Active, proto: policy.ESP, mode: ipsec.Tunnel, main: defaultMain, quick: defaultQuick}
	if start, ok := word(r.peek(), policy.ParseStart); ok {
		r.next()
		k.start = start
	}
	proto, isProto := word(r.peek(), policy.ParseProto)
	switch t := r.peek(); {
	case isProto:
		r.next()
		k.proto = proto
	case t.is("ipcomp", "ipip"):
		return r.errorf(t, "ike %s is not supported: gif negotiates esp and ah", t.text)
	case t.is("interface"):
		return r.errorf(t, "ike interface rules (sec(4) interfaces) are not supported")
	}
	if mode, ok := word(r.peek(), ipsec.ParseMode); ok {
		r.next()
		k.mode = mode
	}
	if r.peek().is("proto") {
		r.next()
		var err error
		if k.ipProto, err = p.protocol(r, r.next()); err != nil {
			return err
		}
	}
	var err error
	if k.src, k.dst, err = hosts(r); err != nil {
		return err
	}
	if err := k.settings(r); err != nil {
		return err
	}
	if err := k.check(r); err != nil {
		return err
	}
	ps, err := pairs(r, k.src, k.dst)
	if err != nil {
		return err
	}
	for _, pr := range ps {
		rule := policy.IKE{
			File: r.file, Line: first.line, Start: k.start, Proto: k.proto, Mode: k.mode,
			IPProto: k.ipProto, Src: pr.src, Dst: pr.dst, Main: k.main, Quick: k.quick,
			SrcID: k.srcID, DstID: k.dstID, PSK: k.psk,
		}
		switch {
		case k.peer != nil:
			rule.Peer = *k.peer
		case pr.dst.IsSingleIP():
			rule.Peer = pr.dst.Addr()
		}
		if k.local != nil {
			rule.Local = *k.local
		}
		p.cfg.IKE = append(p.cfg.IKE, rule)
	}
	return nil
}

// settings reads what follows the hosts, in any order, each once.
func (k *ikeRule) settings(r *rule) error {
	seen := map[string]bool{}
	for !r.atEnd() {
		t := r.next()
		item := t.text
		if t.is("rsa", "psk") {
			item = "rsa or psk"
		}
		if seen[item] {
			return r.errorf(t, "%s is given twice", item)
		}
		seen[item] = true
		var err error
		switch {
		case t.is("peer"):
			k.peer, err = ikeAddr(r, true)
		case t.is("local"):
			k.local, err = ikeAddr(r, false)
		case t.is("main"):
			err = k.phase(r, &k.main, false)
		case t.is("quick"):
			err = k.phase(r, &k.quick, true)
		case t.is("aggressive"):
			return r.errorf(t, "aggressive mode is refused: it sends the identities in the clear, and with a psk lets an eavesdropper guess the key offline; use main mode (the default)")
		case t.is("srcid", "dstid"):
			var v token
			if v, err = r.value("an identity: an address, a host name or user@host"); err == nil {
				if t.text == "srcid" {
					k.srcID = v.text
				} else {
					k.dstID = v.text
				}
			}
		case t.is("rsa"):
		case t.is("psk"):
			var v token
			if v, err = r.value("the pre-shared key"); err == nil {
				if v.text == "" {
					return r.errorf(t, "the pre-shared key is empty")
				}
				k.psk = v.text
			}
		case t.is("tag"):
			return r.errorf(t, "tag is not supported: gif has no pf(4) to match tags")
		case t.is("port"):
			return r.errorf(t, "ports are not supported: gif's flows match addresses and protocols")
		default:
			return r.errorf(t, "unexpected: an ike rule goes on with peer, local, main, quick, srcid, dstid, rsa and psk")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ikeAddr reads the address after peer or local; any, for a peer, is the
// zero Addr.
func ikeAddr(r *rule, anyOK bool) (*netip.Addr, error) {
	v := r.next()
	var a netip.Addr
	if anyOK && v.is("any") {
		return &a, nil
	}
	if !v.isValue() {
		if anyOK {
			return nil, r.errorf(v, "expected the peer's address, or any")
		}
		return nil, r.errorf(v, "expected the local address")
	}
	a, err := parseAddr(r, v)
	return &a, err
}

// phase reads the transforms and lifetime after main or quick.
func (k *ikeRule) phase(r *rule, ph *policy.IKEPhase, quick bool) error {
	seen := map[string]bool{}
	for r.peek().is("auth", "enc", "group", "lifetime", "comp") {
		t := r.next()
		if seen[t.text] {
			return r.errorf(t, "%s is given twice", t.text)
		}
		seen[t.text] = true
		if t.is("comp") {
			return r.errorf(t, "comp is not supported: gif does no IPcomp")
		}
		v, err := r.value("a value for " + t.text)
		if err != nil {
			return err
		}
		switch t.text {
		case "auth":
			ph.Auth = v.text
			if quick {
				k.quickAuthTok = &v
			}
			err = choose(r, v, mainAuths, "authentication algorithm")
		case "enc":
			ph.Enc = v.text
			list := mainEncs
			if quick {
				list, k.quickEncTok = quickEncs, &v
			}
			err = choose(r, v, list, "encryption algorithm")
		case "group":
			ph.Group, err = group(r, v, quick)
		case "lifetime":
			ph.Lifetime, err = lifetime(r, v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// choose checks that v is one of names, which gif can do.
func choose(r *rule, v token, names []string, what string) error {
	if !slices.Contains(names, v.text) {
		return r.errorf(v, "unknown or unsupported %s; gif has %s", what, strings.Join(names, ", "))
	}
	return nil
}

// group returns the group v names; none, which means no PFS, only in
// phase 2.
func group(r *rule, v token, quick bool) (string, error) {
	name := v.text
	if alias, ok := groupAliases[name]; ok {
		name = alias
	}
	if name == "none" {
		if !quick {
			return "", r.errorf(v, "phase 1 needs a Diffie-Hellman group: none is for quick mode, without PFS")
		}
		return name, nil
	}
	if !slices.Contains(groups, name) {
		return "", r.errorf(v, "unknown or unsupported group; gif has %s, and none in quick mode", strings.Join(groups, ", "))
	}
	return name, nil
}

// lifetime reads seconds, or minutes or hours with an m or h after them.
func lifetime(r *rule, v token) (time.Duration, error) {
	s, unit := v.text, time.Second
	if n := len(s); n > 1 {
		switch s[n-1] {
		case 'm', 'M':
			s, unit = s[:n-1], time.Minute
		case 'h', 'H':
			s, unit = s[:n-1], time.Hour
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if !isDigits(s) || err != nil {
		return 0, r.errorf(v, "expected a lifetime: seconds, or minutes or hours such as 20m or 1h")
	}
	if n == 0 {
		return 0, r.errorf(v, "a lifetime of 0 would end the SA at once")
	}
	return time.Duration(n) * unit, nil
}

// check applies what the rule's items mean together.
func (k *ikeRule) check(r *rule) error {
	q := &k.quick
	if k.proto == policy.AH {
		if k.quickEncTok != nil {
			return r.errorf(*k.quickEncTok, "ah does not encrypt: its quick mode takes no enc")
		}
		q.Enc = ""
		return nil
	}
	if slices.Contains(quickAEADs, q.Enc) {
		if k.quickAuthTok != nil {
			return r.errorf(*k.quickAuthTok, "authentication is implicit for %s: it takes no auth", q.Enc)
		}
		q.Auth = ""
	}
	return nil
}
