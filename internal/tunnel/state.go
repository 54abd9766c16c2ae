package tunnel

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
)

// State is all the configuration one daemon owns: its gif interfaces and
// its sysctl variables. Apply never changes a State in place, so a failed
// command leaves nothing half-done.
type State struct {
	Interfaces []Config       `json:"interfaces"`        // sorted by unit number
	Bridges    []BridgeConfig `json:"bridges,omitempty"` // sorted by unit number
	Sysctl     Sysctl         `json:"sysctl"`
}

// Env answers the questions about the host that Apply needs for its
// warnings, and chooses what Apply leaves to chance.
type Env interface {
	// IsLocal reports whether addr is configured on this host.
	IsLocal(addr netip.Addr) bool
	// Ethernet reports whether an interface gif does not manage exists
	// and carries Ethernet frames, so that it may join a bridge.
	Ethernet(name string) (exists, ethernet bool)
	// NewLLAddr returns an Ethernet address for a gif that needs one
	// (RandomLLAddr on a real host), so that Apply itself is deterministic.
	NewLLAddr() LLAddr
}

// Clone returns a deep copy of s.
func (s State) Clone() State {
	out := State{Sysctl: s.Sysctl, Interfaces: make([]Config, len(s.Interfaces))}
	for i, c := range s.Interfaces {
		out.Interfaces[i] = c.Clone()
	}
	for _, b := range s.Bridges {
		out.Bridges = append(out.Bridges, b.Clone())
	}
	return out
}

// Find returns the configuration of the interface called name.
func (s *State) Find(name string) (*Config, bool) {
	for i := range s.Interfaces {
		if s.Interfaces[i].Name == name {
			return &s.Interfaces[i], true
		}
	}
	return nil, false
}

// Apply applies the operations of one ifconfig command to the gif or
// bridge called name, in order, and returns the new state. Either every
// operation applies or the error names the one that did not, and s is
// untouched. Naming a gif or bridge that does not exist creates it, as
// OpenBSD's ifconfig does.
func (s State) Apply(name string, ops []Op, env Env) (State, []string, error) {
	apply := (*State).apply
	switch {
	case IsBridge(name):
		apply = (*State).applyBridge
	case !IsGif(name):
		return s, nil, fmt.Errorf("%s: not a gif or bridge name (want gif0 .. gif9999 or bridge0 .. bridge9999)", name)
	}
	next := s.Clone()
	var warnings []string
	for _, op := range ops {
		w, err := apply(&next, name, op, env)
		if err != nil {
			return s, nil, fmt.Errorf("%s: %q: %w", name, op.Token, err)
		}
		warnings = append(warnings, w...)
	}
	next.GiveLLAddrs(env)
	return next, warnings, nil
}

