package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"gif/internal/conf/hostname"
	"gif/internal/control"
	"gif/internal/ipsec/policy"
	"gif/internal/tunnel"
)

// DefaultConfDir is where netstart reads its files, as /etc on OpenBSD.
const DefaultConfDir = "/etc/gif"

// netstartMain is `gif netstart [-d DIR] [-n] [IF ...]`: OpenBSD's
// netstart(8) for gif's files. It applies DIR/sysctl.conf, then every
// DIR/hostname.IF (or those of the interfaces named) in netstart's order.
// A file with an error is reported with its line and not applied; the
// others still are. Running it again changes nothing.
func netstartMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gif netstart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("d", DefaultConfDir, "read the files in `DIR`")
	dryRun := fs.Bool("n", false, "print the commands instead of running them")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	n := &netstart{dir: *dir, dryRun: *dryRun, stdout: stdout, stderr: stderr}
	if err := n.run(fs.Args()); err != nil {
		return fail(stderr, "netstart", err)
	}
	if n.failed > 0 {
		return 1
	}
	return 0
}

type netstart struct {
	dir            string
	dryRun         bool
	stdout, stderr io.Writer
	failed         int
	running        control.ShowResult // what the daemon has, to skip what is done
}

func (n *netstart) run(only []string) error {
	if _, err := os.Stat(n.dir); err != nil {
		return err
	}
	files, err := hostname.LoadDir(n.dir, only...)
	for _, e := range unjoin(err) {
		n.report(e) // that interface stays as it was; the others start
	}
	if !n.dryRun {
		if err := call(n.stderr, control.MethodShow, control.ShowParams{}, &n.running); err != nil {
			return err
		}
	}
	if len(only) == 0 {
		n.sysctlConf()
	}
	for _, f := range files {
		n.start(f)
	}
	if len(only) == 0 {
		n.loadIPsec()
	}
	return nil
}

// unjoin returns the errors that errors.Join put together in err.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		return joined.Unwrap()
	}
	return []error{err}
}

// sysctlConf applies DIR/sysctl.conf before any interface, as netstart's
// caller rc(8) does.
func (n *netstart) sysctlConf() {
	path := filepath.Join(n.dir, "sysctl.conf")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		n.report(err)
		return
	}
	settings, err := hostname.ParseSysctlConf(path, data)
	if err != nil {
		n.report(err)
		return
	}
	for _, s := range settings {
		arg := s.Name + "=" + s.Value
		if n.dryRun {
			fmt.Fprintf(n.stdout, "gif sysctl %s\n", arg)
			continue
		}
		var v control.SysctlValue
		if err := call(n.stderr, control.MethodSysctlSet, control.SysctlSetParams{Name: s.Name, Value: s.Value}, &v); err != nil {
			n.report(fmt.Errorf("%s:%d: %w", path, s.Line, err))
		}
	}
}

// start applies one hostname.IF file whole or not at all. Its ifconfig
// lines, after the creation of its gif or bridge when that does not exist
// yet, go to the daemon as one transaction. A file with !commands is
// checked whole first (a dry run: the daemon changes nothing), then the
// lines before, between and after them go as one transaction each, with
// the !commands run in between; what a !command did stays when a later
// part fails.
func (n *netstart) start(f *hostname.File) {
	for _, w := range f.Warnings {
		fmt.Fprintf(n.stderr, "gif netstart: warning: %s\n", w)
	}
	virtual := tunnel.IsGif(f.Interface) || tunnel.IsBridge(f.Interface)
	if n.dryRun {
		if virtual {
			fmt.Fprintf(n.stdout, "gif ifconfig %s create\n", f.Interface)
		}
		for _, c := range f.Commands() {
			fmt.Fprintln(n.stdout, c)
		}
		return
	}
	create := virtual && !n.exists(f.Interface)
	send := func(steps []hostname.Step, dryRun bool) bool {
		t := n.skipDone(f.Transaction(steps, create))
		if len(t.Commands) == 0 {
			return true
		}
		err := call(n.stderr, control.MethodTransaction, control.TransactionParams{Transaction: t, DryRun: dryRun}, nil)
		if err != nil && !strings.HasPrefix(err.Error(), f.Name+":") {
			err = fmt.Errorf("%s: %w", f.Name, err) // not the daemon's answer, which names the line
		}
		if err != nil {
			n.report(err)
			return false
		}
		return true
	}
	hasShell := slices.ContainsFunc(f.Steps, func(s hostname.Step) bool { return s.Shell != "" })
	if hasShell && !send(f.Steps, true) {
		return
	}
	var part []hostname.Step
	for _, step := range f.Steps {
		if step.Shell == "" {
			part = append(part, step)
			continue
		}
		if !send(part, false) {
			return
		}
		part, create = nil, false
		cmd := exec.Command("/bin/sh", "-c", step.Shell)
		cmd.Stdout, cmd.Stderr = n.stdout, n.stderr
		if err := cmd.Run(); err != nil {
			n.report(fmt.Errorf("%s:%d: !%s: %w", f.Name, step.Line, step.Shell, err))
			return
		}
	}
	send(part, false)
}

// exists reports whether the daemon had a gif or bridge called name when
// netstart began.
func (n *netstart) exists(name string) bool {
	return slices.ContainsFunc(n.running.Interfaces, func(s control.InterfaceStatus) bool { return s.Name == name }) ||
		slices.ContainsFunc(n.running.Bridges, func(b control.BridgeStatus) bool { return b.Name == name })
}

// skipDone drops from t the bridge members that the running configuration
// already has, which ifconfig would refuse to add a second time, so that
// netstart can run again and change nothing.
func (n *netstart) skipDone(t tunnel.Transaction) tunnel.Transaction {
	members := make(map[string][]string)
	for _, b := range n.running.Bridges {
		members[b.Name] = b.Members
	}
	commands := t.Commands[:0:0]
	for _, c := range t.Commands {
		c.Ops = slices.DeleteFunc(slices.Clone(c.Ops), func(op tunnel.Op) bool {
			return op.Kind == tunnel.OpBridgeAdd && slices.Contains(members[c.Name], op.Text)
		})
		if len(c.Ops) > 0 {
			commands = append(commands, c)
		}
	}
	t.Commands = commands
	return t
}

// loadIPsec loads DIR/ipsec.conf after the interfaces, as OpenBSD's rc
// runs ipsecctl after netstart. Its key files are read relative to DIR.
func (n *netstart) loadIPsec() {
	path := filepath.Join(n.dir, "ipsec.conf")
	if _, err := os.Stat(path); err != nil {
		return
	}
	if n.dryRun {
		fmt.Fprintf(n.stdout, "cd %s && gif ipsecctl -f ipsec.conf\n", n.dir)
		return
	}
	cfg, err := readIPsecConfIn(n.dir, "ipsec.conf")
	if err != nil {
		n.report(err)
		return
	}
	var st control.IPsecStatus
	if err := call(n.stderr, control.MethodIPsecLoad, cfg, &st); err != nil {
		n.report(fmt.Errorf("%s: %w", path, err))
	}
}

// readIPsecConfIn parses dir/name with dir as the working directory, so
// that relative key file names are read from dir.
func readIPsecConfIn(dir, name string) (*policy.Config, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	if err := os.Chdir(dir); err != nil {
		return nil, err
	}
	defer os.Chdir(wd)
	return readIPsecConf(filepath.Join(dir, name))
}

func (n *netstart) report(err error) {
	n.failed++
	fmt.Fprintf(n.stderr, "gif netstart: %v\n", err)
}
