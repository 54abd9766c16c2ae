package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"gif/internal/control"
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
	d, err := New(LinuxHost{}, Config{StatePath: filepath.Join(dir, StateFileName), Namespace: ns, Log: log})
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
