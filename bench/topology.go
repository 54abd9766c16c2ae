package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gif/internal/control"
	"gif/internal/daemon"
	"gif/internal/netns"
)

// Addresses of the two hosts, from the documentation ranges: the underlay
// on the veth pair, and the inner addresses the tunnels carry.
const (
	underA4, underB4 = "192.0.2.1", "192.0.2.2"
	underA6, underB6 = "2001:db8::1", "2001:db8::2"
	innerA4, innerB4 = "198.51.100.1", "198.51.100.2"
	innerA6, innerB6 = "2001:db8:1::1", "2001:db8:1::2"
)

const (
	// labPrefix starts the name of every namespace the run creates.
	labPrefix = "gifb"
	// underlayMTU is the MTU of the veth pair, the path every tunnel
	// must fit without fragmenting.
	underlayMTU = 1500
	// commandTimeout bounds one configuration command, such as a gif
	// ifconfig, inside a host.
	commandTimeout = 30 * time.Second
	// readyTimeout bounds how long a tunnel may take to carry its first
	// ping after its setup: IPv6 addresses, bridge learning.
	readyTimeout = 10 * time.Second
	readyPoll    = 200 * time.Millisecond
)

// node is a host of the run with its own gif state directory.
type node struct {
	*netns.Host
	tb       *toolbox
	stateDir string
}

// run runs a command inside the host and returns its standard output.
func (n *node) run(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	return n.Run(ctx, name, args...)
}

// gif runs the gif command inside the host.
func (n *node) gif(ctx context.Context, args ...string) (string, error) {
	return n.run(ctx, "env", append([]string{"GIF_STATE_DIR=" + n.stateDir, ikeDirEnv(n.stateDir), n.tb.gif}, args...)...)
}

// startGif starts the host's gif daemon in the foreground, as systemd
// would, and waits until it serves; the lab stops it. With plane
// control.PlaneUserspace the daemon keeps to the userspace plane;
// otherwise it takes the kernel plane where BPF runs, as by default.
func (n *node) startGif(ctx context.Context, plane string) error {
	env := []string{"GIF_STATE_DIR=" + n.stateDir, ikeDirEnv(n.stateDir)}
	if plane == control.PlaneUserspace {
		env = append(env, daemon.KernelPlaneEnv+"=0")
	}
	p, err := n.Start("env", append(env, n.tb.gif, "daemon")...)
	if err != nil {
		return fmt.Errorf("start gif daemon in %s: %w", n, err)
	}
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	if err := p.WaitFor(ctx, "gif daemon serving"); err != nil {
		return fmt.Errorf("start gif daemon in %s: %w", n, err)
	}
	return nil
}

// planeTimeout bounds how long a daemon may take to put a tunnel that
// carries traffic on its plane.
const planeTimeout = 10 * time.Second

// checkPlane fails unless both daemons report gif0 on plane: a row that
// claims a plane must measure it. A tunnel may move to the kernel plane a
// moment after its setup (routes, neighbours), so it waits a little.
func (p *pair) checkPlane(ctx context.Context, plane string) error {
	for _, n := range []*node{p.a, p.b} {
		deadline := time.Now().Add(planeTimeout)
		for {
			got, why, err := n.plane(ctx, "gif0")
			if err != nil {
				return err
			}
			if got == plane {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("gif0 of %s is on the %q plane (%s) after %v, want the %s plane", n, got, why, planeTimeout, plane)
			}
			time.Sleep(readyPoll)
		}
	}
	return nil
}

// plane returns the data plane the host's daemon reports for ifname, and
// why not the kernel's when it says.
func (n *node) plane(ctx context.Context, ifname string) (plane, why string, err error) {
	out, err := n.gif(ctx, "ifconfig", "-j", ifname)
	if err != nil {
		return "", "", err
	}
	var r control.ShowResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return "", "", fmt.Errorf("gif ifconfig -j %s in %s: %w", ifname, n, err)
	}
	if len(r.Interfaces) != 1 {
		return "", "", fmt.Errorf("gif ifconfig -j %s in %s: %d interfaces, want 1", ifname, n, len(r.Interfaces))
	}
	return r.Interfaces[0].Plane, r.Interfaces[0].PlaneReason, nil
}

// readFile reads a file as the host sees it: /proc/net and /sys/class/net
// are the namespace's own there.
func (n *node) readFile(ctx context.Context, path string) (string, error) {
	return n.run(ctx, "cat", path)
}

// processOf returns the pid of the one process in the host whose command
// name is comm, such as the gif daemon ("gif").
func (n *node) processOf(ctx context.Context, comm string) (int, error) {
	pids, err := n.Pids(ctx)
	if err != nil {
		return 0, fmt.Errorf("list processes of %s: %w", n, err)
	}
	var found []int
	for _, pid := range pids {
		name, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err == nil && strings.TrimSpace(string(name)) == comm {
			found = append(found, pid)
		}
	}
	if len(found) != 1 {
		return 0, fmt.Errorf("%s has %d processes named %s, want 1", n, len(found), comm)
	}
	return found[0], nil
}

