package daemon_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gif/internal/conf/ifconfig"
	"gif/internal/control"
	"gif/internal/daemon"
	"gif/internal/link"
	"gif/internal/state"
	"gif/internal/tunnel"
	"gif/internal/wire"
)

// newBridgeDaemon starts a daemon on a fresh host with this host's
// addresses and an Ethernet interface eth1, down, with MTU 1500, and a
// fake plane. It returns the path of the state file too.
func newBridgeDaemon(t testing.TB) (*daemon.Daemon, *fakeHost, string) {
	t.Helper()
	h, path := newBridgeHost(t)
	return startDaemon(t, h, path), h, path
}

// newWiredBridgeDaemon is newBridgeDaemon with the userspace data plane,
// wired to the host's network.
func newWiredBridgeDaemon(t testing.TB) (*daemon.Daemon, *fakeHost, string) {
	t.Helper()
	h, path := newBridgeHost(t)
	return startWired(t, h, path), h, path
}

// newBridgeHost returns a fresh host with this host's addresses and an
// Ethernet interface eth1, down, with MTU 1500, and a state file path.
func newBridgeHost(t testing.TB) (*fakeHost, string) {
	t.Helper()
	h := newFakeHost(t)
	h.setLocal(local, local2, local6)
	h.addEthernet("eth1", 1500)
	return h, filepath.Join(t.TempDir(), "state.json")
}

// applyCmd applies "IF args..." as gif ifconfig would, to any interface.
func applyCmd(d *daemon.Daemon, command string) (control.ShowResult, error) {
	words := strings.Fields(command)
	ops, err := ifconfig.Parse(words[0], words[1:])
	if err != nil {
		return control.ShowResult{}, fmt.Errorf("parse %q: %w", command, err)
	}
	r, _, err := d.Apply(words[0], ops)
	return r, err
}

func mustApply(t testing.TB, d *daemon.Daemon, command string) control.ShowResult {
	t.Helper()
	r, err := applyCmd(d, command)
	if err != nil {
		t.Fatalf("ifconfig %s: %v", command, err)
	}
	return r
}

// linkInfo returns what the fake Linux knows of the interface called name.
func linkInfo(t *testing.T, h *fakeHost, name string) link.LinkInfo {
	t.Helper()
	info, err := h.Info(name)
	if err != nil {
		t.Fatalf("Linux has no %s: %v", name, err)
	}
	return info
}

// callsTo lists the calls of op as "NAME ARG", failed ones marked.
func callsTo(h *fakeHost, op string) []string {
	var out []string
	for _, c := range h.callsOf(op) {
		s := strings.TrimSpace(c.name + " " + c.arg)
		if c.failed {
			s += " (failed)"
		}
		out = append(out, s)
	}
	return out
}

// checkCalls checks the calls of op made since the first skip.
func checkCalls(t *testing.T, h *fakeHost, op string, skip int, want ...string) {
	t.Helper()
	got := callsTo(h, op)
	if len(got) < skip {
		t.Fatalf("%d calls of %s; want at least %d", len(got), op, skip)
	}
	if got = got[skip:]; !slices.Equal(got, want) {
		t.Errorf("calls of %s: %q; want %q", op, got, want)
	}
}

// checkMasters checks which bridge each interface named is a port of.
func checkMasters(t *testing.T, h *fakeHost, want map[string]string) {
	t.Helper()
	for name, master := range want {
		if got := linkInfo(t, h, name).Master; got != master {
			t.Errorf("%s is a port of %q; want %q", name, got, master)
		}
	}
}

func loadState(t *testing.T, path string) tunnel.State {
	t.Helper()
	var s tunnel.State
	if err := state.Load(path, &s); err != nil {
		t.Fatalf("state file: %v", err)
	}
	return s
}

