package daemon

import (
	"errors"
	"fmt"
	"slices"

	"gif/internal/link"
	"gif/internal/tunnel"
)

// NewLLAddr returns a random address, as Linux gives a new TAP.
func (r *reconciler) NewLLAddr() tunnel.LLAddr { return tunnel.RandomLLAddr() }

// Ethernet reports whether the interface called name exists in this
// namespace and carries Ethernet frames, so that it may join a bridge.
func (r *reconciler) Ethernet(name string) (exists, ethernet bool) {
	info, err := r.host.Info(name)
	if err != nil {
		return false, false
	}
	return true, info.Ethernet
}

// checkLinks checks the commands of t for Linux interfaces gif does not
// own, such as a bridge's internal Ethernet interface (the seed's
// "ifconfig fxp1 up"): the interface exists, and they set only up, down
// and mtu. gif keeps nothing of them: Linux does.
func (r *reconciler) checkLinks(t tunnel.Transaction) error {
	for i, c := range t.Commands {
		if ownedBy(c) {
			continue
		}
		if _, err := r.host.Info(c.Name); err != nil {
			return t.At(i, fmt.Errorf("%s: no such interface", c.Name))
		}
		for _, op := range c.Ops {
			switch op.Kind {
			case tunnel.OpUp, tunnel.OpDown, tunnel.OpMTU:
			default:
				return t.At(i, fmt.Errorf("%s: %q: gif sets only up, down and mtu on an interface it does not own", c.Name, op.Token))
			}
		}
	}
	return nil
}

// applyLinks sets what the commands of t for Linux interfaces gif does not
// own ask, as checkLinks found them. When Linux refuses one it puts back
// what each had; the undo it returns does the same after a later failure.
func (r *reconciler) applyLinks(t tunnel.Transaction) (undo func(), err error) {
	var before []link.LinkInfo
	undo = func() {
		for _, b := range slices.Backward(before) {
			if err := errors.Join(r.host.SetMTU(b.Name, b.MTU), r.host.SetUp(b.Name, b.Up)); err != nil {
				r.log.Error("could not restore the interface", "interface", b.Name, "err", err)
			}
		}
	}
	for i, c := range t.Commands {
		if ownedBy(c) {
			continue
		}
		info, err := r.host.Info(c.Name)
		if err != nil {
			undo()
			return nil, t.At(i, fmt.Errorf("%s: no such interface", c.Name))
		}
		info.Name = c.Name
		before = append(before, info) // the first of a name is put back last
		for _, op := range c.Ops {
			if op.Kind == tunnel.OpMTU {
				err = r.host.SetMTU(c.Name, op.Int)
			} else {
				err = r.host.SetUp(c.Name, op.Kind == tunnel.OpUp)
			}
			if err != nil {
				undo()
				return nil, t.At(i, fmt.Errorf("%s: %q: %w", c.Name, op.Token, err))
			}
		}
	}
	return undo, nil
}
