package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// configNamed returns the run's configuration called name.
func configNamed(t *testing.T, name string) config {
	t.Helper()
	for _, c := range configs() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no configuration %s", name)
	return config{}
}

// fixture is a report of veth, ip4in4 (three repetitions),
// ip4in4-kernel, etherip4, wireguard-go and a failed ip6in6.
func fixture(t *testing.T) *report {
	t.Helper()
	s := func(tcp1, rtt float64) sample {
		return sample{TCP1: tcp1, TCP4: tcp1 * 2, UDPRate: 100e3, RTTP50: rtt, RTTP99: rtt * 2, CPUPerGB: 1.5}
	}
	return &report{
		Started: time.Date(2026, 11, 24, 15, 4, 0, 0, time.UTC),
		Machine: machine{Kernel: "6.18", Congestion: "bbr", CPU: "Test CPU", Cores: 2, GoVersion: "go1.26", Commit: "abc1234-dirty"},
		Opts:    options{Time: 3 * time.Second, Reps: 3},
		Results: []result{
			{Config: configNamed(t, "veth"), Samples: []sample{s(20, 30), s(18, 32), s(22, 28)}},
			{Config: configNamed(t, "ip4in4"), Samples: []sample{s(10, 70), s(12, 80), s(11, 90)}, PeakRSS: 150e6},
			{Config: configNamed(t, "ip4in4-kernel"), Samples: []sample{s(17, 45)}, PeakRSS: 10e6},
			{Config: configNamed(t, "etherip4"), Samples: []sample{s(4, 200)}, PeakRSS: 250e6, Notes: []string{"ping: 3 of 300 echo requests lost"}},
			{Config: configNamed(t, "ip6in6"), Err: errors.New("set up: gif ifconfig: boom")},
			{Config: configNamed(t, "wireguard-go"), Samples: []sample{s(5, 60)}, PeakRSS: 30e6},
		},
		Scale: &scaleResult{Count: 1000, Netstart: 8 * time.Second, AllAt: 7 * time.Second, Created: 1000, Up: 1000, IdleRSS: 12e6, RSS: 90e6, PeakRSS: 120e6,
			Destroyed: 1000, Destroy: 20 * time.Second, DestroyedRSS: 108e6, SampleCreated: 100, SampleCreate: 11 * time.Second},
		Flood:      &floodResult{Duration: 30 * time.Second, Sent: 9e6, Before: 11e6, After: 14e6, Peak: 15e6},
		GoBench:    []goBench{{"gif/internal/ipsec", "BenchmarkSeal/aes", 900, 0, 0}, {"gif/internal/outer", "BenchmarkSendRecv", 5000, 64, 2}},
		GoBenchRun: true,
	}
}

