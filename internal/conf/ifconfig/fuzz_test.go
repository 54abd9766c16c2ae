package ifconfig

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"gif/internal/tunnel"
)

// FuzzParse feeds Parse space-separated arguments. Parse must not panic; an
// error must be an *ArgError naming words of the input; ops must be well
// formed and survive Format and Parse again.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(strings.Join(tc.args, " "))
	}
	f.Add("inet 192.0.2.1 netmask 0xffffff00 192.0.2.2 alias mtu 1400")
	f.Add("inet6 fe80::1%gif0 fe80::2%gif0 delete")
	f.Add("tunnel 192.0.2.1 2001:db8::1")
	f.Add("description  inet")
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Split(line, " ")
		ops, err := Parse("gif0", args)
		if err != nil {
			var ae *ArgError
			switch {
			case !errors.As(err, &ae):
				t.Fatalf("Parse(%q): error %v is a %T, not an *ArgError", args, err, err)
			case ae.Pos < 1 || ae.Pos > len(args):
				t.Fatalf("Parse(%q): position %d out of range: %v", args, ae.Pos, err)
			case !strings.HasPrefix(ae.Token, args[ae.Pos-1]) || !strings.Contains(line, ae.Token):
				t.Fatalf("Parse(%q): token %q is not words of the input", args, ae.Token)
			case ae.Reason == "":
				t.Fatalf("Parse(%q): no reason", args)
			}
			return
		}
		for _, o := range ops {
			if o.Token == "" || !strings.Contains(line, o.Token) {
				t.Fatalf("Parse(%q): op %+v: token is not words of the input", args, o)
			}
			if err := wellFormed(o); err != nil {
				t.Fatalf("Parse(%q): op %+v: %v", args, o, err)
			}
		}
		checkRoundTrip(t, ops)
	})
}

// wellFormed checks the fields an op of its kind uses.
func wellFormed(o tunnel.Op) error {
	switch o.Kind {
	case tunnel.OpCreate, tunnel.OpDestroy, tunnel.OpUp, tunnel.OpDown,
		tunnel.OpDeleteTunnel, tunnel.OpNoInet6, tunnel.OpTunnelDF, tunnel.OpTunnelECN:
	case tunnel.OpMTU:
		if o.Int < 0 {
			return fmt.Errorf("negative MTU")
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
		if o.Int < 0 || o.Int > tunnel.MaxDomain {
			return fmt.Errorf("bad tunnel domain")
		}
	default:
		return fmt.Errorf("unknown kind")
	}
	return nil
}
