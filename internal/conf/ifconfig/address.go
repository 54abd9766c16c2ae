package ifconfig

import (
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"

	"gif/internal/tunnel"
)

// addrClause collects the words of one inet or inet6 parameter.
type addrClause struct {
	family int // 4 or 6
	addr   netip.Addr
	bits   int // -1 until given
	peer   netip.Addr
	mode   string // "", "alias", "-alias" or "delete"
}

func (c *addrClause) maxBits() int {
	if c.family == 4 {
		return 32
	}
	return 128
}

// address parses an inet parameter (family 4), an inet6 parameter (6) or a
// bare address (0: the family is the address's own).
func (p *parser) address(family int) (tunnel.Op, error) {
	c := addrClause{family: family, bits: -1}
	// A mode may come first, as in hostname.if's "inet alias ADDR".
	for w, ok := p.peek(); ok && isMode(w); w, ok = p.peek() {
		p.pos++
		if err := c.setMode(w); err != nil {
			return tunnel.Op{}, p.errorf("%v", err)
		}
	}
	if w, ok := p.peek(); !ok || p.grammar.has(w) {
		return tunnel.Op{}, p.errorf("missing address (want %s)", usage(family))
	}
	if err := p.localAddress(&c); err != nil {
		return tunnel.Op{}, p.errorf("%v", err)
	}
	if err := p.addressOptions(&c); err != nil {
		return tunnel.Op{}, p.errorf("%v", err)
	}

	del := c.mode == "-alias" || c.mode == "delete"
	if c.bits < 0 {
		// ifconfig(8)'s defaults for inet6; see the package comment for inet.
		switch {
		case c.family == 4:
			c.bits = 32
		case c.peer.IsValid():
			c.bits = 128
		default:
			c.bits = 64
		}
	}
	if c.family == 6 && c.peer.IsValid() && c.bits != 128 && !del {
		return tunnel.Op{}, p.errorf("prefix length must be 128 with a destination address, not %d", c.bits)
	}
	op := p.op(tunnel.OpAddAddr)
	if del {
		op.Kind = tunnel.OpDeleteAddr
	}
	op.Addr = tunnel.Addr{Prefix: netip.PrefixFrom(c.addr, c.bits), Peer: c.peer}
	return op, nil
}

// localAddress parses the interface's own address, ADDR or ADDR/LEN.
func (p *parser) localAddress(c *addrClause) error {
	w, _ := p.word()
	s, length, hasLength := strings.Cut(w, "/")
	a, err := p.innerAddress(s, c.family)
	if err != nil {
		return err
	}
	c.addr = a
	if c.family == 0 {
		c.family = 6
		if a.Is4() {
			c.family = 4
		}
	}
	if hasLength {
		n, err := prefixLen(length, c.maxBits())
		if err != nil {
			return err
		}
		c.bits = n
	}
	return nil
}

