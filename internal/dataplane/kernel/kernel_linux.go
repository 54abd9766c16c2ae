package kernel

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"gif/internal/dataplane"
	gl "gif/internal/link"
	"gif/internal/tunnel"
)

// Plane is the kernel data plane: tc programs carry the tunnels they can
// (egress on each gif's TUN device, ingress on the underlay interfaces),
// and every other packet goes to the userspace plane it wraps, which
// still owns the transport, ESP and EtherIP.
//
// It attaches them with tcx where the kernel has it, else with clsact
// (attach_tc_linux.go says what each leaves when the process ends).
type Plane struct {
	*dataplane.Userspace
	log              *slog.Logger
	tc               attacher
	egress, ingress  *ebpf.Program
	egressMap        kvMap
	ingressMap       kvMap
	localMap         kvMap
	settingsMap      kvMap
	passReasons      *ebpf.Map
	closeObjects     func() error
	attachEgress     func(ifindex int) (attachment, error)
	stopLinks        chan struct{}
	linksDone        chan struct{}
	underlayAttached map[int]attachment // by ifindex; under mu
	egressWork       chan struct{}      // wakes attachEgresses; holds one wake-up
	stopEgresses     chan struct{}
	egressesDone     chan struct{}

	mu       sync.Mutex
	ifaces   map[*dataplane.Iface]uint32 // attached gifs: their device's ifindex once the egress program is attached, else 0
	egresses map[*dataplane.Iface]attachment
	// queued are the gifs whose egress program attachEgresses is still to
	// attach, in order, and their device's ifindex in waiting; a gif
	// detached meanwhile leaves waiting, and the queue when its turn comes.
	queued      []*dataplane.Iface
	waiting     map[*dataplane.Iface]int
	lastCommand time.Time // of the last Attach, Publish or detach
	have        entries
	counters    folder
}

// quietBeforeAttach is how long attachEgresses waits after the last
// change before it attaches the egress program to a gif: each attachment
// holds the kernel's
// RTNL lock for an RCU grace period (about 9 ms), which every change of
// an interface also needs, so that attaching between the changes of a
// gif netstart would slow each of them down by as much. It waits no
// longer than quietAtMost, so that changes that never stop do not keep
// the gifs off the kernel plane.
const (
	quietBeforeAttach = 50 * time.Millisecond
	quietAtMost       = time.Second
)

var _ dataplane.Plane = (*Plane)(nil)

// objects is what a Plane needs of the loaded programs and maps.
type objects struct {
	egress, ingress                              *ebpf.Program
	egressMap, ingressMap, localMap, settingsMap kvMap
	counters                                     counterMap
	passReasons                                  *ebpf.Map
	close                                        func() error
	// attachEgress attaches egress to a gif's device; nil: by the plane's attacher.
	attachEgress func(ifindex int) (attachment, error)
}

// New loads the programs and returns the kernel plane wrapping u, or an
// error that says why BPF cannot run here (no CAP_BPF and CAP_SYS_ADMIN,
// a kernel too old, a helper missing); the daemon then runs u alone.
func New(u *dataplane.Userspace, log *slog.Logger) (*Plane, error) {
	if err := probe(); err != nil {
		return nil, explain(err)
	}
	tc, err := chooseAttacher()
	if err != nil {
		return nil, explain(fmt.Errorf("attach tc programs: %w", err))
	}
	var objs gifObjects
	if err := loadGifObjects(&objs, nil); err != nil {
		var verr *ebpf.VerifierError
		if errors.As(err, &verr) {
			log.Debug("the verifier refused the kernel plane's programs", "log", fmt.Sprintf("%+v", verr))
		}
		return nil, explain(fmt.Errorf("load the programs: %w", err))
	}
	restore, err := forwardFromLoopback()
	if err != nil {
		log.Warn("turn forwarding on for lo; tunnels go out the userspace way", "err", err)
	}
	// objs stays open until Close: it holds the program array through
	// which the attached entries reach the programs that carry, which
	// the kernel empties when its last file descriptor closes.
	p, err := newPlane(u, log, tc, objects{
		egress: objs.GifEgress, ingress: objs.GifIngress,
		egressMap: objs.EgressTunnels, ingressMap: objs.IngressTunnels,
		localMap: objs.LocalAddrs, settingsMap: objs.Settings,
		counters: perCPUCounters{objs.IfCounters}, passReasons: objs.PassReasons,
		close: func() error {
			restore()
			return objs.Close()
		},
	})
	if err != nil {
		restore()
		objs.Close()
		return nil, err
	}
	return p, nil
}

