package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// goBenchTimeout bounds `go test -bench` over the whole module.
const goBenchTimeout = 20 * time.Minute

// packetPathBench matches the micro-benchmarks of the per-packet path,
// whose allocations per operation the report lists: encapsulation, ESP,
// the outer sockets, the TAP's segmentation and coalescing, and the data
// plane's drops of every kind (BenchmarkDrop in internal/dataplane).
var packetPathBench = regexp.MustCompile(`(?i)encap|decap|etherip|seal|open|send|recv|split|coalesce|drop`)

// goBench is one line of `go test -bench -benchmem` output.
type goBench struct {
	Package     string
	Name        string // without the -GOMAXPROCS suffix
	NsPerOp     float64
	BytesPerOp  int64
	AllocsPerOp int64
}

// runGoBench runs every micro-benchmark of the gif module in root once, with memory
// statistics, and returns those of the packet path.
func runGoBench(ctx context.Context, root string) ([]goBench, error) {
	ctx, cancel := context.WithTimeout(ctx, goBenchTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", ".", "-benchmem", "./...")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench: %w\n%s", err, out)
	}
	all, err := parseGoBench(string(out))
	if err != nil {
		return nil, err
	}
	var path []goBench
	for _, b := range all {
		if packetPathBench.MatchString(b.Name) {
			path = append(path, b)
		}
	}
	return path, nil
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// parseGoBench reads the benchmark lines of `go test -bench -benchmem`,
// with the package named by the "pkg:" line before them.
func parseGoBench(out string) ([]goBench, error) {
	var benches []goBench
	pkg := ""
	for line := range strings.Lines(out) {
		line = strings.TrimRight(line, "\n")
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = p
			continue
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		b := goBench{Package: pkg, Name: m[1], BytesPerOp: -1, AllocsPerOp: -1}
		fields := strings.Fields(m[2])
		for i := 0; i+1 < len(fields); i += 2 {
			v, unit := fields[i], fields[i+1]
			var err error
			switch unit {
			case "ns/op":
				b.NsPerOp, err = strconv.ParseFloat(v, 64)
			case "B/op":
				b.BytesPerOp, err = strconv.ParseInt(v, 10, 64)
			case "allocs/op":
				b.AllocsPerOp, err = strconv.ParseInt(v, 10, 64)
			}
			if err != nil {
				return nil, fmt.Errorf("benchmark line %q: %s: %w", line, unit, err)
			}
		}
		if b.AllocsPerOp < 0 {
			return nil, fmt.Errorf("benchmark line %q has no allocs/op: run with -benchmem", line)
		}
		benches = append(benches, b)
	}
	return benches, nil
}
