package ipsecconf

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gif/internal/ipsec"
	"gif/internal/ipsec/policy"
)

// rule is the tokens of one rule, read one at a time.
type rule struct {
	file string
	toks []token
	i    int
	end  token // the newline or end of file after them
}

func (r *rule) peek() token {
	if r.i < len(r.toks) {
		return r.toks[r.i]
	}
	return r.end
}

func (r *rule) next() token {
	t := r.peek()
	if r.i < len(r.toks) {
		r.i++
	}
	return t
}

func (r *rule) atEnd() bool { return r.i >= len(r.toks) }

// errorf returns an *Error near t or, when t is the end of the rule, near
// the rule's last token.
func (r *rule) errorf(t token, format string, args ...any) error {
	if (t.kind == tokNewline || t.kind == tokEOF) && len(r.toks) > 0 {
		t = r.toks[len(r.toks)-1]
	}
	return &Error{File: r.file, Line: t.line, Token: t.text, Err: fmt.Errorf(format, args...)}
}

// value reads a string, what the error calls it if there is none.
func (r *rule) value(what string) (token, error) {
	t := r.next()
	if !t.isValue() {
		return t, r.errorf(t, "expected %s", what)
	}
	return t, nil
}

func (p *parser) rule(r *rule) error {
	if len(r.toks) > 1 && r.toks[1].isPunct("=") {
		return p.define(r)
	}
	switch t := r.peek(); {
	case t.is("include"):
		return p.include(r)
	case t.is("ike"):
		return p.ike(r)
	case t.is("flow"):
		return p.flow(r)
	case t.is("esp", "ah", "tunnel", "transport", "from", "to"):
		return p.sa(r)
	case t.is("ipcomp", "ipip", "tcpmd5"):
		return r.errorf(t, "%s rules are not supported: gif does esp and ah", t.text)
	default:
		return r.errorf(t, "expected a rule: esp, ah, flow, ike, include or NAME = VALUE")
	}
}

// define reads NAME = VALUE..., the words of the value joined by blanks.
func (p *parser) define(r *rule) error {
	name := r.next()
	r.next()
	switch {
	case !isMacroName(name.text):
		return r.errorf(name, "a macro's name is a letter and then letters, digits and _")
	case keywords[name.text]:
		return r.errorf(name, "%s is a reserved word: no macro's name", name.text)
	}
	var words []string
	for !r.atEnd() {
		t := r.next()
		if t.kind == tokPunct && !t.isPunct("/") {
			return r.errorf(t, "a macro's value is words and quoted strings")
		}
		words = append(words, t.text)
	}
	if words == nil {
		return r.errorf(r.end, "expected the macro's value")
	}
	p.macros[name.text] = strings.Join(words, " ")
	return nil
}

func isMacroName(s string) bool {
	if s == "" || !isAlnum(int(s[0])) || s[0] <= '9' {
		return false
	}
	for i := range len(s) {
		if !isAlnum(int(s[i])) && s[i] != '_' {
			return false
		}
	}
	return true
}

// isDigits reports whether s is a decimal number.
func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func (p *parser) include(r *rule) error {
	r.next()
	t, err := r.value("the name of the file to include")
	if err != nil {
		return err
	}
	if !r.atEnd() {
		return r.errorf(r.peek(), "expected the end of the rule: include takes one file")
	}
	if slices.Contains(p.including, filepath.Clean(t.text)) {
		return r.errorf(t, "%s is being read already: it would include itself", t.text)
	}
	if len(p.including) >= maxIncludeDepth {
		return r.errorf(t, "files include files more than %d deep", maxIncludeDepth)
	}
	data, _, err := p.files.ReadFile(t.text)
	if err != nil {
		return r.errorf(t, "cannot include %s: %w", t.text, unwrapPath(err))
	}
	return p.parseFile(t.text, data)
}

