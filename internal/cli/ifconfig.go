package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"gif/internal/conf/ifconfig"
	"gif/internal/daemon"
	"gif/internal/tunnel"
)

// ifconfigMain is `gif ifconfig`: with an interface and parameters it
// configures, otherwise it shows.
func ifconfigMain(args []string, stdout, stderr io.Writer) int {
	asJSON := false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && len(args[0]) > 1 {
		switch args[0] {
		case "-a":
		case "-j":
			asJSON = true
		default:
			return fail(stderr, "ifconfig", fmt.Errorf("unknown flag %q (want -a or -j)", args[0]))
		}
		args = args[1:]
	}
	if len(args) > 1 {
		name := args[0]
		ops, err := ifconfig.Parse(name, args[1:])
		if err != nil {
			return fail(stderr, "ifconfig", fmt.Errorf("%s: %w", name, err))
		}
		var st daemon.InterfaceStatus
		if err := call(stderr, daemon.MethodIfconfig, daemon.IfconfigParams{Name: name, Ops: ops}, &st); err != nil {
			return fail(stderr, "ifconfig", err)
		}
		return 0
	}
	var p daemon.ShowParams
	if len(args) == 1 {
		p.Name = args[0]
	}
	var all []daemon.InterfaceStatus
	if err := call(stderr, daemon.MethodShow, p, &all); err != nil {
		return fail(stderr, "ifconfig", err)
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(all); err != nil {
			return fail(stderr, "ifconfig", err)
		}
		return 0
	}
	for _, st := range all {
		io.WriteString(stdout, formatInterface(st))
	}
	return 0
}

// Interface flags as OpenBSD numbers and names them.
var ifFlags = []struct {
	bit  int
	name string
}{
	{0x1, "UP"}, {0x10, "POINTOPOINT"}, {0x40, "RUNNING"}, {0x8000, "MULTICAST"},
}

// formatInterface shows one interface in OpenBSD's ifconfig layout.
func formatInterface(st daemon.InterfaceStatus) string {
	var b strings.Builder
	flags := 0x10 | 0x8000
	if st.Up {
		flags |= 0x1
	}
	if st.Running {
		flags |= 0x40
	}
	var names []string
	for _, f := range ifFlags {
		if flags&f.bit != 0 {
			names = append(names, f.name)
		}
	}
	fmt.Fprintf(&b, "%s: flags=%x<%s> mtu %d\n", st.Name, flags, strings.Join(names, ","), st.MTU)
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
		b.WriteString("\n")
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
