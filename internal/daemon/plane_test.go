package daemon_test

import (
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"gif/internal/control"
	"gif/internal/daemon"
	"gif/internal/dataplane"
	"gif/internal/dataplane/kernel"
	"gif/internal/ipsec"
	"gif/internal/link"
	"gif/internal/outer"
	"gif/internal/tunnel"
)

// fakePlane is a data plane that carries nothing: it keeps the views the
// daemon publishes and the SAs it installs, and records the devices the
// daemon attaches and the transports it adds. The Ifaces it hands out come
// from a userspace plane without a transport (dataplane.Iface has no other
// maker), whose send loops have nowhere to send.
type fakePlane struct {
	ifaces   *dataplane.Userspace
	view     atomic.Pointer[dataplane.View]
	sad      ipsec.SAD
	counters dataplane.Counters

	mu       sync.Mutex
	attached []string // "NAME tun" or "NAME tap", in order
	conns    []outer.Conn
}

var _ dataplane.Plane = (*fakePlane)(nil)

func newFakePlane() *fakePlane {
	p := &fakePlane{ifaces: dataplane.NewUserspace(slog.New(slog.DiscardHandler))}
	p.counters.ESP = &p.sad.Counters
	p.view.Store(p.ifaces.View())
	return p
}

func (p *fakePlane) Publish(v *dataplane.View) { p.view.Store(v) }
func (p *fakePlane) View() *dataplane.View     { return p.view.Load() }

func (p *fakePlane) Attach(dev link.Device, ether bool, counters *tunnel.Counters) *dataplane.Iface {
	kind := "tun"
	if ether {
		kind = "tap"
	}
	p.mu.Lock()
	p.attached = append(p.attached, dev.Name()+" "+kind)
	p.mu.Unlock()
	return p.ifaces.Attach(dev, ether, counters)
}

func (p *fakePlane) AddTransport(family int, proto uint8, conn outer.Conn) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns = append(p.conns, conn)
	return nil
}

func (p *fakePlane) Install(pol *dataplane.SPD) error { return p.sad.Replace(pol.SAs()) }
func (p *fakePlane) SAs() []*ipsec.SA                 { return p.sad.All() }

func (p *fakePlane) Counters() *dataplane.Counters { return &p.counters }

// Close closes the transports the daemon added.
func (p *fakePlane) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// attachedDevices returns the devices attached so far, as "NAME tun" or
// "NAME tap".
func (p *fakePlane) attachedDevices() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.attached)
}

// startOn starts a daemon on h and plane that keeps its state at
// statePath and logs to log, and closes it when the test ends.
func startOn(t testing.TB, h *fakeHost, plane dataplane.Plane, statePath string, log *slog.Logger) *daemon.Daemon {
	t.Helper()
	d, err := daemon.New(h, plane, daemon.Config{StatePath: statePath, Log: log, ListenIKE: listenQuietly, WatchAddrs: h.watchAddrs})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(d.Close)
	return d
}

// startDaemon starts a daemon on h and a fake plane that keeps its state
// at statePath, and closes it when the test ends.
func startDaemon(t testing.TB, h *fakeHost, statePath string) *daemon.Daemon {
	t.Helper()
	return startOn(t, h, newFakePlane(), statePath, slog.New(slog.DiscardHandler))
}

// wiredPlane returns a userspace data plane whose outer transport is open
// on h's network (h.network), as Run opens it on Linux's: the tests of the
// wiring between the daemon and the plane send packets through it.
func wiredPlane(t testing.TB, h *fakeHost) *dataplane.Userspace {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	plane := dataplane.NewUserspace(log)
	if err := daemon.OpenTransport(plane, h.listen, log); err != nil {
		t.Fatalf("open the outer transport: %v", err)
	}
	return plane
}

// startWired starts a daemon on h and a userspace data plane wired to h's
// network, that keeps its state at statePath, and closes it when the test
// ends.
func startWired(t testing.TB, h *fakeHost, statePath string) *daemon.Daemon {
	t.Helper()
	return startOn(t, h, wiredPlane(t, h), statePath, slog.New(slog.DiscardHandler))
}

