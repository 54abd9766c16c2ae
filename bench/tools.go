package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"gif/internal/tools"
)

// wireguardModule is the module whose main package is wireguard-go, and
// wireguardVersion the version the comparison is pinned to: the one whose
// tun package gif's TUN device started from.
const (
	wireguardModule  = "golang.zx2c4.com/wireguard"
	wireguardVersion = "v0.0.0-20260522210424-ecfc5a8d5446"
)

// requiredTools are the programs the run needs; `make bench` installs them.
var requiredTools = []string{"ip", "ping", "iperf3", "wg", "ethtool"}

// toolbox is what the run builds and finds before it measures anything.
type toolbox struct {
	root      string // the gif module's directory: the repository
	work      string // temporary: binaries, daemon state, keys
	gif       string // gif, built from the tree
	wireguard string // wireguard-go, built from the module proxy
	wgVersion string // what wireguard-go says, and the module version
}

// prepare checks the tools and builds gif and wireguard-go into work.
func prepare(ctx context.Context, work string) (*toolbox, error) {
	var missing []error
	for _, tool := range requiredTools {
		if _, err := tools.Path(tool); err != nil {
			missing = append(missing, err)
		}
	}
	if err := errors.Join(missing...); err != nil {
		return nil, fmt.Errorf("missing tools; `make bench` installs them:\n%w", err)
	}
	// The bench is a module of its own, so that gif's go.mod does not
	// require its plotting libraries; its go.mod replaces gif with the
	// repository it sits in.
	root, err := goOutput(ctx, "", "list", "-m", "-f", "{{.Dir}}", "gif")
	if err != nil {
		return nil, fmt.Errorf("find the gif module: run `go run .` in bench/ (make bench): %w", err)
	}
	tb := &toolbox{root: root, work: work}
	tb.gif = filepath.Join(work, "gif")
	if _, err := goOutput(ctx, tb.root, "build", "-o", tb.gif, "./cmd/gif"); err != nil {
		return nil, fmt.Errorf("build gif: %w", err)
	}
	version := wireguardVersion
	install := exec.CommandContext(ctx, "go", "install", wireguardModule+"@"+version)
	install.Dir = work // outside the module: go install pkg@version uses the module's own go.mod
	install.Env = append(os.Environ(), "GOBIN="+work)
	if out, err := install.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go install %s@%s: %w\n%s", wireguardModule, version, err, out)
	}
	tb.wireguard = filepath.Join(work, "wireguard")
	out, err := exec.CommandContext(ctx, tb.wireguard, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --version: %w", tb.wireguard, err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	tb.wgVersion = fmt.Sprintf("%s (module %s)", strings.TrimSpace(first), version)
	return tb, nil
}

// goOutput runs the go command in dir ("" for the current directory) and
// returns its standard output, trimmed.
func goOutput(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}