// unwrapPath drops a *fs.PathError's operation and path, which the message
// around it gives.
func unwrapPath(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

var (
	anyIPv4 = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	anyIPv6 = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
)

// hostSpec is the addresses after from or to.
type hostSpec struct {
	tok      token // the first, for errors
	prefixes []netip.Prefix
}

// hosts reads "from SRC to DST" or "to DST from SRC".
func hosts(r *rule) (src, dst hostSpec, err error) {
	t := r.next()
	if !t.is("from", "to") {
		return src, dst, r.errorf(t, "expected from")
	}
	other := map[string]string{"from": "to", "to": "from"}[t.text]
	if src, err = hostList(r); err != nil {
		return src, dst, err
	}
	if u := r.next(); !u.is(other) {
		return src, dst, r.errorf(u, "expected %s", other)
	}
	if dst, err = hostList(r); err != nil {
		return src, dst, err
	}
	if t.text == "to" {
		src, dst = dst, src
	}
	return src, dst, nil
}

func hostList(r *rule) (hostSpec, error) {
	h := hostSpec{tok: r.peek()}
	var err error
	if h.prefixes, err = hostItems(r); err != nil {
		return h, err
	}
	if t := r.peek(); t.is("port") {
		return h, r.errorf(t, "ports are not supported: gif's flows match addresses and protocols")
	}
	return h, nil
}

// hostItems reads any, ADDR, ADDR/LEN or { ITEM[,] ... }.
func hostItems(r *rule) ([]netip.Prefix, error) {
	t := r.next()
	switch {
	case t.is("any"):
		return []netip.Prefix{anyIPv4, anyIPv6}, nil
	case t.isPunct("{"):
		var list []netip.Prefix
		for !r.peek().isPunct("}") {
			items, err := hostItems(r)
			if err != nil {
				return nil, err
			}
			list = append(list, items...)
			if r.peek().isPunct(",") {
				r.next()
			}
		}
		r.next()
		if list == nil {
			return nil, r.errorf(t, "the list is empty")
		}
		return list, nil
	case t.isValue():
		pfx, err := hostPrefix(r, t)
		return []netip.Prefix{pfx}, err
	default:
		return nil, r.errorf(t, "expected an address, ADDR/LEN, any or a { list }")
	}
}

func hostPrefix(r *rule, t token) (netip.Prefix, error) {
	a, err := parseAddr(r, t)
	if err != nil {
		return netip.Prefix{}, err
	}
	bits := a.BitLen()
	if r.peek().isPunct("/") {
		r.next()
		n := r.next()
		if bits, err = strconv.Atoi(n.text); n.kind != tokWord || !isDigits(n.text) || err != nil || bits > a.BitLen() {
			return netip.Prefix{}, r.errorf(n, "expected a prefix length, 0 to %d", a.BitLen())
		}
	}
	if t := r.peek(); t.isPunct("(") {
		return netip.Prefix{}, r.errorf(t, "flow NAT is not supported")
	}
	return netip.PrefixFrom(a, bits).Masked(), nil
}

func parseAddr(r *rule, t token) (netip.Addr, error) {
	a, err := netip.ParseAddr(t.text)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, r.errorf(t, "not an IP address: gif looks up no host or interface names")
	}
	return a, nil
}

// pair is a source and a destination of the same family.
type pair struct{ src, dst netip.Prefix }

// pairs returns each source with each destination of its family, as
// ipsecctl expands a rule.
func pairs(r *rule, src, dst hostSpec) ([]pair, error) {
	var ps []pair
	for _, s := range src.prefixes {
		for _, d := range dst.prefixes {
			if s.Addr().Is4() == d.Addr().Is4() {
				ps = append(ps, pair{s, d})
			}
		}
	}
	if ps == nil {
		return nil, r.errorf(dst.tok, "from and to are of different address families")
	}
	return ps, nil
}

// saRule is an SA rule, read.
type saRule struct {
	first           token
	proto           policy.Proto
	mode            ipsec.Mode
	src, dst        hostSpec
	spi             token
	spiOut, spiIn   uint32
	auth, enc       *token // nil when not given
	authKey, encKey *keySpec
	authAlg         *authAlg
	encAlg          *encAlg // nil for ah
	reverse         bool    // whether the rule makes the SA from dst to src too
}

func (p *parser) sa(r *rule) error {
	s := saRule{first: r.peek(), proto: policy.ESP, mode: ipsec.Tunnel}
	if proto, ok := word(r.peek(), policy.ParseProto); ok {
		r.next()
		s.proto = proto
	}
	if mode, ok := word(r.peek(), ipsec.ParseMode); ok {
		r.next()
		s.mode = mode
	}
	var err error
	if s.src, s.dst, err = hosts(r); err != nil {
		return err
	}
	if t := r.next(); !t.is("spi") {
		return r.errorf(t, "expected spi")
	}
	if s.spi, err = r.value("an SPI, OUT or OUT:IN"); err != nil {
		return err
	}
	out, in, two := strings.Cut(s.spi.text, ":")
	if s.spiOut, err = parseSPI(out); err == nil && two {
		s.spiIn, err = parseSPI(in)
	}
	if err != nil {
		return r.errorf(s.spi, "%w", err)
	}
	if err := p.saSettings(r, &s); err != nil {
		return err
	}
	if err := s.algorithms(r); err != nil {
		return err
	}
	if err := s.checkKeys(r); err != nil {
		return err
	}
	return p.addSAs(r, &s)
}

