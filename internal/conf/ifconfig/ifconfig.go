// Package ifconfig parses the arguments OpenBSD's ifconfig(8) takes for a
// gif interface into tunnel operations, and formats operations back into
// arguments. It does no I/O: host names are not resolved, and checks that
// need the interface's state or kind (the MTU range, whether an address
// exists) are left to the model.
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
package ifconfig

import (
	"fmt"
	"math"
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

// Parse turns the arguments that follow the interface name ("gif ifconfig
// gif0 tunnel 192.0.2.1 198.51.100.1 up") into operations, in order. It
// accepts:
//
//	create, destroy, up, down, mtu N, description TEXT, -description
//	tunnel SRC DST, -tunnel (old names: giftunnel, deletetunnel)
//	inet [alias|-alias|delete] ADDR[/LEN] [DEST] [netmask MASK|prefixlen N] [broadcast DEST] [alias|-alias|delete]
//	inet6 [alias|-alias|delete] ADDR[/LEN] [DEST] [prefixlen N] [alias|-alias|delete]
//	-inet6, tunnelttl 1..255|copy, tunneldf, -tunneldf, tunnelecn, -tunnelecn
//	tunneldomain N, -tunneldomain
//
// An address without inet or inet6 takes its family from its syntax. On a
// point-to-point interface broadcast sets the destination, as in OpenBSD.
// A link-local inet6 address may carry a zone only if it names ifname.
//
// Each op's Token holds the words it came from. The error, if any, is an
// *ArgError for the first wrong argument.
func Parse(ifname string, args []string) ([]tunnel.Op, error) {
	p := parser{ifname: ifname, args: args}
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

type parser struct {
	ifname string
	args   []string
	start  int // index of the first word of the parameter being parsed
	pos    int // index of the next word
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
	name, _ := p.word()
	switch name {
	case "create":
		return p.op(tunnel.OpCreate), nil
	case "destroy":
		return p.op(tunnel.OpDestroy), nil
	case "up":
		return p.op(tunnel.OpUp), nil
	case "down":
		return p.op(tunnel.OpDown), nil
	case "mtu":
		// The range depends on the interface kind, so the model checks it.
		return p.number(tunnel.OpMTU, fmt.Sprintf("a number %d..%d", tunnel.MinMTU, tunnel.MaxMTU), math.MaxInt32)
	case "description", "descr":
		return p.description()
	case "-description", "-descr":
		return p.op(tunnel.OpDescription), nil
	case "tunnel", "giftunnel":
		return p.tunnel()
	case "-tunnel", "deletetunnel":
		return p.op(tunnel.OpDeleteTunnel), nil
	case "inet":
		return p.address(4)
	case "inet6":
		return p.address(6)
	case "-inet6":
		return p.op(tunnel.OpNoInet6), nil
	case "tunnelttl":
		return p.ttl()
	case "tunneldf", "-tunneldf":
		op := p.op(tunnel.OpTunnelDF)
		op.Bool = name == "tunneldf"
		return op, nil
	case "tunnelecn", "-tunnelecn":
		op := p.op(tunnel.OpTunnelECN)
		op.Bool = name == "tunnelecn"
		return op, nil
	case "tunneldomain":
		return p.number(tunnel.OpTunnelDomain, fmt.Sprintf("a routing table 0..%d", uint64(tunnel.MaxDomain)), tunnel.MaxDomain)
	case "-tunneldomain":
		return p.op(tunnel.OpTunnelDomain), nil
	case "netmask", "prefixlen", "broadcast", "alias", "-alias", "delete":
		return tunnel.Op{}, p.errorf("must follow an address, as in \"inet ADDR %s\"", name)
	case "-inet":
		return tunnel.Op{}, p.errorf("removing every IPv4 address at once is not supported; remove each with \"inet ADDR delete\"")
	}
	if looksLikeAddress(name) {
		p.pos = p.start
		return p.address(0)
	}
	if isUnsupported(name) {
		return tunnel.Op{}, p.errorf("an OpenBSD parameter this gif does not support")
	}
	return tunnel.Op{}, p.errorf("unknown parameter%s", suggestion(name))
}

// number parses an operation of kind whose value is a decimal number up to
// max; want says what is expected.
func (p *parser) number(kind tunnel.OpKind, want string, max uint64) (tunnel.Op, error) {
	w, ok := p.word()
	if !ok {
		return tunnel.Op{}, p.errorf("missing value (want %s)", want)
	}
	n, err := strconv.ParseUint(w, 10, 64)
	if err != nil || n > max {
		return tunnel.Op{}, p.errorf("%q is not %s", w, want)
	}
	op := p.op(kind)
	op.Int = int(n)
	return op, nil
}

func (p *parser) description() (tunnel.Op, error) {
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

func (p *parser) ttl() (tunnel.Op, error) {
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

func (p *parser) tunnel() (tunnel.Op, error) {
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
