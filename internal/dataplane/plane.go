// Package dataplane is gif's userspace data plane: the send loops that
// read the interfaces' devices and send to the outer transport, the
// receive loops that read the transport and write to the devices, ESP,
// and the global counters (ipipstat, etheripstat, espstat). It reads the
// configuration only from a View, which the daemon replaces whole on each
// change; it never reaches back into the daemon.
package dataplane

import (
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"gif/internal/ipsec"
	"gif/internal/link"
	"gif/internal/outer"
	"gif/internal/tunnel"
)

const (
	// headroom is reserved in front of every packet: received outer IPv4
	// headers land there, the TUN device writes its virtio header there,
	// and ESP in tunnel mode puts there the IP header it protects (40
	// bytes for IPv6), its own header and IV (up to 24) in front of an
	// EtherIP header (2).
	headroom = 128
	// tailroom is kept after the largest packet for ESP's padding, trailer
	// and ICV.
	tailroom = 512
	// bufSize holds the largest IP packet, reassembled, between the two.
	bufSize = headroom + 65535 + tailroom
	// sendBufSize holds the largest packet or frame a device hands over:
	// one of the largest MTU gif sets, with an Ethernet header and two VLAN
	// tags. A device whose MTU was raised beyond that behind gif's back
	// fails such reads, and they count as output errors.
	sendBufSize = headroom + tunnel.MaxMTU + 22 + tailroom
	// errorPause keeps a persistently failing device or socket from
	// spinning a core.
	errorPause = 10 * time.Millisecond
)

func init() {
	if headroom < outer.Headroom || headroom < link.WriteOffset {
		panic("dataplane: headroom is smaller than the transport or device needs")
	}
}

// Iface is one gif interface at run time: its device, its configuration as
// the data plane sees it, and its counters. A gif that is a bridge member
// has a TAP device and carries Ethernet frames in EtherIP; otherwise it has
// a TUN device and carries IP packets.
type Iface struct {
	u          *Userspace
	dev        link.Device
	ether      bool
	cfg        atomic.Pointer[tunnel.Config]
	counters   *tunnel.Counters // the interface's, kept when its device changes kind
	running    atomic.Bool
	loopLogged atomic.Bool
	plane      atomic.Pointer[PlaneState] // nil: the zero PlaneState
	onDetach   func()                     // set once, before the interface is shared
	done       chan struct{}
}

// PlaneState says which data plane carries an interface: the kernel's, or
// the userspace one and why not the kernel's ("not running", "an IPsec
// flow covers it", "fastpath off", the reason BPF cannot run, ...). Why is
// empty when no one has said.
type PlaneState struct {
	Kernel bool
	Why    string
}

// OnDetach makes Detach call f before it closes the device: a plane that
// wraps the userspace one takes the device back first. It is set once,
// by the plane that attached the interface, before handing it out.
func (ifc *Iface) OnDetach(f func()) { ifc.onDetach = f }

// Attach starts the send loop of dev, the device of a gif that carries
// Ethernet frames in EtherIP (ether) or IP packets, counted in counters.
// Its configuration is the zero Config until SetConfig.
func (u *Userspace) Attach(dev link.Device, ether bool, counters *tunnel.Counters) *Iface {
	ifc := &Iface{u: u, dev: dev, ether: ether, counters: counters, done: make(chan struct{})}
	ifc.cfg.Store(&tunnel.Config{})
	go ifc.encapsulate()
	return ifc
}

// Detach lets the plane that attached the interface take it back, closes
// the device and waits for its send loop to end.
func (ifc *Iface) Detach() {
	if ifc.onDetach != nil {
		ifc.onDetach()
	}
	ifc.dev.Close()
	<-ifc.done
}

// Device returns the interface's device.
func (ifc *Iface) Device() link.Device { return ifc.dev }

// Ether reports whether the interface carries Ethernet frames in EtherIP.
func (ifc *Iface) Ether() bool { return ifc.ether }

// Counters returns the interface's counters.
func (ifc *Iface) Counters() *tunnel.Counters { return ifc.counters }

// Config returns the interface's configuration as the packet path sees it.
func (ifc *Iface) Config() *tunnel.Config { return ifc.cfg.Load() }

// SetConfig makes c, which no one changes afterwards, the interface's
// configuration.
func (ifc *Iface) SetConfig(c *tunnel.Config) { ifc.cfg.Store(c) }