// saSettings reads auth, enc, authkey and enckey, in any order.
func (p *parser) saSettings(r *rule, s *saRule) error {
	for !r.atEnd() {
		t := r.next()
		switch {
		case t.is("auth", "enc"):
			alg := &s.auth
			if t.text == "enc" {
				alg = &s.enc
			}
			if *alg != nil {
				return r.errorf(t, "%s is given twice", t.text)
			}
			v, err := r.value("the name of an algorithm")
			if err != nil {
				return err
			}
			*alg = &v
		case t.is("authkey", "enckey"):
			key := &s.authKey
			if t.text == "enckey" {
				key = &s.encKey
			}
			if *key != nil {
				return r.errorf(t, "%s is given twice", t.text)
			}
			var err error
			if *key, err = p.keySpec(r, t); err != nil {
				return err
			}
		case t.is("udpencap", "bundle"):
			return r.errorf(t, "%s is not supported", t.text)
		default:
			return r.errorf(t, "unexpected: an SA rule goes on with auth, enc, authkey and enckey")
		}
	}
	return nil
}

// algorithms finds the rule's algorithms, or their defaults, and checks
// that the rule gives the keys they need and no others.
func (s *saRule) algorithms(r *rule) error {
	if s.proto == policy.AH {
		if s.enc != nil {
			return r.errorf(*s.enc, "ah does not encrypt: it takes no enc")
		}
		if s.encKey != nil {
			return r.errorf(s.encKey.keyword, "ah does not encrypt: it takes no enckey")
		}
	} else {
		name := "aes"
		if s.enc != nil {
			name = s.enc.text
		}
		if s.encAlg = findEnc(name); s.encAlg == nil {
			return r.errorf(*s.enc, "unknown encryption algorithm; gif has %s", encNames())
		}
		switch {
		case s.encAlg.keyLens == nil && s.encKey != nil:
			return r.errorf(s.encKey.keyword, "%s encryption takes no enckey", name)
		case s.encAlg.keyLens != nil && s.encKey == nil:
			return r.errorf(s.first, "no enckey: %s takes %s", name, s.encAlg.takes())
		case s.encAlg.aead && s.auth != nil:
			return r.errorf(*s.auth, "%s authenticates by itself: it takes no auth", name)
		case s.encAlg.aead && s.authKey != nil:
			return r.errorf(s.authKey.keyword, "%s authenticates by itself: it takes no authkey", name)
		case s.encAlg.aead:
			return nil
		}
	}
	name := "hmac-sha2-256"
	if s.auth != nil {
		name = s.auth.text
	}
	if s.authAlg = findAuth(name); s.authAlg == nil {
		return r.errorf(*s.auth, "unknown authentication algorithm; gif has %s", authNames())
	}
	if s.authKey == nil {
		return r.errorf(s.first, "no authkey: %s takes %d bytes: openssl rand -hex %[2]d", name, s.authAlg.keyLen)
	}
	return nil
}

// checkKeys checks that there is a key for each SA the rule makes, of the
// length of its algorithm.
func (s *saRule) checkKeys(r *rule) error {
	s.reverse = s.spiIn != 0 || s.authKey.count() == 2 || s.encKey.count() == 2
	n := 1
	if s.reverse {
		n = 2
		if s.spiIn == 0 {
			return r.errorf(s.spi, "a second key is for the SA the other way, which needs an SPI too: spi OUT:IN")
		}
		for _, k := range []*keySpec{s.authKey, s.encKey} {
			if k != nil && len(k.keys) == 1 {
				return r.errorf(k.errorToken(), "the SA the other way (spi 0x%x) needs a second %s: %[2]s OUT:IN", s.spiIn, k.keyword.text)
			}
		}
	}
	for i := range n {
		if k := s.authKey; k != nil && len(k.keys[i]) != s.authAlg.keyLen {
			return r.errorf(k.errorToken(), "%s is %d bytes; %s takes %d bytes: openssl rand -hex %[4]d",
				k.describe(i), len(k.keys[i]), s.authAlg.name, s.authAlg.keyLen)
		}
		if k := s.encKey; k != nil && !slices.Contains(s.encAlg.keyLens, len(k.keys[i])) {
			return r.errorf(k.errorToken(), "%s is %d bytes; %s takes %s",
				k.describe(i), len(k.keys[i]), s.encAlg.name, s.encAlg.takes())
		}
	}
	return nil
}