// TestBridgeLifecycle takes a configured gif into a bridge with eth1, out
// of it and back, and destroys the bridge, checking Linux, the model and
// the state file at each step.
func TestBridgeLifecycle(t *testing.T) {
	d, h, path := newWiredBridgeDaemon(t)
	cfg := mustApply(t, d, "gif0 tunnel 198.51.100.1 203.0.113.1 inet 192.0.2.1 192.0.2.2 inet6 2001:db8::1 tunnelttl 9 description uplink").Interfaces[0].Config
	ll := addr(netip.PrefixFrom(h.linkLocal, 64).String())
	asTUN := linuxLink{Up: true, MTU: 1280, Carrier: true, Addrs: []link.Addr{peerAddr("192.0.2.1/32", "192.0.2.2"), addr("2001:db8::1/64"), ll}}
	sortAddrs(asTUN.Addrs)
	// A bridge member carries frames of 1500 bytes whatever gif's MTU,
	// and has no IP addresses of its own.
	asTAP := linuxLink{Up: true, MTU: 1500, Carrier: true}

	checkGif := func(step string, bridge string, want linuxLink) {
		t.Helper()
		if got := h.linux()["gif0"]; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Linux has gif0 %v; want %v", step, got, want)
		}
		info := linkInfo(t, h, "gif0")
		if info.Ethernet != (bridge != "") || info.Master != bridge {
			t.Errorf("%s: gif0 is Ethernet %t, a port of %q; want Ethernet %t, a port of %q",
				step, info.Ethernet, info.Master, bridge != "", bridge)
		}
		if bridge != "" && info.MAC.String() != cfg.LLAddr.String() {
			t.Errorf("%s: gif0's TAP has address %s; want the gif's %s", step, info.MAC, cfg.LLAddr)
		}
		st := show(t, d, "gif0")
		if !reflect.DeepEqual(st.Config, cfg) || st.Bridge != bridge || !st.Running {
			t.Errorf("%s: gif0 shows %+v, bridge %q, running %t; want %+v, bridge %q, running",
				step, st.Config, st.Bridge, st.Running, cfg, bridge)
		}
	}
	checkSaved := func(step string, want ...tunnel.BridgeConfig) {
		t.Helper()
		saved := loadState(t, path)
		if !reflect.DeepEqual(saved.Bridges, want) {
			t.Errorf("%s: state file holds bridges %+v; want %+v", step, saved.Bridges, want)
		}
		if c, ok := saved.Find("gif0"); !ok || !reflect.DeepEqual(*c, cfg) {
			t.Errorf("%s: state file holds gif0 %+v; want %+v", step, c, cfg)
		}
	}

	tun := h.device("gif0")
	r := mustApply(t, d, "bridge0 add gif0 add eth1 up")
	if len(r.Bridges) != 1 || !slices.Equal(r.Bridges[0].Members, []string{"gif0", "eth1"}) || !r.Bridges[0].Up {
		t.Errorf("ifconfig bridge0 returned %+v; want bridge0 up with members gif0 and eth1", r.Bridges)
	}
	if !tun.IsClosed() {
		t.Error("joining the bridge left gif0's TUN device open")
	}
	checkCalls(t, h, "CreateTAP", 0, "gif0 1500")
	checkCalls(t, h, "CreateBridge", 0, "bridge0")
	// Joining its first bridge, the gif got the Ethernet address it keeps.
	cfg.LLAddr = show(t, d, "gif0").LLAddr
	if cfg.LLAddr.IsZero() {
		t.Fatal("gif0 joined bridge0 without an Ethernet address")
	}
	checkGif("joined", "bridge0", asTAP)
	checkMasters(t, h, map[string]string{"eth1": "bridge0"})
	if b := h.linux()["bridge0"]; !b.Up {
		t.Errorf("bridge0 is %v; want up", b)
	}
	checkSaved("joined", tunnel.BridgeConfig{Name: "bridge0", Up: true, Members: []string{"gif0", "eth1"}})

	for _, step := range []struct {
		command string
		mtu     int
	}{
		{"gif0 mtu 2000", 2000},
		{"gif0 mtu 1400", 1500},
		{"gif0 mtu 1280", 1500},
	} {
		mustIfconfig(t, d, step.command)
		if got := h.linux()["gif0"].MTU; got != step.mtu {
			t.Errorf("after %s the TAP's MTU is %d; want %d", step.command, got, step.mtu)
		}
	}

	tap := h.device("gif0")
	mustApply(t, d, "bridge0 del gif0")
	if !tap.IsClosed() {
		t.Error("leaving the bridge left gif0's TAP device open")
	}
	checkCalls(t, h, "CreateTUN", 1, "gif0 1280")
	checkGif("left", "", asTUN)
	checkMasters(t, h, map[string]string{"eth1": "bridge0"})
	checkCalls(t, h, "SetNoMaster", 0)
	checkSaved("left", tunnel.BridgeConfig{Name: "bridge0", Up: true, Members: []string{"eth1"}})
	inner := ipv4Packet("192.0.2.1", "192.0.2.2", 0, 64, []byte("IP again"))
	h.device("gif0").Push(inner)
	if got := h.network(4, wire.ProtoIPv4).next(t); !bytes.Equal(got.Buf, inner) || got.TTL != 9 || got.Src != local || got.Dst != peer {
		t.Errorf("gif0 sent %x ttl %d %s --> %s; want %x ttl 9 %s --> %s", got.Buf, got.TTL, got.Src, got.Dst, inner, local, peer)
	}

	mustApply(t, d, "bridge0 add gif0")
	checkGif("joined again", "bridge0", asTAP)
	mustApply(t, d, "bridge0 del eth1")
	checkCalls(t, h, "SetNoMaster", 0, "eth1")
	checkMasters(t, h, map[string]string{"eth1": "", "gif0": "bridge0"})
	checkSaved("eth1 left", tunnel.BridgeConfig{Name: "bridge0", Up: true, Members: []string{"gif0"}})

	tap = h.device("gif0")
	if r := mustApply(t, d, "bridge0 destroy"); len(r.Bridges)+len(r.Interfaces) != 0 {
		t.Errorf("destroy returned %+v", r)
	}
	checkCalls(t, h, "DeleteBridge", 0, "bridge0")
	if _, ok := h.linux()["bridge0"]; ok {
		t.Error("bridge0 is still in Linux")
	}
	if !tap.IsClosed() {
		t.Error("destroying the bridge left gif0's TAP device open")
	}
	checkGif("bridge destroyed", "", asTUN)
	checkSaved("bridge destroyed")
	if _, err := d.Show("bridge0"); err == nil {
		t.Error("Show(bridge0) found the destroyed bridge")
	}
	checkCalls(t, h, "CreateBridge", 0, "bridge0")
}

