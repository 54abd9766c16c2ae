// Package tunnel is the gif model: the configuration of each interface, the
// operations that change it, the demultiplexing table, the encapsulation and
// decapsulation rules and the counters. It does no I/O.
package tunnel

import (
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
)

// Defaults and limits of a gif interface, as gif(4) and ifconfig(8) give them.
const (
	DefaultMTU = 1280 // GIF_MTU
	MinMTU     = 1280
	MaxMTU     = 8192
	DefaultTTL = 64 // ip_defttl
	// TTLCopy makes the outer TTL or hop limit a copy of the inner one
	// (ifconfig tunnelttl copy).
	TTLCopy = -1
	// MaxDomain is the largest routing table tunneldomain takes. Linux
	// tables and marks have 32 bits; 31 keep the number an int everywhere.
	MaxDomain = 1<<31 - 1
	// DomainRange says which routing tables tunneldomain takes: ValidDomain.
	DomainRange = "0..2147483647 except 253..255 (0 is the main table; 253, 254 and 255 are Linux's default, main and local tables)"
)

// ValidDomain reports whether tunneldomain takes routing table n: 0, the
// main table, or a table of its own. Linux's reserved tables are refused:
// the main table is 0 here, and the default and local tables hold no
// routes a tunnel could use.
func ValidDomain(n int) bool {
	return n >= 0 && n <= MaxDomain && (n < 253 || n > 255)
}

// Addr is an inner address of a gif interface: a local address with its
// prefix length and, on a point-to-point link, the address of the far end.
type Addr struct {
	Prefix netip.Prefix `json:"prefix"`
	Peer   netip.Addr   `json:"peer,omitzero"`
}

func (a Addr) String() string {
	if a.Peer.IsValid() {
		return fmt.Sprintf("%s --> %s", a.Prefix, a.Peer)
	}
	return a.Prefix.String()
}

// Is6 reports whether a is an IPv6 address.
func (a Addr) Is6() bool { return a.Prefix.Addr().Is6() }

// Config is everything the administrator set on one gif interface. It is
// what the daemon stores and restores.
type Config struct {
	Name        string     `json:"name"`
	Up          bool       `json:"up"`
	MTU         int        `json:"mtu"`
	Description string     `json:"description,omitempty"`
	Src         netip.Addr `json:"src,omitzero"` // outer source: an address of this host
	Dst         netip.Addr `json:"dst,omitzero"` // outer destination: the peer
	TTL         int        `json:"ttl"`          // 1..255 or TTLCopy
	DF          bool       `json:"df"`
	ECN         bool       `json:"ecn"`
	Domain      int        `json:"domain"` // Linux routing table for outer packets; 0 is the main table
	Addrs       []Addr     `json:"addrs,omitempty"`
	// NoInet6 keeps IPv6 off the interface (ifconfig -inet6): no link-local
	// address is configured when it comes up.
	NoInet6 bool `json:"noinet6,omitempty"`
	// LLAddr is the Ethernet address of the gif's TAP device while it is a
	// bridge member: chosen when it first joins a bridge, unless set.
	LLAddr LLAddr `json:"lladdr,omitzero"`
	// NoFastpath keeps the tunnel on the userspace plane even when the
	// kernel plane could carry it.
	NoFastpath bool `json:"nofastpath,omitempty"`
}

// NewConfig returns the configuration of a freshly created interface.
func NewConfig(name string) Config {
	return Config{Name: name, MTU: DefaultMTU, TTL: DefaultTTL, ECN: true}
}

// HasTunnel reports whether the outer addresses are set.
func (c *Config) HasTunnel() bool { return c.Src.IsValid() && c.Dst.IsValid() }

// Family returns the IP version of the outer address a, 4 or 6: the
// family of the transport that carries a tunnel and of the policy rules
// that route its marked packets.
func Family(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

// Equal reports whether c and o configure an interface the same way.
func (c *Config) Equal(o *Config) bool { return reflect.DeepEqual(c, o) }

// Unit returns the unit number of a gif interface name ("gif3" gives 3).
func Unit(name string) (int, bool) { return parseUnit("gif", name) }

// parseUnit returns the unit number of an interface name made of prefix and
// a number 0..9999 without leading zeros.
func parseUnit(prefix, name string) (int, bool) {
	digits, ok := strings.CutPrefix(name, prefix)
	if !ok || digits == "" || (len(digits) > 1 && digits[0] == '0') {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 0 || n > 9999 {
		return 0, false
	}
	return n, true
}

// IsGif reports whether name names a gif interface (gif0 .. gif9999).
func IsGif(name string) bool {
	_, ok := Unit(name)
	return ok
}

// TTLString is how ifconfig shows the outer TTL.
func TTLString(ttl int) string {
	if ttl == TTLCopy {
		return "copy"
	}
	return strconv.Itoa(ttl)
}

// Clone returns a deep copy of c.
func (c Config) Clone() Config {
	c.Addrs = append([]Addr(nil), c.Addrs...)
	return c
}
