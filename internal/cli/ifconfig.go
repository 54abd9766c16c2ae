package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"gif/internal/conf/hostname"
	"gif/internal/conf/ifconfig"
	"gif/internal/control"
	"gif/internal/tunnel"
)

// ifconfigMain is `gif ifconfig`: with an interface and parameters it
// configures, otherwise it shows.
func ifconfigMain(args []string, stdout, stderr io.Writer) int {
	asJSON, asFiles := false, false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && len(args[0]) > 1 {
		switch args[0] {
		case "-a":
		case "-j":
			asJSON = true
		case "-C":
			asFiles = true
		default:
			return fail(stderr, "ifconfig", fmt.Errorf("unknown flag %q (want -a, -j or -C)", args[0]))
		}
		args = args[1:]
	}
	if asFiles && len(args) > 0 {
		return fail(stderr, "ifconfig", fmt.Errorf("-C takes no interface: it prints them all"))
	}
	if len(args) > 1 {
		name := args[0]
		ops, err := ifconfig.Parse(name, args[1:])
		if err != nil {
			return fail(stderr, "ifconfig", fmt.Errorf("%s: %w", name, err))
		}
		// Silent on success, as OpenBSD's ifconfig.
		if err := call(stderr, control.MethodIfconfig, control.IfconfigParams{Name: name, Ops: ops}, nil); err != nil {
			return fail(stderr, "ifconfig", err)
		}
		return 0
	}
	var p control.ShowParams
	if len(args) == 1 {
		p.Name = args[0]
	}
	var r control.ShowResult
	if err := call(stderr, control.MethodShow, p, &r); err != nil {
		return fail(stderr, "ifconfig", err)
	}
	if asFiles {
		io.WriteString(stdout, formatRunning(r))
		return 0
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return fail(stderr, "ifconfig", err)
		}
		return 0
	}
	io.WriteString(stdout, formatShow(r))
	return 0
}

// formatRunning prints the running configuration as the hostname.if files
// that gif netstart would read to build it again, each under a comment
// naming the file, in netstart's order.
func formatRunning(r control.ShowResult) string {
	var s tunnel.State
	for _, st := range r.Interfaces {
		s.Interfaces = append(s.Interfaces, st.Config)
	}
	for _, st := range r.Bridges {
		s.Bridges = append(s.Bridges, st.BridgeConfig)
	}
	files := hostname.Running(s)
	var names []string
	for name := range files {
		names = append(names, strings.TrimPrefix(name, "hostname."))
	}
	var b strings.Builder
	for i, ifname := range hostname.Order(names) {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "# %s/hostname.%s\n%s", DefaultConfDir, ifname, files["hostname."+ifname])
	}
	return b.String()
}

// formatShow shows the gifs, then the bridges, then any other interface.
func formatShow(r control.ShowResult) string {
	var b strings.Builder
	for _, st := range r.Interfaces {
		b.WriteString(formatInterface(st))
	}
	for _, st := range r.Bridges {
		b.WriteString(formatBridge(st))
	}
	for _, st := range r.Links {
		b.WriteString(formatLink(st))
	}
	return b.String()
}

// Interface flags as OpenBSD's sys/net/if.h numbers them. Only those gif
// knows the truth of are shown.
const (
	iffUp           = 0x1
	iffPointToPoint = 0x10
	iffRunning      = 0x40
	iffLink0        = 0x1000 // on a bridge: drop IP multicast
	iffLink1        = 0x2000 // on a bridge: drop non-IP multicast
	iffLink2        = 0x4000 // on a bridge: transparent IPsec
	iffMulticast    = 0x8000
)

var ifFlags = []struct {
	bit  int
	name string
}{
	{iffUp, "UP"}, {iffPointToPoint, "POINTOPOINT"}, {iffRunning, "RUNNING"},
	{iffLink0, "LINK0"}, {iffLink1, "LINK1"}, {iffLink2, "LINK2"}, {iffMulticast, "MULTICAST"},
}

// formatFlags shows flags as ifconfig does: "flags=8051<UP,POINTOPOINT,RUNNING,MULTICAST>".
func formatFlags(flags int) string {
	var names []string
	for _, f := range ifFlags {
		if flags&f.bit != 0 {
			names = append(names, f.name)
		}
	}
	return fmt.Sprintf("flags=%x<%s>", flags, strings.Join(names, ","))
}

// upRunning returns the flags UP and RUNNING as set.
func upRunning(up, running bool) int {
	flags := 0
	if up {
		flags |= iffUp
	}
	if running {
		flags |= iffRunning
	}
	return flags
}

