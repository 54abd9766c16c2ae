// Package netns builds throwaway hosts in Linux network namespaces for the
// integration tests and for gif demo: namespaces joined by veth pairs,
// commands and background processes run inside them, and checks against
// independent tools (iputils ping, tshark).
//
// It shells out to iproute2, so every step reads like the ip(8) command a
// person would type. It holds what gif demo needs, and is linked into gif;
// what only the tests need (a lab bound to a test, strongSwan, scapy) is in
// netnstest.
package netns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gif/internal/tools"
)

// netnsDir is where `ip netns add` mounts named namespaces.
const netnsDir = "/run/netns"

// commandTimeout bounds the ip(8) commands the lab runs for itself.
const commandTimeout = 10 * time.Second

var (
	errClosed = errors.New("lab closed")
	labSeq    atomic.Int64
)

// Lab is a set of hosts. Every namespace it creates is named with a prefix
// unique to the lab, so the labs of concurrent tests and processes never
// meet. Its methods may be called from several goroutines, and Close from a
// signal handler while other calls are in flight.
type Lab struct {
	prefix string
	dir    string // capture files

	mu     sync.Mutex
	logf   func(format string, args ...any) // receives process output at Close; nil discards it
	closed bool
	hosts  []*Host
	procs  []*Proc
}

// NewLab returns an empty lab whose namespaces are named prefix, the process
// id modulo 10000, a sequence number, "-" and the host name, such as
// "gift04821-a". Close it to delete everything it made.
func NewLab(prefix string) (*Lab, error) {
	if err := supported(); err != nil {
		return nil, err
	}
	if prefix == "" || strings.ContainsAny(prefix, "/- \t\n") {
		return nil, fmt.Errorf("new lab: prefix %q: want a short word", prefix)
	}
	if _, err := tools.Path("ip"); err != nil {
		return nil, err
	}
	// Skip lab prefixes left behind by a crashed process with a colliding pid.
	// The directory is missing until the first `ip netns add` on the machine.
	existing, _ := os.ReadDir(netnsDir)
	var labPrefix string
	taken := func(e os.DirEntry) bool { return strings.HasPrefix(e.Name(), labPrefix) }
	for {
		labPrefix = fmt.Sprintf("%s%04d%d-", prefix, os.Getpid()%10000, labSeq.Add(1))
		if !slices.ContainsFunc(existing, taken) {
			break
		}
	}
	dir, err := os.MkdirTemp("", labPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("new lab: %w", err)
	}
	return &Lab{prefix: labPrefix, dir: dir}, nil
}

// LogOutputTo makes Close pass the output of each process the lab started
// to logf, such as a test's Logf.
func (l *Lab) LogOutputTo(logf func(format string, args ...any)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.logf = logf
}

// Close kills the processes the lab started and any other process left in
// its namespaces, then deletes the namespaces, which destroys their
// interfaces. Only the first call does anything.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	hosts, procs, logf := l.hosts, l.procs, l.logf
	l.mu.Unlock()

	for _, p := range procs {
		p.Kill9() // Any exit status will do: it is going away.
		if out := p.Output(); logf != nil && out != "" {
			logf("output of %s:\n%s", p, out)
		}
	}
	var errs []error
	for _, h := range hosts {
		errs = append(errs, h.delete())
	}
	if err := os.RemoveAll(l.dir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close lab %s: %w", l.prefix, err)
	}
	return nil
}

// Host is a network namespace of a lab, with its loopback interface up.
type Host struct {
	lab  *Lab
	name string
}

// Host creates a namespace for a host called name.
func (l *Lab) Host(name string) (*Host, error) {
	h := &Host{lab: l, name: l.prefix + name}
	if err := l.addHost(h); err != nil {
		return nil, fmt.Errorf("add host %s: %w", name, err)
	}
	if err := h.ip("link", "set", "lo", "up"); err != nil {
		return nil, fmt.Errorf("add host %s: %w", name, err)
	}
	return h, nil
}

// addHost creates h's namespace under the lock, so that Close either sees
// it or refuses it.
func (l *Lab) addHost(h *Host) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errClosed
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	if _, err := command(ctx, "ip", "netns", "add", h.name); err != nil {
		return err
	}
	l.hosts = append(l.hosts, h)
	return nil
}

