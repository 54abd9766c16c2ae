package daemon_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gif/internal/conf/ifconfig"
	"gif/internal/control"
	"gif/internal/daemon"
	"gif/internal/dataplane"
	"gif/internal/link"
	"gif/internal/state"
	"gif/internal/tunnel"
)

// Addresses of the tests: outer ones from 198.51.100.0/24 (this host) and
// 203.0.113.0/24 (peers), inner ones from 192.0.2.0/24 and 2001:db8::/32.
var (
	local  = netip.MustParseAddr("198.51.100.1")
	local2 = netip.MustParseAddr("198.51.100.2")
	peer   = netip.MustParseAddr("203.0.113.1")
	peer2  = netip.MustParseAddr("203.0.113.2")
	local6 = netip.MustParseAddr("2001:db8:1::1")
	peer6  = netip.MustParseAddr("2001:db8:2::1")
)

// newDaemon starts a daemon on a fresh host with local as its address.
func newDaemon(t testing.TB) (*daemon.Daemon, *fakeHost) {
	t.Helper()
	h := newFakeHost(t)
	h.setLocal(local, local2, local6)
	return startDaemon(t, h, filepath.Join(t.TempDir(), "state.json")), h
}

// ifconfigCmd applies "gifN args..." as gif ifconfig would.
func ifconfigCmd(d *daemon.Daemon, command string) (control.InterfaceStatus, []string, error) {
	words := strings.Fields(command)
	ops, err := ifconfig.Parse(words[0], words[1:])
	if err != nil {
		return control.InterfaceStatus{}, nil, fmt.Errorf("parse %q: %w", command, err)
	}
	r, warnings, err := d.Apply(words[0], ops)
	if err != nil || len(r.Interfaces) == 0 {
		return control.InterfaceStatus{}, warnings, err
	}
	return r.Interfaces[0], warnings, nil
}

func mustIfconfig(t testing.TB, d *daemon.Daemon, command string) (control.InterfaceStatus, []string) {
	t.Helper()
	st, warnings, err := ifconfigCmd(d, command)
	if err != nil {
		t.Fatalf("ifconfig %s: %v", command, err)
	}
	return st, warnings
}

func show(t *testing.T, d *daemon.Daemon, name string) control.InterfaceStatus {
	t.Helper()
	st, err := d.Show(name)
	if err != nil {
		t.Fatalf("Show(%s): %v", name, err)
	}
	return st.Interfaces[0]
}

