package main

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// report is everything one run measured.
type report struct {
	Started   time.Time
	Duration  time.Duration
	Machine   machine
	WireGuard string // wireguard-go's version
	Opts      options
	Results   []result
	Scale     *scaleResult // nil: not run
	Flood     *floodResult // nil: not run
	// GoBench holds the packet-path micro-benchmarks, when GoBenchRun.
	GoBench    []goBench
	GoBenchRun bool
	Chart      string // file name of the chart, beside the report
}

// figure is a column of the table: one number of each sample.
type figure struct {
	Heading string
	Value   func(sample) float64
	Format  func(float64) string
}

var figures = []figure{
	{"TCP, 1 stream, Gbit/s", func(s sample) float64 { return s.TCP1 }, num},
	{fmt.Sprintf("TCP, %d streams, Gbit/s", tcpStreams), func(s sample) float64 { return s.TCP4 }, num},
	{fmt.Sprintf("UDP, %d-byte datagrams, kpps received", udpPayload), func(s sample) float64 { return s.UDPRate / 1e3 }, num},
	{"RTT p50, µs", func(s sample) float64 { return s.RTTP50 }, whole},
	{"RTT p99, µs", func(s sample) float64 { return s.RTTP99 }, whole},
	{"CPU s per GB (TCP, 1 stream)", func(s sample) float64 { return s.CPUPerGB }, num},
}

// num shows three significant digits, or all the digits of a number of
// 100 or more.
func num(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func whole(v float64) string { return fmt.Sprintf("%.0f", v) }

// ratio shows a ratio to veth with two significant digits.
func ratio(r float64) string {
	if r >= 100 {
		return fmt.Sprintf("×%.0f", r)
	}
	return "×" + strings.TrimSuffix(fmt.Sprintf("%.2g", r), ".0")
}

// cell shows a summary: the median, the range when the repetitions
// differ, and the ratio to veth's median when there is one.
func cell(s summary, f figure, veth float64, isVeth bool) string {
	if s.N == 0 {
		return "–"
	}
	out := f.Format(s.Median)
	if lo, hi := f.Format(s.Min), f.Format(s.Max); lo != hi {
		out += fmt.Sprintf(" (%s–%s)", lo, hi)
	}
	if !isVeth && veth > 0 {
		out += " " + ratio(s.Median/veth)
	}
	return out
}

// table renders one row per configuration, with the gif data plane that
// carried it.
func (r *report) table() string {
	var b strings.Builder
	b.WriteString("| configuration | gif plane | inner MTU |")
	for _, f := range figures {
		fmt.Fprintf(&b, " %s |", f.Heading)
	}
	b.WriteString(" daemon peak RSS, MB | fragments |\n|---|---|---:|")
	b.WriteString(strings.Repeat("---:|", len(figures)+2) + "\n")
	for _, res := range r.Results {
		isVeth := res.Config.Name == vethName
		plane := res.Config.Plane
		if plane == "" {
			plane = "–"
		}
		fmt.Fprintf(&b, "| %s | %s | %d |", res.Config.Name, plane, res.Config.MTU)
		if res.Err != nil {
			b.WriteString(" **failed** (see Failures) |")
			b.WriteString(strings.Repeat(" – |", len(figures)+1) + "\n")
			continue
		}
		for _, f := range figures {
			veth, _ := r.median(vethName, f.Value)
			fmt.Fprintf(&b, " %s |", cell(summarize(values(res.Samples, f.Value)), f, veth, isVeth))
		}
		rss := "–"
		if res.PeakRSS > 0 {
			rss = fmt.Sprintf("%.0f", float64(res.PeakRSS)/1e6)
		}
		fmt.Fprintf(&b, " %s | %d |\n", rss, res.Fragments)
	}
	return b.String()
}

// legend explains the table's cells.
func (r *report) legend() string {
	return fmt.Sprintf("gif plane: the data plane both gif daemons reported for gif0 after the setup, checked: kernel (eBPF programs) or userspace. "+
		"Each cell: the median of %d repetition(s), (min–max) when they differ, and ×the ratio to veth's median "+
		"of the same run. UDP counts the datagrams that arrived at the receiver (iperf3 `-u -l %d -b 0`); "+
		"RTT is %d pings at %s s intervals; CPU is the whole machine's busy time (/proc/stat, all %d cores) during the "+
		"single-stream test, per GB received. Peak RSS is VmHWM of gif's daemon or wireguard-go, the larger of the two hosts. "+
		"Fragments counts the IP fragments both hosts received (Ip ReasmReqds + Ip6ReasmReqds): 0 means every outer packet fit the 1500-byte veth.\n",
		r.Opts.Reps, udpPayload, pingCount, pingInterval, r.Machine.Cores)
}

// markdown renders the whole report.
func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# gif benchmark, %s\n\n", r.Started.Format("2006-01-02 15:04 MST"))
	only := "all"
	if r.Opts.Only != nil {
		only = "`" + r.Opts.Only.String() + "`"
	}
	for _, kv := range [][2]string{
		{"kernel", r.Machine.Kernel},
		{"TCP congestion control", r.Machine.Congestion},
		{"CPU", fmt.Sprintf("%s, %d cores", r.Machine.CPU, r.Machine.Cores)},
		{"load average at the start", r.Machine.Load},
		{"Go", r.Machine.GoVersion},
		{"gif", r.Machine.Commit},
		{"wireguard-go", r.WireGuard},
		{"BENCH_TIME", fmt.Sprintf("%d s", int(r.Opts.Time/time.Second))},
		{"BENCH_REPS", fmt.Sprint(r.Opts.Reps)},
		{"BENCH_ONLY", only},
		{"run time", r.Duration.Round(time.Second).String()},
	} {
		fmt.Fprintf(&b, "- %s: %s\n", kv[0], kv[1])
	}
	b.WriteString("\nTwo hosts in network namespaces joined by one veth pair of MTU 1500; a sends to b. Reproduce with `make bench`.\n\n")
	b.WriteString("## Throughput, packet rate, latency, CPU, memory\n\n")
	b.WriteString(r.table())
	b.WriteString("\n" + r.legend())
	if r.Chart != "" {
		fmt.Fprintf(&b, "\n![TCP throughput and median RTT per configuration](%s)\n", r.Chart)
	}
	b.WriteString("\n### Configurations\n\n")
	for _, res := range r.Results {
		fmt.Fprintf(&b, "- `%s`: %s\n", res.Config.Name, res.Config.About)
	}
	b.WriteString(r.notes())
	b.WriteString(r.failures())
	b.WriteString(r.scaleSection())
	b.WriteString(r.floodSection())
	b.WriteString(r.allocSection())
	b.WriteString("\n## Targets (issues 6 and 14)\n\n")
	for _, t := range evaluateTargets(r) {
		b.WriteString(t.line() + "\n")
	}
	return b.String()
}

