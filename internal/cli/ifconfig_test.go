package cli

import (
	"net/netip"
	"strings"
	"testing"

	"gif/internal/control"
	"gif/internal/tunnel"
)

func TestFormatInterface(t *testing.T) {
	c := tunnel.NewConfig("gif0")
	c.Up = true
	c.Description = "to the branch office"
	c.Src, c.Dst = netip.MustParseAddr("1.2.3.4"), netip.MustParseAddr("4.3.2.1")
	c.Addrs = []tunnel.Addr{
		{Prefix: netip.MustParsePrefix("2001:db8::1/128"), Peer: netip.MustParseAddr("2001:db8::2")},
		{Prefix: netip.MustParsePrefix("198.51.100.1/32"), Peer: netip.MustParseAddr("198.51.100.2")},
		{Prefix: netip.MustParsePrefix("192.0.2.1/24")},
	}
	st := control.InterfaceStatus{
		Config: c, Index: 7, Running: true, Plane: control.PlaneKernel,
		LinkLocal: netip.MustParseAddr("fe80::1"),
		Stats: tunnel.InterfaceStats{
			IPackets: 3, IBytes: 252, OPackets: 4, OBytes: 336, IErrors: 1,
			Drops: map[string]uint64{"loop": 2, "ecn": 1},
		},
	}
	want := `gif0: flags=8051<UP,POINTOPOINT,RUNNING,MULTICAST> mtu 1280
	index 7 priority 0 llprio 3
	description: to the branch office
	groups: gif
	tunnel: inet 1.2.3.4 --> 4.3.2.1 ttl 64 nodf ecn
	dataplane: kernel
	inet6 fe80::1%gif0 --> prefixlen 64 scopeid 0x7
	inet 198.51.100.1 --> 198.51.100.2 netmask 0xffffffff
	inet 192.0.2.1 netmask 0xffffff00
	inet6 2001:db8::1 --> 2001:db8::2 prefixlen 128
	counters: 3 packets (252 bytes) in, 4 packets (336 bytes) out, 1 input errors, 0 output errors
	drops: ecn 1 loop 2
`
	if got := formatInterface(st); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}

	// Down, no tunnel, IPv6 tunnel options shown as set.
	c = tunnel.NewConfig("gif12")
	c.MTU, c.TTL, c.DF, c.ECN, c.Domain = 1500, tunnel.TTLCopy, true, false, 100
	down := formatInterface(control.InterfaceStatus{Config: c, Index: 9})
	wantDown := `gif12: flags=8010<POINTOPOINT,MULTICAST> mtu 1500
	index 9 priority 0 llprio 3
	groups: gif
	counters: 0 packets (0 bytes) in, 0 packets (0 bytes) out, 0 input errors, 0 output errors
`
	if down != wantDown {
		t.Errorf("got:\n%s\nwant:\n%s", down, wantDown)
	}
	c.Src, c.Dst, c.NoFastpath = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), true
	got := formatInterface(control.InterfaceStatus{Config: c, Plane: control.PlaneUserspace, PlaneReason: "fastpath off"})
	if want := "\ttunnel: inet6 2001:db8::1 --> 2001:db8::2 ttl copy df noecn rdomain 100 -fastpath\n\tdataplane: userspace (fastpath off)\n"; !strings.Contains(got, want) {
		t.Errorf("got:\n%s\nwant the lines:\n%s", got, want)
	}
	// The plane with no reason given.
	got = formatInterface(control.InterfaceStatus{Config: c, Plane: control.PlaneUserspace})
	if want := "\tdataplane: userspace\n"; !strings.Contains(got, want) {
		t.Errorf("got:\n%s\nwant a line:\n%s", got, want)
	}
}

func TestFormatBridgeMember(t *testing.T) {
	c := tunnel.NewConfig("gif0")
	c.Up = true
	c.Src, c.Dst = netip.MustParseAddr("1.2.3.4"), netip.MustParseAddr("4.3.2.1")
	st := control.InterfaceStatus{Config: c, Index: 4, Running: true, Bridge: "bridge0", MAC: "fe:e1:ba:d0:00:01"}
	want := `gif0: flags=8051<UP,POINTOPOINT,RUNNING,MULTICAST> mtu 1280
	lladdr fe:e1:ba:d0:00:01
	index 4 priority 0 llprio 3
	groups: gif
	tunnel: inet 1.2.3.4 --> 4.3.2.1 ttl 64 nodf ecn
`
	if got := formatInterface(st); !strings.HasPrefix(got, want) {
		t.Errorf("got:\n%s\nwant it to start with:\n%s", got, want)
	}
	// Out of the bridge, its TUN has no address, but the gif keeps one.
	st.Bridge, st.MAC, st.LLAddr = "", "", tunnel.LLAddr{0xfe, 0xe1, 0xba, 0xd0, 0, 1}
	if got := formatInterface(st); !strings.HasPrefix(got, want) {
		t.Errorf("out of the bridge, got:\n%s\nwant it to start with:\n%s", got, want)
	}
	st.LLAddr = tunnel.LLAddr{}
	if got := formatInterface(st); strings.Contains(got, "lladdr") {
		t.Errorf("a gif without an Ethernet address shows one:\n%s", got)
	}
}