// PlaneState returns which data plane carries the interface. Only ifconfig
// reads it, never the packet path.
func (ifc *Iface) PlaneState() PlaneState {
	if p := ifc.plane.Load(); p != nil {
		return *p
	}
	return PlaneState{}
}

// SetPlaneState records which data plane carries the interface.
func (ifc *Iface) SetPlaneState(p PlaneState) { ifc.plane.Store(&p) }

// Running reports whether the interface sends.
func (ifc *Iface) Running() bool { return ifc.running.Load() }

// SetRunning says whether the interface sends, and returns what it was.
func (ifc *Iface) SetRunning(on bool) (was bool) { return ifc.running.Swap(on) }

// View is everything of the configuration the packet path reads,
// immutable once published: a received batch or a send loaded once for
// the batch sees one consistent configuration. The daemon publishes a new
// View on each change.
type View struct {
	IPTable    *tunnel.Table[*Iface] // gifs that carry IP
	EtherTable *tunnel.Table[*Iface] // bridged gifs, which carry EtherIP
	Local      map[netip.Addr]bool   // this host's addresses
	Sysctl     *tunnel.Sysctl
	Policy     *SPD // nil without IPsec rules
}

// Tables returns the demultiplexing tables of ifaces for a View: bridged
// gifs receive EtherIP, the others IP in IP.
func Tables(ifaces []*Iface) (ip, ether *tunnel.Table[*Iface]) {
	var ipIfaces, etherIfaces []*Iface
	for _, ifc := range ifaces {
		if ifc.ether {
			etherIfaces = append(etherIfaces, ifc)
		} else {
			ipIfaces = append(ipIfaces, ifc)
		}
	}
	config := (*Iface).Config
	return tunnel.NewTable(ipIfaces, config), tunnel.NewTable(etherIfaces, config)
}

// Userspace is the userspace data plane of one network namespace.
type Userspace struct {
	log      *slog.Logger
	view     atomic.Pointer[View]
	conns    map[transportKey]outer.Conn // set before the interfaces send
	counters Counters
	esp      ipsec.SAD // the SAs, and espstat, which counters.ESP points to
}

// Counters are a data plane's global counters: OpenBSD's ipipstat,
// etheripstat and espstat. A kernel plane that carries some tunnels beside
// the userspace one would count in the same.
type Counters struct {
	IPIP    tunnel.IPIPCounters
	EtherIP tunnel.EtherIPCounters
	// ESP is the SAD's espstat, which it counts in as it seals and opens.
	ESP *ipsec.Counters
}

type transportKey struct {
	family int // 4 or 6
	proto  uint8
}

// NewUserspace returns a plane with an empty view and no transport.
func NewUserspace(log *slog.Logger) *Userspace {
	u := &Userspace{log: log, conns: make(map[transportKey]outer.Conn)}
	u.counters.ESP = &u.esp.Counters
	sysctl := tunnel.NewSysctl()
	u.view.Store(&View{Sysctl: &sysctl})
	return u
}

// Publish makes v, which no one changes afterwards, what the packet path
// reads from the next batch on.
func (u *Userspace) Publish(v *View) { u.view.Store(v) }

// View returns the published view.
func (u *Userspace) View() *View { return u.view.Load() }

// AddTransport makes conn the outer transport of family (4 or 6) and
// protocol proto, and starts its receive loop.
func (u *Userspace) AddTransport(family int, proto uint8, conn outer.Conn) error {
	u.conns[transportKey{family, proto}] = conn
	return u.startReceiving(conn, proto)
}

// Close closes the outer transport, which ends the receive loops.
func (u *Userspace) Close() {
	for k, c := range u.conns {
		c.Close()
		delete(u.conns, k)
	}
}

// Counters returns the global counters: ipipstat, etheripstat, espstat.
func (u *Userspace) Counters() *Counters { return &u.counters }

// SAs returns the installed SAs.
func (u *Userspace) SAs() []*ipsec.SA { return u.esp.All() }

// Install puts pol's SAs in the SAD, for pol to protect with once
// published.
func (u *Userspace) Install(pol *SPD) error {
	if err := u.esp.Replace(pol.sas); err != nil {
		return err
	}
	pol.sad = &u.esp
	return nil
}
