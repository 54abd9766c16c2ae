package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gif/internal/daemon"
	"gif/internal/link"
	"gif/internal/link/linktest"
)

// errInjected is the error a fakeHost returns from a call a test chose to fail.
var errInjected = errors.New("injected failure")

// waitTimeout bounds every wait for the data plane's goroutines.
const waitTimeout = 5 * time.Second

// fakeHost is an in-memory Linux for the daemon. It keeps what Linux would
// keep of each interface, refuses what Linux would refuse (an address added
// twice, one deleted that is not there, IPv6 on an interface with IPv6
// disabled), records every call and fails the calls a test asks it to.
//
// LocalAddrs returns the addresses set with setLocal or setLocalUntold and
// those of the fake interfaces, as link.LocalAddrs would; only setLocal
// notifies the watchers, from the calling goroutine.
type fakeHost struct {
	t         testing.TB
	linkLocal netip.Addr

	mu        sync.Mutex
	calls     []call
	counts    map[string]int // calls so far, by operation
	failAt    map[string]int // the call of each operation that fails
	links     map[string]*fakeLink
	nextIndex int
	local     []netip.Addr
	watchers  map[int]func()
	nextWatch int
	networks  map[transport]*network
	rules     map[domainRule]bool
	// slowList, when set, holds every listing of this host's addresses
	// until it is closed, as a dump of many addresses takes a while.
	slowList chan struct{}
}

// call is one call of a Host method.
type call struct {
	op, name, arg string
	failed        bool
}

func (c call) String() string { return fmt.Sprintf("%s(%s %s)", c.op, c.name, c.arg) }

// domainRule stands for the policy rules that route the outer packets of
// one family marked with a routing domain.
type domainRule struct {
	family, domain int
}

// fakeLink is what Linux knows of one interface.
type fakeLink struct {
	index    int
	dev      *fakeDevice
	ethernet bool             // a TAP, a bridge or an Ethernet interface
	bridge   bool             // a Linux bridge
	master   string           // the bridge it is a port of
	mac      net.HardwareAddr // of an Ethernet interface
	linuxLink
}

// linuxLink is the observable state of one interface.
type linuxLink struct {
	Up           bool
	MTU          int
	IPv6Disabled bool
	Carrier      bool
	Addrs        []link.Addr // sorted
}

func (l linuxLink) String() string {
	addrs := make([]string, len(l.Addrs))
	for i, a := range l.Addrs {
		addrs[i] = a.Prefix.String()
		if a.Peer.IsValid() {
			addrs[i] += "->" + a.Peer.String()
		}
	}
	return fmt.Sprintf("{up=%t mtu=%d noinet6=%t carrier=%t addrs=[%s]}",
		l.Up, l.MTU, l.IPv6Disabled, l.Carrier, strings.Join(addrs, " "))
}

var _ daemon.Host = (*fakeHost)(nil)

func newFakeHost(t testing.TB) *fakeHost {
	// The link-local address gif derives from the documentation MAC
	// 00:00:5e:00:53:01 (RFC 7042).
	mac := net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0x01}
	h := &fakeHost{
		t:         t,
		linkLocal: link.LinkLocalFrom([]net.HardwareAddr{mac}, ""),
		counts:    make(map[string]int),
		failAt:    make(map[string]int),
		links:     make(map[string]*fakeLink),
		nextIndex: 10,
		watchers:  make(map[int]func()),
		networks:  make(map[transport]*network),
		rules:     make(map[domainRule]bool),
	}
	t.Cleanup(h.closeNetworks)
	return h
}

// failNth makes the nth call of op from now on fail with errInjected.
func (h *fakeHost) failNth(op string, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failAt[op] = h.counts[op] + n
}

// enter records a call of op and says whether it is to fail. h.mu is held.
func (h *fakeHost) enter(op, name, arg string) error {
	h.counts[op]++
	c := call{op: op, name: name, arg: arg}
	var err error
	if h.failAt[op] == h.counts[op] {
		c.failed = true
		err = fmt.Errorf("%s %s %s: %w", op, name, arg, errInjected)
	}
	h.calls = append(h.calls, c)
	return err
}

// callsOf returns the calls of op, failed ones included.
func (h *fakeHost) callsOf(op string) []call {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []call
	for _, c := range h.calls {
		if c.op == op {
			out = append(out, c)
		}
	}
	return out
}

func (h *fakeHost) link(name string) (*fakeLink, error) {
	l, ok := h.links[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, syscall.ENODEV)
	}
	return l, nil
}

// linux returns every interface's state.
func (h *fakeHost) linux() map[string]linuxLink {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]linuxLink, len(h.links))
	for name, l := range h.links {
		s := l.linuxLink
		s.Addrs = slices.Clone(s.Addrs)
		out[name] = s
	}
	return out
}

