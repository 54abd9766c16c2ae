package ifconfig

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"gif/internal/tunnel"
)

// fuzzNames are the interface names FuzzParse chooses among: one or two of
// each grammar, and names that name no interface.
var fuzzNames = []string{"gif0", "gif9999", "bridge0", "bridge12", "eth1", "fxp1", "gif01", "a/b", ""}

// FuzzParse feeds Parse space-separated arguments for an interface of
// fuzzNames. Parse must not panic; an error must be a *NameError for a
// name that names no interface, otherwise an *ArgError naming words of the
// input; ops must be well formed, of the grammar the name chooses, and
// survive Format and Parse again.
func FuzzParse(f *testing.F) {
	for _, g := range parseCases {
		for _, tc := range g.cases {
			f.Add(nameIndex(g.ifname), strings.Join(tc.args, " "))
		}
	}
	for _, g := range errorCases {
		for _, tc := range g.cases {
			f.Add(nameIndex(g.ifname), strings.Join(tc.args, " "))
		}
	}
	f.Add(nameIndex("gif0"), "inet 192.0.2.1 netmask 0xffffff00 192.0.2.2 alias mtu 1400")
	f.Add(nameIndex("gif0"), "inet6 fe80::1%gif0 fe80::2%gif0 delete")
	f.Add(nameIndex("gif0"), "description  inet")
	f.Add(nameIndex("gif0"), "-fastpath tunnel 192.0.2.1 198.51.100.1 fastpath")
	f.Add(nameIndex("bridge0"), "add gif0 add eth1 up link2")
	f.Add(nameIndex("a/b"), "up")
	f.Fuzz(func(t *testing.T, n uint8, line string) {
		ifname := fuzzNames[int(n)%len(fuzzNames)]
		args := strings.Split(line, " ")
		ops, err := Parse(ifname, args)
		g, nameErr := grammarOf(ifname)
		if nameErr != nil {
			var ne *NameError
			if !errors.As(err, &ne) || ne.Name != ifname || ops != nil {
				t.Fatalf("Parse(%q, %q) = %+v, %v; want a *NameError", ifname, args, ops, err)
			}
			return
		}
		if err != nil {
			var ae *ArgError
			switch {
			case !errors.As(err, &ae):
				t.Fatalf("Parse(%s, %q): error %v is a %T, not an *ArgError", ifname, args, err, err)
			case ae.Pos < 1 || ae.Pos > len(args):
				t.Fatalf("Parse(%s, %q): position %d out of range: %v", ifname, args, ae.Pos, err)
			case !strings.HasPrefix(ae.Token, args[ae.Pos-1]) || !strings.Contains(line, ae.Token):
				t.Fatalf("Parse(%s, %q): token %q is not words of the input", ifname, args, ae.Token)
			case ae.Reason == "":
				t.Fatalf("Parse(%s, %q): no reason", ifname, args)
			}
			return
		}
		for _, o := range ops {
			if o.Token == "" || !strings.Contains(line, o.Token) {
				t.Fatalf("Parse(%s, %q): op %+v: token is not words of the input", ifname, args, o)
			}
			if err := wellFormed(g, o); err != nil {
				t.Fatalf("Parse(%s, %q): op %+v: %v", ifname, args, o, err)
			}
		}
		checkRoundTrip(t, ifname, ops)
	})
}

func nameIndex(name string) uint8 { return uint8(slices.Index(fuzzNames, name)) }