// TestPlaneGetsDevicesAndViews checks what the daemon tells the data
// plane: a gif's device, of the kind its bridge membership asks, and views
// whose tables hold the gif by its tunnel, the EtherIP table while it is
// bridged.
func TestPlaneGetsDevicesAndViews(t *testing.T) {
	h := newFakeHost(t)
	h.setLocal(local)
	h.addEthernet("eth1", 1500)
	p := newFakePlane()
	d := startOn(t, h, p, t.TempDir()+"/state.json", slog.New(slog.DiscardHandler))
	tables := func() (ip, ether int) {
		v := p.View()
		return v.IPTable.Len(), v.EtherTable.Len()
	}
	mustIfconfig(t, d, "gif0 tunnel 198.51.100.1 203.0.113.1")
	if ip, ether := tables(); ip != 1 || ether != 0 {
		t.Errorf("with gif0 the plane's tables hold %d IP and %d EtherIP tunnels; want 1 and 0", ip, ether)
	}
	if ifc, ok := p.View().IPTable.Lookup(local, peer); !ok || ifc.Config().Name != "gif0" {
		t.Errorf("the plane's IP table gives %s --> %s to %v; want gif0", peer, local, ifc)
	}
	mustApply(t, d, "bridge0 add gif0")
	if ip, ether := tables(); ip != 0 || ether != 1 {
		t.Errorf("with gif0 bridged the plane's tables hold %d IP and %d EtherIP tunnels; want 0 and 1", ip, ether)
	}
	if got, want := p.attachedDevices(), []string{"gif0 tun", "gif0 tap"}; !slices.Equal(got, want) {
		t.Errorf("attached %q; want %q", got, want)
	}
	if !p.View().Local[local] || p.View().Local[peer] {
		t.Errorf("the plane's local addresses are %v; want %s alone", p.View().Local, local)
	}
	if _, err := d.SetSysctl("net.inet.ipip.allow", "2"); err != nil {
		t.Fatal(err)
	}
	if v, err := p.View().Sysctl.Get("net.inet.ipip.allow"); err != nil || v != 2 {
		t.Errorf("the plane's net.inet.ipip.allow is %d, %v; want 2", v, err)
	}
}

// TestPlaneReceivesBeforeTheDaemon: Run opens the plane's transport before
// the daemon publishes its first view, and a packet that comes meanwhile
// is dropped and counted, as one for no tunnel.
func TestPlaneReceivesBeforeTheDaemon(t *testing.T) {
	h := newFakeHost(t)
	h.setLocal(local)
	plane := wiredPlane(t, h)
	h.network(4, 4).send(t, peer, local, 0, ipv4Packet("192.0.2.2", "192.0.2.1", 0, 64, []byte("early")))
	ipip := &plane.Counters().IPIP
	waitFor(t, "the early packet to be dropped", func() bool { return ipip.PDrops.Load() == 1 })
	d := startOn(t, h, plane, t.TempDir()+"/state.json", slog.New(slog.DiscardHandler))
	if got := d.Stats().IPIP.PDrops; got != 1 {
		t.Errorf("ipip pdrops = %d; want 1", got)
	}
}

// foldingPlane is a fakePlane that, as the kernel plane does, folds into
// each gif's counters what it carried when Counters is called, and
// records which gifs were RUNNING in each view it was published.
type foldingPlane struct {
	*fakePlane
	runningAtPublish atomic.Value // map[string]bool
}

func (p *foldingPlane) Counters() *dataplane.Counters {
	for _, ifc := range p.View().IPTable.All() {
		ifc.Counters().OPackets.Add(1)
		p.counters.IPIP.OPackets.Add(1)
	}
	return p.fakePlane.Counters()
}

func (p *foldingPlane) Publish(v *dataplane.View) {
	running := map[string]bool{}
	for _, ifc := range v.IPTable.All() {
		running[ifc.Config().Name] = ifc.Running()
	}
	p.runningAtPublish.Store(running)
	p.fakePlane.Publish(v)
}

