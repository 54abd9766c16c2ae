package daemon

import (
	"errors"
	"fmt"

	"gif/internal/tunnel"
)

// Ethernet reports whether the interface called name exists in this
// namespace and carries Ethernet frames, so that it may join a bridge.
func (d *Daemon) Ethernet(name string) (exists, ethernet bool) {
	info, err := d.host.Info(name)
	if err != nil {
		return false, false
	}
	return true, info.Ethernet
}

// applyLink applies up, down and mtu to a Linux interface gif does not own,
// such as a bridge's internal Ethernet interface (the seed's
// "ifconfig fxp1 up"), and puts back what it had when one of them fails.
// gif keeps nothing of it: Linux does.
func (d *Daemon) applyLink(name string, ops []tunnel.Op) error {
	before, err := d.host.Info(name)
	if err != nil {
		return fmt.Errorf("%s: no such interface", name)
	}
	for _, op := range ops {
		switch op.Kind {
		case tunnel.OpUp, tunnel.OpDown:
			err = d.host.SetUp(name, op.Kind == tunnel.OpUp)
		case tunnel.OpMTU:
			err = d.host.SetMTU(name, op.Int)
		default:
			err = fmt.Errorf("gif sets only up, down and mtu on an interface it does not own")
		}
		if err != nil {
			undo := errors.Join(d.host.SetMTU(name, before.MTU), d.host.SetUp(name, before.Up))
			if undo != nil {
				d.log.Error("could not restore the interface", "interface", name, "err", undo)
			}
			return fmt.Errorf("%s: %q: %w", name, op.Token, err)
		}
	}
	return nil
}