// TestBridgeRestart checks that a daemon started on the state of one that
// closed adopts the Linux bridge that outlived it, and makes it again when
// it is gone.
func TestBridgeRestart(t *testing.T) {
	for _, bridgeGone := range []bool{false, true} {
		t.Run(fmt.Sprintf("bridge gone %t", bridgeGone), func(t *testing.T) {
			d, h, path := newWiredBridgeDaemon(t)
			mustIfconfig(t, d, "gif0 tunnel 198.51.100.1 203.0.113.1")
			mustApply(t, d, "bridge0 add gif0 add eth1 up")
			mustApply(t, d, "eth1 up")
			if _, err := d.SetSysctl("net.inet.etherip.allow", "1"); err != nil {
				t.Fatal(err)
			}
			d.Close()
			if _, ok := h.linux()["gif0"]; ok {
				t.Fatal("Close left gif0 in Linux")
			}
			checkMasters(t, h, map[string]string{"eth1": "bridge0"})
			bridgeIndex := linkInfo(t, h, "bridge0").Index
			if bridgeGone {
				h.deleteLink("bridge0")
			}
			creates, masters := len(h.callsOf("CreateBridge")), len(h.callsOf("SetMaster"))

			d = startWired(t, h, path)
			if bridgeGone {
				checkCalls(t, h, "CreateBridge", creates, "bridge0")
				checkCalls(t, h, "SetMaster", masters, "gif0 bridge0", "eth1 bridge0")
			} else {
				checkCalls(t, h, "CreateBridge", creates)
				checkCalls(t, h, "SetMaster", masters, "gif0 bridge0")
				if got := linkInfo(t, h, "bridge0").Index; got != bridgeIndex {
					t.Errorf("bridge0 has index %d; want the adopted bridge's %d", got, bridgeIndex)
				}
			}
			checkMasters(t, h, map[string]string{"gif0": "bridge0", "eth1": "bridge0"})
			if info := linkInfo(t, h, "gif0"); !info.Ethernet || info.MTU != 1500 {
				t.Errorf("restored gif0 is %+v; want a TAP with MTU 1500", info)
			}
			if st := show(t, d, "gif0"); st.Bridge != "bridge0" || !st.Running {
				t.Errorf("restored gif0 shows bridge %q, running %t; want bridge0, running", st.Bridge, st.Running)
			}

			frame := ethernetFrame(macB, macA, wire.EtherTypeIPv4, ipv4Packet("192.0.2.1", "192.0.2.2", 0, 64, []byte("after restart")))
			tap := h.device("gif0")
			tap.Push(frame)
			if got := h.network(4, wire.ProtoEtherIP).next(t); !bytes.Equal(got.Buf, etherIP(0x30, 0, frame)) {
				t.Errorf("restored gif0 sent %x; want %x", got.Buf, etherIP(0x30, 0, frame))
			}
			h.network(4, wire.ProtoEtherIP).send(t, peer, local, 0, etherIP(0x30, 0, frame))
			if got := tap.next(t); !bytes.Equal(got, frame) {
				t.Errorf("restored gif0 received %x; want %x", got, frame)
			}
		})
	}
}