func (s *State) apply(name string, op Op, env Env) ([]string, error) {
	c, exists := s.Find(name)
	switch op.Kind {
	case OpCreate:
		if exists {
			return nil, fmt.Errorf("interface already exists")
		}
		s.create(name)
		return nil, nil
	case OpDestroy:
		if !exists {
			return nil, fmt.Errorf("no such interface")
		}
		s.Interfaces = slices.DeleteFunc(s.Interfaces, func(c Config) bool { return c.Name == name })
		s.leaveBridges(name)
		return nil, nil
	}
	var warnings []string
	if !exists {
		c = s.create(name)
		warnings = append(warnings, fmt.Sprintf("%s: created", name))
	}
	switch op.Kind {
	case OpUp:
		c.Up = true
	case OpDown:
		c.Up = false
	case OpMTU:
		if op.Int < MinMTU || op.Int > MaxMTU {
			return nil, fmt.Errorf("mtu %d is out of range %d..%d", op.Int, MinMTU, MaxMTU)
		}
		c.MTU = op.Int
	case OpDescription:
		c.Description = op.Text
	case OpTunnel:
		if op.Src.Is4() != op.Dst.Is4() {
			return nil, fmt.Errorf("source %s and destination %s are of different families", op.Src, op.Dst)
		}
		// Historic gif brings the interface up when the tunnel is set.
		c.Src, c.Dst, c.Up = op.Src, op.Dst, true
		warnings = append(warnings, s.tunnelWarnings(c, env)...)
	case OpDeleteTunnel:
		c.Src, c.Dst = netip.Addr{}, netip.Addr{}
	case OpAddAddr:
		c.addAddr(op.Addr)
		if op.Addr.Is6() {
			c.NoInet6 = false
		}
	case OpDeleteAddr:
		if !c.deleteAddr(op.Addr.Prefix.Addr()) {
			return nil, fmt.Errorf("address %s is not configured on %s", op.Addr.Prefix.Addr(), name)
		}
	case OpNoInet6:
		c.Addrs = slices.DeleteFunc(c.Addrs, Addr.Is6)
		c.NoInet6 = true
	case OpTunnelTTL:
		if op.Int != TTLCopy && (op.Int < 1 || op.Int > 255) {
			return nil, fmt.Errorf("ttl %d is out of range 1..255 (or copy)", op.Int)
		}
		c.TTL = op.Int
	case OpTunnelDF:
		c.DF = op.Bool
	case OpTunnelECN:
		c.ECN = op.Bool
	case OpFastpath:
		c.NoFastpath = !op.Bool
	case OpTunnelDomain:
		if !ValidDomain(op.Int) {
			return nil, fmt.Errorf("routing table %d is out of range %s", op.Int, DomainRange)
		}
		c.Domain = op.Int
	case OpLLAddr:
		if op.LLAddr.IsZero() {
			c.LLAddr = env.NewLLAddr()
			break
		}
		if err := op.LLAddr.Check(); err != nil {
			return nil, err
		}
		c.LLAddr = op.LLAddr
	default:
		return nil, fmt.Errorf("operation %q does not apply to a gif interface", op.Kind)
	}
	return warnings, nil
}

// GiveLLAddrs gives each bridged gif that has no Ethernet address one of
// env's, which it keeps from then on, and reports whether it gave any. A state
// stored before gif kept the addresses gets them when it is loaded.
func (s *State) GiveLLAddrs(env Env) bool {
	bridged := s.Bridged()
	gave := false
	for i := range s.Interfaces {
		c := &s.Interfaces[i]
		if c.LLAddr.IsZero() && bridged[c.Name] {
			c.LLAddr = env.NewLLAddr()
			gave = true
		}
	}
	return gave
}

func (s *State) create(name string) *Config {
	s.Interfaces = append(s.Interfaces, NewConfig(name))
	slices.SortFunc(s.Interfaces, func(a, b Config) int {
		ua, _ := Unit(a.Name)
		ub, _ := Unit(b.Name)
		return cmp.Compare(ua, ub)
	})
	c, _ := s.Find(name)
	return c
}

// tunnelWarnings says what is odd about c's new tunnel: a source that is not
// this host's (the second BUGS item) and a pair another interface has too
// (the last BUGS item).
func (s *State) tunnelWarnings(c *Config, env Env) []string {
	var warnings []string
	if env != nil && !env.IsLocal(c.Src) {
		warnings = append(warnings, fmt.Sprintf(
			"%s: tunnel source %s is not an address of this host; %s stays out of RUNNING until it is",
			c.Name, c.Src, c.Name))
	}
	for _, other := range s.Interfaces {
		if other.Name != c.Name && other.Src == c.Src && other.Dst == c.Dst {
			first := min(unitOf(other.Name), unitOf(c.Name))
			warnings = append(warnings, fmt.Sprintf(
				"%s: tunnel %s --> %s is also configured on %s; only gif%d (the lowest index) receives its traffic",
				c.Name, c.Src, c.Dst, other.Name, first))
		}
	}
	return warnings
}

func unitOf(name string) int {
	u, _ := Unit(name)
	return u
}

// addAddr adds a, or replaces the address with the same local address, as
// OpenBSD's SIOCAIFADDR does.
func (c *Config) addAddr(a Addr) {
	for i := range c.Addrs {
		if c.Addrs[i].Prefix.Addr() == a.Prefix.Addr() {
			c.Addrs[i] = a
			return
		}
	}
	c.Addrs = append(c.Addrs, a)
}

func (c *Config) deleteAddr(local netip.Addr) bool {
	n := len(c.Addrs)
	c.Addrs = slices.DeleteFunc(c.Addrs, func(a Addr) bool { return a.Prefix.Addr() == local })
	return len(c.Addrs) != n
}
