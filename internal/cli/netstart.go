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

	"gif/internal/conf/hostname"
	"gif/internal/conf/ipsecconf"
	"gif/internal/daemon"
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
	running        daemon.ShowResult // what the daemon has, to skip what is done
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
		if err := call(n.stderr, daemon.MethodShow, daemon.ShowParams{}, &n.running); err != nil {
			return err
		}
	}
	if len(only) == 0 {
		n.sysctlConf()
	}
	n.createVirtual(files)
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

// createVirtual creates every gif and bridge that has a file before any
// file is applied, as OpenBSD's netstart creates pseudo-interfaces first.
func (n *netstart) createVirtual(files []*hostname.File) {
	for _, f := range files {
		ifname := f.Interface
		if !tunnel.IsGif(ifname) && !tunnel.IsBridge(ifname) {
			continue
		}
		if n.dryRun {
			fmt.Fprintf(n.stdout, "gif ifconfig %s create\n", ifname)
			continue
		}
		ops := n.skipDone(ifname, []tunnel.Op{{Kind: tunnel.OpCreate, Token: "create"}})
		if len(ops) == 0 {
			continue
		}
		if err := call(n.stderr, daemon.MethodIfconfig, daemon.IfconfigParams{Name: ifname, Ops: ops}, nil); err != nil {
			n.report(fmt.Errorf("%s: %w", f.Name, err))
		}
	}
	if !n.dryRun {
		// What exists now is what the later files must not create again.
		if err := call(n.stderr, daemon.MethodShow, daemon.ShowParams{}, &n.running); err != nil {
			n.report(err)
		}
	}
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
		var v daemon.SysctlValue
		if err := call(n.stderr, daemon.MethodSysctlSet, daemon.SysctlSetParams{Name: s.Name, Value: s.Value}, &v); err != nil {
			n.report(fmt.Errorf("%s:%d: %w", path, s.Line, err))
		}
	}
}

// start applies one hostname.IF file: its ifconfig lines, each run of them
// as one command (all or nothing), and its !commands in between.
func (n *netstart) start(f *hostname.File) {
	ifname, path := f.Interface, f.Name
	for _, w := range f.Warnings {
		fmt.Fprintf(n.stderr, "gif netstart: warning: %s\n", w)
	}
	if n.dryRun {
		for _, c := range f.Commands() {
			fmt.Fprintln(n.stdout, c)
		}
		return
	}
	var ops []tunnel.Op
	flush := func() bool {
		ops = n.skipDone(ifname, ops)
		if len(ops) == 0 {
			return true
		}
		var r daemon.ShowResult
		err := call(n.stderr, daemon.MethodIfconfig, daemon.IfconfigParams{Name: ifname, Ops: ops}, &r)
		ops = nil
		if err != nil {
			n.report(fmt.Errorf("%s: %w", path, err))
			return false
		}
		return true
	}
	for _, step := range f.Steps {
		if step.Shell == "" {
			ops = append(ops, step.Ops...)
			continue
		}
		if !flush() {
			return
		}
		cmd := exec.Command("/bin/sh", "-c", step.Shell)
		cmd.Stdout, cmd.Stderr = n.stdout, n.stderr
		if err := cmd.Run(); err != nil {
			n.report(fmt.Errorf("%s:%d: !%s: %w", path, step.Line, step.Shell, err))
			return
		}
	}
	flush()
}

// skipDone drops the operations that the running configuration already
// satisfies and that ifconfig would refuse a second time (create of an
// interface that exists, add of a member already there), so that netstart
// can run again and change nothing.
func (n *netstart) skipDone(ifname string, ops []tunnel.Op) []tunnel.Op {
	exists := slices.ContainsFunc(n.running.Interfaces, func(s daemon.InterfaceStatus) bool { return s.Name == ifname })
	var members []string
	for _, b := range n.running.Bridges {
		if b.Name == ifname {
			exists, members = true, b.Members
		}
	}
	return slices.DeleteFunc(ops, func(op tunnel.Op) bool {
		switch op.Kind {
		case tunnel.OpCreate:
			return exists
		case tunnel.OpBridgeAdd:
			return slices.Contains(members, op.Text)
		}
		return false
	})
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
	var st daemon.IPsecStatus
	if err := call(n.stderr, daemon.MethodIPsecLoad, cfg, &st); err != nil {
		n.report(fmt.Errorf("%s: %w", path, err))
	}
}

// readIPsecConfIn parses dir/name with dir as the working directory, so
// that relative key file names are read from dir.
func readIPsecConfIn(dir, name string) (*ipsecconf.Config, error) {
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
