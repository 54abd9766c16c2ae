package tunnel

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// fakeEnv is a host with a few addresses and Ethernet interfaces.
type fakeEnv struct {
	local    map[netip.Addr]bool
	ethernet map[string]bool // name → carries Ethernet
}

func (e fakeEnv) IsLocal(a netip.Addr) bool { return e.local[a] }
func (fakeEnv) NewLLAddr() LLAddr           { return RandomLLAddr() }
func (e fakeEnv) Ethernet(name string) (bool, bool) {
	eth, ok := e.ethernet[name]
	return ok, eth
}

var testEnv = fakeEnv{
	local:    map[netip.Addr]bool{netip.MustParseAddr("192.0.2.1"): true},
	ethernet: map[string]bool{"eth1": true, "tun7": false},
}

func mustApply(t *testing.T, s State, name string, ops ...Op) (State, []string) {
	t.Helper()
	next, warnings, err := s.Apply(name, ops, testEnv)
	if err != nil {
		t.Fatalf("apply %s %v: %v", name, ops, err)
	}
	return next, warnings
}

var (
	stateSrc = netip.MustParseAddr("192.0.2.1")
	stateDst = netip.MustParseAddr("192.0.2.2")
)

func TestApplyGif(t *testing.T) {
	s, notes := mustApply(t, State{}, "gif1",
		Op{Kind: OpTunnel, Src: stateSrc, Dst: stateDst},
		Op{Kind: OpAddAddr, Addr: Addr{Prefix: netip.MustParsePrefix("198.51.100.1/32"), Peer: netip.MustParseAddr("198.51.100.2")}},
		Op{Kind: OpMTU, Int: 1500},
		Op{Kind: OpTunnelTTL, Int: TTLCopy},
	)
	if len(notes) != 1 || notes[0] != "gif1: created" {
		t.Errorf("notes %q, want the creation", notes)
	}
	c, ok := s.Find("gif1")
	if !ok || !c.Up || c.MTU != 1500 || c.TTL != TTLCopy || !c.ECN || c.Src != stateSrc || len(c.Addrs) != 1 {
		t.Fatalf("gif1: %+v", c)
	}
	// Replacing an address keeps one entry; deleting it leaves none.
	s, _ = mustApply(t, s, "gif1", Op{Kind: OpAddAddr, Addr: Addr{Prefix: netip.MustParsePrefix("198.51.100.1/24")}})
	c, _ = s.Find("gif1")
	if len(c.Addrs) != 1 || c.Addrs[0].Prefix.Bits() != 24 || c.Addrs[0].Peer.IsValid() {
		t.Fatalf("after replace: %+v", c.Addrs)
	}
	s, _ = mustApply(t, s, "gif0", Op{Kind: OpCreate})
	if s.Interfaces[0].Name != "gif0" || s.Interfaces[1].Name != "gif1" {
		t.Fatalf("interfaces not sorted by unit: %v, %v", s.Interfaces[0].Name, s.Interfaces[1].Name)
	}
	s, _ = mustApply(t, s, "gif1", Op{Kind: OpAddAddr, Addr: Addr{Prefix: netip.MustParsePrefix("2001:db8::1/64")}}, Op{Kind: OpNoInet6})
	c, _ = s.Find("gif1")
	if !c.NoInet6 || len(c.Addrs) != 1 || c.Addrs[0].Is6() {
		t.Fatalf("-inet6 left %+v (noinet6 %v)", c.Addrs, c.NoInet6)
	}
	s, _ = mustApply(t, s, "gif1", Op{Kind: OpAddAddr, Addr: Addr{Prefix: netip.MustParsePrefix("2001:db8::1/64")}})
	if c, _ = s.Find("gif1"); c.NoInet6 {
		t.Fatal("an inet6 address did not turn IPv6 back on")
	}
	s, _ = mustApply(t, s, "gif1", Op{Kind: OpDestroy})
	if _, ok := s.Find("gif1"); ok || len(s.Interfaces) != 1 {
		t.Fatalf("destroy left %d interfaces", len(s.Interfaces))
	}
}

