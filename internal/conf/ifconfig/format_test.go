package ifconfig

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"gif/internal/tunnel"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		ifname string
		in     []string
		want   string
	}{
		{"gif0", strings.Fields("create destroy up down -tunnel deletetunnel -inet6"), "create destroy up down -tunnel -tunnel -inet6"},
		{"gif0", strings.Fields("mtu 01400"), "mtu 1400"},
		{"gif0", strings.Fields("descr x -descr"), "description x -description"},
		{"gif0", strings.Fields("giftunnel 2001:db8:0::1 2001:db8::2"), "tunnel 2001:db8::1 2001:db8::2"},
		{"gif0", strings.Fields("inet alias 192.0.2.1 netmask 0xffffff00"), "inet 192.0.2.1/24"},
		{"gif0", strings.Fields("inet 192.0.2.1 192.0.2.2"), "inet 192.0.2.1/32 192.0.2.2"},
		{"gif0", strings.Fields("inet 192.0.2.1 netmask 255.255.255.252 broadcast 192.0.2.2"), "inet 192.0.2.1/30 192.0.2.2"},
		{"gif0", strings.Fields("inet 192.0.2.1 -alias"), "inet 192.0.2.1/32 delete"},
		{"gif0", strings.Fields("2001:db8::1 2001:db8::2"), "inet6 2001:db8::1/128 2001:db8::2"},
		{"gif0", strings.Fields("inet6 fe80::1%gif0"), "inet6 fe80::1/64"},
		{"gif0", strings.Fields("tunnelttl 64 tunnelttl copy"), "tunnelttl 64 tunnelttl copy"},
		{"gif0", strings.Fields("tunneldf -tunneldf tunnelecn -tunnelecn"), "tunneldf -tunneldf tunnelecn -tunnelecn"},
		{"gif0", strings.Fields("-fastpath fastpath"), "-fastpath fastpath"},
		{"gif0", strings.Fields("tunneldomain 7 tunneldomain 0 -tunneldomain"), "tunneldomain 7 -tunneldomain -tunneldomain"},
		{"gif0", strings.Fields("lladdr 2:0:5E:0:53:1 lladdr random"), "lladdr 02:00:5e:00:53:01 lladdr random"},
		{"bridge0", strings.Fields("create add gif0 add eth1 del eth1 up down destroy"), "create add gif0 add eth1 del eth1 up down destroy"},
		{"bridge0", strings.Fields("link0 link1 link2 -link0 -link1 -link2"), "link0 link1 link2 -link0 -link1 -link2"},
		{"bridge0", strings.Fields("descr x -descr"), "description x -description"},
		{"eth1", strings.Fields("up mtu 01500 down"), "up mtu 1500 down"},
	}
	for _, tc := range tests {
		ops, err := Parse(tc.ifname, tc.in)
		if err != nil {
			t.Fatalf("Parse(%s, %q): %v", tc.ifname, tc.in, err)
		}
		if got := strings.Join(Format(ops), " "); got != tc.want {
			t.Errorf("Format(Parse(%s, %q)) = %q, want %q", tc.ifname, tc.in, got, tc.want)
		}
	}

	// A description is one argument, spaces and all.
	ops := []tunnel.Op{{Kind: tunnel.OpDescription, Text: "to the branch office"}}
	if got, want := Format(ops), []string{"description", "to the branch office"}; !slices.Equal(got, want) {
		t.Errorf("Format(%+v) = %q, want %q", ops, got, want)
	}
}

// TestFormatRoundTrip checks Parse(Format(ops)) == ops, Token aside, for
// every form TestParse accepts.
func TestFormatRoundTrip(t *testing.T) {
	for _, g := range parseCases {
		for _, tc := range g.cases {
			checkRoundTrip(t, g.ifname, tc.want)
		}
	}
}

// TestFormatInvalid checks that an op Parse cannot produce is not written
// as words Parse accepts.
func TestFormatInvalid(t *testing.T) {
	bad := []struct {
		ifname string
		op     tunnel.Op
	}{
		{"gif0", tunnel.Op{Kind: "bogus"}},
		{"gif0", tunnel.Op{Kind: tunnel.OpAddAddr}},
		{"gif0", tunnel.Op{Kind: tunnel.OpTunnel, Src: netip.MustParseAddr("192.0.2.1")}},
		{"gif0", tunnel.Op{Kind: tunnel.OpTunnelTTL, Int: 0}},
		{"gif0", tunnel.Op{Kind: tunnel.OpTunnelDomain, Int: 254}},
		{"gif0", tunnel.Op{Kind: tunnel.OpDescription, Text: strings.Repeat("x", MaxDescriptionLen+1)}},
		{"bridge0", tunnel.Op{Kind: "bogus"}},
		{"bridge0", tunnel.Op{Kind: tunnel.OpBridgeAdd}},
		{"bridge0", tunnel.Op{Kind: tunnel.OpBridgeDel, Text: "a b"}},
		{"bridge0", tunnel.Op{Kind: tunnel.OpBridgeAdd, Text: "gif01"}},
		{"bridge0", tunnel.Op{Kind: tunnel.OpLinkFlag, Int: 3, Bool: true}},
		{"bridge0", tunnel.Op{Kind: tunnel.OpLinkFlag, Int: -1}},
		{"eth1", tunnel.Op{Kind: tunnel.OpMTU, Int: 67}},
		{"eth1", tunnel.Op{Kind: tunnel.OpMTU, Int: 65536}},
	}
	for _, tc := range bad {
		args := Format([]tunnel.Op{tc.op})
		if ops, err := Parse(tc.ifname, args); err == nil {
			t.Errorf("Format(%+v) = %q, which parses on %s as %+v", tc.op, args, tc.ifname, ops)
		}
	}
}

// checkRoundTrip checks that ops, parsed for ifname, survive Format and
// Parse again.
func checkRoundTrip(t *testing.T, ifname string, ops []tunnel.Op) {
	t.Helper()
	args := Format(ops)
	again, err := Parse(ifname, args)
	if err != nil {
		t.Fatalf("Parse(%s, Format(%+v)) = Parse(%q): %v", ifname, ops, args, err)
	}
	if err := equalOps(ops, again); err != nil {
		t.Fatalf("Parse(%s, Format(ops)) = Parse(%q): %v", ifname, args, err)
	}
	if formatted := Format(again); !slices.Equal(formatted, args) {
		t.Fatalf("Format is not stable: %q then %q", args, formatted)
	}
}

// equalOps compares two op lists, Token aside.
func equalOps(want, got []tunnel.Op) error {
	if len(got) != len(want) {
		return fmt.Errorf("got %d ops %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i := range want {
		w, g := want[i], got[i]
		w.Token, g.Token = "", ""
		if w != g {
			return fmt.Errorf("op %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	return nil
}