// forwardFromLoopback turns forwarding on for the loopback device, which
// gif_egress's FIB lookups route from (the helper refuses to route from a
// device that does not forward), and returns what puts the old values
// back. Only lo's own switches change: the host forwards nothing more,
// for nothing arrives on lo from elsewhere. A killed daemon leaves them on.
func forwardFromLoopback() (restore func(), err error) {
	var undo []func()
	restore = func() {
		for _, f := range undo {
			f()
		}
	}
	for _, path := range []string{"/proc/sys/net/ipv4/conf/lo/forwarding", "/proc/sys/net/ipv6/conf/lo/forwarding"} {
		old, rerr := os.ReadFile(path)
		if errors.Is(rerr, os.ErrNotExist) && strings.Contains(path, "ipv6") {
			continue // no IPv6 in this namespace
		}
		if rerr != nil {
			return restore, rerr
		}
		if strings.TrimSpace(string(old)) == "1" {
			continue
		}
		if werr := os.WriteFile(path, []byte("1"), 0o644); werr != nil {
			return restore, werr
		}
		undo = append(undo, func() { os.WriteFile(path, old, 0o644) })
	}
	return restore, nil
}

// explain names the missing capability when the kernel refused for want
// of one.
func explain(err error) error {
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("not permitted: the kernel plane needs CAP_BPF and CAP_NET_ADMIN, or CAP_SYS_ADMIN: %w", err)
	}
	return err
}

// probe returns why the kernel cannot run the programs, or nil.
func probe() error {
	if err := features.HaveProgramType(ebpf.SchedCLS); err != nil {
		return fmt.Errorf("tc programs: %w", err)
	}
	for _, h := range []asm.BuiltinFunc{asm.FnSkbAdjustRoom, asm.FnSkbChangeHead, asm.FnFibLookup, asm.FnRedirectNeigh, asm.FnRedirect} {
		if err := features.HaveProgramHelper(ebpf.SchedCLS, h); err != nil {
			return fmt.Errorf("BPF helper %s: %w", h, err)
		}
	}
	return nil
}

// newPlane wraps u with the programs and maps of objs; it attaches, with
// tc, the ingress program to the underlay interfaces as they come and go.
func newPlane(u *dataplane.Userspace, log *slog.Logger, tc attacher, objs objects) (*Plane, error) {
	p := &Plane{
		Userspace: u, log: log, tc: tc,
		egress: objs.egress, ingress: objs.ingress,
		egressMap: objs.egressMap, ingressMap: objs.ingressMap, localMap: objs.localMap, settingsMap: objs.settingsMap,
		passReasons:      objs.passReasons,
		closeObjects:     objs.close,
		attachEgress:     objs.attachEgress,
		stopLinks:        make(chan struct{}),
		linksDone:        make(chan struct{}),
		underlayAttached: make(map[int]attachment),
		egressWork:       make(chan struct{}, 1),
		stopEgresses:     make(chan struct{}),
		egressesDone:     make(chan struct{}),
		ifaces:           make(map[*dataplane.Iface]uint32),
		egresses:         make(map[*dataplane.Iface]attachment),
		waiting:          make(map[*dataplane.Iface]int),
		counters:         folder{m: objs.counters, last: make(map[uint32]gifIfCounters)},
	}
	if p.attachEgress == nil {
		p.attachEgress = func(ifindex int) (attachment, error) {
			return p.tc.attach(ifindex, p.egress, tcEgress)
		}
	}
	updates, stop, err := p.subscribeLinks()
	if err != nil {
		return nil, fmt.Errorf("follow the network interfaces: %w", err)
	}
	go p.followLinks(updates, stop)
	go p.attachEgresses()
	return p, nil
}