// TestBridgeKeepsCounters checks that a gif's counters survive its joining
// and leaving a bridge, and a bridge command that fails, as OpenBSD's
// if_data does: the daemon replaces the gif's device, not the interface.
func TestBridgeKeepsCounters(t *testing.T) {
	d, h, _ := newWiredBridgeDaemon(t)
	mustIfconfig(t, d, "gif0 tunnel 198.51.100.1 203.0.113.1")
	inner := ipv4Packet("192.0.2.1", "192.0.2.2", 0, 64, []byte("counted"))
	h.device("gif0").Push(inner)
	h.network(4, wire.ProtoIPv4).next(t)
	want := tunnel.InterfaceStats{OPackets: 1, OBytes: uint64(len(inner))}
	waitStats(t, d, "gif0", want)
	for _, step := range []struct{ command, failOp string }{
		{"bridge0 add gif0 add eth1 up", "SetMaster"},
		{"bridge0 add gif0 add eth1 up", ""},
		{"bridge0 del gif0", ""},
	} {
		if step.failOp != "" {
			h.failNth(step.failOp, 1)
			if _, err := applyCmd(d, step.command); !errors.Is(err, errInjected) {
				t.Fatalf("ifconfig %s: %v; want the injected failure", step.command, err)
			}
		} else {
			mustApply(t, d, step.command)
		}
		if got := ifaceStats(t, d, "gif0"); !reflect.DeepEqual(got, want) {
			t.Errorf("after %s (failing %q): gif0 counters %+v; want %+v", step.command, step.failOp, got, want)
		}
	}
}