func TestFormatBridge(t *testing.T) {
	st := control.BridgeStatus{
		BridgeConfig: tunnel.BridgeConfig{
			Name: "bridge0", Up: true, Description: "network1 to network2",
			Members: []string{"gif0", "eth1", "eth2", "eth3"},
			Link:    [3]bool{false, false, true},
		},
		Index: 5, Running: true,
		Ports: []control.LinkStatus{
			{Name: "gif0", Index: 7, Up: true, Running: true, Master: "bridge0"},
			{Name: "eth1", Index: 3, Up: true, Master: "bridge0"},
			{Name: "eth2"},
			{Name: "eth3", Index: 9, Master: "bridge1"},
		},
	}
	want := `bridge0: flags=4041<UP,RUNNING,LINK2>
	index 5 llprio 3
	description: network1 to network2
	groups: bridge
	gif0
		port 7
	eth1
		port 3
	eth2 (no such interface)
	eth3 (not attached)
`
	if got := formatBridge(st); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}

	// Down, every link flag, no members.
	down := control.BridgeStatus{BridgeConfig: tunnel.BridgeConfig{Name: "bridge12", Link: [3]bool{true, true, true}}, Index: 8}
	wantDown := `bridge12: flags=7000<LINK0,LINK1,LINK2>
	index 8 llprio 3
	groups: bridge
`
	if got := formatBridge(down); got != wantDown {
		t.Errorf("got:\n%s\nwant:\n%s", got, wantDown)
	}
	down.Link = [3]bool{false, true, false}
	if got, want := formatBridge(down), "bridge12: flags=2000<LINK1>\n"; !strings.HasPrefix(got, want) {
		t.Errorf("got:\n%s\nwant it to start with %q", got, want)
	}
}

func TestFormatLink(t *testing.T) {
	st := control.LinkStatus{Name: "eth1", Index: 3, MTU: 1500, Up: true, Running: true, MAC: "02:00:5e:10:00:01", Master: "bridge0"}
	want := `eth1: flags=41<UP,RUNNING> mtu 1500
	lladdr 02:00:5e:10:00:01
	index 3
`
	if got := formatLink(st); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	// Down, without a link-layer address (a TUN device).
	want = "tun0: flags=0<> mtu 9000\n\tindex 12\n"
	if got := formatLink(control.LinkStatus{Name: "tun0", Index: 12, MTU: 9000}); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestFormatShow: gifs first, then bridges, then other interfaces.
func TestFormatShow(t *testing.T) {
	r := control.ShowResult{
		Links:      []control.LinkStatus{{Name: "eth1", Index: 3, MTU: 1500}},
		Bridges:    []control.BridgeStatus{{BridgeConfig: tunnel.BridgeConfig{Name: "bridge0"}, Index: 5}},
		Interfaces: []control.InterfaceStatus{{Config: tunnel.NewConfig("gif0")}, {Config: tunnel.NewConfig("gif1")}},
	}
	var names []string
	for line := range strings.Lines(formatShow(r)) {
		if name, _, ok := strings.Cut(line, ": flags="); ok {
			names = append(names, name)
		}
	}
	if got, want := strings.Join(names, " "), "gif0 gif1 bridge0 eth1"; got != want {
		t.Errorf("interfaces shown in the order %q, want %q", got, want)
	}
	if got := formatShow(control.ShowResult{}); got != "" {
		t.Errorf("nothing to show printed %q", got)
	}
}

// TestFormatRunningLLAddr: -C writes a gif's Ethernet address into its
// hostname.if, so that the files give the same address back.
func TestFormatRunningLLAddr(t *testing.T) {
	c := tunnel.NewConfig("gif0")
	c.Up, c.LLAddr = true, tunnel.LLAddr{0x02, 0x00, 0x5e, 0x00, 0x53, 0x01}
	r := control.ShowResult{
		Interfaces: []control.InterfaceStatus{{Config: c, Bridge: "bridge0", MAC: "02:00:5e:00:53:01"}},
		Bridges:    []control.BridgeStatus{{BridgeConfig: tunnel.BridgeConfig{Name: "bridge0", Up: true, Members: []string{"gif0"}}}},
	}
	want := "# " + DefaultConfDir + "/hostname.gif0\nlladdr 02:00:5e:00:53:01\nup\n"
	if got := formatRunning(r); !strings.HasPrefix(got, want) {
		t.Errorf("got:\n%s\nwant it to start with:\n%s", got, want)
	}
}