// watchAddrs makes d follow the host's addresses until the test ends.
func watchAddrs(t *testing.T, d *daemon.Daemon) {
	t.Helper()
	if err := d.WatchAddrs(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// waitEqual polls get until it returns want, or fails the test.
func waitEqual[T any](t *testing.T, what string, want T, get func() T) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		got := get()
		if reflect.DeepEqual(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: %+v; want %+v", what, got, want)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// waitFor polls cond until it holds, or fails the test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func addr(prefix string) link.Addr { return link.Addr{Prefix: netip.MustParsePrefix(prefix)} }

func peerAddr(prefix, peer string) link.Addr {
	return link.Addr{Prefix: netip.MustParsePrefix(prefix), Peer: netip.MustParseAddr(peer)}
}

func checkLinux(t *testing.T, h *fakeHost, want map[string]linuxLink) {
	t.Helper()
	got := h.linux()
	for _, l := range want {
		sortAddrs(l.Addrs)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Linux has\n\t%v\nwant\n\t%v", got, want)
	}
}

func TestApplyConfiguresLinuxAndRestores(t *testing.T) {
	h := newFakeHost(t)
	h.setLocal(local)
	path := filepath.Join(t.TempDir(), "state.json")
	d := startWired(t, h, path)

	st, _ := mustIfconfig(t, d, "gif0 tunnel 198.51.100.1 203.0.113.1 inet 192.0.2.1 192.0.2.2 inet6 2001:db8::1 mtu 1400")
	mustIfconfig(t, d, "gif1 create inet 192.0.2.9/24 tunnelttl 9")
	ll := netip.PrefixFrom(h.linkLocal, 64).String()
	want := map[string]linuxLink{
		"gif0": {Up: true, MTU: 1400, Carrier: true, Addrs: []link.Addr{
			peerAddr("192.0.2.1/32", "192.0.2.2"), addr("2001:db8::1/64"), addr(ll),
		}},
		// Down: no link-local address and no carrier.
		"gif1": {MTU: tunnel.DefaultMTU, Addrs: []link.Addr{addr("192.0.2.9/24")}},
	}
	checkLinux(t, h, want)

	if !st.Running || !st.Up || st.MTU != 1400 || st.Src != local || st.Dst != peer {
		t.Errorf("gif0 status = %+v; want up, running, mtu 1400, tunnel %s --> %s", st, local, peer)
	}
	if st.LinkLocal != h.linkLocal {
		t.Errorf("gif0 link-local = %s; want %s", st.LinkLocal, h.linkLocal)
	}
	if info, _ := h.Info("gif0"); st.Index != info.Index || info.Index == 0 {
		t.Errorf("gif0 index = %d; want %d", st.Index, info.Index)
	}
	if gif1 := show(t, d, "gif1"); gif1.Running || gif1.LinkLocal.IsValid() || gif1.TTL != 9 {
		t.Errorf("gif1 status = %+v; want down, not running, no link-local, ttl 9", gif1)
	}

	shown, err := d.Show("")
	if err != nil {
		t.Fatal(err)
	}
	before := shown.Interfaces
	var saved tunnel.State
	if err := state.Load(path, &saved); err != nil {
		t.Fatalf("state file: %v", err)
	}
	if got, want := saved.Interfaces, configsOf(before); !reflect.DeepEqual(got, want) {
		t.Errorf("state file holds\n\t%+v\nwant\n\t%+v", got, want)
	}

	devs := []*fakeDevice{h.device("gif0"), h.device("gif1")}
	d.Close()
	for _, dev := range devs {
		if !dev.IsClosed() {
			t.Errorf("Close left %s open", dev.Name())
		}
	}
	checkLinux(t, h, map[string]linuxLink{})

	d2 := startWired(t, h, path)
	checkLinux(t, h, want)
	shown, err = d2.Show("")
	if err != nil {
		t.Fatal(err)
	}
	after := shown.Interfaces
	if got, want := configsOf(after), configsOf(before); !reflect.DeepEqual(got, want) {
		t.Errorf("restored\n\t%+v\nwant\n\t%+v", got, want)
	}
	if !after[0].Running {
		t.Error("restored gif0 is not RUNNING")
	}
	inner := ipv4Packet("192.0.2.1", "192.0.2.2", 0, 64, []byte("after restore"))
	h.device("gif0").Push(inner)
	if got := h.network(4, 4).next(t); !bytes.Equal(got.Buf, inner) || got.Src != local || got.Dst != peer {
		t.Errorf("restored gif0 sent %x %s --> %s; want %x %s --> %s", got.Buf, got.Src, got.Dst, inner, local, peer)
	}
}

func configsOf(sts []control.InterfaceStatus) []tunnel.Config {
	out := make([]tunnel.Config, len(sts))
	for i, st := range sts {
		out[i] = st.Config
	}
	return out
}

// snapshot is everything a failed command must leave as it was.
type snapshot struct {
	show      []control.InterfaceStatus
	linux     map[string]linuxLink
	rules     map[domainRule]bool
	stateFile []byte
}

func takeSnapshot(t *testing.T, d *daemon.Daemon, h *fakeHost, path string) snapshot {
	t.Helper()
	shown, err := d.Show("")
	if err != nil {
		t.Fatal(err)
	}
	sts := shown.Interfaces
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
		t.Fatal(err)
	}
	return snapshot{show: sts, linux: h.linux(), rules: h.installedRules(), stateFile: data}
}

func (s snapshot) check(t *testing.T, after snapshot) {
	t.Helper()
	if !reflect.DeepEqual(after.show, s.show) {
		t.Errorf("Show changed:\n\t%+v\nwas\n\t%+v", after.show, s.show)
	}
	if !reflect.DeepEqual(after.linux, s.linux) {
		t.Errorf("Linux changed:\n\t%v\nwas\n\t%v", after.linux, s.linux)
	}
	if !reflect.DeepEqual(after.rules, s.rules) {
		t.Errorf("policy rules changed: %v; were %v", after.rules, s.rules)
	}
	if !bytes.Equal(after.stateFile, s.stateFile) {
		t.Errorf("state file changed:\n%s\nwas\n%s", after.stateFile, s.stateFile)
	}
}

// TestLinuxFollowsCommands runs a series of commands on one interface and
// checks Linux after each.
func TestLinuxFollowsCommands(t *testing.T) {
	d, h := newDaemon(t)
	ll := addr(netip.PrefixFrom(h.linkLocal, 64).String())
	steps := []struct {
		command string
		want    linuxLink
	}{
		{"gif0 create", linuxLink{MTU: 1280}},
		{"gif0 inet6 2001:db8::1 inet 192.0.2.1/24", linuxLink{MTU: 1280, Addrs: []link.Addr{addr("2001:db8::1/64"), addr("192.0.2.1/24")}}},
		{"gif0 up", linuxLink{Up: true, MTU: 1280, Addrs: []link.Addr{addr("2001:db8::1/64"), addr("192.0.2.1/24"), ll}}},
		{"gif0 tunnel 198.51.100.1 203.0.113.1 mtu 8192", linuxLink{Up: true, MTU: 8192, Carrier: true, Addrs: []link.Addr{addr("2001:db8::1/64"), addr("192.0.2.1/24"), ll}}},
		{"gif0 down", linuxLink{MTU: 8192, Addrs: []link.Addr{addr("2001:db8::1/64"), addr("192.0.2.1/24")}}},
		{"gif0 up -inet6", linuxLink{Up: true, MTU: 8192, Carrier: true, IPv6Disabled: true, Addrs: []link.Addr{addr("192.0.2.1/24")}}},
		{"gif0 inet6 2001:db8::2/56", linuxLink{Up: true, MTU: 8192, Carrier: true, Addrs: []link.Addr{addr("2001:db8::2/56"), addr("192.0.2.1/24"), ll}}},
		{"gif0 inet 192.0.2.1 192.0.2.2 inet 192.0.2.1 delete inet 192.0.2.3/32", linuxLink{Up: true, MTU: 8192, Carrier: true, Addrs: []link.Addr{addr("2001:db8::2/56"), addr("192.0.2.3/32"), ll}}},
		{"gif0 -inet6 down", linuxLink{MTU: 8192, IPv6Disabled: true, Addrs: []link.Addr{addr("192.0.2.3/32")}}},
		{"gif0 up", linuxLink{Up: true, MTU: 8192, Carrier: true, IPv6Disabled: true, Addrs: []link.Addr{addr("192.0.2.3/32")}}},
	}
	for _, step := range steps {
		mustIfconfig(t, d, step.command)
		sortAddrs(step.want.Addrs)
		if got := h.linux()["gif0"]; !reflect.DeepEqual(got, step.want) {
			t.Fatalf("after %s Linux has\n\t%v\nwant\n\t%v", step.command, got, step.want)
		}
	}
}

// TestApplyIsAllOrNothing fails one Linux call in the middle of a command
// and checks that the command leaves no trace.
func TestApplyIsAllOrNothing(t *testing.T) {
	tests := []struct {
		name    string
		setup   []string
		command string
		failOp  string
		failNth int
	}{{
		name:    "new interface, second address fails",
		setup:   []string{"gif0 tunnel 198.51.100.1 203.0.113.1"},
		command: "gif1 tunnel 198.51.100.1 203.0.113.2 inet 192.0.2.5/32 inet 192.0.2.6/32",
		failOp:  "AddAddr", failNth: 3, // the link-local address, 192.0.2.5, 192.0.2.6
	}, {
		name:    "new interface, create fails",
		command: "gif1 tunnel 198.51.100.1 203.0.113.2",
		failOp:  "CreateTUN", failNth: 1,
	}, {
		name:    "mtu set, then address fails",
		setup:   []string{"gif0 tunnel 198.51.100.1 203.0.113.1 inet 192.0.2.1/24"},
		command: "gif0 mtu 1500 inet 192.0.2.9/24",
		failOp:  "AddAddr", failNth: 1,
	}, {
		name:    "coming up, second address fails",
		setup:   []string{"gif0 create inet 192.0.2.1/24"},
		command: "gif0 inet 192.0.2.9/24 up",
		failOp:  "AddAddr", failNth: 2, // the link-local address, 192.0.2.9
	}, {
		name:    "address replaced, next address fails",
		setup:   []string{"gif0 tunnel 198.51.100.1 203.0.113.1 inet 192.0.2.1/24"},
		command: "gif0 mtu 1500 inet 192.0.2.1/28 inet 192.0.2.9/24",
		failOp:  "AddAddr", failNth: 2, // 192.0.2.1/28, 192.0.2.9/24
	}, {
		name:    "IPv6 disabled, then address fails",
		setup:   []string{"gif0 tunnel 198.51.100.1 203.0.113.1 inet6 2001:db8::1 inet 192.0.2.1/24"},
		command: "gif0 -inet6 inet 192.0.2.9/24",
		failOp:  "AddAddr", failNth: 1,
	}, {
		name:    "going down, link-local delete fails",
		setup:   []string{"gif0 tunnel 198.51.100.1 203.0.113.1 inet 192.0.2.1/24"},
		command: "gif0 inet 192.0.2.9/24 down",
		failOp:  "DelAddr", failNth: 1,
	}, {
		name:    "going down fails",
		setup:   []string{"gif0 tunnel 198.51.100.1 203.0.113.1 inet6 2001:db8::1"},
		command: "gif0 mtu 1400 down",
		failOp:  "SetUp", failNth: 1,
	}, {
		name:    "domain rules added, then address fails",
		setup:   []string{"gif0 tunnel 198.51.100.1 203.0.113.1"},
		command: "gif0 tunneldomain 9 inet 192.0.2.9/24",
		failOp:  "AddAddr", failNth: 1,
	}, {
		name:    "domain rules fail",
		setup:   []string{"gif0 tunnel 198.51.100.1 203.0.113.1"},
		command: "gif0 tunneldomain 9 inet 192.0.2.9/24",
		failOp:  "AddDomainRules", failNth: 1,
	}, {
		name:    "old domain rules stay",
		setup:   []string{"gif0 tunnel 198.51.100.1 203.0.113.1 tunneldomain 9"},
		command: "gif0 tunneldomain 10",
		failOp:  "DelDomainRules", failNth: 1,
	}, {
		name:    "mtu fails",
		setup:   []string{"gif0 tunnel 198.51.100.1 203.0.113.1"},
		command: "gif0 tunnelttl 3 mtu 1400",
		failOp:  "SetMTU", failNth: 1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHost(t)
			h.setLocal(local)
			path := filepath.Join(t.TempDir(), "state.json")
			d := startDaemon(t, h, path)
			for _, cmd := range tt.setup {
				mustIfconfig(t, d, cmd)
			}
			before := takeSnapshot(t, d, h, path)

			h.failNth(tt.failOp, tt.failNth)
			_, _, err := ifconfigCmd(d, tt.command)
			if !errors.Is(err, errInjected) {
				t.Fatalf("ifconfig %s: error %v; want the injected failure of %s call %d (calls: %v)",
					tt.command, err, tt.failOp, tt.failNth, h.callsOf(tt.failOp))
			}
			before.check(t, takeSnapshot(t, d, h, path))
		})
	}
}

// TestApplyStateSaveFails checks that a command whose state cannot be
// stored is refused before Linux is touched: not changed and undone, which
// would give a destroyed gif back under a new index, without its routes.
func TestApplyStateSaveFails(t *testing.T) {
	h := newFakeHost(t)
	h.setLocal(local)
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, "state.json")
	d := startDaemon(t, h, path)
	mustIfconfig(t, d, "gif0 tunnel 198.51.100.1 203.0.113.1 inet 192.0.2.1/24")
	before := takeSnapshot(t, d, h, path)

	// A file where the state directory was makes every save fail.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	before.stateFile = nil
	h.mu.Lock()
	callsBefore := len(h.calls)
	h.mu.Unlock()
	for _, cmd := range []string{"gif0 mtu 1500 inet 192.0.2.1/28 inet6 2001:db8::1", "gif1 tunnel 198.51.100.1 203.0.113.2", "gif0 destroy"} {
		_, _, err := ifconfigCmd(d, cmd)
		refusedWith(t, "ifconfig "+cmd+" without a state directory", err, path)
	}
	_, err := d.SetSysctl("net.inet.ipip.allow", "1")
	refusedWith(t, "sysctl without a state directory", err, path)
	h.mu.Lock()
	if changes := h.calls[callsBefore:]; len(changes) != 0 {
		t.Errorf("refused commands called Linux: %v", changes)
	}
	h.mu.Unlock()
	before.check(t, takeSnapshot(t, d, h, path))
}