// TestBridgeMemberVanishes removes eth1 from Linux behind the daemon's
// back, as unplugging a USB NIC or deleting a veth does, and checks that
// the daemon goes on: commands that do not add eth1 still apply, eth1 can
// be removed from the bridge, and a daemon restarted on a state that names
// it still starts.
func TestBridgeMemberVanishes(t *testing.T) {
	setup := func(t *testing.T) (*daemon.Daemon, *fakeHost, string) {
		d, h, path := newBridgeDaemon(t)
		mustIfconfig(t, d, "gif0 tunnel 198.51.100.1 203.0.113.1")
		mustApply(t, d, "bridge0 add gif0 add eth1 up")
		h.deleteLink("eth1")
		return d, h, path
	}
	t.Run("commands", func(t *testing.T) {
		d, h, path := setup(t)
		for _, cmd := range []string{"gif0 mtu 1400", "gif1 tunnel 198.51.100.2 203.0.113.2", "bridge0 del eth1"} {
			if _, err := applyCmd(d, cmd); err != nil {
				t.Errorf("ifconfig %s: %v", cmd, err)
			}
		}
		saved := loadState(t, path)
		if b, ok := saved.FindBridge("bridge0"); !ok || !slices.Equal(b.Members, []string{"gif0"}) {
			t.Errorf("state file holds bridge0 %+v; want members gif0", b)
		}
		checkMasters(t, h, map[string]string{"gif0": "bridge0"})
	})
	t.Run("destroy", func(t *testing.T) {
		d, h, _ := setup(t)
		mustApply(t, d, "bridge0 destroy")
		if _, ok := h.linux()["bridge0"]; ok {
			t.Error("bridge0 is still in Linux")
		}
	})
	t.Run("restart", func(t *testing.T) {
		d, h, path := setup(t)
		d.Close()
		d = startOn(t, h, newFakePlane(), path, slog.New(slog.DiscardHandler))
		if st := show(t, d, "gif0"); st.Bridge != "bridge0" || !st.Running {
			t.Errorf("restored gif0 shows bridge %q, running %t; want bridge0, running", st.Bridge, st.Running)
		}
		checkMasters(t, h, map[string]string{"gif0": "bridge0"})
	})
}

// bridgeSnapshot is everything a failed bridge command must leave as it
// was: a snapshot, the bridges and every interface in Linux. A gif's device
// and a bridge may be made anew on the way back, so their indexes and MAC
// addresses are left out.
type bridgeSnapshot struct {
	snapshot
	bridges []control.BridgeStatus
	links   map[string]link.LinkInfo
}

func takeBridgeSnapshot(t *testing.T, d *daemon.Daemon, h *fakeHost, path string) bridgeSnapshot {
	t.Helper()
	s := bridgeSnapshot{snapshot: takeSnapshot(t, d, h, path), links: make(map[string]link.LinkInfo)}
	remade := func(name string) bool { return tunnel.IsGif(name) || tunnel.IsBridge(name) }
	for i := range s.show {
		s.show[i].Index, s.show[i].MAC = 0, ""
	}
	shown, err := d.Show("")
	if err != nil {
		t.Fatal(err)
	}
	s.bridges = shown.Bridges
	for i := range s.bridges {
		b := &s.bridges[i]
		b.Index = 0
		for j := range b.Ports {
			if remade(b.Ports[j].Name) {
				b.Ports[j].Index, b.Ports[j].MAC = 0, ""
			}
		}
	}
	for name := range s.linux {
		info := linkInfo(t, h, name)
		if remade(name) {
			info.Index, info.MAC = 0, nil
		}
		s.links[name] = info
	}
	return s
}

func (s bridgeSnapshot) check(t *testing.T, after bridgeSnapshot) {
	t.Helper()
	s.snapshot.check(t, after.snapshot)
	if !reflect.DeepEqual(after.bridges, s.bridges) {
		t.Errorf("bridges changed:\n\t%+v\nwere\n\t%+v", after.bridges, s.bridges)
	}
	if !reflect.DeepEqual(after.links, s.links) {
		t.Errorf("Linux's interfaces changed:\n\t%+v\nwere\n\t%+v", after.links, s.links)
	}
}