// device returns the device of the interface called name.
func (h *fakeHost) device(name string) *fakeDevice {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	l, ok := h.links[name]
	if !ok {
		h.t.Fatalf("no interface %s in Linux", name)
	}
	return l.dev
}

// setLocal makes addrs this host's addresses, besides those of the fake
// interfaces, and tells the watchers.
func (h *fakeHost) setLocal(addrs ...netip.Addr) {
	h.setLocalUntold(addrs...)
	h.mu.Lock()
	watchers := make([]func(), 0, len(h.watchers))
	for _, w := range h.watchers {
		watchers = append(watchers, w)
	}
	h.mu.Unlock()
	for _, w := range watchers {
		w()
	}
}

// setLocalUntold is setLocal before the watchers hear of it, as Linux has
// an address whose notification the watch has not read yet.
func (h *fakeHost) setLocalUntold(addrs ...netip.Addr) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.local = slices.Clone(addrs)
}

// CreateDevice records a CreateTUN or a CreateTAP, as Linux does the one
// or the other.
func (h *fakeHost) CreateDevice(name string, mtu int, ethernet bool) (link.Device, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	op := "CreateTUN"
	if ethernet {
		op = "CreateTAP"
	}
	if err := h.enter(op, name, fmt.Sprint(mtu)); err != nil {
		return nil, err
	}
	if _, ok := h.links[name]; ok {
		return nil, fmt.Errorf("%s %s: %w", op, name, syscall.EEXIST)
	}
	dev := newFakeDevice(h, name)
	l := h.newLink(name, ethernet, mtu)
	l.dev = dev
	return dev, nil
}

// newLink adds an interface to the fake Linux, with the next index and,
// if it is an Ethernet interface, a MAC address of its own. h.mu is held.
func (h *fakeHost) newLink(name string, ethernet bool, mtu int) *fakeLink {
	l := &fakeLink{index: h.nextIndex, ethernet: ethernet, linuxLink: linuxLink{MTU: mtu}}
	if ethernet {
		// The documentation range of RFC 7042, one address per index.
		l.mac = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, byte(h.nextIndex)}
	}
	h.links[name] = l
	h.nextIndex++
	return l
}

// remove deletes the interface of dev, as closing a TUN device does.
func (h *fakeHost) remove(dev *fakeDevice) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l, ok := h.links[dev.Name()]; ok && l.dev == dev {
		delete(h.links, dev.Name())
	}
}

func (h *fakeHost) SetUp(name string, up bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.enter("SetUp", name, fmt.Sprint(up)); err != nil {
		return err
	}
	l, err := h.link(name)
	if err != nil {
		return err
	}
	l.Up = up
	if !up {
		// keep_addr_on_down keeps every IPv6 address but the link-local ones.
		l.Addrs = slices.DeleteFunc(l.Addrs, func(a link.Addr) bool { return a.Prefix.Addr().IsLinkLocalUnicast() })
	}
	return nil
}

func (h *fakeHost) SetMTU(name string, mtu int) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.enter("SetMTU", name, fmt.Sprint(mtu)); err != nil {
		return err
	}
	l, err := h.link(name)
	if err != nil {
		return err
	}
	l.MTU = mtu
	return nil
}

func (h *fakeHost) SetLLAddr(name string, mac net.HardwareAddr) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.enter("SetLLAddr", name, mac.String()); err != nil {
		return err
	}
	l, err := h.link(name)
	if err != nil {
		return err
	}
	if !l.ethernet {
		return fmt.Errorf("set lladdr of %s: %w", name, syscall.EOPNOTSUPP)
	}
	l.mac = slices.Clone(mac)
	return nil
}

// SetAddr records an AddAddr or a DelAddr. It adds a as Linux does: an
// IPv6 address once per interface, an IPv4 one once per prefix length and
// peer.
func (h *fakeHost) SetAddr(name string, a link.Addr, on bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	op := "DelAddr"
	if on {
		op = "AddAddr"
	}
	if err := h.enter(op, name, a.Prefix.String()); err != nil {
		return err
	}
	l, err := h.link(name)
	if err != nil {
		return err
	}
	if !on {
		i := slices.Index(l.Addrs, a)
		if i < 0 {
			return fmt.Errorf("delete address %s from %s: %w", a.Prefix, name, syscall.EADDRNOTAVAIL)
		}
		l.Addrs = slices.Delete(l.Addrs, i, i+1)
		return nil
	}
	local := a.Prefix.Addr()
	if local.Is6() && l.IPv6Disabled {
		return fmt.Errorf("add address %s to %s: %w", a.Prefix, name, syscall.EACCES)
	}
	for _, b := range l.Addrs {
		if b == a || local.Is6() && b.Prefix.Addr() == local {
			return fmt.Errorf("add address %s to %s: %w", a.Prefix, name, syscall.EEXIST)
		}
	}
	l.Addrs = append(l.Addrs, a)
	sortAddrs(l.Addrs)
	return nil
}

