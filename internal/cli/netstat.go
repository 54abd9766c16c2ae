package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"gif/internal/control"
	"gif/internal/ipsec"
	"gif/internal/tunnel"
)

// netstatMain is `gif netstat`: -s [-p ipip|etherip] for the protocol
// counters as OpenBSD prints them, -i for the interface table.
func netstatMain(args []string, stdout, stderr io.Writer) int {
	v, err := parseNetstat(args)
	if err != nil {
		return fail(stderr, "netstat", err)
	}
	var st control.Stats
	if err := call(stderr, control.MethodStats, nil, &st); err != nil {
		return fail(stderr, "netstat", err)
	}
	v.print(stdout, st)
	return 0
}

// netstatView is what one netstat command shows.
type netstatView struct {
	interfaces bool   // -i; otherwise -s
	proto      string // -p: "" for every protocol, "ipip" (or "ipencap") or "etherip"
}

func parseNetstat(args []string) (netstatView, error) {
	var v netstatView
	summary := false
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-s":
			summary = true
		case "-i":
			v.interfaces = true
		case "-p":
			if i+1 == len(args) {
				return v, fmt.Errorf("-p: missing protocol (want ipip or etherip)")
			}
			i++
			v.proto = args[i]
		default:
			return v, fmt.Errorf("unknown argument %q (want -s [-p ipip|etherip|esp] or -i)", args[i])
		}
	}
	switch v.proto {
	case "", "ipip", "ipencap", "etherip", "esp":
	default:
		return v, fmt.Errorf("-p %s: unknown protocol (gif knows ipip, also called ipencap, etherip and esp)", v.proto)
	}
	if summary == v.interfaces {
		return v, fmt.Errorf("give one of -s or -i")
	}
	return v, nil
}

func (v netstatView) print(w io.Writer, st control.Stats) {
	if v.interfaces {
		printInterfaceTable(w, st.Interfaces)
		return
	}
	if v.proto == "" || v.proto == "ipip" || v.proto == "ipencap" {
		printIPIPStats(w, st.IPIP)
		printKernelPlane(w, st)
	}
	if v.proto == "" || v.proto == "etherip" {
		printEtherIPStats(w, st.EtherIP)
	}
	if v.proto == "" || v.proto == "esp" {
		printESPStats(w, st.ESP)
	}
}

// printESPStats prints the espstat counters gif keeps, in OpenBSD's words.
func printESPStats(w io.Writer, s ipsec.Stats) {
	printProtocolStats(w, "esp", []stat{
		{s.Input, "input ESP packet%s", "s"},
		{s.Output, "output ESP packet%s", "s"},
		{s.HDrops, "packet%s shorter than header shows", "s"},
		{s.PDrops, "packet%s dropped due to policy", "s"},
		{s.NotDB, "packet%s for which no TDB was found", "s"},
		{s.BadAuth, "packet%s that failed verification received", "s"},
		{s.BadILen, "packet%s with bad payload size or padding received", "s"},
		{s.Replay, "possibly replayed packet%s received", "s"},
		{s.Wrap, "packet%s where counter wrapping was detected", "s"},
		{s.IBytes, "input byte%s", "s"},
		{s.OBytes, "output byte%s", "s"},
	})
}

func printIPIPStats(w io.Writer, s tunnel.IPIPStats) {
	printProtocolStats(w, "ipencap", []stat{
		{s.IPackets, "total input packet%s", "s"},
		{s.OPackets, "total output packet%s", "s"},
		{s.HDrops, "packet%s shorter than header shows", "s"},
		{s.PDrops, "packet%s dropped due to policy", "s"},
		{s.Spoof, "packet%s with possibly spoofed local addresses", "s"},
		{s.QFull, "packet%s were dropped due to full output queue", "s"},
		{s.IBytes, "input byte%s", "s"},
		{s.OBytes, "output byte%s", "s"},
		{s.Family, "protocol family mismatch%s", "es"},
		{s.Unspec, "attempt%s to use tunnel with unspecified endpoint(s)", "s"},
	})
}

// printKernelPlane prints, when the kernel plane runs, how many packets
// its programs carried and how many they handed to the userspace plane for
// each reason that counted any.
func printKernelPlane(w io.Writer, st control.Stats) {
	if st.KernelPassed == nil {
		return
	}
	stats := []stat{{st.KernelCarried, "packet%s carried in the kernel", "s"}}
	for _, p := range st.KernelPassed {
		if p.Packets != 0 {
			stats = append(stats, stat{p.Packets, "packet%s passed to the userspace plane: " + strings.ReplaceAll(p.Reason, "%", "%%"), "s"})
		}
	}
	printProtocolStats(w, "kernel plane", stats)
}

func printEtherIPStats(w io.Writer, s tunnel.EtherIPStats) {
	printProtocolStats(w, "etherip", []stat{
		{s.HDrops, "packet%s shorter than header shows", "s"},
		{s.QFull, "packet%s were dropped due to full output queue", "s"},
		{s.NoIfDrops, "packet%s were dropped because of no interface/bridge information", "s"},
		{s.PDrops, "packet%s dropped due to policy", "s"},
		{s.ADrops, "packet%s dropped for other reasons", "s"},
		{s.IPackets, "input ethernet-in-IP packet%s", "s"},
		{s.OPackets, "output ethernet-in-IP packet%s", "s"},
		{s.IBytes, "input byte%s", "s"},
		{s.OBytes, "output byte%s", "s"},
	})
}

// stat is one line of netstat -s: a counter and its words, where %s takes
// the line's plural ending ("s", or "es" as OpenBSD's plurales) when the
// counter is not 1.
type stat struct {
	n      uint64
	text   string
	plural string
}

func printProtocolStats(w io.Writer, name string, stats []stat) {
	fmt.Fprintf(w, "%s:\n", name)
	for _, s := range stats {
		plural := ""
		if s.n != 1 {
			plural = s.plural
		}
		fmt.Fprintf(w, "\t%d %s\n", s.n, fmt.Sprintf(s.text, plural))
	}
}

func printInterfaceTable(stdout io.Writer, ifaces []control.InterfaceStatus) {
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