// TestRunningFollowsLocalAddrs checks that an interface is RUNNING exactly
// while it is up with a tunnel whose source is an address of this host, and
// that the carrier follows.
func TestRunningFollowsLocalAddrs(t *testing.T) {
	h := newFakeHost(t)
	d := startDaemon(t, h, filepath.Join(t.TempDir(), "state.json"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := d.WatchAddrs(ctx); err != nil {
		t.Fatal(err)
	}

	carrier := func() []string {
		var out []string
		for _, c := range h.callsOf("SetCarrier") {
			out = append(out, c.arg)
		}
		return out
	}
	check := func(step string, running bool, calls ...string) {
		t.Helper()
		if got := show(t, d, "gif0").Running; got != running {
			t.Errorf("%s: running = %t; want %t", step, got, running)
		}
		if got := h.linux()["gif0"].Carrier; got != running {
			t.Errorf("%s: carrier = %t; want %t", step, got, running)
		}
		if got := carrier(); !slices.Equal(got, calls) {
			t.Errorf("%s: SetCarrier calls %v; want %v", step, got, calls)
		}
	}

	_, warnings := mustIfconfig(t, d, "gif0 tunnel 198.51.100.1 203.0.113.1")
	if !slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, "not an address of this host") }) {
		t.Errorf("warnings %q do not say that the source is not local", warnings)
	}
	check("source not local", false, "false")
	h.setLocal(local)
	check("source added", true, "false", "true")
	h.setLocal(local, local2)
	check("another address added", true, "false", "true")
	mustIfconfig(t, d, "gif0 description hello")
	check("unrelated change", true, "false", "true")
	mustIfconfig(t, d, "gif0 down")
	check("down", false, "false", "true", "false")
	mustIfconfig(t, d, "gif0 up")
	check("up", true, "false", "true", "false", "true")
	mustIfconfig(t, d, "gif0 -tunnel")
	check("tunnel deleted", false, "false", "true", "false", "true", "false")
	mustIfconfig(t, d, "gif0 tunnel 198.51.100.2 203.0.113.1")
	check("tunnel from the other address", true, "false", "true", "false", "true", "false", "true")
	h.setLocal(local)
	check("source removed", false, "false", "true", "false", "true", "false", "true", "false")

	cancel()
	waitFor(t, "the watch to end", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.watchers) == 0
	})
}

