package hostname

import (
	"slices"
	"testing"
)

func TestOrder(t *testing.T) {
	tests := []struct{ in, want []string }{
		{
			[]string{"bridge0", "gif1", "fxp1", "gif0", "em0", "bridge10", "bridge2", "gif10", "gif2"},
			[]string{"em0", "fxp1", "gif0", "gif1", "gif2", "gif10", "bridge0", "bridge2", "bridge10"},
		},
		// The seed's example, in any order.
		{[]string{"bridge0", "gif0", "fxp1"}, []string{"fxp1", "gif0", "bridge0"}},
		{[]string{"gif0", "fxp1", "bridge0"}, []string{"fxp1", "gif0", "bridge0"}},
		// Names that only look like gifs or bridges are plain interfaces.
		{[]string{"gif01", "gif0", "bridge", "eth0", "gif0"}, []string{"bridge", "eth0", "gif01", "gif0"}},
		{nil, nil},
	}
	for _, tc := range tests {
		in := slices.Clone(tc.in)
		if got := Order(in); !slices.Equal(got, tc.want) {
			t.Errorf("Order(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if !slices.Equal(in, tc.in) {
			t.Errorf("Order(%q) changed its argument to %q", tc.in, in)
		}
	}
}
