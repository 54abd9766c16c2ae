package dataplane

import (
	"gif/internal/ipsec"
	"gif/internal/link"
	"gif/internal/outer"
	"gif/internal/tunnel"
)

// Plane is a data plane as the daemon drives it: it carries the packets
// of the attached devices over the outer transport by the published view.
// Userspace is the first; a kernel plane that carries the tunnels it can
// and hands every other packet to a Userspace would be another, feeding
// the same counters.
type Plane interface {
	// Publish makes v, which no one changes afterwards, what the plane
	// reads from its next batch on; View returns the published one.
	Publish(v *View)
	View() *View
	// Attach starts carrying the packets of dev, the device of a gif
	// that carries Ethernet frames in EtherIP (ether) or IP packets,
	// counted in counters; the Iface's Detach stops it.
	Attach(dev link.Device, ether bool, counters *tunnel.Counters) *Iface
	// AddTransport makes conn the outer transport of family (4 or 6)
	// and protocol proto (or ProtoESPInUDP), and starts receiving on it.
	AddTransport(family int, proto uint8, conn outer.Conn) error
	// Install puts pol's SAs in the SAD, for pol to protect with once
	// published; SAs returns the installed SAs.
	Install(pol *SPD) error
	SAs() []*ipsec.SA
	// Counters returns the global counters: ipipstat, etheripstat,
	// espstat.
	Counters() *Counters
	// Close closes the outer transport.
	Close()
}

var _ Plane = (*Userspace)(nil)