// formatInterface shows one gif interface in OpenBSD's ifconfig layout. A
// bridge member also shows the Ethernet address of its TAP device; a gif
// out of a bridge that has one kept (set, or chosen when it was bridged)
// shows that, the address its TAP will have.
func formatInterface(st control.InterfaceStatus) string {
	var b strings.Builder
	flags := iffPointToPoint | iffMulticast | upRunning(st.Up, st.Running)
	fmt.Fprintf(&b, "%s: %s mtu %d\n", st.Name, formatFlags(flags), st.MTU)
	switch {
	case st.MAC != "":
		fmt.Fprintf(&b, "\tlladdr %s\n", st.MAC)
	case !st.LLAddr.IsZero():
		fmt.Fprintf(&b, "\tlladdr %s\n", st.LLAddr)
	}
	fmt.Fprintf(&b, "\tindex %d priority 0 llprio 3\n", st.Index)
	if st.Description != "" {
		fmt.Fprintf(&b, "\tdescription: %s\n", st.Description)
	}
	fmt.Fprintf(&b, "\tgroups: gif\n")
	if st.HasTunnel() {
		family := "inet"
		if st.Src.Is6() {
			family = "inet6"
		}
		df, ecn := "nodf", "ecn"
		if st.DF {
			df = "df"
		}
		if !st.ECN {
			ecn = "noecn"
		}
		fmt.Fprintf(&b, "\ttunnel: %s %s --> %s ttl %s %s %s", family, st.Src, st.Dst, tunnel.TTLString(st.TTL), df, ecn)
		if st.Domain != 0 {
			fmt.Fprintf(&b, " rdomain %d", st.Domain)
		}
		if st.NoFastpath {
			b.WriteString(" -fastpath")
		}
		b.WriteString("\n")
	}
	switch {
	case st.Plane == "":
	case st.PlaneReason != "":
		fmt.Fprintf(&b, "\tdataplane: %s (%s)\n", st.Plane, st.PlaneReason)
	default:
		fmt.Fprintf(&b, "\tdataplane: %s\n", st.Plane)
	}
	if st.LinkLocal.IsValid() {
		fmt.Fprintf(&b, "\tinet6 %s%%%s --> prefixlen 64 scopeid 0x%x\n", st.LinkLocal, st.Name, st.Index)
	}
	addrs := slices.Clone(st.Addrs)
	slices.SortStableFunc(addrs, func(a, b tunnel.Addr) int { return boolOrder(a.Is6(), b.Is6()) })
	for _, a := range addrs {
		b.WriteString(formatAddr(a))
	}
	s := st.Stats
	fmt.Fprintf(&b, "\tcounters: %d packets (%d bytes) in, %d packets (%d bytes) out, %d input errors, %d output errors\n",
		s.IPackets, s.IBytes, s.OPackets, s.OBytes, s.IErrors, s.OErrors)
	if len(s.Drops) > 0 {
		causes := make([]string, 0, len(s.Drops))
		for cause := range s.Drops {
			causes = append(causes, cause)
		}
		slices.Sort(causes)
		b.WriteString("\tdrops:")
		for _, cause := range causes {
			fmt.Fprintf(&b, " %s %d", cause, s.Drops[cause])
		}
		b.WriteString("\n")
	}
	return b.String()
}

// formatBridge shows a bridge in OpenBSD's ifconfig layout, less what gif
// cannot know of the Linux bridge: the spanning tree parameters and the
// members' flags, priorities and costs. A member's port is its interface
// index, as on OpenBSD.
func formatBridge(st control.BridgeStatus) string {
	var b strings.Builder
	flags := upRunning(st.Up, st.Running)
	for i, on := range st.Link {
		if on {
			flags |= iffLink0 << i
		}
	}
	fmt.Fprintf(&b, "%s: %s\n", st.Name, formatFlags(flags))
	fmt.Fprintf(&b, "\tindex %d llprio 3\n", st.Index)
	if st.Description != "" {
		fmt.Fprintf(&b, "\tdescription: %s\n", st.Description)
	}
	b.WriteString("\tgroups: bridge\n")
	for _, port := range st.Ports {
		switch {
		case port.Index == 0:
			fmt.Fprintf(&b, "\t%s (no such interface)\n", port.Name)
		case port.Master != st.Name:
			fmt.Fprintf(&b, "\t%s (not attached)\n", port.Name)
		default:
			fmt.Fprintf(&b, "\t%s\n\t\tport %d\n", port.Name, port.Index)
		}
	}
	return b.String()
}

// formatLink shows a Linux interface gif does not own, such as a bridge's
// Ethernet member, with only the flags gif knows: UP and RUNNING.
func formatLink(st control.LinkStatus) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s mtu %d\n", st.Name, formatFlags(upRunning(st.Up, st.Running)), st.MTU)
	if st.MAC != "" {
		fmt.Fprintf(&b, "\tlladdr %s\n", st.MAC)
	}
	fmt.Fprintf(&b, "\tindex %d\n", st.Index)
	return b.String()
}

func boolOrder(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// formatAddr shows one address as OpenBSD's ifconfig does: IPv4 with a hex
// netmask, IPv6 with its prefix length.
func formatAddr(a tunnel.Addr) string {
	local := a.Prefix.Addr()
	if local.Is4() {
		mask := ^uint32(0) << (32 - a.Prefix.Bits())
		if a.Prefix.Bits() == 0 {
			mask = 0
		}
		if a.Peer.IsValid() {
			return fmt.Sprintf("\tinet %s --> %s netmask 0x%08x\n", local, a.Peer, mask)
		}
		return fmt.Sprintf("\tinet %s netmask 0x%08x\n", local, mask)
	}
	peer := ""
	if a.Peer.IsValid() {
		peer = " --> " + a.Peer.String()
	}
	return fmt.Sprintf("\tinet6 %s%s prefixlen %d\n", local, peer, a.Prefix.Bits())
}