func TestApplyAllOrNothing(t *testing.T) {
	s, _ := mustApply(t, State{}, "gif0", Op{Kind: OpTunnel, Src: stateSrc, Dst: stateDst})
	before := s.Clone()
	for _, c := range []struct {
		ops  []Op
		want string
	}{
		{[]Op{{Kind: OpMTU, Int: 1400, Token: "mtu 1400"}, {Kind: OpMTU, Int: 1279, Token: "mtu 1279"}}, `"mtu 1279": mtu 1279 is out of range 1280..8192`},
		{[]Op{{Kind: OpDown}, {Kind: OpDeleteAddr, Addr: Addr{Prefix: netip.MustParsePrefix("192.0.2.9/32")}, Token: "inet 192.0.2.9 delete"}}, "address 192.0.2.9 is not configured on gif0"},
		{[]Op{{Kind: OpTunnelTTL, Int: 0, Token: "tunnelttl 0"}}, "ttl 0 is out of range 1..255"},
		{[]Op{{Kind: OpTunnelDomain, Int: -1, Token: "tunneldomain -1"}}, "out of range"},
		{[]Op{{Kind: OpCreate, Token: "create"}}, "already exists"},
		{[]Op{{Kind: OpDescription, Text: "x"}, {Kind: OpBridgeAdd, Text: "eth1", Token: "add eth1"}}, "does not apply to a gif"},
	} {
		next, _, err := s.Apply("gif0", c.ops, testEnv)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "gif0: ") {
			t.Errorf("%v: error %v, want one naming gif0 and %q", c.ops, err, c.want)
		}
		if !reflect.DeepEqual(next, before) || !reflect.DeepEqual(s, before) {
			t.Errorf("%v: the state changed", c.ops)
		}
	}
	if _, _, err := s.Apply("eth0", []Op{{Kind: OpUp}}, testEnv); err == nil {
		t.Error("Apply took a name that is neither gif nor bridge")
	}
}

func TestApplyWarnings(t *testing.T) {
	s, _ := mustApply(t, State{}, "gif3", Op{Kind: OpTunnel, Src: stateSrc, Dst: stateDst})
	_, warnings := mustApply(t, s, "gif1", Op{Kind: OpTunnel, Src: stateSrc, Dst: stateDst})
	if got := strings.Join(warnings, "\n"); !strings.Contains(got, "also configured on gif3; only gif1 (the lowest index) receives") {
		t.Errorf("duplicate warning: %q", got)
	}
	_, warnings = mustApply(t, State{}, "gif0", Op{Kind: OpTunnel, Src: netip.MustParseAddr("192.0.2.77"), Dst: stateDst})
	if got := strings.Join(warnings, "\n"); !strings.Contains(got, "192.0.2.77 is not an address of this host") {
		t.Errorf("non-local source warning: %q", got)
	}
}

func TestApplyBridge(t *testing.T) {
	s, notes := mustApply(t, State{}, "bridge0",
		Op{Kind: OpBridgeAdd, Text: "gif0"}, Op{Kind: OpBridgeAdd, Text: "eth1"},
		Op{Kind: OpUp}, Op{Kind: OpLinkFlag, Int: 2, Bool: true})
	if strings.Join(notes, ",") != "bridge0: created,gif0: created" {
		t.Errorf("notes %q", notes)
	}
	b, ok := s.FindBridge("bridge0")
	if !ok || !b.Up || !b.Link[2] || b.Link[0] || !reflect.DeepEqual(b.Members, []string{"gif0", "eth1"}) {
		t.Fatalf("bridge0: %+v", b)
	}
	if _, ok := s.Find("gif0"); !ok || s.BridgeOf("gif0") != "bridge0" {
		t.Fatal("gif0 was not created as a member")
	}
	for _, c := range []struct {
		bridge string
		op     Op
		want   string
	}{
		{"bridge0", Op{Kind: OpBridgeAdd, Text: "gif0"}, "already a member of bridge0"},
		{"bridge1", Op{Kind: OpBridgeAdd, Text: "eth1"}, "member of bridge0: remove it there first"},
		{"bridge0", Op{Kind: OpBridgeAdd, Text: "eth9"}, "eth9: no such interface"},
		{"bridge0", Op{Kind: OpBridgeAdd, Text: "tun7"}, "not an Ethernet interface"},
		{"bridge0", Op{Kind: OpBridgeAdd, Text: "bridge1"}, "is a bridge"},
		{"bridge0", Op{Kind: OpBridgeDel, Text: "eth2"}, "eth2 is not a member of bridge0"},
		{"bridge0", Op{Kind: OpMTU, Int: 1500}, "does not apply to a bridge"},
	} {
		if _, _, err := s.Apply(c.bridge, []Op{c.op}, testEnv); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: error %v, want %q", c.bridge, c.op, err, c.want)
		}
	}
	s, _ = mustApply(t, s, "bridge0", Op{Kind: OpBridgeDel, Text: "gif0"})
	if s.BridgeOf("gif0") != "" {
		t.Fatal("del left gif0 in the bridge")
	}
	s, _ = mustApply(t, s, "bridge0", Op{Kind: OpBridgeAdd, Text: "gif0"})
	s, _ = mustApply(t, s, "gif0", Op{Kind: OpDestroy})
	if b, _ := s.FindBridge("bridge0"); !reflect.DeepEqual(b.Members, []string{"eth1"}) {
		t.Fatalf("destroying gif0 left members %v", b.Members)
	}
	s, _ = mustApply(t, s, "bridge0", Op{Kind: OpDestroy})
	if len(s.Bridges) != 0 {
		t.Fatal("destroy left the bridge")
	}
}

