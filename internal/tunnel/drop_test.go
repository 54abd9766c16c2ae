package tunnel

import "testing"

func TestDropString(t *testing.T) {
	for _, tt := range []struct {
		d    Drop
		want string
	}{
		{DropNone, "none"},
		{DropShort, "short"},
		{DropFamily, "family"},
		{DropECN, "ecn"},
		{DropLoop, "loop"},
		{Drop(200), "drop200"},
	} {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("Drop(%d).String() = %q, want %q", tt.d, got, tt.want)
		}
	}
	seen := map[string]Drop{}
	for d := range Drop(numDrops) {
		if prev, ok := seen[d.String()]; ok {
			t.Errorf("drops %d and %d are both %q", prev, d, d.String())
		}
		seen[d.String()] = d
	}
}