func TestTable(t *testing.T) {
	table := fixture(t).table()
	for _, want := range []string{
		"| veth | – | 1500 | 20.0 (18.0–22.0) | 40.0 (36.0–44.0) |", // the reference: no ratio
		"| ip4in4 | userspace | 1480 | 11.0 (10.0–12.0) ×0.55 | 22.0 (20.0–24.0) ×0.55 |",
		"| ip4in4-kernel | kernel | 1480 | 17.0 ×0.85 |",
		"| 80 (70–90) ×2.7 | 160 (140–180) ×2.7 |", // RTT of ip4in4 against veth's 30 and 60
		"| 150 | 0 |", // its peak RSS in MB, no fragment
		"| etherip4 | userspace | 1464 | 4.00 ×0.2 |", // one repetition: no range
		"| ip6in6 | userspace | 1460 | **failed**",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	rows := strings.Split(strings.TrimSpace(table), "\n")
	columns := strings.Count(rows[0], "|")
	for _, row := range rows {
		if strings.Count(row, "|") != columns {
			t.Errorf("row %q has %d cells, the heading %d", row, strings.Count(row, "|")-1, columns-1)
		}
	}
}

func TestTargets(t *testing.T) {
	r := fixture(t)
	got := map[string]target{}
	for _, tg := range evaluateTargets(r) {
		got[tg.Goal] = tg
	}
	for goal, want := range map[string]struct {
		status   targetStatus
		evidence string
	}{
		"Single-stream TCP through IPv4-in-IPv4 ≥ 50 % of veth":                 {met, "ip4in4 11.0 Gbit/s = 55.0 %"},
		"Single-stream TCP through EtherIP ≥ 40 % of veth":                      {notMeasured, "etherip6"},
		"Every gif mode ahead of wireguard-go on single-stream TCP":             {notMeasured, "ip6in4"},
		"gif + ESP aes-128-gcm ahead of wireguard-go on single-stream TCP":      {notMeasured, "ip4in4-esp-gcm"},
		"Median RTT overhead ≤ 50 µs over veth, every gif configuration":        {notMeasured, "ip6in6"},
		"Kernel plane: single-stream TCP through every IP mode ≥ 80 % of veth":  {notMeasured, "ip6in4-kernel"},
		"Kernel plane: TCP with 4 streams through every IP mode ≥ 80 % of veth": {notMeasured, "ip6in6-kernel"},
		"Kernel plane: median RTT overhead ≤ 20 µs over veth, every IP mode":    {notMeasured, "ip4in6-kernel"},
		"Kernel plane: CPU per GB ≤ 1.5× veth's, every IP mode":                 {notMeasured, "ip6in4-kernel"},
		"1000 gifs created in < 10s (one gif netstart)":                         {met, "1000 gifs in 8s"},
		"gif daemon RSS < 200 MB":                                               {notMet, "250 MB (etherip4)"},
		"Zero allocations per operation in the packet-path micro-benchmarks":    {notMet, "BenchmarkSendRecv 2"},
		"After 30s of garbage at full rate, the daemon's RSS < 1.5× before":     {met, "11.0 MB before, 14.0 MB after 9000000 packets: ×1.27"},
		"After 1000 gifs are destroyed, the daemon's RSS < 1.5× idle":           {notMet, "12 MB idle, 90 MB with them, 108 MB 10s after destroying them: ×9.00"},
	} {
		tg, ok := got[goal]
		if !ok {
			t.Errorf("no target %q", goal)
			continue
		}
		if tg.Status != want.status || !strings.Contains(tg.Evidence, want.evidence) {
			t.Errorf("%s: %v %q, want %v with %q", goal, tg.Status, tg.Evidence, want.status, want.evidence)
		}
	}
}

func TestTargetsCompare(t *testing.T) {
	r := fixture(t)
	// Every gif mode, measured at 6 Gbit/s and 100 µs, against wireguard-go's 5.
	var results []result
	for _, res := range r.Results {
		if res.Config.Daemon != "gif" {
			results = append(results, res)
		}
	}
	for _, c := range configs() {
		if c.Daemon == "gif" {
			results = append(results, result{Config: c, Samples: []sample{{TCP1: 6, RTTP50: 100}}, PeakRSS: 50e6})
		}
	}
	r.Results = results
	for _, tg := range evaluateTargets(r) {
		switch {
		case strings.HasPrefix(tg.Goal, "Every gif mode ahead"), strings.HasPrefix(tg.Goal, "gif + ESP"),
			strings.HasPrefix(tg.Goal, "gif daemon RSS"):
			if tg.Status != met {
				t.Errorf("%s: %v (%s), want met", tg.Goal, tg.Status, tg.Evidence)
			}
		case strings.HasPrefix(tg.Goal, "Median RTT"), strings.HasPrefix(tg.Goal, "Single-stream TCP through EtherIP"):
			// 100 - 30 µs is over 50; 6 of veth's 20 Gbit/s is under 40 %.
			if tg.Status != notMet {
				t.Errorf("%s: %v (%s), want not met", tg.Goal, tg.Status, tg.Evidence)
			}
		}
	}
	r.Scale.Netstart = 12 * time.Second
	if tg := scaleTime(r); tg.Status != notMet {
		t.Errorf("1000 gifs in 12 s: %v, want not met", tg.Status)
	}
	r.Scale.Netstart = 5 * time.Second
	r.Scale.Up = 65
	if tg := scaleTime(r); tg.Status != notMet || !strings.Contains(tg.Evidence, "1000 of 1000 created, 65 up") {
		t.Errorf("65 of 1000 gifs up: %v %q, want not met", tg.Status, tg.Evidence)
	}
	r.Scale.Created, r.Scale.Up, r.Scale.Stopped = 400, 400, "stopped: RSS"
	if tg := scaleTime(r); tg.Status != notMet || !strings.Contains(tg.Evidence, "400 of 1000") || !strings.Contains(tg.Evidence, "stopped: RSS") {
		t.Errorf("400 of 1000 gifs: %v %q, want not met", tg.Status, tg.Evidence)
	}
}

// TestKernelTargets: the kernel plane's targets are met at their limits
// and missed by the one IP mode that passes one of them.
func TestKernelTargets(t *testing.T) {
	// At the limits: 0.80 of veth's 20 and 40 Gbit/s, 20 µs over its 30,
	// 1.5 times its 0.5 CPU-s/GB.
	good := sample{TCP1: 16, TCP4: 32, RTTP50: 50, CPUPerGB: 0.75}
	results := func(worse func(*sample)) []result {
		rs := []result{{Config: configNamed(t, vethName), Samples: []sample{{TCP1: 20, TCP4: 40, RTTP50: 30, CPUPerGB: 0.5}}}}
		for i, name := range kernelModeNames {
			s := good
			if i == 2 {
				worse(&s)
			}
			rs = append(rs, result{Config: configNamed(t, name), Samples: []sample{s}})
		}
		return rs
	}
	kernelTargets := func(r *report) map[string]target {
		got := map[string]target{}
		for _, tg := range evaluateTargets(r) {
			if strings.HasPrefix(tg.Goal, "Kernel plane: ") {
				got[strings.TrimPrefix(tg.Goal, "Kernel plane: ")] = tg
			}
		}
		if len(got) != 4 {
			t.Fatalf("%d kernel plane targets, want 4: %v", len(got), got)
		}
		return got
	}
	for goal, tg := range kernelTargets(&report{Opts: options{Reps: 1}, Results: results(func(*sample) {})}) {
		if tg.Status != met {
			t.Errorf("at the limits, %s: %v (%s), want met", goal, tg.Status, tg.Evidence)
		}
	}
	for goal, worse := range map[string]func(*sample){
		"single-stream TCP through every IP mode ≥ 80 % of veth":  func(s *sample) { s.TCP1 = 15.9 },
		"TCP with 4 streams through every IP mode ≥ 80 % of veth": func(s *sample) { s.TCP4 = 31.9 },
		"median RTT overhead ≤ 20 µs over veth, every IP mode":    func(s *sample) { s.RTTP50 = 50.5 },
		"CPU per GB ≤ 1.5× veth's, every IP mode":                 func(s *sample) { s.CPUPerGB = 0.76 },
	} {
		for g, tg := range kernelTargets(&report{Opts: options{Reps: 1}, Results: results(worse)}) {
			want := met
			if g == goal {
				want = notMet
				if !strings.Contains(tg.Evidence, "ip4in6-kernel") {
					t.Errorf("%s: evidence %q does not name ip4in6-kernel", g, tg.Evidence)
				}
			}
			if tg.Status != want {
				t.Errorf("ip4in6-kernel over the limit of %q; %s: %v (%s), want %v", goal, g, tg.Status, tg.Evidence, want)
			}
		}
	}
}

func TestMarkdown(t *testing.T) {
	md := fixture(t).markdown()
	for _, want := range []string{
		"# gif benchmark, 2026-11-24 15:04 UTC",
		"- gif: abc1234-dirty",
		"- TCP congestion control: bbr",
		"- BENCH_TIME: 3 s",
		"- `ip4in4`: gif0 on the userspace plane: IPv4 in IPv4, mtu 1480",
		"- `ip4in4-kernel`: gif0 on the kernel plane: IPv4 in IPv4, mtu 1480",
		"- `etherip4`: ping: 3 of 300 echo requests lost",
		"## Failures", "set up: gif ifconfig: boom",
		"over 1000 hostname.gifN files: returned after 8s; 1000 gif devices, 1000 of them up; all 1000 devices existed after about 7s",
		"VmRSS 90 MB, VmHWM 120 MB",
		"each: 1000 in 20s (20 ms per call)",
		"namespace clean afterwards: yes",
		"(110 ms per call; 1000 calls would take about 1m50s)",
		"| gif/internal/outer | BenchmarkSendRecv | 5000 | 64 | 2 |",
		"- [x] Single-stream TCP through IPv4-in-IPv4",
		"- [ ] gif daemon RSS < 200 MB: **not met**",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestReplaceBlock(t *testing.T) {
	doc := "# T\n\n## Performance\n\n" + readmeBegin + "\nold\ntable\n" + readmeEnd + "\n\n## Commands\n"
	got, err := replaceBlock(doc, "new")
	if err != nil {
		t.Fatal(err)
	}
	if want := "# T\n\n## Performance\n\n" + readmeBegin + "\nnew\n" + readmeEnd + "\n\n## Commands\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	again, err := replaceBlock(got, "new\n")
	if err != nil || again != got {
		t.Fatalf("replacing with the same block changed the document: %q, %v", again, err)
	}
	for _, bad := range []string{"no markers\n", readmeBegin + "\nno end\n", readmeEnd + "\n" + readmeBegin + "\n",
		readmeBegin + "\n" + readmeEnd + "\n" + readmeBegin + "\n" + readmeEnd + "\n"} {
		if _, err := replaceBlock(bad, "x"); err == nil {
			t.Errorf("replaceBlock(%q) succeeded", bad)
		}
	}
}

// TestReadmeHasMarkers: the repository's README has the block the run
// rewrites.
func TestReadmeHasMarkers(t *testing.T) {
	doc, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := replaceBlock(string(doc), "x"); err != nil {
		t.Fatal(err)
	}
}

func TestWriteChart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chart.png")
	if err := writeChart(path, fixture(t).Results); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 10_000 {
		t.Fatalf("chart: %d bytes, not a PNG of a chart", len(b))
	}
	if err := writeChart(path, []result{{Config: configNamed(t, "veth"), Err: errors.New("x")}}); err == nil {
		t.Fatal("a chart of nothing was drawn")
	}
}