// Name returns the name of h's namespace, as `ip netns list` shows it.
func (h *Host) Name() string { return h.name }

func (h *Host) String() string { return h.name }

// Link joins a and b with a veth pair named aIf in a and bIf in b, and sets
// both ends up. The pair is created inside a, so no interface ever appears
// in the namespace the lab runs in.
func (l *Lab) Link(a *Host, aIf string, b *Host, bIf string) error {
	err := a.ip("link", "add", aIf, "type", "veth", "peer", "name", bIf, "netns", b.name)
	if err == nil {
		err = a.ip("link", "set", aIf, "up")
	}
	if err == nil {
		err = b.ip("link", "set", bIf, "up")
	}
	if err != nil {
		return fmt.Errorf("link %s %s to %s %s: %w", a, aIf, b, bIf, err)
	}
	return nil
}

// AddAddr adds the address cidr, such as "192.0.2.1/24", to ifname. IPv6
// addresses skip duplicate address detection so they can be used at once.
func (h *Host) AddAddr(ifname, cidr string) error {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return fmt.Errorf("add address to %s in %s: %w", ifname, h, err)
	}
	args := []string{"addr", "add", cidr, "dev", ifname}
	if p.Addr().Is6() {
		args = append(args, "nodad")
	}
	return h.ip(args...)
}

// Run runs the command name inside h and returns its standard output. The
// error names the command line and carries its standard error.
func (h *Host) Run(ctx context.Context, name string, args ...string) (stdout string, err error) {
	cmd, err := h.command(ctx, name, args)
	if err != nil {
		return "", err
	}
	return run(cmd)
}

// command returns the command that runs name inside h.
func (h *Host) command(ctx context.Context, name string, args []string) (*exec.Cmd, error) {
	path, err := tools.Path(name)
	if err != nil {
		return nil, err
	}
	return tools.Command(ctx, "ip", append([]string{"netns", "exec", h.name, path}, args...)...)
}

// ip runs `ip -n NAME args...`.
func (h *Host) ip(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	_, err := command(ctx, "ip", append([]string{"-n", h.name}, args...)...)
	return err
}

// Pids returns the processes in h's namespace. It asks from outside: a
// command run inside h would list itself.
func (h *Host) Pids(ctx context.Context) ([]int, error) {
	out, err := command(ctx, "ip", "netns", "pids", h.name)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, field := range strings.Fields(out) {
		pid, err := strconv.Atoi(field)
		if err != nil {
			return nil, fmt.Errorf("ip netns pids %s: %q is not a pid", h.name, field)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// delete kills what is left running in h and deletes its namespace.
func (h *Host) delete() error {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	pids, err := h.Pids(ctx)
	if err != nil {
		return err
	}
	// Such as a daemon that detached from the Proc that started it. Never
	// this process, whatever one of its threads was left in.
	for _, pid := range pids {
		if pid != os.Getpid() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	_, err = command(ctx, "ip", "netns", "delete", h.name)
	return err
}

// command runs name and returns its standard output; the error names the
// command line and carries its standard error.
func command(ctx context.Context, name string, args ...string) (string, error) {
	cmd, err := tools.Command(ctx, name, args...)
	if err != nil {
		return "", err
	}
	return run(cmd)
}

// run runs cmd and returns its standard output; the error names the
// command line and carries its standard error.
func run(cmd *exec.Cmd) (string, error) {
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A daemon that the command leaves behind may hold the pipes open:
	// report it rather than hang until the daemon exits.
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			msg = ": " + msg
		}
		return stdout.String(), fmt.Errorf("%s: %w%s", commandLine(cmd.Args), err, msg)
	}
	return stdout.String(), nil
}

// commandLine quotes the arguments that a shell would split or lose.
func commandLine(argv []string) string {
	quoted := make([]string, len(argv))
	for i, arg := range argv {
		quoted[i] = arg
		if arg == "" || strings.ContainsAny(arg, " \t\n'\"\\$") {
			quoted[i] = strconv.Quote(arg)
		}
	}
	return strings.Join(quoted, " ")
}
