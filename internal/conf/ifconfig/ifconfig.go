// Package ifconfig parses the arguments OpenBSD's ifconfig(8) takes for a
// gif interface or a bridge, and the few gif takes for any other Linux
// interface, into tunnel operations, and formats operations back into
// arguments. It does no I/O: host names are not resolved, and checks that
// need the interface's state or kind (the MTU range, whether an address or
// a bridge member exists) are left to the model.
//
// Where OpenBSD's behaviour cannot be copied as it is, this package decides:
//   - "inet ADDR" without a mask gets /32. OpenBSD picks a classful mask,
//     which routes nothing on a point-to-point interface; Linux would install
//     a prefix route for it.
//   - "inet6 ADDR" gets /64, and /128 with a destination, as ifconfig(8)
//     does. A destination with any other prefix length is refused, as
//     OpenBSD's kernel refuses it.
//   - "alias" is accepted and ignored: every address is added. (OpenBSD
//     replaces the first IPv4 address when "alias" is missing.)
//   - A prefix length of 0 or a netmask of 0 is refused; OpenBSD reads them
//     as a host mask and a classful mask.
//   - IPv4 addresses are dotted quads: inet_aton's octal and short forms
//     (010.1) are refused as ambiguous.
//   - OpenBSD takes one address family per command, as its first argument;
//     here inet and inet6 may appear anywhere, more than once.
//   - A bridge takes no address: gif does not configure the Linux bridge's
//     addresses, ip(8) does. OpenBSD's bridge words that gif's bridges lack
//     (learn, stp, span, rule, ...) are refused as such, not as unknown.
//   - On an interface that is neither a gif nor a bridge gif sets only up,
//     down and the MTU, which needs to be 68..65535; the kernel checks the
//     rest.
package ifconfig

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gif/internal/tunnel"
)

// MaxDescriptionLen is the longest description OpenBSD's kernel accepts:
// IFDESCRSIZE less the terminating NUL.
const MaxDescriptionLen = 63

// ArgError reports the first wrong argument of an ifconfig command.
type ArgError struct {
	Pos    int    // position of Token's first word among the arguments, from 1
	Token  string // the words of the wrong parameter, up to the wrong one
	Reason string
}

func (e *ArgError) Error() string {
	return fmt.Sprintf("argument %d %q: %s", e.Pos, e.Token, e.Reason)
}

// Grammar is what Parse takes, by the kind of interface its name gives; gif
// ifconfig -h prints it.
const Grammar = `A gif (gif0 .. gif9999) takes
  create, destroy, up, down, mtu N, description TEXT, -description (or descr, -descr)
  tunnel SRC DST, -tunnel (old names: giftunnel, deletetunnel)
  inet [alias|-alias|delete] ADDR[/LEN] [DEST] [netmask MASK|prefixlen N] [broadcast DEST] [alias|-alias|delete]
  inet6 [alias|-alias|delete] ADDR[/LEN] [DEST] [prefixlen N] [alias|-alias|delete]
  -inet6, tunnelttl 1..255|copy, tunneldf, -tunneldf, tunnelecn, -tunnelecn
  tunneldomain N, -tunneldomain, lladdr XX:XX:XX:XX:XX:XX|random
  fastpath, -fastpath (gif's own: may the kernel data plane carry it)
A bridge (bridge0 .. bridge9999) takes
  create, destroy, up, down, add IF, del IF, description TEXT, -description (or descr, -descr)
  link0, -link0, link1, -link1, link2, -link2
Any other Linux interface takes up, down and mtu 68..65535.
`