// TestBridgeAllOrNothing fails one Linux call of a bridge command and
// checks that the command leaves no trace and can then be applied.
func TestBridgeAllOrNothing(t *testing.T) {
	configured := "gif0 tunnel 198.51.100.1 203.0.113.1 inet 192.0.2.1/24 inet6 2001:db8::1 tunnelttl 9"
	tests := []struct {
		name    string
		setup   []string
		command string
		failOp  string
		failNth int
	}{{
		name:    "join, eth1 cannot be a port",
		setup:   []string{configured},
		command: "bridge0 add gif0 add eth1 up",
		failOp:  "SetMaster", failNth: 2,
	}, {
		name:    "join, gif0 cannot be a port",
		setup:   []string{configured},
		command: "bridge0 add gif0 add eth1 up",
		failOp:  "SetMaster", failNth: 1,
	}, {
		name:    "join, no TAP",
		setup:   []string{configured},
		command: "bridge0 add gif0 add eth1 up",
		failOp:  "CreateTAP", failNth: 1,
	}, {
		name:    "join, no bridge",
		setup:   []string{configured},
		command: "bridge0 add gif0 add eth1 up",
		failOp:  "CreateBridge", failNth: 1,
	}, {
		name:    "new gif joins, no TAP",
		command: "bridge0 add gif3 add eth1",
		failOp:  "CreateTAP", failNth: 1,
	}, {
		name:    "eth1 joins a bridge",
		setup:   []string{configured, "bridge0 add gif0 up"},
		command: "bridge0 add eth1",
		failOp:  "SetMaster", failNth: 1,
	}, {
		name:    "leave, no TUN",
		setup:   []string{configured, "bridge0 add gif0 add eth1 up"},
		command: "bridge0 del gif0",
		failOp:  "CreateTUN", failNth: 1,
	}, {
		name:    "eth1 leaves",
		setup:   []string{configured, "bridge0 add gif0 add eth1 up"},
		command: "bridge0 del eth1",
		failOp:  "SetNoMaster", failNth: 1,
	}, {
		name:    "destroy, bridge stays",
		setup:   []string{configured, "bridge0 add gif0 add eth1 up"},
		command: "bridge0 destroy",
		failOp:  "DeleteBridge", failNth: 1,
	}, {
		name:    "destroy, no TUN",
		setup:   []string{configured, "bridge0 add gif0 add eth1 up"},
		command: "bridge0 destroy",
		failOp:  "CreateTUN", failNth: 1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, h, path := newBridgeDaemon(t)
			for _, cmd := range tt.setup {
				mustApply(t, d, cmd)
			}
			before := takeBridgeSnapshot(t, d, h, path)

			h.failNth(tt.failOp, tt.failNth)
			if _, err := applyCmd(d, tt.command); !errors.Is(err, errInjected) {
				t.Fatalf("ifconfig %s: error %v; want the injected failure of %s call %d (calls: %q)",
					tt.command, err, tt.failOp, tt.failNth, callsTo(h, tt.failOp))
			}
			before.check(t, takeBridgeSnapshot(t, d, h, path))
			// Nothing is left behind in the way of the command.
			mustApply(t, d, tt.command)
		})
	}
}

// TestLinkOps checks up, down and mtu on an interface gif does not own:
// applied at once, undone when a later one fails, and kept nowhere.
func TestLinkOps(t *testing.T) {
	d, h, path := newBridgeDaemon(t)
	r := mustApply(t, d, "eth1 up")
	if got := h.linux()["eth1"]; !reflect.DeepEqual(got, linuxLink{Up: true, MTU: 1500}) {
		t.Errorf("after eth1 up Linux has %v", got)
	}
	if len(r.Links) != 1 || r.Links[0].Name != "eth1" || !r.Links[0].Up {
		t.Errorf("ifconfig eth1 up returned %+v; want eth1, up", r)
	}
	r = mustApply(t, d, "eth1 mtu 9000")
	if got := h.linux()["eth1"]; !reflect.DeepEqual(got, linuxLink{Up: true, MTU: 9000}) {
		t.Errorf("after eth1 mtu 9000 Linux has %v", got)
	}
	if len(r.Links) != 1 || r.Links[0].MTU != 9000 {
		t.Errorf("ifconfig eth1 mtu 9000 returned %+v; want mtu 9000", r)
	}
	mustApply(t, d, "eth1 down mtu 1500")
	if got := h.linux()["eth1"]; !reflect.DeepEqual(got, linuxLink{MTU: 1500}) {
		t.Errorf("after eth1 down mtu 1500 Linux has %v", got)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the state file exists (%v); gif keeps nothing of eth1", err)
	}

	setUps := len(h.callsOf("SetUp"))
	_, err := applyCmd(d, "eth9 up")
	if err == nil || !strings.Contains(err.Error(), "eth9") {
		t.Errorf("ifconfig eth9 up: %v; want an error naming eth9", err)
	}
	checkCalls(t, h, "SetUp", setUps)

	tests := []struct {
		setup, command, failOp string
	}{
		{"", "eth1 up mtu 9000", "SetMTU"},
		{"", "eth1 mtu 9000 up", "SetUp"},
		{"eth1 up", "eth1 mtu 9000 down", "SetUp"},
		{"eth1 up mtu 9000", "eth1 down mtu 1500", "SetMTU"},
	}
	for _, tt := range tests {
		t.Run(tt.command+" fails", func(t *testing.T) {
			d, h, _ := newBridgeDaemon(t)
			if tt.setup != "" {
				mustApply(t, d, tt.setup)
			}
			before := h.linux()
			h.failNth(tt.failOp, 1)
			_, err := applyCmd(d, tt.command)
			if !errors.Is(err, errInjected) || !strings.Contains(err.Error(), "eth1") {
				t.Fatalf("ifconfig %s: %v; want the injected failure of %s, naming eth1", tt.command, err, tt.failOp)
			}
			if after := h.linux(); !reflect.DeepEqual(after, before) {
				t.Errorf("Linux has\n\t%v\nwas\n\t%v", after, before)
			}
		})
	}
}

