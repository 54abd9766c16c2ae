package cli

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// TestComplete checks the words gif complete gives bash: every command and
// help but the hidden complete itself, and ifconfig's by interface kind.
func TestComplete(t *testing.T) {
	complete := func(words ...string) []string {
		var stdout, stderr bytes.Buffer
		if status := Main(append([]string{completeCommand}, words...), &stdout, &stderr); status != 0 || stderr.Len() > 0 {
			t.Fatalf("gif complete %q: status %d, stderr %q", words, status, stderr.String())
		}
		return strings.Fields(stdout.String())
	}
	names := complete()
	for name := range commands {
		if !slices.Contains(names, name) {
			t.Errorf("gif complete lacks the command %q: %q", name, names)
		}
	}
	if !slices.Contains(names, "help") || slices.Contains(names, completeCommand) || len(names) != len(commands)+1 {
		t.Errorf("gif complete = %q, want the commands and help", names)
	}
	if help := complete("help"); !slices.Equal(help, names) {
		t.Errorf("gif complete help = %q, want %q", help, names)
	}
	for _, c := range []struct {
		words []string
		want  string
	}{
		{[]string{"ifconfig", "gif0"}, "tunnelttl"},
		{[]string{"ifconfig", "-j", "bridge1"}, "link2"},
		{[]string{"sysctl"}, "net.inet.gif.fastpath"},
		{[]string{"netstat", "-s", "-p"}, "etherip"},
	} {
		if got := complete(c.words...); !slices.Contains(got, c.want) {
			t.Errorf("gif complete %q = %q, lacks %q", c.words, got, c.want)
		}
	}
	if got := complete("ipsecctl", "-f"); len(got) != 0 {
		t.Errorf("gif complete ipsecctl -f = %q, want nothing (a file)", got)
	}
}
