package ifconfig

import (
	"slices"
	"testing"
)

// TestWords checks that completion gets each kind's parameters, and none
// for a name that names no interface.
func TestWords(t *testing.T) {
	for _, c := range []struct {
		ifname string
		want   []string // some of the words
		count  int
	}{
		{"gif0", []string{"tunnel", "tunnelttl", "inet6", "-fastpath", "giftunnel"}, len(gifGrammar.params)},
		{"bridge7", []string{"add", "del", "link2"}, len(bridgeGrammar.params)},
		{"eth0", []string{"up", "down", "mtu"}, 3},
		{"bad/name", nil, 0},
	} {
		words := Words(c.ifname)
		if len(words) != c.count {
			t.Errorf("Words(%q) = %q: %d words, want %d", c.ifname, words, len(words), c.count)
		}
		for _, w := range c.want {
			if !slices.Contains(words, w) {
				t.Errorf("Words(%q) = %q lacks %q", c.ifname, words, w)
			}
		}
	}
}