// addressOptions parses the words after the address that belong to it. The
// first word that does not ends the parameter.
func (p *parser) addressOptions(c *addrClause) error {
	for {
		w, ok := p.peek()
		if !ok {
			return nil
		}
		switch {
		case w == "netmask":
			if c.family == 6 {
				p.pos++
				return errors.New("netmask is for inet; use prefixlen N")
			}
			v, err := p.optionValue("a mask such as 255.255.255.0 or 0xffffff00")
			if err != nil {
				return err
			}
			n, err := maskLen(v)
			if err != nil {
				return err
			}
			if err := c.setBits(n); err != nil {
				return err
			}
		case w == "prefixlen":
			v, err := p.optionValue(fmt.Sprintf("1..%d", c.maxBits()))
			if err != nil {
				return err
			}
			n, err := prefixLen(v, c.maxBits())
			if err != nil {
				return err
			}
			if err := c.setBits(n); err != nil {
				return err
			}
		case w == "broadcast":
			// On a point-to-point interface ifra_broadaddr is ifra_dstaddr.
			v, err := p.optionValue("the destination address")
			if err != nil {
				return err
			}
			if err := p.setPeer(c, v); err != nil {
				return err
			}
		case isMode(w):
			p.pos++
			if err := c.setMode(w); err != nil {
				return err
			}
		case looksLikeAddress(w):
			p.pos++
			if err := p.setPeer(c, w); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// optionValue moves past an option's name and returns its value; want says
// what is expected.
func (p *parser) optionValue(want string) (string, error) {
	name, _ := p.word()
	v, ok := p.word()
	if !ok {
		return "", fmt.Errorf("missing value after %s (want %s)", name, want)
	}
	return v, nil
}

func (c *addrClause) setBits(n int) error {
	if c.bits >= 0 {
		return errors.New("prefix length given twice")
	}
	c.bits = n
	return nil
}

func (c *addrClause) setMode(w string) error {
	if c.mode != "" {
		return fmt.Errorf("%s after %s (give one of alias, -alias or delete)", w, c.mode)
	}
	c.mode = w
	return nil
}

func (p *parser) setPeer(c *addrClause, w string) error {
	if c.peer.IsValid() {
		return fmt.Errorf("second destination address %s", w)
	}
	if strings.Contains(w, "/") {
		return fmt.Errorf("destination %s has a prefix length; it is one address", w)
	}
	a, err := p.innerAddress(w, c.family)
	if err != nil {
		return fmt.Errorf("destination %w", err)
	}
	c.peer = a
	return nil
}

// innerAddress parses an address of the inner side: of the given family (0
// for either), unicast, and without a zone unless it is link-local and the
// zone is this interface.
func (p *parser) innerAddress(s string, family int) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not %s", s, addressOf(family))
	}
	if zone := a.Zone(); zone != "" {
		if !a.IsLinkLocalUnicast() {
			return netip.Addr{}, fmt.Errorf("%s has a zone, which only a link-local address may have", s)
		}
		if zone != p.ifname {
			return netip.Addr{}, fmt.Errorf("%s has zone %q, not this interface %s", s, zone, p.ifname)
		}
		a = a.WithZone("")
	}
	if family == 4 && !a.Is4() || family == 6 && !a.Is6() {
		return netip.Addr{}, fmt.Errorf("%s is %s; %s takes %s", s, familyName(a), familyWord(family), addressOf(family))
	}
	if err := checkUnicast(a); err != nil {
		return netip.Addr{}, err
	}
	return a, nil
}

// endpoint parses an outer address: one unicast address, without a zone.
func endpoint(s string) (netip.Addr, error) {
	if strings.Contains(s, "/") {
		return netip.Addr{}, fmt.Errorf("%s has a prefix length; a tunnel endpoint is one address", s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not a numeric IP address", s)
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%s has a zone; a tunnel endpoint takes none", s)
	}
	if err := checkUnicast(a); err != nil {
		return netip.Addr{}, err
	}
	return a, nil
}

var broadcast4 = netip.AddrFrom4([4]byte{255, 255, 255, 255})

func checkUnicast(a netip.Addr) error {
	switch {
	case a.IsUnspecified():
		return fmt.Errorf("%s is unspecified", a)
	case a.IsMulticast():
		return fmt.Errorf("%s is multicast", a)
	case a == broadcast4:
		return fmt.Errorf("%s is the broadcast address", a)
	case a.Is4In6():
		return fmt.Errorf("%s is an IPv4-mapped IPv6 address; write it as IPv4", a)
	}
	return nil
}

// prefixLen parses a prefix length of 1..max.
func prefixLen(s string, max int) (int, error) {
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil || n < 1 || int(n) > max {
		return 0, fmt.Errorf("prefix length %q is not a number 1..%d", s, max)
	}
	return int(n), nil
}

// maskLen returns the prefix length of an IPv4 netmask, dotted
// (255.255.255.0) or hexadecimal (0xffffff00) as inet_aton reads it. The
// kernel refuses a mask whose ones are not contiguous.
func maskLen(s string) (int, error) {
	var m uint32
	if hex, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		v, err := strconv.ParseUint(hex, 16, 32)
		if err != nil {
			return 0, fmt.Errorf("netmask %q is not a mask such as 255.255.255.0 or 0xffffff00", s)
		}
		m = uint32(v)
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			return 0, fmt.Errorf("netmask %q is not a mask such as 255.255.255.0 or 0xffffff00", s)
		}
		b := a.As4()
		m = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	}
	if m == 0 {
		return 0, fmt.Errorf("netmask %s has no network bits", s)
	}
	if host := ^m; host&(host+1) != 0 {
		return 0, fmt.Errorf("netmask %s is not contiguous", s)
	}
	return bits.OnesCount32(m), nil
}

// looksLikeAddress reports whether w is meant as an address: no parameter
// name starts with a digit or holds a colon.
func looksLikeAddress(w string) bool {
	return w != "" && ('0' <= w[0] && w[0] <= '9' || strings.Contains(w, ":"))
}

func isMode(w string) bool { return w == "alias" || w == "-alias" || w == "delete" }

func familyName(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

func familyWord(family int) string {
	if family == 4 {
		return "inet"
	}
	return "inet6"
}

func addressOf(family int) string {
	switch family {
	case 4:
		return "an IPv4 address"
	case 6:
		return "an IPv6 address"
	}
	return "an IP address"
}

func usage(family int) string {
	if family == 4 {
		return "inet ADDR[/LEN] [DEST] [netmask MASK]"
	}
	return "inet6 ADDR[/LEN] [DEST] [prefixlen N]"
}
