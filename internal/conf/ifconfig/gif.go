package ifconfig

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"gif/internal/tunnel"
)

// gifGrammar is what ifconfig takes for a gif interface.
var gifGrammar = grammar{
	params: []param{
		{"up", plain(tunnel.OpUp)},
		{"down", plain(tunnel.OpDown)},
		{"create", plain(tunnel.OpCreate)},
		{"destroy", plain(tunnel.OpDestroy)},
		// The range depends on the interface kind, so the model checks it.
		{"mtu", number(tunnel.OpMTU, fmt.Sprintf("a number %d..%d", tunnel.MinMTU, tunnel.MaxMTU),
			func(n uint64) bool { return n <= math.MaxInt32 })},
		{"description", (*parser).description},
		{"-description", plain(tunnel.OpDescription)},
		{"tunnel", (*parser).tunnel},
		{"-tunnel", plain(tunnel.OpDeleteTunnel)},
		{"inet", func(p *parser, _ string) (tunnel.Op, error) { return p.address(4) }},
		{"inet6", func(p *parser, _ string) (tunnel.Op, error) { return p.address(6) }},
		{"-inet6", plain(tunnel.OpNoInet6)},
		{"tunnelttl", (*parser).ttl},
		{"tunneldf", flag(tunnel.OpTunnelDF, true)},
		{"-tunneldf", flag(tunnel.OpTunnelDF, false)},
		{"tunnelecn", flag(tunnel.OpTunnelECN, true)},
		{"-tunnelecn", flag(tunnel.OpTunnelECN, false)},
		{"tunneldomain", number(tunnel.OpTunnelDomain, "a routing table "+tunnel.DomainRange,
			func(n uint64) bool { return n <= tunnel.MaxDomain && tunnel.ValidDomain(int(n)) })},
		{"-tunneldomain", plain(tunnel.OpTunnelDomain)},
		{"lladdr", (*parser).lladdr},
		{"fastpath", flag(tunnel.OpFastpath, true)},
		{"-fastpath", flag(tunnel.OpFastpath, false)},
		{"netmask", (*parser).addressOption},
		{"prefixlen", (*parser).addressOption},
		{"broadcast", (*parser).addressOption},
		{"alias", (*parser).addressOption},
		{"-alias", (*parser).addressOption},
		{"delete", (*parser).addressOption},
		{"descr", (*parser).description},
		{"-descr", plain(tunnel.OpDescription)},
		{"giftunnel", (*parser).tunnel},
		{"deletetunnel", plain(tunnel.OpDeleteTunnel)},
		{"-inet", func(p *parser, _ string) (tunnel.Op, error) {
			return tunnel.Op{}, p.errorf("removing every IPv4 address at once is not supported; remove each with \"inet ADDR delete\"")
		}},
	},
	other: (*parser).gifOther,
}

// gifUnsupported are OpenBSD ifconfig parameters that a gif interface takes
// or that are often tried on one, but that this implementation lacks.
var gifUnsupported = []string{
	"txprio", "rxprio", "rdomain", "-rdomain", "group", "-group",
	"metric", "priority", "llprio", "rtlabel", "-rtlabel",
	"link0", "-link0", "link1", "-link1", "link2", "-link2",
	"autoconf", "-autoconf", "eui64", "anycast", "-anycast",
	"tentative", "-tentative", "pltime", "vltime",
	"tunneladdr", "keepalive", "-keepalive", "vnetid", "-vnetid",
}

func (p *parser) gifOther(w string) (tunnel.Op, error) {
	switch {
	case looksLikeAddress(w):
		p.pos = p.start
		return p.address(0)
	case w == "add" || w == "del":
		return tunnel.Op{}, p.errorf("a bridge parameter; use \"ifconfig bridgeN %s %s\"", w, p.ifname)
	case slices.Contains(gifUnsupported, w):
		return tunnel.Op{}, p.errorf("an OpenBSD parameter this gif does not support")
	}
	return tunnel.Op{}, p.errorf("unknown parameter%s", p.grammar.suggestion(w))
}

// addressOption refuses an option of an address that came without one.
func (p *parser) addressOption(w string) (tunnel.Op, error) {
	return tunnel.Op{}, p.errorf("must follow an address, as in \"inet ADDR %s\"", w)
}

func (p *parser) ttl(string) (tunnel.Op, error) {
	const want = "TTL must be 1..255 or copy"
	w, ok := p.word()
	if !ok {
		return tunnel.Op{}, p.errorf("missing value (%s)", want)
	}
	op := p.op(tunnel.OpTunnelTTL)
	if w == "copy" {
		op.Int = tunnel.TTLCopy
		return op, nil
	}
	// OpenBSD's ifconfig takes 0, but gif's kernel refuses it.
	n, err := strconv.ParseUint(w, 10, 8)
	if err != nil || n == 0 {
		return tunnel.Op{}, p.errorf(want)
	}
	op.Int = int(n)
	return op, nil
}

func (p *parser) tunnel(string) (tunnel.Op, error) {
	srcWord, _ := p.word()
	dstWord, ok := p.word()
	if !ok {
		return tunnel.Op{}, p.errorf("missing address (want tunnel SRC DST)")
	}
	src, err := endpoint(srcWord)
	if err != nil {
		return tunnel.Op{}, p.errorf("source %v", err)
	}
	dst, err := endpoint(dstWord)
	if err != nil {
		return tunnel.Op{}, p.errorf("destination %v", err)
	}
	if src.Is4() != dst.Is4() {
		return tunnel.Op{}, p.errorf("source is %s but destination is %s", familyName(src), familyName(dst))
	}
	op := p.op(tunnel.OpTunnel)
	op.Src, op.Dst = src, dst
	return op, nil
}

// lladdr parses "lladdr ETHERADDR" or "lladdr random", OpenBSD's words for
// setting an interface's Ethernet address; random leaves the choice to the
// daemon, which keeps what it chose.
func (p *parser) lladdr(string) (tunnel.Op, error) {
	const want = "want lladdr XX:XX:XX:XX:XX:XX or lladdr random"
	w, ok := p.word()
	if !ok {
		return tunnel.Op{}, p.errorf("missing address (%s)", want)
	}
	op := p.op(tunnel.OpLLAddr)
	if w == "random" {
		return op, nil
	}
	a, err := tunnel.ParseLLAddr(w)
	if err == nil {
		err = a.Check()
	}
	if err != nil {
		return tunnel.Op{}, p.errorf("%v", err)
	}
	op.LLAddr = a
	return op, nil
}