// TestAddrAddedBeforeWatch: an address that appears after New listed this
// host's addresses and before WatchAddrs follows them makes the tunnel
// from it RUNNING when the watch starts, not at the next address change.
func TestAddrAddedBeforeWatch(t *testing.T) {
	h := newFakeHost(t)
	d := startDaemon(t, h, filepath.Join(t.TempDir(), "state.json"))
	mustIfconfig(t, d, "gif0 tunnel 198.51.100.1 203.0.113.1")
	h.setLocal(local)
	if show(t, d, "gif0").Running {
		t.Fatal("gif0 RUNNING before the daemon follows the addresses; the test cannot tell")
	}
	watchAddrs(t, d)
	waitFor(t, "gif0 to be RUNNING", func() bool { return show(t, d, "gif0").Running })
}

// TestSourceAddedJustBefore: a tunnel set, by a command or a transaction,
// right after its source was added to the host, before the watch has
// heard of the address, is RUNNING at once and not warned about; and only
// a tunnel from an address the daemon does not know lists the host's
// addresses, which is slow.
func TestSourceAddedJustBefore(t *testing.T) {
	h := newFakeHost(t)
	d := startDaemon(t, h, filepath.Join(t.TempDir(), "state.json"))
	watchAddrs(t, d)
	check := func(name string, warnings []string) {
		t.Helper()
		if slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, "not an address of this host") }) {
			t.Errorf("%s: warned that a source just added is not local: %q", name, warnings)
		}
		if !show(t, d, name).Running {
			t.Errorf("%s is not RUNNING with its source on the host", name)
		}
	}
	listings := func() int {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.counts["LocalAddrs"]
	}

	h.setLocalUntold(local)
	_, warnings := mustIfconfig(t, d, "gif0 tunnel 198.51.100.1 203.0.113.1")
	check("gif0", warnings)
	before := listings()
	_, warnings = mustIfconfig(t, d, "gif1 tunnel 198.51.100.1 203.0.113.2")
	check("gif1", warnings)
	if listings() != before {
		t.Error("a tunnel from an address the daemon knows listed the host's addresses")
	}

	h.setLocalUntold(local, local2)
	warnings, err := d.ApplyTransaction(transaction(t, "hostname.gif2", "1 gif2 tunnel 198.51.100.2 203.0.113.1"), false)
	if err != nil {
		t.Fatal(err)
	}
	check("gif2", warnings)
}