func (t target) line() string {
	switch t.Status {
	case met:
		return fmt.Sprintf("- [x] %s: met (%s)", t.Goal, t.Evidence)
	case notMet:
		return fmt.Sprintf("- [ ] %s: **not met** (%s)", t.Goal, t.Evidence)
	default:
		return fmt.Sprintf("- [ ] %s: %s", t.Goal, t.Evidence)
	}
}

func (r *report) notes() string {
	var b strings.Builder
	for _, res := range r.Results {
		for _, n := range res.Notes {
			fmt.Fprintf(&b, "- `%s`: %s\n", res.Config.Name, n)
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "\n### Notes\n\n" + b.String()
}

func (r *report) failures() string {
	var b strings.Builder
	for _, res := range r.Results {
		if res.Err != nil {
			fmt.Fprintf(&b, "- `%s`:\n\n```\n%v\n```\n", res.Config.Name, res.Err)
		}
	}
	if r.Scale != nil && r.Scale.Err != nil {
		fmt.Fprintf(&b, "- scale test:\n\n```\n%v\n```\n", r.Scale.Err)
	}
	if r.Flood != nil && r.Flood.Err != nil {
		fmt.Fprintf(&b, "- flood test:\n\n```\n%v\n```\n", r.Flood.Err)
	}
	if b.Len() == 0 {
		return ""
	}
	return "\n## Failures\n\n" + b.String()
}

func (r *report) scaleSection() string {
	s := r.Scale
	if s == nil {
		return "\n## Scale\n\nNot run (BENCH_ONLY).\n"
	}
	var b strings.Builder
	b.WriteString("\n## Scale\n\n")
	fmt.Fprintf(&b, "In a fresh namespace with its own daemon, each gif with a tunnel (%s to its own 2001:db8:2::N), an inet address pair and up.\n\n", scaleSource)
	fmt.Fprintf(&b, "- `gif netstart -d DIR` over %d hostname.gifN files: ", s.Count)
	if s.Stopped == "" {
		fmt.Fprintf(&b, "returned after %v", s.Netstart.Round(time.Millisecond))
	} else {
		fmt.Fprintf(&b, "**%s**", s.Stopped)
	}
	fmt.Fprintf(&b, "; %d gif devices, %d of them up", s.Created, s.Up)
	if s.AllAt > 0 {
		fmt.Fprintf(&b, "; all %d devices existed after about %v", s.Count, s.AllAt.Round(time.Second))
	}
	b.WriteString("\n")
	if s.RSS > 0 {
		fmt.Fprintf(&b, "- daemon with them: VmRSS %.0f MB, VmHWM %.0f MB; idle before, %.0f MB\n",
			float64(s.RSS)/1e6, float64(s.PeakRSS)/1e6, float64(s.IdleRSS)/1e6)
	}
	if s.Created > 0 {
		fmt.Fprintf(&b, "- destroyed with one `gif ifconfig gifN destroy` each: %d in %v", s.Destroyed, s.Destroy.Round(time.Millisecond))
		if s.Destroyed > 0 {
			fmt.Fprintf(&b, " (%.0f ms per call)", perCall(s.Destroy, s.Destroyed))
		}
		if s.DestroyStopped != "" {
			fmt.Fprintf(&b, "; **%s**", s.DestroyStopped)
		}
		clean := "yes: no gif device, `gif ifconfig` shows nothing"
		if s.Clean != "" {
			clean = "**no**: " + s.Clean
		}
		fmt.Fprintf(&b, "\n- namespace clean afterwards: %s\n", clean)
		if s.DestroyedRSS > 0 {
			fmt.Fprintf(&b, "- daemon %v after the last destroy: VmRSS %.0f MB\n", destroySettle, float64(s.DestroyedRSS)/1e6)
		}
	}
	if s.SampleCreated > 0 {
		fmt.Fprintf(&b, "- `gif ifconfig gifN tunnel … inet … up`, one call per gif, a sample of %d in another fresh namespace: %v (%.0f ms per call; %d calls would take about %v)",
			s.SampleCreated, s.SampleCreate.Round(time.Millisecond), perCall(s.SampleCreate, s.SampleCreated),
			s.Count, (s.SampleCreate * time.Duration(s.Count) / time.Duration(s.SampleCreated)).Round(time.Second))
	}
	if s.SampleStopped != "" {
		fmt.Fprintf(&b, "; the sample stopped: **%s**", s.SampleStopped)
	}
	b.WriteString("\n")
	return b.String()
}

func (r *report) floodSection() string {
	f := r.Flood
	if f == nil {
		return "\n## Flood\n\nNot run (BENCH_ONLY).\n"
	}
	var b strings.Builder
	b.WriteString("\n## Flood\n\n")
	fmt.Fprintf(&b, "b sends random and malformed outer packets of protocols 4, 41, 97 and 50, over IPv4 and IPv6, as fast as its raw sockets take them, "+
		"to a, whose daemon has a gif of each family and a bridged one with b as their tunnel peer and an SA pair with b.\n\n")
	if f.Before == 0 {
		b.WriteString("Not measured: see the failures.\n")
		return b.String()
	}
	fmt.Fprintf(&b, "- %d packets in %v (%.0f kpps)\n", f.Sent, f.Duration.Round(time.Millisecond), float64(f.Sent)/f.Duration.Seconds()/1e3)
	fmt.Fprintf(&b, "- daemon VmRSS %.1f MB before, %.1f MB at the end (×%.2f); VmHWM %.1f MB\n",
		float64(f.Before)/1e6, float64(f.After)/1e6, float64(f.After)/float64(f.Before), float64(f.Peak)/1e6)
	return b.String()
}

func perCall(d time.Duration, calls int) float64 {
	return float64(d) / float64(time.Millisecond) / float64(calls)
}

func (r *report) allocSection() string {
	var b strings.Builder
	b.WriteString("\n## Allocations on the packet path\n\n")
	if !r.GoBenchRun {
		b.WriteString("Not run (BENCH_ONLY).\n")
		return b.String()
	}
	fmt.Fprintf(&b, "`go test -run '^$' -bench . -benchmem ./...`, the benchmarks whose names match `%s`:\n\n", packetPathBench)
	if len(r.GoBench) == 0 {
		b.WriteString("none.\n")
		return b.String()
	}
	b.WriteString("| package | benchmark | ns/op | B/op | allocs/op |\n|---|---|---:|---:|---:|\n")
	for _, g := range r.GoBench {
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %d |\n", g.Package, g.Name, num(g.NsPerOp), g.BytesPerOp, g.AllocsPerOp)
	}
	return b.String()
}

// readmeBlock is what the README shows between its bench markers.
func (r *report) readmeBlock(reportPath string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Last run: %s, %s (%d cores), Linux %s, TCP %s, gif %s, %s, BENCH_TIME %d s × %d; full report: [%s](%s).\n\n",
		r.Started.Format("2006-01-02"), r.Machine.CPU, r.Machine.Cores, r.Machine.Kernel, r.Machine.Congestion,
		r.Machine.Commit, r.WireGuard, int(r.Opts.Time/time.Second), r.Opts.Reps, reportPath, reportPath)
	b.WriteString(r.table())
	b.WriteString("\n" + r.legend())
	targets := evaluateTargets(r)
	n := 0
	for _, t := range targets {
		if t.Status == met {
			n++
		}
	}
	fmt.Fprintf(&b, "\nTargets of issues 6 and 14 met: %d of %d.\n", n, len(targets))
	return b.String()
}