// grammarKinds are the kinds of op each grammar may produce.
var grammarKinds = map[*grammar][]tunnel.OpKind{
	&gifGrammar: {
		tunnel.OpCreate, tunnel.OpDestroy, tunnel.OpUp, tunnel.OpDown, tunnel.OpMTU, tunnel.OpDescription,
		tunnel.OpTunnel, tunnel.OpDeleteTunnel, tunnel.OpAddAddr, tunnel.OpDeleteAddr, tunnel.OpNoInet6,
		tunnel.OpTunnelTTL, tunnel.OpTunnelDF, tunnel.OpTunnelECN, tunnel.OpTunnelDomain, tunnel.OpLLAddr,
		tunnel.OpFastpath,
	},
	&bridgeGrammar: {
		tunnel.OpCreate, tunnel.OpDestroy, tunnel.OpUp, tunnel.OpDown, tunnel.OpDescription,
		tunnel.OpBridgeAdd, tunnel.OpBridgeDel, tunnel.OpLinkFlag,
	},
	&linkGrammar: {tunnel.OpUp, tunnel.OpDown, tunnel.OpMTU},
}

// wellFormed checks that g may produce an op of its kind and the fields
// that kind uses.
func wellFormed(g *grammar, o tunnel.Op) error {
	if !slices.Contains(grammarKinds[g], o.Kind) {
		return fmt.Errorf("kind %q is not of this grammar", o.Kind)
	}
	switch o.Kind {
	case tunnel.OpCreate, tunnel.OpDestroy, tunnel.OpUp, tunnel.OpDown,
		tunnel.OpDeleteTunnel, tunnel.OpNoInet6, tunnel.OpTunnelDF, tunnel.OpTunnelECN, tunnel.OpFastpath:
	case tunnel.OpMTU:
		if o.Int < 0 || g == &linkGrammar && (o.Int < minLinkMTU || o.Int > maxLinkMTU) {
			return fmt.Errorf("bad MTU")
		}
	case tunnel.OpDescription:
		if len(o.Text) > MaxDescriptionLen || strings.IndexByte(o.Text, 0) >= 0 {
			return fmt.Errorf("bad description")
		}
	case tunnel.OpTunnel:
		for _, a := range []struct {
			valid, unicast bool
			zone           string
		}{
			{o.Src.IsValid(), checkUnicast(o.Src) == nil, o.Src.Zone()},
			{o.Dst.IsValid(), checkUnicast(o.Dst) == nil, o.Dst.Zone()},
		} {
			if !a.valid || !a.unicast || a.zone != "" {
				return fmt.Errorf("bad tunnel endpoint")
			}
		}
		if o.Src.Is4() != o.Dst.Is4() {
			return fmt.Errorf("tunnel families differ")
		}
	case tunnel.OpAddAddr, tunnel.OpDeleteAddr:
		p, peer := o.Addr.Prefix, o.Addr.Peer
		if !p.IsValid() || p.Bits() < 1 || p.Addr().Zone() != "" || checkUnicast(p.Addr()) != nil {
			return fmt.Errorf("bad prefix")
		}
		if peer.IsValid() && (peer.Is4() != p.Addr().Is4() || peer.Zone() != "" || checkUnicast(peer) != nil) {
			return fmt.Errorf("bad peer")
		}
		if o.Kind == tunnel.OpAddAddr && o.Addr.Is6() && peer.IsValid() && p.Bits() != 128 {
			return fmt.Errorf("IPv6 destination with prefix length %d", p.Bits())
		}
	case tunnel.OpTunnelTTL:
		if o.Int != tunnel.TTLCopy && (o.Int < 1 || o.Int > 255) {
			return fmt.Errorf("bad TTL")
		}
	case tunnel.OpTunnelDomain:
		if !tunnel.ValidDomain(o.Int) {
			return fmt.Errorf("bad tunnel domain")
		}
	case tunnel.OpLLAddr:
		if !o.LLAddr.IsZero() && o.LLAddr.Check() != nil {
			return fmt.Errorf("bad Ethernet address")
		}
	case tunnel.OpBridgeAdd, tunnel.OpBridgeDel:
		if checkName(o.Text) != nil {
			return fmt.Errorf("bad member name")
		}
	case tunnel.OpLinkFlag:
		if o.Int < 0 || o.Int > 2 {
			return fmt.Errorf("bad link flag")
		}
	default:
		return fmt.Errorf("unknown kind")
	}
	return nil
}