// TestListingAddrsLetsCommandsRun: while the daemon lists this host's
// addresses after they changed, which with thousands of them takes
// milliseconds, a command does not wait for the listing.
func TestListingAddrsLetsCommandsRun(t *testing.T) {
	d, h := newDaemon(t)
	watchAddrs(t, d)
	mustIfconfig(t, d, "gif0 tunnel 198.51.100.1 203.0.113.1")
	slow := make(chan struct{})
	h.mu.Lock()
	h.slowList = slow
	listings := h.counts["LocalAddrs"]
	h.mu.Unlock()
	changed := make(chan struct{})
	go func() {
		h.setLocal(local2)
		close(changed)
	}()
	waitFor(t, "the listing to start", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.counts["LocalAddrs"] > listings
	})
	shown := make(chan error, 1)
	go func() {
		_, err := d.Show("gif0")
		shown <- err
	}()
	select {
	case err := <-shown:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(waitTimeout):
		t.Error("Show waited for the listing of this host's addresses")
	}
	close(slow)
	<-changed
	if show(t, d, "gif0").Running {
		t.Error("gif0 is RUNNING after its source left the host")
	}
}

// TestDestroy checks that destroy closes the device, removes the interface
// from Linux, from the state and from the receive path.
func TestDestroy(t *testing.T) {
	h := newFakeHost(t)
	h.setLocal(local)
	path := filepath.Join(t.TempDir(), "state.json")
	d := startWired(t, h, path)
	mustIfconfig(t, d, "gif0 tunnel 198.51.100.1 203.0.113.1 inet 192.0.2.1/24")
	mustIfconfig(t, d, "gif1 tunnel 198.51.100.1 203.0.113.1")
	gif0, gif1 := h.device("gif0"), h.device("gif1")
	net4 := h.network(4, 4)
	inner := ipv4Packet("192.0.2.2", "192.0.2.1", 0, 64, []byte("to gif0"))
	net4.send(t, peer, local, 0, inner)
	if got := gif0.next(t); !bytes.Equal(got, inner) {
		t.Fatalf("gif0 got %x; want %x", got, inner)
	}

	if st, _ := mustIfconfig(t, d, "gif0 destroy"); st.Name != "" {
		t.Errorf("destroy returned the status of %s", st.Name)
	}
	if !gif0.IsClosed() {
		t.Error("destroy left the device open")
	}
	if _, ok := h.linux()["gif0"]; ok {
		t.Error("gif0 is still in Linux")
	}
	if _, err := d.Show("gif0"); err == nil {
		t.Error("Show(gif0) found the destroyed interface")
	}
	var saved tunnel.State
	if err := state.Load(path, &saved); err != nil {
		t.Fatal(err)
	}
	if _, ok := saved.Find("gif0"); ok || len(saved.Interfaces) != 1 {
		t.Errorf("state file still holds gif0: %+v", saved.Interfaces)
	}

	// gif1 shares the pair, so it receives now.
	inner = ipv4Packet("192.0.2.2", "192.0.2.1", 0, 64, []byte("to gif1"))
	net4.send(t, peer, local, 0, inner)
	if got := gif1.next(t); !bytes.Equal(got, inner) {
		t.Fatalf("gif1 got %x; want %x", got, inner)
	}
	mustIfconfig(t, d, "gif1 destroy")
	if !gif1.IsClosed() {
		t.Error("destroy left gif1's device open")
	}
	net4.send(t, peer, local, 0, inner)
	waitFor(t, "pdrops", func() bool { return d.Stats().IPIP.PDrops == 1 })
	if _, _, err := ifconfigCmd(d, "gif1 destroy"); err == nil {
		t.Error("destroying a destroyed interface succeeded")
	}
}

