package daemon_test

import (
	"fmt"
	"slices"
	"syscall"

	"gif/internal/link"
)

// The fakeHost's bridges: what the daemon asks of Linux bridges and of the
// interfaces it does not own.

func (h *fakeHost) Info(name string) (link.LinkInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, err := h.link(name)
	if err != nil {
		return link.LinkInfo{}, err
	}
	return link.LinkInfo{Name: name, Index: l.index, MTU: l.MTU, Up: l.Up, Running: l.Up && l.Carrier,
		Ethernet: l.ethernet, MAC: slices.Clone(l.mac), Master: l.master}, nil
}

// addEthernet adds an Ethernet interface gif does not own, down, as a NIC
// or a veth would be.
func (h *fakeHost) addEthernet(name string, mtu int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.links[name]; ok {
		h.t.Fatalf("%s is already in Linux", name)
	}
	h.newLink(name, true, mtu)
}

// deleteLink removes an interface behind the daemon's back, as a reboot
// removes a bridge; its ports leave it.
func (h *fakeHost) deleteLink(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLink(name)
}

// removeLink removes the interface called name; its ports leave it. h.mu
// is held.
func (h *fakeHost) removeLink(name string) {
	delete(h.links, name)
	for _, l := range h.links {
		if l.master == name {
			l.master = ""
		}
	}
}

// SetBridge records a CreateBridge or a DeleteBridge.
func (h *fakeHost) SetBridge(name string, on bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if on {
		if err := h.enter("CreateBridge", name, ""); err != nil {
			return err
		}
		if _, ok := h.links[name]; ok {
			return fmt.Errorf("create bridge %s: %w", name, syscall.EEXIST)
		}
		h.newLink(name, true, 1500).bridge = true
		return nil
	}
	if err := h.enter("DeleteBridge", name, ""); err != nil {
		return err
	}
	if l, err := h.link(name); err != nil || !l.bridge {
		return fmt.Errorf("delete bridge %s: %w", name, syscall.ENODEV)
	}
	h.removeLink(name)
	return nil
}

// SetMaster records a SetMaster, or a SetNoMaster when bridge is empty.
func (h *fakeHost) SetMaster(member, bridge string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if bridge == "" {
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
