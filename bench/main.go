// Command bench measures gif against the bare veth pair and wireguard-go,
// as issues 6 and 14 ask: TCP throughput, small-packet rate, ping
// latency, CPU per GB and memory of each tunnel configuration between two
// hosts in network namespaces, each IP mode on both data planes; the time
// and memory of 1,000 gifs; and the allocations of the packet-path
// micro-benchmarks; the daemon's memory under a flood of garbage. It
// writes bench/results/DATE-TIME.md and .png and the README's table.
//
// Run it as root on Debian in bench/, a module of its own: `go run .` (or
// `make bench`, which installs iperf3, wireguard-tools, iproute2,
// iputils-ping and ethtool first). BENCH_TIME (seconds per iperf3 test,
// default 10), BENCH_REPS (default 3) and BENCH_ONLY (a regular expression
// of the configurations to run; "scale", "flood" and "gobench" name the
// other parts) tune it. A run with BENCH_ONLY leaves the README alone.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// Names that BENCH_ONLY matches besides the configurations'.
const (
	scaleName   = "scale"
	floodName   = "flood"
	goBenchName = "gobench"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("bench: ")
	if err := run(); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

func run() error {
	opts, err := parseOptions(os.Getenv)
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("run as root: the benchmark builds network namespaces")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go cancelOnSignal(cancel)

	work, err := os.MkdirTemp("", "gif-bench-")
	if err != nil {
		return fmt.Errorf("create work directory: %w", err)
	}
	defer os.RemoveAll(work)
	r := &report{Started: time.Now().UTC(), Opts: opts}
	log.Print("building gif and wireguard-go")
	tb, err := prepare(ctx, work)
	if err != nil {
		return err
	}
	if r.Machine, err = describeMachine(ctx, tb.root); err != nil {
		return err
	}
	r.WireGuard = tb.wgVersion

	if opts.selected(goBenchName) {
		log.Print("go test -bench over the module")
		if r.GoBench, err = runGoBench(ctx, tb.root); err != nil {
			return err
		}
		r.GoBenchRun = true
	}
	failed := 0
	for _, c := range configs() {
		if !opts.selected(c.Name) {
			continue
		}
		log.Printf("%s: %s", c.Name, c.About)
		res := runConfig(ctx, tb, opts, c, log.Printf)
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted during %s: %w", c.Name, errors.Join(ctx.Err(), res.Err))
		}
		if res.Err != nil {
			failed++
			log.Printf("%s FAILED: %v", c.Name, res.Err)
		}
		r.Results = append(r.Results, res)
	}
	if opts.selected(scaleName) {
		log.Printf("scale: %d gifs", scaleCount)
		s := runScale(ctx, tb, log.Printf)
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted during the scale test: %w", errors.Join(ctx.Err(), s.Err))
		}
		if s.Err != nil {
			failed++
			log.Printf("scale FAILED: %v", s.Err)
		}
		r.Scale = &s
	}
	if opts.selected(floodName) {
		log.Printf("flood: %v of garbage at a gif daemon", floodTime)
		f := runFlood(ctx, tb, log.Printf)
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted during the flood test: %w", errors.Join(ctx.Err(), f.Err))
		}
		if f.Err != nil {
			failed++
			log.Printf("flood FAILED: %v", f.Err)
		}
		r.Flood = &f
	}
	r.Duration = time.Since(r.Started)

	if err := writeReport(r, tb.root, opts.Only == nil); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d part(s) failed: see the report", failed)
	}
	return nil
}

// writeReport writes the report and its chart into bench/results and, for
// a full run, the README's table.
func writeReport(r *report, root string, full bool) error {
	dir := filepath.Join(root, "bench", "results")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	base := r.Started.Format("2006-01-02-1504")
	var chartErr error
	if len(r.Results) > 0 {
		r.Chart = base + ".png"
		if chartErr = writeChart(filepath.Join(dir, r.Chart), r.Results); chartErr != nil {
			r.Chart = ""
		}
	}
	mdPath := filepath.Join(dir, base+".md")
	if err := os.WriteFile(mdPath, []byte(r.markdown()), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	log.Printf("report: %s", mdPath)
	for _, t := range evaluateTargets(r) {
		log.Print(t.line())
	}
	if chartErr != nil {
		return chartErr
	}
	if !full {
		log.Print("BENCH_ONLY is set: README.md left as it is")
		return nil
	}
	rel, err := filepath.Rel(root, mdPath)
	if err != nil {
		return fmt.Errorf("report path: %w", err)
	}
	return updateReadme(filepath.Join(root, "README.md"), r.readmeBlock(rel))
}

// cancelOnSignal cancels the run at the first SIGINT or SIGTERM, so that
// it tears its namespaces down, and exits at the second.
func cancelOnSignal(cancel context.CancelFunc) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	<-sigs
	log.Print("interrupted: tearing down (again to exit at once)")
	cancel()
	<-sigs
	os.Exit(130)
}
