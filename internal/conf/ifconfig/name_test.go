package ifconfig

import (
	"errors"
	"testing"
)

func TestNames(t *testing.T) {
	valid := []struct {
		name string
		want *grammar
	}{
		{"gif0", &gifGrammar},
		{"gif9999", &gifGrammar},
		{"bridge0", &bridgeGrammar},
		{"bridge9999", &bridgeGrammar},
		{"eth1", &linkGrammar},
		{"fxp1", &linkGrammar},
		{"ens3", &linkGrammar},
		{"gif", &linkGrammar},
		{"gifx", &linkGrammar},
		{"gif0a", &linkGrammar},
		{"bridge", &linkGrammar},
		{"br0", &linkGrammar},
		{"0", &linkGrammar},
		{"-x", &linkGrammar},
		{"a.b", &linkGrammar},
		{"é", &linkGrammar},
		{"a\x85b", &linkGrammar},
		{"abcdefghijklmno", &linkGrammar},
	}
	for _, tc := range valid {
		g, err := grammarOf(tc.name)
		if err != nil || g != tc.want {
			t.Errorf("grammarOf(%q) = %p, %v; want %p", tc.name, g, err, tc.want)
		}
	}

	const noBadBytes = "; Linux interface names have no '/', ':', '%', white space or NUL"
	invalid := []struct{ name, reason string }{
		{"", "empty"},
		{"abcdefghijklmnop", "16 bytes, more than Linux's 15"},
		{"bridge123456789x", "16 bytes, more than Linux's 15"},
		{".", `Linux refuses "." and ".." as names`},
		{"..", `Linux refuses "." and ".." as names`},
		{"a/b", `contains "/"` + noBadBytes},
		{"eth0:1", `contains ":"` + noBadBytes},
		{"eth%d", `contains "%"` + noBadBytes},
		{"a b", `contains " "` + noBadBytes},
		{"a\vb", `contains "\v"` + noBadBytes},
		{"\x00", `contains "\x00"` + noBadBytes},
		{"a\xa0", `contains "\xa0"` + noBadBytes},
		{"gif00", "not a gif interface (want gif0 .. gif9999, without leading zeros)"},
		{"gif10000", "not a gif interface (want gif0 .. gif9999, without leading zeros)"},
		{"bridge01", "not a bridge (want bridge0 .. bridge9999, without leading zeros)"},
		{"bridge10000", "not a bridge (want bridge0 .. bridge9999, without leading zeros)"},
	}
	for _, tc := range invalid {
		ops, err := Parse(tc.name, []string{"up"})
		var ne *NameError
		if !errors.As(err, &ne) {
			t.Errorf("Parse(%q, up) = %+v, %v; want a *NameError", tc.name, ops, err)
			continue
		}
		if *ne != (NameError{Name: tc.name, Reason: tc.reason}) {
			t.Errorf("Parse(%q, up): got %+v, want reason %s", tc.name, *ne, tc.reason)
		}
	}
	if got, want := (&NameError{Name: "a/b", Reason: "r"}).Error(), `interface name "a/b": r`; got != want {
		t.Errorf("NameError = %s, want %s", got, want)
	}
}