// TestNewWithoutIPv6Transport checks that a daemon starts without an IPv6
// outer transport, counts what it cannot send over it, and that it does
// not start without an IPv4 one.
// TestDestroyReleasesMemory checks that destroying gifs returns memory to
// the system once per burst of destroys, and that creating them does not.
func TestDestroyReleasesMemory(t *testing.T) {
	const delay = 200 * time.Millisecond
	d, _ := newDaemon(t)
	released := make(chan struct{}, 10)
	d.SetRelease(delay, func() { released <- struct{}{} })
	quiet := func(what string) {
		t.Helper()
		select {
		case <-released:
			t.Fatalf("memory released %s", what)
		case <-time.After(2 * delay):
		}
	}
	for i := range 3 {
		mustIfconfig(t, d, fmt.Sprintf("gif%d tunnel 198.51.100.1 203.0.113.%d", i, i+1))
	}
	quiet("after creating gifs")
	for i := range 3 {
		mustIfconfig(t, d, fmt.Sprintf("gif%d destroy", i))
	}
	select {
	case <-released:
	case <-time.After(waitTimeout):
		t.Fatal("destroying gifs released no memory")
	}
	quiet("a second time for one burst of destroys")
}

func TestNewWithoutIPv6Transport(t *testing.T) {
	h := newFakeHost(t)
	h.setLocal(local, local6)
	h.failNth("listen", 5) // IPv4 4, 41, 97, 50, then IPv6 4
	d := startWired(t, h, filepath.Join(t.TempDir(), "state.json"))
	mustIfconfig(t, d, "gif0 tunnel 2001:db8:1::1 2001:db8:2::1")
	h.device("gif0").Push(ipv4Packet("192.0.2.1", "192.0.2.2", 0, 64, []byte("no socket")))
	waitFor(t, "an output error", func() bool { return show(t, d, "gif0").Stats.OErrors == 1 })

	h = newFakeHost(t)
	h.failNth("listen", 2)
	log := slog.New(slog.DiscardHandler)
	plane := dataplane.NewUserspace(log)
	defer plane.Close()
	if err := daemon.OpenTransport(plane, h.listen, log); !errors.Is(err, errInjected) {
		t.Errorf("opening the transport without an IPv4 socket: %v; want the injected failure", err)
	}
}