// subscribeLinks subscribes to the changes of the network interfaces,
// those that exist coming first as if just added, until stop closes.
func (p *Plane) subscribeLinks() (chan netlink.LinkUpdate, chan struct{}, error) {
	updates, stop := make(chan netlink.LinkUpdate, 64), make(chan struct{})
	err := netlink.LinkSubscribeWithOptions(updates, stop, netlink.LinkSubscribeOptions{
		ListExisting: true,
		ErrorCallback: func(err error) {
			select {
			case <-stop: // followLinks closed the socket
			default:
				p.log.Warn("follow the network interfaces (a broken subscription is renewed)", "err", err)
			}
		},
	})
	if err != nil {
		close(stop) // closes the socket if it opened
		return nil, nil, err
	}
	return updates, stop, nil
}

// followLinks attaches the ingress program to each underlay interface
// that is up and detaches it from those that go down or away, until
// Close. When the subscription breaks, it subscribes again and puts right
// what it missed meanwhile.
func (p *Plane) followLinks(updates chan netlink.LinkUpdate, stop chan struct{}) {
	defer close(p.linksDone)
	for {
		select {
		case u, ok := <-updates:
			if ok {
				p.follow(u.Link, u.Header.Type != unix.RTM_DELLINK && isUnderlay(u.Link))
				continue
			}
			close(stop) // ends the goroutine that waits to close the socket
			if updates, stop = gl.Resubscribe(p.stopLinks, p.subscribeLinks); updates == nil {
				return
			}
			p.forgetGone()
		case <-p.stopLinks:
			close(stop)
			for range updates {
				// Let the receiving goroutine of netlink finish.
			}
			return
		}
	}
}

// follow attaches the ingress program to l or detaches it, as want says.
func (p *Plane) follow(l netlink.Link, want bool) {
	a := l.Attrs()
	p.mu.Lock()
	defer p.mu.Unlock()
	attachment, attached := p.underlayAttached[a.Index]
	switch {
	case want && !attached:
		attachment, err := p.tc.attach(a.Index, p.ingress, tcIngress)
		if err != nil {
			p.log.Warn("attach the kernel plane's ingress program; tunnels arriving there go the userspace way", "interface", a.Name, "err", err)
			return
		}
		p.underlayAttached[a.Index] = attachment
	case !want && attached:
		attachment.Close()
		delete(p.underlayAttached, a.Index)
	}
}

// forgetGone forgets the interfaces that went away while the
// subscription was broken (the kernel detached the program with them,
// leaving the link on no interface), so that one that comes with the same
// index gets it. The new subscription lists the interfaces that exist,
// which puts the program right on them.
func (p *Plane) forgetGone() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for index, attachment := range p.underlayAttached {
		if attachment.on(index) {
			continue
		}
		attachment.Close()
		delete(p.underlayAttached, index)
	}
}

// isUnderlay reports whether tunnels may arrive on l: up, not the
// loopback, not a gif's device, and not the port of a bridge, a bond or
// any other master but a VRF. tc ingress runs on a port before its master
// takes the packet, with pkt_type set from the port's own Ethernet
// address: the program would pass a tunnel's packet sent to the bridge's
// address (counted as not for this host), then see it again on the
// bridge. A VRF's port keeps the program: packets reach the VRF device
// without going through its tc ingress.
func isUnderlay(l netlink.Link) bool {
	a := l.Attrs()
	_, vrfPort := a.Slave.(*netlink.VrfSlave)
	return a.Flags&net.FlagUp != 0 && a.Flags&net.FlagLoopback == 0 &&
		!tunnel.IsGif(a.Name) && (a.MasterIndex == 0 || vrfPort)
}

