package cli

import (
	"fmt"
	"io"
	"text/tabwriter"

	"gif/internal/daemon"
)

// netstatMain is `gif netstat`: -s [-p ipip] for the protocol counters as
// OpenBSD prints them, -i for the interface table.
func netstatMain(args []string, stdout, stderr io.Writer) int {
	var summary, perIface bool
	proto := ""
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-s":
			summary = true
		case "-i":
			perIface = true
		case "-p":
			if i+1 == len(args) {
				return fail(stderr, "netstat", fmt.Errorf("-p: missing protocol (want ipip)"))
			}
			i++
			proto = args[i]
		default:
			return fail(stderr, "netstat", fmt.Errorf("unknown argument %q (want -s [-p ipip] or -i)", args[i]))
		}
	}
	switch proto {
	case "", "ipip", "ipencap":
	default:
		return fail(stderr, "netstat", fmt.Errorf("-p %s: unknown protocol (gif knows ipip, also called ipencap)", proto))
	}
	if summary == perIface {
		return fail(stderr, "netstat", fmt.Errorf("give one of -s or -i"))
	}
	var st daemon.Stats
	if err := call(stderr, daemon.MethodStats, nil, &st); err != nil {
		return fail(stderr, "netstat", err)
	}
	if perIface {
		printInterfaceTable(stdout, st.Interfaces)
		return 0
	}
	s := st.IPIP
	fmt.Fprintf(stdout, "ipencap:\n")
	for _, line := range []struct {
		n    uint64
		what string
	}{
		{s.IPackets, "total input packets"},
		{s.OPackets, "total output packets"},
		{s.HDrops, "packets shorter than header shows"},
		{s.QFull, "packets dropped due to full queue"},
		{s.IBytes, "input bytes"},
		{s.OBytes, "output bytes"},
		{s.PDrops, "packets dropped by policy"},
		{s.Spoof, "packets with possibly spoofed local addresses"},
		{s.Family, "packets with bad family"},
		{s.Unspec, "attempts to use tunnel with unspecified endpoint(s)"},
	} {
		fmt.Fprintf(stdout, "\t%d %s\n", line.n, line.what)
	}
	return 0
}

func printInterfaceTable(stdout io.Writer, ifaces []daemon.InterfaceStatus) {
	w := tabwriter.NewWriter(stdout, 0, 8, 1, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "Name\tMtu\tIpkts\tIbytes\tIerrs\tOpkts\tObytes\tOerrs\tDrops\t")
	for _, st := range ifaces {
		var drops uint64
		for _, n := range st.Stats.Drops {
			drops += n
		}
		s := st.Stats
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n",
			st.Name, st.MTU, s.IPackets, s.IBytes, s.IErrors, s.OPackets, s.OBytes, s.OErrors, drops)
	}
	w.Flush()
}
