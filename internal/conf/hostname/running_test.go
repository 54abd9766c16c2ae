package hostname

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"gif/internal/tunnel"
)

func TestRunning(t *testing.T) {
	var s tunnel.State
	apply := func(name string, ops ...tunnel.Op) {
		t.Helper()
		var err error
		if s, _, err = s.Apply(name, ops, fakeEnv{}); err != nil {
			t.Fatal(err)
		}
	}
	addr := func(prefix, peer string) tunnel.Op {
		a := tunnel.Addr{Prefix: netip.MustParsePrefix(prefix)}
		if peer != "" {
			a.Peer = netip.MustParseAddr(peer)
		}
		return tunnel.Op{Kind: tunnel.OpAddAddr, Addr: a}
	}
	apply("gif0",
		tunnel.Op{Kind: tunnel.OpTunnel, Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("198.51.100.1")},
		tunnel.Op{Kind: tunnel.OpMTU, Int: 1500},
		tunnel.Op{Kind: tunnel.OpDescription, Text: `to "the" branch # $1`},
		addr("10.0.0.1/32", "10.0.0.2"),
		addr("10.1.0.1/24", ""),
		addr("2001:db8::1/128", "2001:db8::2"),
		addr("2001:db8:1::1/64", ""),
		tunnel.Op{Kind: tunnel.OpTunnelECN, Bool: false},
		tunnel.Op{Kind: tunnel.OpLLAddr, LLAddr: tunnel.LLAddr{0x02, 0x00, 0x5e, 0x00, 0x53, 0x01}},
	)
	apply("gif1", tunnel.Op{Kind: tunnel.OpTunnel, Src: netip.MustParseAddr("2001:db8::a"), Dst: netip.MustParseAddr("2001:db8::b")},
		tunnel.Op{Kind: tunnel.OpTunnelTTL, Int: tunnel.TTLCopy}, tunnel.Op{Kind: tunnel.OpDown}, tunnel.Op{Kind: tunnel.OpNoInet6},
		tunnel.Op{Kind: tunnel.OpFastpath, Bool: false})
	apply("bridge0", tunnel.Op{Kind: tunnel.OpBridgeAdd, Text: "gif0"}, tunnel.Op{Kind: tunnel.OpBridgeAdd, Text: "fxp1"},
		tunnel.Op{Kind: tunnel.OpLinkFlag, Int: 2, Bool: true}, tunnel.Op{Kind: tunnel.OpUp})

	want := map[string]string{
		"hostname.gif0": `description "to \"the\" branch # \$1"
tunnel 192.0.2.1 198.51.100.1
mtu 1500
-tunnelecn
inet 10.0.0.1 255.255.255.255
dest 10.0.0.2
inet 10.1.0.1 255.255.255.0
inet6 2001:db8::1 128
dest 2001:db8::2
inet6 2001:db8:1::1 64
lladdr 02:00:5e:00:53:01
up
`,
		"hostname.gif1":    "tunnel 2001:db8::a 2001:db8::b\ntunnelttl copy\n-fastpath\n-inet6\ndown\n",
		"hostname.bridge0": "add gif0\nadd fxp1\nlink2\nup\n",
	}
	got := Running(s)
	for name, text := range want {
		if string(got[name]) != text {
			t.Errorf("Running: %s =\n%s\nwant\n%s", name, got[name], text)
		}
	}
	if len(got) != len(want) {
		t.Errorf("Running gave %d files, want %d", len(got), len(want))
	}
	checkRoundTrip(t, s)
}

// TestRunningLineBreak: no line holds a line break, so a description's
// is written as a space.
func TestRunningLineBreak(t *testing.T) {
	s := tunnel.State{Bridges: []tunnel.BridgeConfig{{Name: "bridge1", Description: "line\nbreak"}}}
	if got, want := string(Running(s)["hostname.bridge1"]), "description \"line break\"\ndown\n"; got != want {
		t.Errorf("Running = %q, want %q", got, want)
	}
}

// TestRunningRoundTrip builds states by applying random operations, and
// checks that the files Running writes give each state back.
func TestRunningRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		s := randomState(r)
		checkRoundTrip(t, s)
	}
}

// checkRoundTrip parses the files Running(s) writes and applies their ops
// to an empty state, in Order: the result must be s.
func checkRoundTrip(t *testing.T, s tunnel.State) {
	t.Helper()
	files := Running(s)
	var names []string
	for name := range files {
		names = append(names, strings.TrimPrefix(name, "hostname."))
	}
	var got tunnel.State
	for _, ifname := range Order(names) {
		name := "hostname." + ifname
		f, err := ParseFile(name, ifname, files[name])
		if err != nil {
			t.Fatalf("%v in\n%s", err, files[name])
		}
		if n := len(f.Steps); n == 0 || !slices.Contains([]string{"up", "down"}, f.Steps[n-1].Args[0]) {
			t.Errorf("%s does not end with up or down:\n%s", name, files[name])
		}
		for _, step := range f.Steps {
			if got, _, err = got.Apply(ifname, step.Ops, fakeEnv{}); err != nil {
				t.Fatalf("%s:%d: %v in\n%s", name, step.Line, err, files[name])
			}
		}
	}
	want := s.Clone()
	want.Sysctl = got.Sysctl
	if g, w := stateJSON(t, got), stateJSON(t, want); g != w {
		t.Fatalf("Running does not round-trip:\nstate %s\nfiles %q\ngives %s", w, files, g)
	}
}