// memory returns a process's resident set now (VmRSS) and at its peak
// (VmHWM), in bytes.
func memory(pid int) (rss, peak uint64, err error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read memory of pid %d: %w", pid, err)
	}
	if rss, err = parseStatusBytes(string(status), "VmRSS"); err != nil {
		return 0, 0, fmt.Errorf("pid %d: %w", pid, err)
	}
	if peak, err = parseStatusBytes(string(status), "VmHWM"); err != nil {
		return 0, 0, fmt.Errorf("pid %d: %w", pid, err)
	}
	return rss, peak, nil
}

// pair is hosts a and b in fresh network namespaces, joined by one veth
// pair (eth0 on both) with the underlay addresses.
type pair struct {
	lab      *netns.Lab
	a, b     *node
	cleanups []func() error // run before the lab closes, last first
}

// onPair builds fresh hosts, runs fn on them and tears them down.
func onPair(ctx context.Context, tb *toolbox, fn func(*pair) error) (err error) {
	p, err := newPair(ctx, tb)
	if err != nil {
		return fmt.Errorf("build hosts: %w", err)
	}
	defer func() {
		if closeErr := p.Close(); closeErr != nil {
			err = errors.Join(err, fmt.Errorf("tear down: %w", closeErr))
		}
	}()
	return fn(p)
}

func newPair(ctx context.Context, tb *toolbox) (p *pair, err error) {
	lab, err := netns.NewLab(labPrefix)
	if err != nil {
		return nil, err
	}
	p = &pair{lab: lab}
	defer func() {
		if err != nil {
			err = errors.Join(err, p.Close())
		}
	}()
	if p.a, err = newNode(lab, tb, "a"); err != nil {
		return p, err
	}
	if p.b, err = newNode(lab, tb, "b"); err != nil {
		return p, err
	}
	if err := lab.Link(p.a.Host, "eth0", p.b.Host, "eth0"); err != nil {
		return p, err
	}
	for _, step := range []struct {
		n            *node
		addr4, addr6 string
	}{{p.a, underA4, underA6}, {p.b, underB4, underB6}} {
		if _, err := step.n.run(ctx, "ip", "link", "set", "eth0", "mtu", strconv.Itoa(underlayMTU)); err != nil {
			return p, err
		}
		if err := step.n.AddAddr("eth0", step.addr4+"/24"); err != nil {
			return p, err
		}
		if err := step.n.AddAddr("eth0", step.addr6+"/64"); err != nil {
			return p, err
		}
	}
	return p, nil
}

func newNode(lab *netns.Lab, tb *toolbox, name string) (*node, error) {
	h, err := lab.Host(name)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(tb.work, h.Name())
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory of %s: %w", h, err)
	}
	return &node{Host: h, tb: tb, stateDir: dir}, nil
}

// onClose registers fn to run when the pair closes, before its namespaces
// go.
func (p *pair) onClose(fn func() error) { p.cleanups = append(p.cleanups, fn) }

// Close runs the cleanups, then kills what runs in the namespaces and
// deletes them. It may be called more than once.
func (p *pair) Close() error {
	var errs []error
	for i := len(p.cleanups) - 1; i >= 0; i-- {
		errs = append(errs, p.cleanups[i]())
	}
	p.cleanups = nil
	errs = append(errs, p.lab.Close())
	return errors.Join(errs...)
}

// awaitPath waits until a reaches target through the configuration's
// interface, then checks that the route goes out an interface of MTU mtu.
func (p *pair) awaitPath(ctx context.Context, target string, mtu int) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		res, err := p.a.Ping(ctx, target, "-c", "1", "-W", "1")
		if err == nil && res.Received == 1 {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s does not answer ping from %s within %v: %v %s", target, p.a, readyTimeout, err, res.Output)
		}
		time.Sleep(readyPoll)
	}
	route, err := p.a.run(ctx, "ip", "route", "get", target)
	if err != nil {
		return err
	}
	dev, err := parseRouteDev(route)
	if err != nil {
		return err
	}
	s, err := p.a.readFile(ctx, "/sys/class/net/"+dev+"/mtu")
	if err != nil {
		return err
	}
	if got, err := strconv.Atoi(strings.TrimSpace(s)); err != nil || got != mtu {
		return fmt.Errorf("route to %s leaves %s with MTU %q, want %d", target, dev, strings.TrimSpace(s), mtu)
	}
	return nil
}

// reassemblies returns how many IP fragments both hosts have received.
func (p *pair) reassemblies(ctx context.Context) (uint64, error) {
	var total uint64
	for _, n := range []*node{p.a, p.b} {
		snmp, err := n.readFile(ctx, "/proc/net/snmp")
		if err != nil {
			return 0, err
		}
		snmp6, err := n.readFile(ctx, "/proc/net/snmp6")
		if err != nil {
			return 0, err
		}
		v, err := parseReassemblies(snmp, snmp6)
		if err != nil {
			return 0, fmt.Errorf("fragments of %s: %w", n, err)
		}
		total += v
	}
	return total, nil
}

// ikeDirEnv keeps the RSA key a daemon makes at its first start in its
// state directory, not in the machine's /etc/gif/isakmpd.
func ikeDirEnv(stateDir string) string {
	return daemon.IKEDirEnv + "=" + filepath.Join(stateDir, "isakmpd")
}
