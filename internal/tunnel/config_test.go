package tunnel

import (
	"net/netip"
	"testing"
)

// TestFamily checks the family of outer addresses, which picks the
// transport of a tunnel and the policy rules of its routing domain.
func TestFamily(t *testing.T) {
	for _, tt := range []struct {
		addr string
		want int
	}{
		{"198.51.100.1", 4},
		{"2001:db8::1", 6},
		{"::ffff:198.51.100.1", 6}, // an IPv4-mapped address goes over IPv6
	} {
		if got := Family(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("Family(%s) = %d; want %d", tt.addr, got, tt.want)
		}
	}
}