// TestShowFoldsPlaneCounters: ifconfig and netstat see what a kernel plane
// carried: Show and Stats have the plane fold its counters before they
// read the interfaces'.
func TestShowFoldsPlaneCounters(t *testing.T) {
	h := newFakeHost(t)
	h.setLocal(local)
	p := &foldingPlane{fakePlane: newFakePlane()}
	d := startOn(t, h, p, t.TempDir()+"/state.json", slog.New(slog.DiscardHandler))
	mustIfconfig(t, d, "gif0 tunnel 198.51.100.1 203.0.113.1")
	if got := show(t, d, "gif0").Stats.OPackets; got != 1 {
		t.Errorf("ifconfig gif0 shows %d output packets; want the 1 the plane folded", got)
	}
	s := d.Stats()
	if len(s.Interfaces) != 1 || s.Interfaces[0].Stats.OPackets != 2 || s.IPIP.OPackets != 2 {
		t.Errorf("netstat: interfaces %+v, ipip %+v; want gif0 and ipipstat with the 2 packets folded", s.Interfaces, s.IPIP)
	}
}

// passingPlane is a fakePlane that, as the kernel plane does, hands
// packets on to another plane and counts why.
type passingPlane struct {
	*fakePlane
	passed  [kernel.NumPassReasons]uint64
	err     error
	carried uint64
}

var _ daemon.PassingPlane = (*passingPlane)(nil)

func (p *passingPlane) Passed() ([kernel.NumPassReasons]uint64, error) { return p.passed, p.err }
func (p *passingPlane) Carried() uint64                                { return p.carried }

// TestStatsKernelPassed: netstat gets how many packets a plane that passes
// packets on carried, and by reason in the plane's order and named as
// kernel.PassReason names them, what it passed on; no reasons from a plane
// whose counters cannot be read, nothing from one that passes nothing on.
func TestStatsKernelPassed(t *testing.T) {
	p := &passingPlane{fakePlane: newFakePlane()}
	p.passed[kernel.PassUnknownPair] = 3
	p.passed[kernel.PassFragment] = 1
	p.carried = 9
	d := startOn(t, newFakeHost(t), p, t.TempDir()+"/state.json", slog.New(slog.DiscardHandler))
	st := d.Stats()
	if st.KernelCarried != 9 {
		t.Errorf("Stats().KernelCarried = %d, want the plane's 9", st.KernelCarried)
	}
	got := st.KernelPassed
	if len(got) != int(kernel.NumPassReasons) {
		t.Fatalf("Stats().KernelPassed has %d reasons, want %d: %+v", len(got), kernel.NumPassReasons, got)
	}
	for r, c := range got {
		if want := (control.PassCount{Reason: kernel.PassReason(r).String(), Packets: p.passed[r]}); c != want {
			t.Errorf("Stats().KernelPassed[%d] = %+v, want %+v", r, c, want)
		}
	}
	p.err = errors.New("map gone")
	if got := d.Stats().KernelPassed; got != nil {
		t.Errorf("Stats().KernelPassed = %+v when the plane cannot read them, want none", got)
	}
	if st := startDaemon(t, newFakeHost(t), t.TempDir()+"/state.json").Stats(); st.KernelPassed != nil || st.KernelCarried != 0 {
		t.Errorf("Stats() kernel passed %+v, carried %d on a plane that passes nothing on, want none", st.KernelPassed, st.KernelCarried)
	}
}

// TestRunningChangePublishes: when an address comes or goes and a gif's
// RUNNING changes, the plane gets a view published after the change, so a
// kernel plane that carries only RUNNING gifs takes or drops it then.
func TestRunningChangePublishes(t *testing.T) {
	h := newFakeHost(t)
	p := &foldingPlane{fakePlane: newFakePlane()}
	d := startOn(t, h, p, t.TempDir()+"/state.json", slog.New(slog.DiscardHandler))
	watchAddrs(t, d)
	mustIfconfig(t, d, "gif0 tunnel 198.51.100.1 203.0.113.1")
	running := func() bool { return p.runningAtPublish.Load().(map[string]bool)["gif0"] }
	if running() {
		t.Fatal("gif0 RUNNING in the last view before its source is local")
	}
	h.setLocal(local)
	if !running() {
		t.Error("source added: the last view published saw gif0 not RUNNING")
	}
	h.setLocal()
	if running() {
		t.Error("source removed: the last view published saw gif0 RUNNING")
	}
}