// Attach attaches dev as the userspace plane does and, for a TUN (IP
// modes), queues the egress program's attachment to it, which
// attachEgresses does off the command path; until then the gif stays on
// the userspace plane. Publish decides whether the program carries its
// packets.
func (p *Plane) Attach(dev gl.Device, ether bool, counters *tunnel.Counters) *dataplane.Iface {
	ifc := p.Userspace.Attach(dev, ether, counters)
	ifc.OnDetach(func() { p.detach(ifc) })
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastCommand = time.Now()
	p.ifaces[ifc] = 0
	if ether {
		ifc.SetPlaneState(dataplane.PlaneState{Why: whyEther})
		return ifc
	}
	nl, err := netlink.LinkByName(dev.Name())
	if err != nil {
		p.log.Warn("find the gif's device; it stays on the userspace plane", "interface", dev.Name(), "err", err)
		return ifc
	}
	p.waiting[ifc] = nl.Attrs().Index
	p.queued = append(p.queued, ifc)
	ifc.SetPlaneState(dataplane.PlaneState{Why: whyAttaching})
	p.wakeEgresses()
	return ifc
}

func (p *Plane) wakeEgresses() {
	select {
	case p.egressWork <- struct{}{}:
	default: // already awake or woken
	}
}

// attachEgresses attaches the egress program to the queued gifs, one at
// a time, each once the changes have paused for quietBeforeAttach, until
// Close.
func (p *Plane) attachEgresses() {
	defer close(p.egressesDone)
	for {
		select {
		case <-p.stopEgresses:
			return
		case <-p.egressWork:
		}
		for p.awaitQuiet() && p.egressStep() {
		}
	}
}

// awaitQuiet waits until no change came for quietBeforeAttach, or
// quietAtMost, and reports false when Close stops the plane first.
func (p *Plane) awaitQuiet() bool {
	for start := time.Now(); ; {
		p.mu.Lock()
		wait := quietBeforeAttach - time.Since(p.lastCommand)
		p.mu.Unlock()
		if wait <= 0 || time.Since(start) >= quietAtMost {
			return true
		}
		select {
		case <-p.stopEgresses:
			return false
		case <-time.After(wait):
		}
	}
}

// egressStep attaches the egress program to the first queued gif and
// brings the maps in line, so that the gif moves to the kernel plane
// without waiting for a change. It reports whether a gif was queued.
func (p *Plane) egressStep() bool {
	p.mu.Lock()
	var ifc *dataplane.Iface
	index, queued := 0, false
	for !queued && len(p.queued) > 0 {
		ifc, p.queued = p.queued[0], p.queued[1:]
		index, queued = p.waiting[ifc]
	}
	p.mu.Unlock()
	if !queued {
		return false
	}
	// Outside the lock: the kernel takes a grace period.
	l, err := p.attachEgress(index)
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.waiting[ifc]; !ok { // detached meanwhile
		if err == nil {
			l.Close()
		}
		return true
	}
	delete(p.waiting, ifc)
	if err != nil {
		p.log.Warn("attach the kernel plane's egress program; the gif stays on the userspace plane", "interface", ifc.Device().Name(), "err", err)
	} else {
		p.ifaces[ifc] = uint32(index)
		p.egresses[ifc] = l
	}
	p.syncLocked(p.View())
	return true
}

// detach takes ifc off the kernel plane before its device closes: its
// map entries, its counters (folded a last time) and its egress program,
// or its place in attachEgresses' queue. Closing the link here costs what
// closing it after the device would: the kernel detaches a program left
// on a device that goes away, with the same RCU grace period.
func (p *Plane) detach(ifc *dataplane.Iface) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastCommand = time.Now()
	index := p.ifaces[ifc]
	delete(p.ifaces, ifc)
	delete(p.waiting, ifc)
	p.syncLocked(p.View())
	if index != 0 {
		if err := p.counters.forget(index, ifc.Counters(), &p.Userspace.Counters().IPIP); err != nil {
			p.log.Warn("read the kernel plane's counters", "interface", ifc.Device().Name(), "err", err)
		}
	}
	if l, ok := p.egresses[ifc]; ok {
		l.Close()
		delete(p.egresses, ifc)
	}
}