// Parse turns the arguments that follow the interface name ("gif ifconfig
// gif0 tunnel 192.0.2.1 198.51.100.1 up") into operations, in order. The
// name chooses the grammar (Grammar).
//
// On a gif, an address without inet or inet6 takes its family from its
// syntax. On a point-to-point interface broadcast sets the destination, as
// in OpenBSD. A link-local inet6 address may carry a zone only if it names
// ifname.
//
// Each op's Token holds the words it came from. The error, if any, is a
// *NameError for a name that names no interface, or else an *ArgError for
// the first wrong argument.
func Parse(ifname string, args []string) ([]tunnel.Op, error) {
	g, err := grammarOf(ifname)
	if err != nil {
		return nil, err
	}
	p := parser{ifname: ifname, grammar: g, args: args}
	var ops []tunnel.Op
	for p.pos < len(args) {
		op, err := p.param()
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// A grammar is what ifconfig takes for one kind of interface.
type grammar struct {
	// params are the parameters, in the order suggestions prefer them.
	params []param
	// other parses a parameter whose first word, already read, names none
	// of params: it may still be one (a bare address), or say why not.
	other parseFunc
}

// A param is a parameter named by its first word. Its parse is called with
// that word read.
type param struct {
	word  string
	parse parseFunc
}

type parseFunc func(p *parser, word string) (tunnel.Op, error)

func (g *grammar) has(w string) bool {
	return slices.ContainsFunc(g.params, func(prm param) bool { return prm.word == w })
}

// plain parses a parameter without a value.
func plain(kind tunnel.OpKind) parseFunc {
	return func(p *parser, _ string) (tunnel.Op, error) { return p.op(kind), nil }
}

// flag parses a parameter without a value that turns something on or off.
func flag(kind tunnel.OpKind, on bool) parseFunc {
	return func(p *parser, _ string) (tunnel.Op, error) {
		op := p.op(kind)
		op.Bool = on
		return op, nil
	}
}

type parser struct {
	ifname  string
	grammar *grammar
	args    []string
	start   int // index of the first word of the parameter being parsed
	pos     int // index of the next word
}

// word returns the next word and moves past it; ok is false at the end.
func (p *parser) word() (w string, ok bool) {
	if p.pos == len(p.args) {
		return "", false
	}
	p.pos++
	return p.args[p.pos-1], true
}

// peek returns the next word without moving past it.
func (p *parser) peek() (w string, ok bool) {
	if p.pos == len(p.args) {
		return "", false
	}
	return p.args[p.pos], true
}

func (p *parser) token() string { return strings.Join(p.args[p.start:p.pos], " ") }

// op returns an operation of kind made of the words parsed so far.
func (p *parser) op(kind tunnel.OpKind) tunnel.Op {
	return tunnel.Op{Kind: kind, Token: p.token()}
}

// errorf reports the parameter parsed so far as wrong.
func (p *parser) errorf(format string, a ...any) error {
	return &ArgError{Pos: p.start + 1, Token: p.token(), Reason: fmt.Sprintf(format, a...)}
}

// param parses one parameter and its values.
func (p *parser) param() (tunnel.Op, error) {
	p.start = p.pos
	w, _ := p.word()
	for _, prm := range p.grammar.params {
		if prm.word == w {
			return prm.parse(p, w)
		}
	}
	return p.grammar.other(p, w)
}

// number returns the parseFunc of an operation of kind whose value is a
// decimal number that valid accepts; want says what is expected.
func number(kind tunnel.OpKind, want string, valid func(n uint64) bool) parseFunc {
	return func(p *parser, _ string) (tunnel.Op, error) {
		w, ok := p.word()
		if !ok {
			return tunnel.Op{}, p.errorf("missing value (want %s)", want)
		}
		n, err := strconv.ParseUint(w, 10, 64)
		if err != nil || !valid(n) {
			return tunnel.Op{}, p.errorf("%q is not %s", w, want)
		}
		op := p.op(kind)
		op.Int = int(n)
		return op, nil
	}
}

func (p *parser) description(string) (tunnel.Op, error) {
	text, ok := p.word()
	switch {
	case !ok:
		return tunnel.Op{}, p.errorf("missing value (want one argument; quote text with spaces)")
	case len(text) > MaxDescriptionLen:
		return tunnel.Op{}, p.errorf("description is %d bytes, more than %d", len(text), MaxDescriptionLen)
	case strings.IndexByte(text, 0) >= 0:
		return tunnel.Op{}, p.errorf("description contains a NUL byte")
	}
	op := p.op(tunnel.OpDescription)
	op.Text = text
	return op, nil
}

// isAddressWord reports whether w configures an address, a job gif does
// only on its own interfaces.
func isAddressWord(w string) bool {
	switch w {
	case "inet", "inet6", "-inet", "-inet6", "alias", "-alias", "delete", "netmask", "prefixlen", "broadcast":
		return true
	}
	return looksLikeAddress(w)
}

// Words returns the first words of the parameters that ifconfig takes for
// the interface called ifname, in the order suggestions prefer them, for
// shell completion; nil if ifname names no interface.
func Words(ifname string) []string {
	g, err := grammarOf(ifname)
	if err != nil {
		return nil
	}
	words := make([]string, len(g.params))
	for i, prm := range g.params {
		words[i] = prm.word
	}
	return words
}
