package tunnel

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Sysctl holds the sysctl(8) variables gif knows.
type Sysctl struct {
	// IPIPAllow is net.inet.ipip.allow: 0 drops IP-in-IP packets that no gif
	// interface claims (counted in pdrops).
	IPIPAllow int `json:"ipip_allow"`
	// EtherIPAllow is net.inet.etherip.allow: 0 drops EtherIP packets that
	// IPsec did not protect.
	EtherIPAllow int `json:"etherip_allow"`
	// Fastpath is net.inet.gif.fastpath: 0 keeps every tunnel on the
	// userspace plane.
	Fastpath int `json:"fastpath"`
}

type sysctlVar struct {
	field    func(*Sysctl) *int
	min, max int
}

var sysctlVars = map[string]sysctlVar{
	"net.inet.ipip.allow":    {func(s *Sysctl) *int { return &s.IPIPAllow }, 0, 2},
	"net.inet.etherip.allow": {func(s *Sysctl) *int { return &s.EtherIPAllow }, 0, 1},
}

// SysctlNames lists the variables in sorted order.
func SysctlNames() []string {
	names := make([]string, 0, len(sysctlVars))
	for name := range sysctlVars {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Get returns the value of the variable called name.
func (s *Sysctl) Get(name string) (int, error) {
	v, ok := sysctlVars[name]
	if !ok {
		return 0, unknownSysctl(name)
	}
	return *v.field(s), nil
}

// Set parses value and sets the variable called name.
func (s *Sysctl) Set(name, value string) error {
	v, ok := sysctlVars[name]
	if !ok {
		return unknownSysctl(name)
	}
	n, err := strconv.Atoi(strings.TrimSpace(value))
	if err != nil || n < v.min || n > v.max {
		return fmt.Errorf("%s: value %q is not a number in %d..%d", name, value, v.min, v.max)
	}
	*v.field(s) = n
	return nil
}

func unknownSysctl(name string) error {
	return fmt.Errorf("%s: unknown variable (gif knows %s)", name, strings.Join(SysctlNames(), ", "))
}