// TestShowBridge checks what ifconfig shows of a bridge, its ports, an
// Ethernet interface and a bridged gif.
func TestShowBridge(t *testing.T) {
	d, h, _ := newBridgeDaemon(t)
	mustIfconfig(t, d, "gif0 tunnel 198.51.100.1 203.0.113.1")
	mustApply(t, d, "bridge0 add gif0 add eth1 up description lan")
	mustApply(t, d, "eth1 up")

	port := func(name string) control.LinkStatus {
		info := linkInfo(t, h, name)
		if info.Index == 0 || len(info.MAC) == 0 {
			t.Fatalf("the fake Linux gave %s no index or MAC: %+v", name, info)
		}
		return control.LinkStatus{Name: name, Index: info.Index, MTU: info.MTU, Up: info.Up, Running: info.Running,
			MAC: info.MAC.String(), Master: info.Master}
	}
	r, err := d.Show("bridge0")
	if err != nil {
		t.Fatal(err)
	}
	want := control.BridgeStatus{
		BridgeConfig: tunnel.BridgeConfig{Name: "bridge0", Up: true, Members: []string{"gif0", "eth1"}, Description: "lan"},
		Index:        linkInfo(t, h, "bridge0").Index,
		Ports:        []control.LinkStatus{port("gif0"), port("eth1")},
	}
	if len(r.Bridges) != 1 || len(r.Interfaces)+len(r.Links) != 0 || !reflect.DeepEqual(r.Bridges[0], want) {
		t.Errorf("Show(bridge0) = %+v; want only\n\t%+v", r, want)
	}
	for _, p := range want.Ports {
		if p.Master != "bridge0" {
			t.Errorf("port %s has master %q; want bridge0", p.Name, p.Master)
		}
	}

	r, err = d.Show("eth1")
	if err != nil {
		t.Fatal(err)
	}
	if eth1 := port("eth1"); len(r.Links) != 1 || len(r.Interfaces)+len(r.Bridges) != 0 || r.Links[0] != eth1 {
		t.Errorf("Show(eth1) = %+v; want only %+v", r, eth1)
	}
	if _, err := d.Show("eth9"); err == nil || !strings.Contains(err.Error(), "eth9") {
		t.Errorf("Show(eth9): %v; want an error naming eth9", err)
	}

	st := show(t, d, "gif0")
	tap := port("gif0")
	if st.Bridge != "bridge0" || st.MAC != tap.MAC || st.Index != tap.Index {
		t.Errorf("gif0 shows bridge %q, MAC %q, index %d; want bridge0, %s, %d", st.Bridge, st.MAC, st.Index, tap.MAC, tap.Index)
	}
	if !st.Up || st.NoInet6 || st.LinkLocal.IsValid() {
		t.Errorf("gif0 is up %t, -inet6 %t, shows link-local %s; a bridged gif has none", st.Up, st.NoInet6, st.LinkLocal)
	}

	all, err := d.Show("")
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Interfaces) != 1 || len(all.Bridges) != 1 || len(all.Links) != 0 || all.Interfaces[0].Bridge != "bridge0" {
		t.Errorf("Show() = %+v; want gif0 in bridge0, and bridge0", all)
	}

	mustApply(t, d, "bridge0 del gif0")
	if st := show(t, d, "gif0"); st.Bridge != "" || st.MAC != "" || st.LinkLocal != h.linkLocal {
		t.Errorf("gif0 out of the bridge shows bridge %q, MAC %q, link-local %s; want none, none, %s",
			st.Bridge, st.MAC, st.LinkLocal, h.linkLocal)
	}
	if r, _ := d.Show("bridge0"); len(r.Bridges) != 1 || !reflect.DeepEqual(r.Bridges[0].Ports, []control.LinkStatus{port("eth1")}) {
		t.Errorf("bridge0 shows ports %+v; want only eth1", r.Bridges)
	}
}

