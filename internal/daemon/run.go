package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"

	"gif/internal/control"
	"gif/internal/state"
)

// StateFileName is the daemon's state file inside its state directory.
const StateFileName = "state.json"

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
	go func() {
		if err := d.WatchAddrs(ctx); err != nil && ctx.Err() == nil {
			log.Error("watch addresses", "err", err)
		}
	}()
	log.Info("gif daemon serving", "namespace", ns, "socket", "@"+control.SocketName(), "state", d.statePath)
	return control.Serve(ctx, l, control.HandlerFunc(d.serve))
}

// serve answers one control request.
func (d *Daemon) serve(_ context.Context, method string, params json.RawMessage) (any, []string, error) {
	switch method {
	case MethodPing:
		return d.Ping(), nil, nil
	case MethodIfconfig:
		var p IfconfigParams
		if err := decode(params, &p); err != nil {
			return nil, nil, err
		}
		return d.Apply(p.Name, p.Ops)
	case MethodShow:
		var p ShowParams
		if err := decode(params, &p); err != nil {
			return nil, nil, err
		}
		st, err := d.Show(p.Name)
		return st, nil, err
	case MethodSysctlGet:
		var p SysctlGetParams
		if err := decode(params, &p); err != nil {
			return nil, nil, err
		}
		v, err := d.Sysctl(p.Names)
		return v, nil, err
	case MethodSysctlSet:
		var p SysctlSetParams
		if err := decode(params, &p); err != nil {
			return nil, nil, err
		}
		v, err := d.SetSysctl(p.Name, p.Value)
		return v, nil, err
	case MethodStats:
		return d.Stats(), nil, nil
	}
	return nil, nil, fmt.Errorf("unknown method %q", method)
}

func decode(params json.RawMessage, v any) error {
	if len(params) == 0 {
		return nil
	}
	if err := json.Unmarshal(params, v); err != nil {
		return fmt.Errorf("bad parameters: %w", err)
	}
	return nil
}
