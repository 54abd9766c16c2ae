package tunnel

import (
	"encoding/json"
	"strings"
	"testing"
)

// checkLLAddr fails unless a is a locally administered unicast address.
func checkLLAddr(t *testing.T, what string, a LLAddr) {
	t.Helper()
	if a.IsZero() || a[0]&0x01 != 0 || a[0]&0x02 == 0 {
		t.Fatalf("%s: %s is not a locally administered unicast address", what, a)
	}
}

func llAddrOf(t *testing.T, s State, name string) LLAddr {
	t.Helper()
	c, ok := s.Find(name)
	if !ok {
		t.Fatalf("no %s", name)
	}
	return c.LLAddr
}

// TestLLAddrKept: a gif gets its Ethernet address when it first joins a
// bridge and keeps it through other changes, leaving the bridge and
// joining another.
func TestLLAddrKept(t *testing.T) {
	s, _ := mustApply(t, State{}, "gif0", Op{Kind: OpTunnel, Src: stateSrc, Dst: stateDst})
	if a := llAddrOf(t, s, "gif0"); !a.IsZero() {
		t.Fatalf("a gif in no bridge has address %s", a)
	}
	s, _ = mustApply(t, s, "bridge0", Op{Kind: OpBridgeAdd, Text: "gif0"}, Op{Kind: OpBridgeAdd, Text: "gif1"})
	first := llAddrOf(t, s, "gif0")
	checkLLAddr(t, "gif0 in bridge0", first)
	checkLLAddr(t, "gif1, created by add", llAddrOf(t, s, "gif1"))
	if llAddrOf(t, s, "gif1") == first {
		t.Fatalf("gif0 and gif1 got the same address %s", first)
	}
	for _, step := range []struct {
		name string
		ops  []Op
	}{
		{"gif0", []Op{{Kind: OpMTU, Int: 1400}, {Kind: OpDown}, {Kind: OpUp}}},
		{"bridge0", []Op{{Kind: OpBridgeDel, Text: "gif0"}}},
		{"bridge1", []Op{{Kind: OpBridgeAdd, Text: "gif0"}}},
	} {
		s, _ = mustApply(t, s, step.name, step.ops...)
		if got := llAddrOf(t, s, "gif0"); got != first {
			t.Fatalf("after %s %v: gif0 has %s, had %s", step.name, step.ops, got, first)
		}
	}
}

// TestLLAddrSet: lladdr sets the address, lladdr random chooses a new one,
// and the model refuses what is no interface's address.
func TestLLAddrSet(t *testing.T) {
	set := LLAddr{0x02, 0x00, 0x5e, 0x00, 0x53, 0x01}
	s, _ := mustApply(t, State{}, "gif0", Op{Kind: OpLLAddr, LLAddr: set})
	if got := llAddrOf(t, s, "gif0"); got != set {
		t.Fatalf("lladdr %s gave %s", set, got)
	}
	s, _ = mustApply(t, s, "bridge0", Op{Kind: OpBridgeAdd, Text: "gif0"})
	if got := llAddrOf(t, s, "gif0"); got != set {
		t.Fatalf("joining a bridge replaced the set address %s by %s", set, got)
	}
	s, _ = mustApply(t, s, "gif0", Op{Kind: OpLLAddr})
	random := llAddrOf(t, s, "gif0")
	checkLLAddr(t, "lladdr random", random)
	if random == set {
		t.Fatalf("lladdr random kept %s", set)
	}
	for _, bad := range []LLAddr{{0x01, 0x00, 0x5e, 0, 0, 1}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}} {
		_, _, err := s.Apply("gif0", []Op{{Kind: OpLLAddr, Token: "lladdr " + bad.String(), LLAddr: bad}}, testEnv)
		if err == nil || !strings.Contains(err.Error(), "multicast") || !strings.Contains(err.Error(), bad.String()) {
			t.Errorf("lladdr %s: err %v, want a refusal naming it as multicast", bad, err)
		}
	}
}

// TestGiveLLAddrs: a state stored before gif kept addresses, which has a
// bridged gif without one, gets one when it is loaded, and only once.
func TestGiveLLAddrs(t *testing.T) {
	old := `{"interfaces":[{"name":"gif0","up":true,"mtu":1280,"ttl":64,"ecn":true},` +
		`{"name":"gif1","up":true,"mtu":1280,"ttl":64,"ecn":true}],` +
		`"bridges":[{"name":"bridge0","up":true,"members":["gif0"]}],"sysctl":{}}`
	var s State
	if err := json.Unmarshal([]byte(old), &s); err != nil {
		t.Fatalf("the state's older form does not load: %v", err)
	}
	if !s.GiveLLAddrs(testEnv) {
		t.Fatal("GiveLLAddrs gave nothing to a bridged gif without an address")
	}
	given := llAddrOf(t, s, "gif0")
	checkLLAddr(t, "given to gif0", given)
	if a := llAddrOf(t, s, "gif1"); !a.IsZero() {
		t.Fatalf("gif1, in no bridge, got %s", a)
	}
	if s.GiveLLAddrs(testEnv) || llAddrOf(t, s, "gif0") != given {
		t.Fatal("GiveLLAddrs gave again")
	}
	// Stored and loaded again, the address is the same.
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back State
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if got := llAddrOf(t, back, "gif0"); got != given {
		t.Fatalf("stored %s, loaded %s from %s", given, got, b)
	}
	if !strings.Contains(string(b), `"lladdr":"`+given.String()+`"`) {
		t.Fatalf("the state stores no lladdr: %s", b)
	}
}

func TestParseLLAddr(t *testing.T) {
	for in, want := range map[string]LLAddr{
		"02:00:5e:00:53:01": {2, 0, 0x5e, 0, 0x53, 1},
		"2:0:5E:0:53:1":     {2, 0, 0x5e, 0, 0x53, 1},
		"ff:ff:ff:ff:ff:ff": {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	} {
		if got, err := ParseLLAddr(in); err != nil || got != want {
			t.Errorf("ParseLLAddr(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "02:00:5e:00:53", "02:00:5e:00:53:01:02", "02:00:5e:00:53:001", "0x2:0:0:0:0:1", "02:00:5e:00:53:g1", "02-00-5e-00-53-01", "02:00:5e:00:53:"} {
		if got, err := ParseLLAddr(in); err == nil {
			t.Errorf("ParseLLAddr(%q) = %s, want an error", in, got)
		}
	}
}

func FuzzParseLLAddr(f *testing.F) {
	for _, s := range []string{"02:00:5e:00:53:01", "2:0:5E:0:53:1", "::::::", "0x2:0:0:0:0:1", "ff:ff:ff:ff:ff:ff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseLLAddr(s)
		if err != nil {
			return
		}
		// What parses prints in the canonical form, which parses the same.
		if back, err := ParseLLAddr(a.String()); err != nil || back != a {
			t.Fatalf("ParseLLAddr(%q) = %s, which parses as %s, %v", s, a, back, err)
		}
	})
}
