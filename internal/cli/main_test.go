package cli

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// TestArgumentErrors covers mistakes caught before any daemon is asked.
func TestArgumentErrors(t *testing.T) {
	for _, c := range []struct {
		args   []string
		status int
		stderr string
	}{
		{nil, 2, "usage: gif command"},
		{[]string{"ifconfg"}, 2, `unknown command "ifconfg"`},
		{[]string{"ifconfig", "-x"}, 1, `unknown flag "-x"`},
		{[]string{"ifconfig", "gif0", "mtu"}, 1, `gif ifconfig: gif0: argument 1 "mtu": missing value`},
		{[]string{"ifconfig", "gif0", "tunnel", "192.0.2.1", "2001:db8::1"}, 1, "source is IPv4 but destination is IPv6"},
		{[]string{"sysctl", "-w"}, 1, `unknown flag "-w"`},
		{[]string{"netstat"}, 1, "give one of -s or -i"},
		{[]string{"netstat", "-s", "-p", "tcp"}, 1, "-p tcp: unknown protocol"},
		{[]string{"netstat", "-s", "-p"}, 1, "missing protocol"},
		{[]string{"daemon", "extra"}, 2, "Usage"},
		{[]string{"demo", "now"}, 1, "takes no arguments"},
	} {
		var stdout, stderr bytes.Buffer
		status := Main(c.args, &stdout, &stderr)
		if status != c.status || !strings.Contains(stderr.String(), c.stderr) {
			t.Errorf("gif %v: status %d, stderr %q; want %d and %q", c.args, status, stderr.String(), c.status, c.stderr)
		}
	}
	var stdout, stderr bytes.Buffer
	if status := Main([]string{"help"}, &stdout, &stderr); status != 0 || !strings.Contains(stdout.String(), "ifconfig") {
		t.Errorf("help: status %d, %q", status, stdout.String())
	}
}

// TestHelp: gif help COMMAND, gif COMMAND -h and --help print the command's
// usage on stdout and exit 0, and the usage names every flag the command's
// parser takes.
func TestHelp(t *testing.T) {
	for name, cmd := range commands {
		for _, args := range [][]string{{"help", name}, {name, "-h"}, {name, "--help"}, {name, "-help"}} {
			var stdout, stderr bytes.Buffer
			if status := Main(args, &stdout, &stderr); status != 0 || stdout.String() != cmd.usage || stderr.Len() > 0 {
				t.Errorf("gif %v: status %d, stdout %q, stderr %q; want 0 and the usage", args, status, stdout.String(), stderr.String())
			}
		}
		if !strings.HasPrefix(cmd.usage, "usage: gif "+name) {
			t.Errorf("usage of %s does not begin with its synopsis: %q", name, cmd.usage)
		}
		if !strings.Contains(usage, "\n  "+name+" ") && !strings.Contains(usage, "\n  "+name+"\n") {
			t.Errorf("gif help does not list %s", name)
		}
	}
	for name, flags := range map[string][]string{
		"ifconfig": {"-a", "-j", "-C"},
		"netstart": {"-d", "-n"},
		"sysctl":   {"-a", "net.inet.ipip.allow", "net.inet.etherip.allow", "net.inet.gif.fastpath"},
		"netstat":  {"-s", "-p", "-i", "ipip", "etherip", "esp"},
		"ipsecctl": {"-f", "-d", "-n", "-v", "-s", "-F", "all", "sa", "flow", "ike"},
		"daemon":   {"-d", "-m"},
	} {
		for _, f := range flags {
			if !slices.Contains(usageWords(commands[name].usage), f) {
				t.Errorf("usage of %s does not explain %s", name, f)
			}
		}
	}
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"help", "help"}} {
		var stdout, stderr bytes.Buffer
		if status := Main(args, &stdout, &stderr); status != 0 || stdout.String() != usage {
			t.Errorf("gif %v: status %d, %q", args, status, stdout.String())
		}
	}
}

// TestFlagsInUsage: every flag that a command's FlagSet defines is in its
// usage, so the two cannot drift apart.
func TestFlagsInUsage(t *testing.T) {
	seen := map[string]int{}
	for name, cmd := range commands {
		var stdout, stderr bytes.Buffer
		// An unknown flag makes a FlagSet print its flags.
		cmd.run([]string{"-no-such-flag-for-the-test"}, &stdout, &stderr)
		for _, line := range strings.Split(stderr.String(), "\n") {
			f, ok := strings.CutPrefix(strings.TrimSpace(line), "-")
			if !ok || !strings.HasPrefix(line, "  -") {
				continue
			}
			f = strings.Fields(f)[0]
			seen[name]++
			if !slices.Contains(usageWords(cmd.usage), "-"+f) {
				t.Errorf("gif %s takes -%s, its usage does not name it", name, f)
			}
		}
	}
	for name, n := range map[string]int{"daemon": 2, "netstart": 2, "ipsecctl": 6} {
		if seen[name] != n {
			t.Errorf("gif %s: %d flags read from its FlagSet, want %d", name, seen[name], n)
		}
	}
}

// usageWords splits a usage text into its words and flags.
func usageWords(usage string) []string {
	return strings.FieldsFunc(usage, func(r rune) bool { return strings.ContainsRune(" ,()[]|\n", r) })
}