// TestNewRestoreFails checks that a daemon that cannot restore its state
// fails to start and leaves nothing behind in Linux.
func TestNewRestoreFails(t *testing.T) {
	h := newFakeHost(t)
	h.setLocal(local)
	path := filepath.Join(t.TempDir(), "state.json")
	d := startDaemon(t, h, path)
	mustIfconfig(t, d, "gif0 tunnel 198.51.100.1 203.0.113.1 tunneldomain 5 inet 192.0.2.1/24")
	mustIfconfig(t, d, "gif1 tunnel 198.51.100.1 203.0.113.2 inet 192.0.2.5/24")
	d.Close()

	h.failNth("AddAddr", 3) // gif0: the link-local address, 192.0.2.1; gif1: the link-local address
	if _, err := daemon.New(h, newFakePlane(), daemon.Config{StatePath: path, Log: slog.New(slog.DiscardHandler), ListenIKE: listenQuietly, WatchAddrs: h.watchAddrs}); !errors.Is(err, errInjected) {
		t.Fatalf("New: %v; want the injected failure", err)
	}
	checkLinux(t, h, map[string]linuxLink{})
	if rules := h.installedRules(); len(rules) != 0 {
		t.Errorf("rules %v left behind", rules)
	}
}

// TestChangeTouchesOnlyItsInterface checks that a change to one gif leaves
// Linux's other gifs alone: with a thousand of them, visiting each on every
// change made `gif netstart` take minutes.
func TestChangeTouchesOnlyItsInterface(t *testing.T) {
	d, h := newDaemon(t)
	for i := range 10 {
		mustIfconfig(t, d, fmt.Sprintf("gif%d tunnel %s 198.51.100.%d inet 203.0.113.%d 203.0.113.%d inet6 2001:db8::%d up", i, local, i+1, 2*i, 2*i+1, i+1))
	}
	h.mu.Lock()
	before := len(h.calls)
	h.mu.Unlock()
	mustIfconfig(t, d, "gif10 tunnel "+local.String()+" 198.51.100.99 inet 203.0.113.99 203.0.113.98 up")
	mustIfconfig(t, d, "gif10 mtu 1400")
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.calls[before:] {
		if c.name != "" && c.name != "gif10" {
			t.Errorf("a change to gif10 called %v", c)
		}
	}
	if len(h.calls) == before {
		t.Error("a change to gif10 made no calls at all, so the test proves nothing")
	}
}

