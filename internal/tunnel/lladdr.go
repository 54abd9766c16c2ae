package tunnel

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// LLAddr is the Ethernet address of a bridged gif: the address of its TAP
// device. It is kept in the state, so that the LAN sees the same address
// after the daemon restarts or the gif leaves and rejoins its bridge. The
// zero LLAddr is none.
type LLAddr [6]byte

// RandomLLAddr returns a random locally administered unicast address, as
// Linux gives a new TAP device and OpenBSD's ifconfig "lladdr random".
func RandomLLAddr() LLAddr {
	var a LLAddr
	rand.Read(a[:])
	a[0] = a[0]&^0x01 | 0x02 // unicast, locally administered
	return a
}

// IsZero reports whether a is none.
func (a LLAddr) IsZero() bool { return a == LLAddr{} }

// Check says why a cannot be an interface's address: a multicast address
// or all zeros, which Linux and OpenBSD refuse.
func (a LLAddr) Check() error {
	switch {
	case a.IsZero():
		return errors.New("00:00:00:00:00:00 is no interface's address")
	case a[0]&0x01 != 0:
		return fmt.Errorf("%s is a multicast address (the low bit of its first byte is set); an interface's address is unicast", a)
	}
	return nil
}

func (a LLAddr) String() string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3], a[4], a[5])
}

// ParseLLAddr reads six colon-separated bytes of one or two hex digits each,
// as OpenBSD's ether_aton does ("2:0:5e:0:53:1" or "02:00:5e:00:53:01").
func ParseLLAddr(s string) (LLAddr, error) {
	var a LLAddr
	parts := strings.Split(s, ":")
	if len(parts) != len(a) {
		return a, fmt.Errorf("%q is not an Ethernet address (want six hex bytes separated by colons, as 02:00:5e:00:53:01)", s)
	}
	for i, p := range parts {
		b, err := strconv.ParseUint(p, 16, 8)
		if err != nil || len(p) > 2 {
			return LLAddr{}, fmt.Errorf("%q is not an Ethernet address: byte %d %q is not one or two hex digits", s, i+1, p)
		}
		a[i] = byte(b)
	}
	return a, nil
}

func (a LLAddr) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

func (a *LLAddr) UnmarshalText(text []byte) error {
	v, err := ParseLLAddr(string(text))
	if err != nil {
		return err
	}
	*a = v
	return nil
}