// stateJSON returns s in JSON, with nil and empty slices alike.
func stateJSON(t *testing.T, s tunnel.State) string {
	if len(s.Interfaces) == 0 {
		s.Interfaces = nil
	}
	b, err := json.Marshal(s) // omitempty does the rest
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// randomState applies random ifconfig operations to a few gifs and bridges;
// those Apply refuses are left out.
func randomState(r *rand.Rand) tunnel.State {
	var s tunnel.State
	for range r.IntN(30) {
		var name string
		var op tunnel.Op
		if r.IntN(4) == 0 {
			name, op = fmt.Sprintf("bridge%d", r.IntN(3)), randomBridgeOp(r)
		} else {
			name, op = fmt.Sprintf("gif%d", r.IntN(4)), randomGifOp(r)
		}
		if next, _, err := s.Apply(name, []tunnel.Op{op}, fakeEnv{}); err == nil {
			s = next
		}
	}
	return s
}

func randomGifOp(r *rand.Rand) tunnel.Op {
	switch r.IntN(16) {
	case 0:
		if r.IntN(2) == 0 {
			return tunnel.Op{Kind: tunnel.OpTunnel, Src: v4(r, 192, 0, 2), Dst: v4(r, 198, 51, 100)}
		}
		return tunnel.Op{Kind: tunnel.OpTunnel, Src: v6(r), Dst: v6(r)}
	case 1:
		return tunnel.Op{Kind: tunnel.OpMTU, Int: tunnel.MinMTU + r.IntN(tunnel.MaxMTU-tunnel.MinMTU+1)}
	case 2:
		return tunnel.Op{Kind: tunnel.OpDescription, Text: randomText(r)}
	case 3:
		ttl := 1 + r.IntN(255)
		if r.IntN(4) == 0 {
			ttl = tunnel.TTLCopy
		}
		return tunnel.Op{Kind: tunnel.OpTunnelTTL, Int: ttl}
	case 4:
		return tunnel.Op{Kind: tunnel.OpTunnelDF, Bool: r.IntN(2) == 0}
	case 5:
		return tunnel.Op{Kind: tunnel.OpTunnelECN, Bool: r.IntN(2) == 0}
	case 6:
		return tunnel.Op{Kind: tunnel.OpTunnelDomain, Int: []int{0, 1, 252, 256, 1 << 30}[r.IntN(5)]}
	case 7, 8:
		a := tunnel.Addr{Prefix: netip.PrefixFrom(v4(r, 203, 0, 113), 1+r.IntN(32))}
		if r.IntN(2) == 0 {
			a.Peer = v4(r, 203, 0, 113)
		}
		return tunnel.Op{Kind: tunnel.OpAddAddr, Addr: a}
	case 9, 10:
		a := tunnel.Addr{Prefix: netip.PrefixFrom(v6(r), 1+r.IntN(128))}
		if r.IntN(2) == 0 {
			a.Prefix, a.Peer = netip.PrefixFrom(a.Prefix.Addr(), 128), v6(r)
		}
		return tunnel.Op{Kind: tunnel.OpAddAddr, Addr: a}
	case 11:
		return tunnel.Op{Kind: tunnel.OpNoInet6}
	case 12:
		return tunnel.Op{Kind: tunnel.OpDeleteTunnel}
	case 13:
		// The zero address is "lladdr random".
		return tunnel.Op{Kind: tunnel.OpLLAddr, LLAddr: [][6]byte{{}, {0x02, 0, 0x5e, 0, 0x53, byte(r.IntN(256))}}[r.IntN(2)]}
	case 14:
		return tunnel.Op{Kind: tunnel.OpFastpath, Bool: r.IntN(2) == 0}
	}
	return upOrDown(r.IntN(2) == 0)
}

func randomBridgeOp(r *rand.Rand) tunnel.Op {
	switch r.IntN(6) {
	case 0, 1:
		return tunnel.Op{Kind: tunnel.OpBridgeAdd, Text: []string{"gif0", "gif1", "gif5", "fxp1", "eth0"}[r.IntN(5)]}
	case 2:
		return tunnel.Op{Kind: tunnel.OpBridgeDel, Text: []string{"gif0", "fxp1"}[r.IntN(2)]}
	case 3:
		return tunnel.Op{Kind: tunnel.OpLinkFlag, Int: r.IntN(3), Bool: r.IntN(2) == 0}
	case 4:
		return tunnel.Op{Kind: tunnel.OpDescription, Text: randomText(r)}
	}
	return upOrDown(r.IntN(2) == 0)
}

func v4(r *rand.Rand, a, b, c byte) netip.Addr {
	return netip.AddrFrom4([4]byte{a, b, c, byte(1 + r.IntN(254))})
}

func v6(r *rand.Rand) netip.Addr {
	if r.IntN(4) == 0 {
		return netip.MustParseAddr(fmt.Sprintf("fe80::%x", 1+r.IntN(0xfffe)))
	}
	return netip.MustParseAddr(fmt.Sprintf("2001:db8:%x::%x", r.IntN(4), 1+r.IntN(0xfffe)))
}

// randomText is a description of up to 63 bytes, with the characters a
// file has to quote or escape.
func randomText(r *rand.Rand) string {
	pieces := []string{"a", "Z", "0", " ", "\t", `"`, `\`, "$", "#", "'", "`", "!", "é", "\r", "$if", "-", "\x7f"}
	var b strings.Builder
	for range r.IntN(20) {
		p := pieces[r.IntN(len(pieces))]
		if b.Len()+len(p) > 63 {
			break
		}
		b.WriteString(p)
	}
	return b.String()
}
