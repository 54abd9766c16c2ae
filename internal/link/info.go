package link

import "net"

// LinkInfo describes an interface of any kind.
type LinkInfo struct {
	Name    string
	Index   int
	MTU     int
	Up      bool // administratively up (IFF_UP)
	Running bool // up with carrier (IFF_RUNNING)
	// Kind is the kernel's name for the driver (IFLA_INFO_KIND): "bridge",
	// "tun" (TUN and TAP alike), "veth", "dummy", …; "" for hardware and
	// the loopback interface.
	Kind string
	MAC  net.HardwareAddr
	// Master is the bridge (or bond, …) the interface belongs to, or "".
	Master string
	// Ethernet is set on interfaces that carry Ethernet frames
	// (ARPHRD_ETHER), the ones that may join a bridge.
	Ethernet bool
}
