package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"

	"gif/internal/tools"
)

// machine describes where a run happened, for the report's header.
type machine struct {
	Kernel    string
	CPU       string
	Cores     int
	GoVersion string
	Commit    string // short hash, "-dirty" when the tree has changes
	// Congestion is TCP's congestion control, which the hosts' namespaces
	// inherit: the multi-stream figures depend on it (docs/PERFORMANCE.md).
	Congestion string
	// Load is /proc/loadavg's 1-, 5- and 15-minute averages when the run
	// started: other work on the machine makes the figures noisy.
	Load string
}

func describeMachine(ctx context.Context, root string) (machine, error) {
	m := machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version()}
	release, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return m, fmt.Errorf("read kernel release: %w", err)
	}
	m.Kernel = strings.TrimSpace(string(release))
	cpuinfo, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return m, fmt.Errorf("read CPU model: %w", err)
	}
	m.CPU = cpuModel(string(cpuinfo))
	congestion, err := os.ReadFile("/proc/sys/net/ipv4/tcp_congestion_control")
	if err != nil {
		return m, fmt.Errorf("read TCP congestion control: %w", err)
	}
	m.Congestion = strings.TrimSpace(string(congestion))
	loadavg, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return m, fmt.Errorf("read load average: %w", err)
	}
	if f := strings.Fields(string(loadavg)); len(f) >= 3 {
		m.Load = strings.Join(f[:3], " ")
	}
	m.Commit = gitCommit(ctx, root)
	return m, nil
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel(cpuinfo string) string {
	for line := range strings.Lines(cpuinfo) {
		name, value, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown"
}

// gitCommit returns the short hash of HEAD, with "-dirty" when the work
// tree differs from it, or says why there is none.
func gitCommit(ctx context.Context, root string) string {
	git := func(args ...string) (string, error) {
		cmd, err := tools.Command(ctx, "git", args...)
		if err != nil {
			return "", err
		}
		cmd.Dir = root
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err
	}
	head, err := git("rev-parse", "--short", "HEAD")
	if err != nil {
		return fmt.Sprintf("unknown (git rev-parse: %v)", err)
	}
	status, err := git("status", "--porcelain")
	if err != nil {
		return head + " (git status failed)"
	}
	if status != "" {
		return head + "-dirty"
	}
	return head
}