func TestTable(t *testing.T) {
	cfgs := []*Config{
		{Name: "gif5", Up: true, Src: stateSrc, Dst: stateDst},
		{Name: "gif2", Up: true, Src: stateSrc, Dst: stateDst},
		{Name: "gif1", Up: false, Src: stateSrc, Dst: stateDst},
		{Name: "gif7", Up: true, Src: stateSrc},
	}
	table := NewTable(cfgs, func(c *Config) *Config { return c })
	if got, ok := table.Lookup(stateSrc, stateDst); !ok || got.Name != "gif2" {
		t.Fatalf("lookup: %v %v, want gif2 (the lowest UP unit)", got, ok)
	}
	if _, ok := table.Lookup(stateDst, stateSrc); ok {
		t.Fatal("lookup matched the reversed pair")
	}
	if table.Len() != 1 {
		t.Fatalf("table holds %d pairs, want 1", table.Len())
	}
	var none *Table[*Config]
	if got, ok := none.Lookup(stateSrc, stateDst); ok || got != nil {
		t.Fatalf("a nil table's lookup: %v %v, want nothing", got, ok)
	}
}

func TestSysctl(t *testing.T) {
	var s Sysctl
	if err := s.Set("net.inet.ipip.allow", "2"); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get("net.inet.ipip.allow"); v != 2 || s.IPIPAllow != 2 {
		t.Fatalf("ipip.allow %d", v)
	}
	for _, c := range [][2]string{{"net.inet.ipip.allow", "3"}, {"net.inet.etherip.allow", "yes"}, {"net.inet.gre.allow", "1"}} {
		if err := s.Set(c[0], c[1]); err == nil {
			t.Errorf("set %s=%s accepted", c[0], c[1])
		}
	}
	if _, err := s.Get("kern.hostname"); err == nil || !strings.Contains(err.Error(), "net.inet.etherip.allow, net.inet.gif.fastpath, net.inet.ipip.allow") {
		t.Errorf("unknown variable error: %v", err)
	}
}

// TestSysctlFastpath: net.inet.gif.fastpath is 1 by default, takes 0 and 1,
// and a state stored before it existed keeps the default when decoded.
func TestSysctlFastpath(t *testing.T) {
	s := NewSysctl()
	if v, err := s.Get("net.inet.gif.fastpath"); err != nil || v != 1 {
		t.Fatalf("default net.inet.gif.fastpath = %d, %v; want 1", v, err)
	}
	if err := s.Set("net.inet.gif.fastpath", "0"); err != nil || s.Fastpath != 0 {
		t.Fatalf("set net.inet.gif.fastpath=0: %v, Fastpath %d", err, s.Fastpath)
	}
	for _, bad := range []string{"2", "-1", "on"} {
		if err := s.Set("net.inet.gif.fastpath", bad); err == nil || !strings.Contains(err.Error(), "0..1") {
			t.Errorf("set net.inet.gif.fastpath=%s: %v, want a range error", bad, err)
		}
	}
	old := State{Sysctl: NewSysctl()}
	if err := json.Unmarshal([]byte(`{"interfaces":[],"sysctl":{"ipip_allow":2,"etherip_allow":1}}`), &old); err != nil {
		t.Fatal(err)
	}
	if want := (Sysctl{IPIPAllow: 2, EtherIPAllow: 1, Fastpath: 1}); old.Sysctl != want {
		t.Errorf("old state decoded: %+v, want %+v", old.Sysctl, want)
	}
	var back State
	b, _ := json.Marshal(State{Sysctl: Sysctl{Fastpath: 0}})
	back.Sysctl = NewSysctl()
	if err := json.Unmarshal(b, &back); err != nil || back.Sysctl.Fastpath != 0 {
		t.Errorf("fastpath 0 stored as %s comes back as %d (%v)", b, back.Sysctl.Fastpath, err)
	}
}

// TestFastpathSwitch: -fastpath keeps an interface off the kernel plane,
// fastpath (the default) lets it take it again.
func TestFastpathSwitch(t *testing.T) {
	var s State
	s, _, err := s.Apply("gif0", []Op{{Kind: OpFastpath, Bool: false}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Find("gif0"); !c.NoFastpath {
		t.Fatal("-fastpath left NoFastpath false")
	}
	s, _, err = s.Apply("gif0", []Op{{Kind: OpFastpath, Bool: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Find("gif0"); c.NoFastpath || !c.Equal(&Config{Name: "gif0", MTU: DefaultMTU, TTL: DefaultTTL, ECN: true}) {
		t.Fatalf("fastpath gave %+v, want a new interface's configuration", *c)
	}
	if _, _, err := s.Apply("bridge0", []Op{{Kind: OpFastpath, Bool: false}}, nil); err == nil {
		t.Error("a bridge took -fastpath")
	}
}