// addSAs adds the rule's SAs, one each way for each source and
// destination.
func (p *parser) addSAs(r *rule, s *saRule) error {
	for _, h := range []hostSpec{s.src, s.dst} {
		for _, pfx := range h.prefixes {
			if !pfx.IsSingleIP() {
				return r.errorf(h.tok, "an SA is between two addresses, not any or a network")
			}
		}
	}
	ps, err := pairs(r, s.src, s.dst)
	if err != nil {
		return err
	}
	for _, pr := range ps {
		sa := policy.SA{
			File: r.file, Line: s.first.line, Proto: s.proto, Mode: s.mode,
			Src: pr.src.Addr(), Dst: pr.dst.Addr(), SPI: s.spiOut,
			AuthKey: s.authKey.key(0), EncKey: s.encKey.key(0),
		}
		if s.authAlg != nil {
			sa.Auth = s.authAlg.name
		}
		if s.encAlg != nil {
			sa.Enc = s.encAlg.name
		}
		if err := p.addSA(r, s.spi, sa); err != nil {
			return err
		}
		if s.reverse {
			sa.Src, sa.Dst, sa.SPI = sa.Dst, sa.Src, s.spiIn
			sa.AuthKey, sa.EncKey = s.authKey.key(1), s.encKey.key(1)
			if err := p.addSA(r, s.spi, sa); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *parser) addSA(r *rule, spi token, sa policy.SA) error {
	id := saID{sa.Proto, sa.Dst, sa.SPI}
	if at, ok := p.saAt[id]; ok {
		return r.errorf(spi, "%s has an SA %s to %s with SPI 0x%x already", at, sa.Proto, sa.Dst, sa.SPI)
	}
	p.saAt[id] = fmt.Sprintf("%s:%d", sa.File, sa.Line)
	p.cfg.SAs = append(p.cfg.SAs, sa)
	return nil
}

// parseSPI reads a number as strtoul does with base 0: hex after 0x, octal
// after 0, decimal otherwise.
func parseSPI(s string) (uint32, error) {
	digits, base := s, 10
	switch {
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		digits, base = s[2:], 16
	case len(s) > 1 && s[0] == '0':
		digits, base = s[1:], 8
	}
	n, err := strconv.ParseUint(digits, base, 32)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%q is not an SPI: one is a number up to 0xffffffff", s)
	case n == 0:
		return 0, errors.New("SPI 0 means none: give one from 0x100 up")
	case n < 0x100:
		return 0, fmt.Errorf("SPIs 1 to 255 are reserved; %s is one", s)
	}
	return uint32(n), nil
}

func (p *parser) flow(r *rule) error {
	first := r.next()
	f := policy.Flow{File: r.file, Line: first.line, Proto: policy.ESP, Type: policy.Require}
	if proto, ok := word(r.peek(), policy.ParseProto); ok {
		r.next()
		f.Proto = proto
	} else if t := r.peek(); t.is("ipip", "ipcomp") {
		return r.errorf(t, "flow %s is not supported: gif's flows are esp or ah", t.text)
	}
	dir, oneWay := word(r.peek(), policy.ParseDir)
	if oneWay {
		r.next()
	}
	if r.peek().is("proto") {
		r.next()
		var err error
		if f.IPProto, err = p.protocol(r, r.next()); err != nil {
			return err
		}
	}
	src, dst, err := hosts(r)
	if err != nil {
		return err
	}
	var peer *netip.Addr // the zero Addr for peer any
	seen := map[string]bool{}
	for !r.atEnd() {
		t := r.next()
		if seen[t.text] {
			return r.errorf(t, "%s is given twice", t.text)
		}
		seen[t.text] = true
		switch {
		case t.is("peer"):
			v := r.next()
			var a netip.Addr
			if !v.is("any") {
				if !v.isValue() {
					return r.errorf(v, "expected the peer's address, or any")
				}
				if a, err = parseAddr(r, v); err != nil {
					return err
				}
			}
			peer = &a
		case t.is("type"):
			v := r.next()
			typ, ok := word(v, policy.ParseFlowType)
			if !ok {
				return r.errorf(v, "expected a type: require, use, acquire, dontacq, deny, bypass")
			}
			f.Type = typ
		case t.is("local", "srcid", "dstid"):
			return r.errorf(t, "%s is not supported", t.text)
		default:
			return r.errorf(t, "unexpected: a flow rule ends with peer ADDR and type TYPE")
		}
	}
	ps, err := pairs(r, src, dst)
	if err != nil {
		return err
	}
	for _, pr := range ps {
		out := f
		out.Src, out.Dst, out.Dir = pr.src, pr.dst, dir
		if !oneWay {
			out.Dir = policy.Out
		}
		switch {
		case !f.Type.Protects():
		case peer != nil:
			out.Peer = *peer
		default:
			remote, tok := out.Dst, dst.tok
			if out.Dir == policy.In {
				remote, tok = out.Src, src.tok
			}
			if !remote.IsSingleIP() {
				return r.errorf(tok, "%s is a network: the flow needs a peer ADDR", remote)
			}
			out.Peer = remote.Addr()
		}
		p.cfg.Flows = append(p.cfg.Flows, out)
		if !oneWay {
			in := out
			in.Src, in.Dst, in.Dir = out.Dst, out.Src, policy.In
			p.cfg.Flows = append(p.cfg.Flows, in)
		}
	}
	return nil
}