// TestBridgeLLAddr: a bridged gif's TAP has the gif's Ethernet address
// after the daemon restarts, whatever address a new TAP gets; lladdr changes
// it in place; a state stored before gif kept the addresses gets one at
// start, stored at once.
func TestBridgeLLAddr(t *testing.T) {
	d, h, path := newBridgeDaemon(t)
	mustIfconfig(t, d, "gif0 tunnel 198.51.100.1 203.0.113.1")
	mustApply(t, d, "bridge0 add gif0 add eth1 up")
	before := linkInfo(t, h, "gif0").MAC.String()
	if got := show(t, d, "gif0").LLAddr.String(); got != before {
		t.Fatalf("gif0 keeps %s but its TAP has %s", got, before)
	}
	d.Close()
	// Each new device of the fake Linux gets another address, as each new
	// TAP gets another random one.
	d = startDaemon(t, h, path)
	if got := linkInfo(t, h, "gif0").MAC.String(); got != before {
		t.Fatalf("after a restart gif0's TAP has %s; before, %s", got, before)
	}

	set := "02:00:5e:00:53:99"
	tap := h.device("gif0")
	mustIfconfig(t, d, "gif0 lladdr "+set)
	if h.device("gif0") != tap {
		t.Error("lladdr replaced gif0's TAP")
	}
	if got := linkInfo(t, h, "gif0").MAC.String(); got != set {
		t.Errorf("after lladdr %s gif0's TAP has %s", set, got)
	}
	saved := loadState(t, path)
	if c, _ := saved.Find("gif0"); c.LLAddr.String() != set {
		t.Errorf("the state file holds gif0's address %s; want %s", c.LLAddr, set)
	}
	// Out of the bridge, gif0 is a TUN, which has no Ethernet address to set.
	mustApply(t, d, "bridge0 del gif0")
	setCalls := len(h.callsOf("SetLLAddr"))
	mustIfconfig(t, d, "gif0 lladdr random")
	checkCalls(t, h, "SetLLAddr", setCalls)
	random := show(t, d, "gif0").LLAddr.String()
	mustApply(t, d, "bridge0 add gif0")
	if got := linkInfo(t, h, "gif0").MAC.String(); got != random || random == set {
		t.Errorf("back in bridge0 gif0's TAP has %s; want the random %s (not %s)", got, random, set)
	}
	d.Close()

	// The state's older form: a bridged gif without an address.
	old := `{"interfaces":[{"name":"gif0","up":true,"mtu":1280,"src":"198.51.100.1","dst":"203.0.113.1","ttl":64,"ecn":true}],` +
		`"bridges":[{"name":"bridge0","up":true,"members":["gif0"]}],"sysctl":{}}`
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	startDaemon(t, h, path)
	saved = loadState(t, path)
	c, _ := saved.Find("gif0")
	if c.LLAddr.IsZero() || linkInfo(t, h, "gif0").MAC.String() != c.LLAddr.String() {
		t.Errorf("from the older state gif0's TAP has %s, and the state file %s; want the same address in both",
			linkInfo(t, h, "gif0").MAC, c.LLAddr)
	}
}
