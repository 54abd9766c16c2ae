package tunnel

import (
	"cmp"
	"fmt"
	"slices"
)

// BridgeConfig is what the administrator set on one bridge(4): a Linux
// bridge whose members may be gif interfaces, which then carry its Ethernet
// frames in EtherIP, and any Linux Ethernet interface.
type BridgeConfig struct {
	Name        string   `json:"name"`
	Up          bool     `json:"up"`
	Members     []string `json:"members,omitempty"` // in the order they were added
	Description string   `json:"description,omitempty"`
	// Link holds the flags link0, link1 and link2. gif stores and shows
	// them; OpenBSD's bridge(4) gives them meanings gif does not implement
	// (see the README).
	Link [3]bool `json:"link"`
}

// BridgeUnit returns the unit number of a bridge name ("bridge0" gives 0).
func BridgeUnit(name string) (int, bool) { return parseUnit("bridge", name) }

// IsBridge reports whether name names a bridge (bridge0 .. bridge9999).
func IsBridge(name string) bool {
	_, ok := BridgeUnit(name)
	return ok
}

// Clone returns a deep copy of b.
func (b BridgeConfig) Clone() BridgeConfig {
	b.Members = slices.Clone(b.Members)
	return b
}

// FindBridge returns the configuration of the bridge called name.
func (s *State) FindBridge(name string) (*BridgeConfig, bool) {
	for i := range s.Bridges {
		if s.Bridges[i].Name == name {
			return &s.Bridges[i], true
		}
	}
	return nil, false
}

// BridgeOf returns the bridge that interface name is a member of, or "".
func (s *State) BridgeOf(name string) string {
	for _, b := range s.Bridges {
		if slices.Contains(b.Members, name) {
			return b.Name
		}
	}
	return ""
}

// Bridged returns the set of interfaces that are members of a bridge.
func (s *State) Bridged() map[string]bool {
	bridged := make(map[string]bool)
	for _, b := range s.Bridges {
		for _, m := range b.Members {
			bridged[m] = true
		}
	}
	return bridged
}

func (s *State) applyBridge(name string, op Op, env Env) ([]string, error) {
	b, exists := s.FindBridge(name)
	switch op.Kind {
	case OpCreate:
		if exists {
			return nil, fmt.Errorf("interface already exists")
		}
		s.createBridge(name)
		return nil, nil
	case OpDestroy:
		if !exists {
			return nil, fmt.Errorf("no such interface")
		}
		s.Bridges = slices.DeleteFunc(s.Bridges, func(b BridgeConfig) bool { return b.Name == name })
		return nil, nil
	}
	var notes []string
	if !exists {
		b = s.createBridge(name)
		notes = append(notes, fmt.Sprintf("%s: created", name))
	}
	switch op.Kind {
	case OpUp:
		b.Up = true
	case OpDown:
		b.Up = false
	case OpDescription:
		b.Description = op.Text
	case OpLinkFlag:
		if op.Int < 0 || op.Int > 2 {
			return nil, fmt.Errorf("there is no flag link%d (want link0, link1 or link2)", op.Int)
		}
		b.Link[op.Int] = op.Bool
	case OpBridgeAdd:
		member := op.Text
		if slices.Contains(b.Members, member) {
			return nil, fmt.Errorf("%s is already a member of %s", member, name)
		}
		if other := s.BridgeOf(member); other != "" {
			return nil, fmt.Errorf("%s is a member of %s: remove it there first (ifconfig %s del %s)", member, other, other, member)
		}
		switch {
		case IsBridge(member):
			return nil, fmt.Errorf("%s is a bridge and cannot be a member of a bridge", member)
		case IsGif(member):
			if _, ok := s.Find(member); !ok {
				s.create(member)
				notes = append(notes, fmt.Sprintf("%s: created", member))
			}
		default:
			if env == nil {
				break
			}
			exists, ethernet := env.Ethernet(member)
			if !exists {
				return nil, fmt.Errorf("%s: no such interface", member)
			}
			if !ethernet {
				return nil, fmt.Errorf("%s is not an Ethernet interface and cannot be a bridge member", member)
			}
		}
		b.Members = append(b.Members, member)
	case OpBridgeDel:
		if !slices.Contains(b.Members, op.Text) {
			return nil, fmt.Errorf("%s is not a member of %s", op.Text, name)
		}
		b.Members = slices.DeleteFunc(b.Members, func(m string) bool { return m == op.Text })
	default:
		return nil, fmt.Errorf("operation %q does not apply to a bridge", op.Kind)
	}
	return notes, nil
}

func (s *State) createBridge(name string) *BridgeConfig {
	s.Bridges = append(s.Bridges, BridgeConfig{Name: name})
	slices.SortFunc(s.Bridges, func(a, b BridgeConfig) int {
		ua, _ := BridgeUnit(a.Name)
		ub, _ := BridgeUnit(b.Name)
		return cmp.Compare(ua, ub)
	})
	i := slices.IndexFunc(s.Bridges, func(b BridgeConfig) bool { return b.Name == name })
	return &s.Bridges[i]
}

// leaveBridges removes interface name from every bridge, as destroying a
// member does on OpenBSD.
func (s *State) leaveBridges(name string) {
	for i := range s.Bridges {
		s.Bridges[i].Members = slices.DeleteFunc(s.Bridges[i].Members, func(m string) bool { return m == name })
	}
}
