package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"gif/internal/control"
	"gif/internal/dataplane"
	"gif/internal/link"
	"gif/internal/outer"
	"gif/internal/state"
)

// Run is `gif daemon`: it restores the namespace's interfaces, serves the
// control API until ctx ends, then removes the interfaces from Linux. The
// state file keeps them for the next start.
func Run(ctx context.Context, log *slog.Logger) error {
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
	if err := claimStateDir(dir, ns, log); err != nil {
		return err
	}
	plane := dataplane.NewUserspace(log)
	if err := openTransport(plane, outer.Listen, log); err != nil {
		plane.Close()
		return err
	}
	d, err := New(LinuxHost{}, plane, Config{StatePath: filepath.Join(dir, StateFileName), Log: log, ListenIKE: listenIKE, WatchAddrs: link.WatchAddrs})
	if err != nil {
		return err
	}
	defer d.Close()
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