// Publish publishes v to the userspace plane and brings the maps in line
// with it before it returns: a tunnel that left the kernel plane has left
// it when the daemon acknowledges the change.
func (p *Plane) Publish(v *dataplane.View) {
	p.Userspace.Publish(v)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastCommand = time.Now()
	p.syncLocked(v)
}

func (p *Plane) syncLocked(v *dataplane.View) {
	want, states := decide(v, p.ifaces)
	var err error
	var errs []error
	p.have, err = syncTunnels(p.egressMap, p.ingressMap, p.localMap, p.have, &want)
	errs = append(errs, err)
	if p.have.settings != want.settings {
		if err := p.settingsMap.Put(uint32(0), want.settings); err != nil {
			errs = append(errs, err)
		} else {
			p.have.settings = want.settings
		}
	}
	if err := errors.Join(errs...); err != nil {
		p.log.Error("update the kernel plane's maps", "err", err)
	}
	for ifc, st := range states {
		index := p.ifaces[ifc]
		if out, ok := want.egress[index]; st.Kernel && (!ok || p.have.egress[index] != out) {
			st = dataplane.PlaneState{Why: whyMapsFailing}
		}
		if _, queued := p.waiting[ifc]; queued && st.Why == whyNoDevice {
			st = dataplane.PlaneState{Why: whyAttaching}
		}
		ifc.SetPlaneState(st)
	}
}

// Counters folds what the programs counted into the interfaces' counters
// and ipipstat, and returns the global counters.
func (p *Plane) Counters() *dataplane.Counters {
	c := p.Userspace.Counters()
	p.mu.Lock()
	defer p.mu.Unlock()
	for ifc, index := range p.ifaces {
		if index == 0 {
			continue
		}
		if err := p.counters.fold(index, ifc.Counters(), &c.IPIP); err != nil {
			p.log.Warn("read the kernel plane's counters", "interface", ifc.Device().Name(), "err", err)
		}
	}
	return c
}

// Carried returns how many packets the programs carried, in and out, up
// to the last Counters.
func (p *Plane) Carried() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counters.carried
}

// Passed returns how many packets the programs handed to the userspace
// plane, by reason.
func (p *Plane) Passed() ([NumPassReasons]uint64, error) {
	var n [NumPassReasons]uint64
	for r := range NumPassReasons {
		var perCPU []uint64
		if err := p.passReasons.Lookup(uint32(r), &perCPU); err != nil {
			return n, fmt.Errorf("look up pass_reasons[%v]: %w", r, err)
		}
		for _, v := range perCPU {
			n[r] += v
		}
	}
	return n, nil
}

// Close detaches every program, closes the maps and the userspace plane.
func (p *Plane) Close() {
	close(p.stopLinks)
	<-p.linksDone
	close(p.stopEgresses)
	<-p.egressesDone
	p.mu.Lock()
	for index, l := range p.underlayAttached {
		l.Close()
		delete(p.underlayAttached, index)
	}
	for ifc, l := range p.egresses {
		l.Close()
		delete(p.egresses, ifc)
	}
	p.queued = nil
	clear(p.waiting)
	p.mu.Unlock()
	if p.closeObjects != nil {
		p.closeObjects()
	}
	p.Userspace.Close()
}

// perCPUCounters reads if_counters, a per-CPU hash.
type perCPUCounters struct{ m *ebpf.Map }

func (c perCPUCounters) sum(ifindex uint32) (gifIfCounters, error) {
	var perCPU []gifIfCounters
	var s gifIfCounters
	if err := c.m.Lookup(ifindex, &perCPU); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return s, nil
		}
		return s, fmt.Errorf("look up if_counters[%d]: %w", ifindex, err)
	}
	for _, v := range perCPU {
		s.Ipackets += v.Ipackets
		s.Ibytes += v.Ibytes
		s.Opackets += v.Opackets
		s.Obytes += v.Obytes
	}
	return s, nil
}

func (c perCPUCounters) remove(ifindex uint32) error {
	if err := c.m.Delete(ifindex); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("delete if_counters[%d]: %w", ifindex, err)
	}
	return nil
}
