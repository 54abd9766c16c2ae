package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"gif/internal/buildinfo"
	"gif/internal/control"
	"gif/internal/dataplane"
	"gif/internal/dataplane/kernel"
	"gif/internal/link"
	"gif/internal/metrics"
	"gif/internal/outer"
	"gif/internal/state"
	"gif/internal/tunnel"
)

// Run is `gif daemon`: it restores the namespace's interfaces, serves the
// control API (and, with opts.MetricsAddr, the metrics) until ctx ends,
// then removes the interfaces from Linux. The state file keeps them for
// the next start. Every socket it listens on is open before it changes
// anything, so that a bad address or a port in use leaves all as it was.
func Run(ctx context.Context, log *slog.Logger, opts Options) error {
	useKernel, err := kernelPlaneWanted()
	if err != nil {
		return err
	}
	ns, err := state.NamespaceID()
	if err != nil {
		return fmt.Errorf("name this network namespace: %w", err)
	}
	dir, err := state.Dir()
	if err != nil {
		return err
	}
	// Take the socket first: it is the lock that keeps a second daemon from
	// creating the same devices.
	l, err := control.Listen(control.SocketName())
	if err != nil {
		return err
	}
	defer l.Close()
	var metricsListener net.Listener
	if opts.MetricsAddr != "" {
		if metricsListener, err = metrics.Listen(opts.MetricsAddr); err != nil {
			return err
		}
		defer metricsListener.Close()
	}
	if err := claimStateDir(dir, ns, log); err != nil {
		return err
	}
	plane := openPlane(log, useKernel)
	if err := openTransport(plane, outer.Listen, log); err != nil {
		plane.Close()
		return err
	}
	d, err := New(LinuxHost{}, plane, Config{StatePath: filepath.Join(dir, StateFileName), Log: log, ListenIKE: listenIKE, WatchAddrs: link.WatchAddrs})
	if err != nil {
		return err
	}
	defer d.Close()
	if metricsListener != nil {
		defer serveMetrics(d, metricsListener, log)()
	}
	makeLocalKey(log)
	go func() {
		if err := d.WatchAddrs(ctx); err != nil && ctx.Err() == nil {
			log.Error("watch addresses", "err", err)
		}
	}()
	log.Info("gif daemon serving", "namespace", ns, "socket", "@"+control.SocketName(), "state", d.statePath)
	if err := notifySystemd("READY=1"); err != nil {
		log.Warn("tell systemd the daemon is ready", "err", err)
	}
	return control.Serve(ctx, l, control.HandlerFunc(d.serve))
}

// serveMetrics serves d's metrics on l until the returned func is called.
func serveMetrics(d *Daemon, l net.Listener, log *slog.Logger) (stop func()) {
	build, err := buildinfo.Read()
	if err != nil {
		log.Warn("gif_build_info has empty labels", "err", err)
	}
	s := metrics.NewServer(metrics.NewCollector(d.Metrics, build))
	go func() {
		if err := s.Serve(l); err != nil {
			log.Error("metrics server stopped", "address", l.Addr(), "err", err)
		}
	}()
	log.Info("serving metrics", "url", "http://"+l.Addr().String()+metrics.Path)
	return func() { s.Close() }
}

// claimStateDir makes dir this namespace's state directory: a deleted
// namespace's state that this one found under its name is moved aside,
// not restored.
func claimStateDir(dir, ns string, log *slog.Logger) error {
	owner, err := state.CurrentOwner()
	if err != nil {
		log.Warn("cannot tell whether the state was written by this network namespace or by a deleted one of the same name; restoring it", "err", err)
		return nil
	}
	aside, err := state.SetAsideForeign(dir, owner, []string{StateFileName, ipsecFileName, seqFileName})
	if err != nil {
		return err
	}
	if aside != "" {
		log.Warn("state written by a deleted network namespace of the same name is not restored: moved aside", "namespace", ns, "to", aside)
	}
	if err := state.RecordOwner(dir, owner); err != nil {
		log.Warn("record which network namespace owns the state", "err", err)
	}
	return nil
}

// listenIKE opens IKE's UDP socket of family on port.
func listenIKE(family int, port uint16) (IKEConn, error) { return outer.ListenUDP(family, port) }

// KernelPlaneEnv set to 0 keeps the daemon on the userspace plane alone,
// as where BPF cannot run; the bench and the tests pick a plane with it.
const KernelPlaneEnv = "GIF_KERNEL_PLANE"

// netstat -s shows what the kernel plane passed on.
var _ PassingPlane = (*kernel.Plane)(nil)

// kernelPlaneWanted reads KernelPlaneEnv: unset, empty or 1 lets the
// daemon use the kernel plane, 0 keeps it off; anything else is refused
// before the daemon starts.
func kernelPlaneWanted() (bool, error) {
	switch v := os.Getenv(KernelPlaneEnv); v {
	case "", "1":
		return true, nil
	case "0":
		return false, nil
	default:
		return false, fmt.Errorf("%s=%q: want 0 (the userspace plane alone) or 1 (the kernel plane where BPF runs)", KernelPlaneEnv, v)
	}
}

// openPlane returns the kernel plane, which carries what it can and hands
// the rest to the userspace plane, or the userspace plane alone where BPF
// cannot run or useKernel is false (KernelPlaneEnv=0). The userspace plane
// alone first removes the tc filters a killed daemon may have left, which
// would take its tunnels' packets.
func openPlane(log *slog.Logger, useKernel bool) dataplane.Plane {
	u := dataplane.NewUserspace(log)
	why := KernelPlaneEnv + "=0"
	if useKernel {
		p, err := kernel.New(u, log)
		if err == nil {
			return p
		}
		log.Warn("kernel data plane unavailable; every tunnel runs on the userspace plane", "reason", err)
		why = err.Error()
	}
	if err := kernel.RemoveLeftovers(); err != nil {
		log.Warn("remove the kernel plane's filters an earlier daemon left", "err", err)
	}
	return userspaceOnly{u, why}
}

// userspaceOnly is the userspace plane when the kernel plane cannot run:
// each gif says why it is not on the kernel plane.
type userspaceOnly struct {
	*dataplane.Userspace
	why string
}

func (u userspaceOnly) Attach(dev link.Device, ether bool, counters *tunnel.Counters) *dataplane.Iface {
	ifc := u.Userspace.Attach(dev, ether, counters)
	ifc.SetPlaneState(dataplane.PlaneState{Why: u.why})
	return ifc
}
