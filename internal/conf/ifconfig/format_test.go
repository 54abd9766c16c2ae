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
		in   []string
		want string
	}{
		{strings.Fields("create destroy up down -tunnel deletetunnel -inet6"), "create destroy up down -tunnel -tunnel -inet6"},
		{strings.Fields("mtu 01400"), "mtu 1400"},
		{strings.Fields("descr x -descr"), "description x -description"},
		{strings.Fields("giftunnel 2001:db8:0::1 2001:db8::2"), "tunnel 2001:db8::1 2001:db8::2"},
		{strings.Fields("inet alias 192.0.2.1 netmask 0xffffff00"), "inet 192.0.2.1/24"},
		{strings.Fields("inet 192.0.2.1 192.0.2.2"), "inet 192.0.2.1/32 192.0.2.2"},
		{strings.Fields("inet 192.0.2.1 netmask 255.255.255.252 broadcast 192.0.2.2"), "inet 192.0.2.1/30 192.0.2.2"},
		{strings.Fields("inet 192.0.2.1 -alias"), "inet 192.0.2.1/32 delete"},
		{strings.Fields("2001:db8::1 2001:db8::2"), "inet6 2001:db8::1/128 2001:db8::2"},
		{strings.Fields("inet6 fe80::1%gif0"), "inet6 fe80::1/64"},
		{strings.Fields("tunnelttl 64 tunnelttl copy"), "tunnelttl 64 tunnelttl copy"},
		{strings.Fields("tunneldf -tunneldf tunnelecn -tunnelecn"), "tunneldf -tunneldf tunnelecn -tunnelecn"},
		{strings.Fields("tunneldomain 7 tunneldomain 0 -tunneldomain"), "tunneldomain 7 -tunneldomain -tunneldomain"},
	}
	for _, tc := range tests {
		ops, err := Parse("gif0", tc.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.in, err)
		}
		if got := strings.Join(Format(ops), " "); got != tc.want {
			t.Errorf("Format(Parse(%q)) = %q, want %q", tc.in, got, tc.want)
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
	for _, tc := range parseCases {
		checkRoundTrip(t, tc.want)
	}
}

// TestFormatInvalid checks that an op Parse cannot produce is not written
// as words Parse accepts.
func TestFormatInvalid(t *testing.T) {
	bad := []tunnel.Op{
		{Kind: "bogus"},
		{Kind: tunnel.OpAddAddr},
		{Kind: tunnel.OpTunnel, Src: netip.MustParseAddr("192.0.2.1")},
		{Kind: tunnel.OpTunnelTTL, Int: 0},
		{Kind: tunnel.OpDescription, Text: strings.Repeat("x", MaxDescriptionLen+1)},
	}
	for _, o := range bad {
		args := Format([]tunnel.Op{o})
		if ops, err := Parse("gif0", args); err == nil {
			t.Errorf("Format(%+v) = %q, which parses as %+v", o, args, ops)
		}
	}
}

func checkRoundTrip(t *testing.T, ops []tunnel.Op) {
	t.Helper()
	args := Format(ops)
	again, err := Parse("gif0", args)
	if err != nil {
		t.Fatalf("Parse(Format(%+v)) = Parse(%q): %v", ops, args, err)
	}
	if err := equalOps(ops, again); err != nil {
		t.Fatalf("Parse(Format(ops)) = Parse(%q): %v", args, err)
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