// TestSourceLossLogged: a tunnel source that leaves the host is logged once
// as a warning naming the interface and address, however many packets the
// interface then refuses and however often the addresses change, and its
// return once; a wait that ends otherwise (down) ends silently.
func TestSourceLossLogged(t *testing.T) {
	h := newFakeHost(t)
	h.setLocal(local, local2)
	rec := &logRecorder{}
	d := startOn(t, h, wiredPlane(t, h), filepath.Join(t.TempDir(), "state.json"), slog.New(rec))
	watchAddrs(t, d)
	mustIfconfig(t, d, "gif0 tunnel "+local.String()+" "+peer.String())
	lost := "WARN tunnel source is not an address of this host; the interface is not RUNNING until it is interface=gif0 src=" + local.String()
	back := "INFO tunnel source is an address of this host again; the interface is RUNNING interface=gif0 src=" + local.String()
	check := func(step string, wantLost, wantBack int) {
		t.Helper()
		all := rec.matching("tunnel source")
		if got := len(rec.matching(lost)); got != wantLost || len(rec.matching(back)) != wantBack || len(all) != wantLost+wantBack {
			t.Errorf("%s: logged %q; want %d times %q and %d times %q", step, all, wantLost, lost, wantBack, back)
		}
	}
	check("running", 0, 0)
	h.setLocal(local2)
	check("source gone", 1, 0)
	if show(t, d, "gif0").Running {
		t.Fatal("gif0 is RUNNING without its source")
	}
	for range 3 {
		h.device("gif0").Push(ipv4Packet("192.0.2.1", "192.0.2.2", 0, 64, []byte("refused")))
	}
	waitStats(t, d, "gif0", tunnel.InterfaceStats{OErrors: 3})
	h.setLocal(local2, local6)
	mustIfconfig(t, d, "gif0 description waiting")
	check("packets refused, other addresses changed, another command", 1, 0)
	h.setLocal(local, local2)
	check("source back", 1, 1)
	h.setLocal(local, local6)
	check("other addresses changed", 1, 1)

	h.setLocal(local2)
	mustIfconfig(t, d, "gif0 down")
	h.setLocal(local, local2)
	check("gone again, down, back", 2, 1)
}

// logRecorder is a slog.Handler that keeps what the daemon logs.
type logRecorder struct {
	mu      sync.Mutex
	records []string // "LEVEL msg key=value ..."
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	line := rec.Level.String() + " " + rec.Message
	rec.Attrs(func(a slog.Attr) bool {
		line += " " + a.String()
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, line)
	return nil
}

// matching returns the records that contain s.
func (r *logRecorder) matching(s string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, line := range r.records {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return out
}