func (h *fakeHost) SetIPv6Disabled(name string, disabled bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.enter("SetIPv6Disabled", name, fmt.Sprint(disabled)); err != nil {
		return err
	}
	l, err := h.link(name)
	if err != nil {
		return err
	}
	l.IPv6Disabled = disabled
	if disabled {
		l.Addrs = slices.DeleteFunc(l.Addrs, func(a link.Addr) bool { return a.Prefix.Addr().Is6() })
	}
	return nil
}

// Addrs records a LocalAddrs when name is empty, and returns the addresses
// set with setLocal and those of the fake interfaces, as
// link.LocalAddrs would.
func (h *fakeHost) Addrs(name string) ([]link.Addr, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if name == "" {
		if err := h.enter("LocalAddrs", "", ""); err != nil {
			return nil, err
		}
		if slow := h.slowList; slow != nil {
			h.mu.Unlock()
			<-slow
			h.mu.Lock()
		}
		var addrs []link.Addr
		for _, a := range h.local {
			addrs = append(addrs, link.Addr{Prefix: netip.PrefixFrom(a, a.BitLen())})
		}
		for _, l := range h.links {
			addrs = append(addrs, l.Addrs...)
		}
		return addrs, nil
	}
	if err := h.enter("Addrs", name, ""); err != nil {
		return nil, err
	}
	l, err := h.link(name)
	if err != nil {
		return nil, err
	}
	return slices.Clone(l.Addrs), nil
}

// watchAddrs registers changed until ctx ends; setLocal calls it. Like
// link.WatchAddrs, it calls changed once when it has registered it.
func (h *fakeHost) watchAddrs(ctx context.Context, changed func()) error {
	h.mu.Lock()
	if err := h.enter("WatchAddrs", "", ""); err != nil {
		h.mu.Unlock()
		return err
	}
	id := h.nextWatch
	h.nextWatch++
	h.watchers[id] = changed
	context.AfterFunc(ctx, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.watchers, id)
	})
	h.mu.Unlock()
	changed()
	return nil
}

func (h *fakeHost) LinkLocal() (netip.Addr, error) { return h.linkLocal, nil }

// SetDomainRules records an AddDomainRules or a DelDomainRules; both are
// idempotent, as link's are.
func (h *fakeHost) SetDomainRules(family, domain int, on bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	op := "DelDomainRules"
	if on {
		op = "AddDomainRules"
	}
	if err := h.enter(op, fmt.Sprintf("ipv%d", family), fmt.Sprint(domain)); err != nil {
		return err
	}
	if on {
		h.rules[domainRule{family, domain}] = true
	} else {
		delete(h.rules, domainRule{family, domain})
	}
	return nil
}

// installedRules returns the rules in the fake Linux.
func (h *fakeHost) installedRules() map[domainRule]bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.rules)
}

func sortAddrs(addrs []link.Addr) {
	slices.SortFunc(addrs, func(a, b link.Addr) int {
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		if c := a.Prefix.Bits() - b.Prefix.Bits(); c != 0 {
			return c
		}
		return a.Peer.Compare(b.Peer)
	})
}

// fakeDevice is a gif's device in the fake Linux: a linktest.Device (the
// test plays the kernel: Push what the daemon reads, Take what it wrote)
// whose carrier is its interface's, and whose Close removes the interface.
type fakeDevice struct {
	*linktest.Device
	host      *fakeHost
	closeOnce sync.Once
}

// fakeBatchSize is small so that a few packets take several Reads.
const fakeBatchSize = 4

func newFakeDevice(h *fakeHost, name string) *fakeDevice {
	return &fakeDevice{Device: linktest.New(name, fakeBatchSize), host: h}
}

// SetCarrier sets the carrier of the device's interface, as a TUN
// device's does (link.SetCarrier).
func (d *fakeDevice) SetCarrier(on bool) error {
	h := d.host
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.enter("SetCarrier", d.Name(), fmt.Sprint(on)); err != nil {
		return err
	}
	l, err := h.link(d.Name())
	if err != nil {
		return err
	}
	if l.dev != d {
		return fmt.Errorf("set carrier of %s: not the device of that interface", d.Name())
	}
	l.Carrier = on
	return nil
}

// Close unblocks Read and removes the interface from the fake Linux.
func (d *fakeDevice) Close() error {
	d.closeOnce.Do(func() {
		d.Device.Close()
		d.host.remove(d)
	})
	return nil
}

// next returns the next packet the daemon wrote.
func (d *fakeDevice) next(t *testing.T) []byte {
	t.Helper()
	p, ok := d.Take(waitTimeout)
	if !ok {
		t.Fatalf("nothing was written to %s", d.Name())
	}
	return p
}
