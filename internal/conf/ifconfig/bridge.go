package ifconfig

import (
	"slices"

	"gif/internal/tunnel"
)

// bridgeGrammar is what ifconfig takes for a bridge.
var bridgeGrammar = grammar{
	params: []param{
		{"up", plain(tunnel.OpUp)},
		{"down", plain(tunnel.OpDown)},
		{"create", plain(tunnel.OpCreate)},
		{"destroy", plain(tunnel.OpDestroy)},
		{"add", (*parser).member},
		{"del", (*parser).member},
		{"link0", linkFlag(0, true)},
		{"link1", linkFlag(1, true)},
		{"link2", linkFlag(2, true)},
		{"-link0", linkFlag(0, false)},
		{"-link1", linkFlag(1, false)},
		{"-link2", linkFlag(2, false)},
		{"description", (*parser).description},
		{"-description", plain(tunnel.OpDescription)},
		{"descr", (*parser).description},
		{"-descr", plain(tunnel.OpDescription)},
	},
	other: (*parser).bridgeOther,
}

// bridgeUnsupported are the parameters OpenBSD's bridge(4) takes that gif's
// bridges lack: spanning tree, span ports, the address cache and its rules,
// and the generic ones tried on a bridge.
var bridgeUnsupported = []string{
	"learn", "-learn", "discover", "-discover", "blocknonip", "-blocknonip",
	"stp", "-stp", "edge", "-edge", "autoedge", "-autoedge", "ptp", "-ptp",
	"autoptp", "-autoptp", "ifpriority", "ifcost", "-ifcost",
	"fwddelay", "hellotime", "holdcnt", "maxage", "proto", "spanpriority",
	"span", "addspan", "delspan",
	"addr", "static", "deladdr", "flush", "flushall", "maxaddr", "timeout",
	"rule", "rules", "rulefile", "flushrule", "protect", "-protect",
	"group", "-group", "rdomain", "-rdomain", "metric", "priority", "llprio",
}

func (p *parser) bridgeOther(w string) (tunnel.Op, error) {
	switch {
	case isAddressWord(w):
		return tunnel.Op{}, p.errorf("gif sets no address on a bridge; assign addresses with ip(8), as in \"ip address add ADDR dev %s\"", p.ifname)
	case w == "mtu":
		return tunnel.Op{}, p.errorf("a Linux bridge takes the smallest MTU of its members; set theirs, as in \"ifconfig gif0 mtu 1500\"")
	case gifGrammar.has(w):
		return tunnel.Op{}, p.errorf("a gif parameter, which a bridge does not take")
	case slices.Contains(bridgeUnsupported, w):
		return tunnel.Op{}, p.errorf("an OpenBSD parameter not supported by gif's bridges")
	}
	return tunnel.Op{}, p.errorf("unknown parameter%s", p.grammar.suggestion(w))
}

// member parses "add IF" or "del IF". Whether IF exists and may join is
// the model's question.
func (p *parser) member(w string) (tunnel.Op, error) {
	kind := tunnel.OpBridgeAdd
	if w == "del" {
		kind = tunnel.OpBridgeDel
	}
	name, ok := p.word()
	if !ok {
		return tunnel.Op{}, p.errorf("missing interface (want %s IF)", w)
	}
	if err := checkName(name); err != nil {
		return tunnel.Op{}, p.errorf("%v", err)
	}
	op := p.op(kind)
	op.Text = name
	return op, nil
}

// linkFlag parses link0, link1 or link2 (on) or their - forms (off).
func linkFlag(n int, on bool) parseFunc {
	return func(p *parser, _ string) (tunnel.Op, error) {
		op := p.op(tunnel.OpLinkFlag)
		op.Int, op.Bool = n, on
		return op, nil
	}
}
