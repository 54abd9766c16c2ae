package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime/debug"

	"gif/internal/control"
	"gif/internal/dataplane"
	"gif/internal/ipsec"
	"gif/internal/ipsec/policy"
	"gif/internal/outer"
	"gif/internal/wire"
)

// Options are gif daemon's flags.
type Options struct {
	// MetricsAddr, when set, is the HOST:PORT where the daemon serves its
	// Prometheus metrics (metrics.Listen); empty, it opens no TCP socket.
	MetricsAddr string
}

// StateFileName is the daemon's state file inside its state directory.
const StateFileName = "state.json"

// openTransport gives plane a socket, opened with listen, for each outer
// family and protocol, and starts receiving on them. A namespace without
// IPv6 still tunnels over IPv4.
func openTransport(plane dataplane.Plane, listen func(family int, proto uint8) (outer.Conn, error), log *slog.Logger) error {
	for _, family := range []int{4, 6} {
		for _, proto := range []uint8{wire.ProtoIPv4, wire.ProtoIPv6, wire.ProtoEtherIP, ipsec.ProtoESP} {
			conn, err := listen(family, proto)
			if err != nil {
				if family == 6 {
					log.Warn("no IPv6 outer transport", "proto", proto, "err", err)
					continue
				}
				return err
			}
			if err := plane.AddTransport(family, proto, conn); err != nil {
				return err
			}
		}
	}
	return nil
}

// serve answers one control request. A bug that panics fails the request,
// not the daemon: the daemon's death would take every interface with it.
func (d *Daemon) serve(_ context.Context, method string, params json.RawMessage) (result any, warnings []string, err error) {
	defer func() {
		if r := recover(); r != nil {
			d.log.Error("request failed", "method", method, "panic", r, "stack", string(debug.Stack()))
			result, warnings, err = nil, nil, fmt.Errorf("internal error serving %s: %v (see the daemon log)", method, r)
		}
	}()
	switch method {
	case control.MethodIfconfig:
		var p control.IfconfigParams
		if err := decode(method, params, &p); err != nil {
			return nil, nil, err
		}
		return d.Apply(p.Name, p.Ops)
	case control.MethodTransaction:
		var p control.TransactionParams
		if err := decode(method, params, &p); err != nil {
			return nil, nil, err
		}
		warnings, err := d.ApplyTransaction(p.Transaction, p.DryRun)
		return nil, warnings, err
	case control.MethodShow:
		var p control.ShowParams
		if err := decode(method, params, &p); err != nil {
			return nil, nil, err
		}
		st, err := d.Show(p.Name)
		return st, nil, err
	case control.MethodSysctlGet:
		var p control.SysctlGetParams
		if err := decode(method, params, &p); err != nil {
			return nil, nil, err
		}
		v, err := d.Sysctl(p.Names)
		return v, nil, err
	case control.MethodSysctlSet:
		var p control.SysctlSetParams
		if err := decode(method, params, &p); err != nil {
			return nil, nil, err
		}
		v, err := d.SetSysctl(p.Name, p.Value)
		return v, nil, err
	case control.MethodStats:
		return d.Stats(), nil, nil
	case control.MethodIPsecLoad:
		var cfg policy.Config
		if err := decode(method, params, &cfg); err != nil {
			return nil, nil, err
		}
		st, err := d.LoadIPsec(cfg)
		return st, nil, err
	case control.MethodIPsecDel:
		var cfg policy.Config
		if err := decode(method, params, &cfg); err != nil {
			return nil, nil, err
		}
		st, err := d.DeleteIPsec(cfg)
		return st, nil, err
	case control.MethodIPsecShow:
		return d.IPsec(), nil, nil
	}
	return nil, nil, fmt.Errorf("unknown method %q", method)
}

// decode reads the params of method into v; errors name the method, and
// encoding/json's name the field.
func decode(method string, params json.RawMessage, v any) error {
	if len(params) == 0 {
		return nil
	}
	if err := json.Unmarshal(params, v); err != nil {
		return fmt.Errorf("bad parameters of %s: %w", method, err)
	}
	return nil
}
