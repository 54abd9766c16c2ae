package daemon_test

import (
	"fmt"
	"slices"
	"syscall"

	"gif/internal/link"
)

// The fakeHost's bridges: what the daemon asks of Linux bridges and of the
// interfaces it does not own.

func (h *fakeHost) Addrs(name string) ([]link.Addr, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, err := h.link(name)
	if err != nil {
		return nil, err
	}
	return slices.Clone(l.Addrs), nil
}

func (h *fakeHost) Info(name string) (link.LinkInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, err := h.link(name)
	if err != nil {
		return link.LinkInfo{}, err
	}
	return link.LinkInfo{Name: name, Index: l.index, MTU: l.MTU, Up: l.Up, Running: l.Up && l.Carrier,
		Ethernet: l.ethernet, Master: l.master}, nil
}

func (h *fakeHost) CreateBridge(name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.enter("CreateBridge", name, ""); err != nil {
		return err
	}
	if _, ok := h.links[name]; ok {
		return fmt.Errorf("create bridge %s: %w", name, syscall.EEXIST)
	}
	h.links[name] = &fakeLink{index: h.nextIndex, ethernet: true, bridge: true, linuxLink: linuxLink{MTU: 1500}}
	h.nextIndex++
	return nil
}

func (h *fakeHost) DeleteBridge(name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.enter("DeleteBridge", name, ""); err != nil {
		return err
	}
	if l, err := h.link(name); err != nil || !l.bridge {
		return fmt.Errorf("delete bridge %s: %w", name, syscall.ENODEV)
	}
	delete(h.links, name)
	for _, l := range h.links {
		if l.master == name {
			l.master = ""
		}
	}
	return nil
}

func (h *fakeHost) SetMaster(member, bridge string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.enter("SetMaster", member, bridge); err != nil {
		return err
	}
	m, err := h.link(member)
	if err != nil {
		return err
	}
	if b, err := h.link(bridge); err != nil || !b.bridge {
		return fmt.Errorf("set master of %s: %s is not a bridge", member, bridge)
	}
	if !m.ethernet || m.bridge {
		return fmt.Errorf("set master of %s: not an Ethernet interface", member)
	}
	if m.master != "" {
		return fmt.Errorf("set master of %s: %w", member, syscall.EBUSY)
	}
	m.master = bridge
	return nil
}

func (h *fakeHost) SetNoMaster(member string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.enter("SetNoMaster", member, ""); err != nil {
		return err
	}
	m, err := h.link(member)
	if err != nil {
		return err
	}
	m.master = ""
	return nil
}
