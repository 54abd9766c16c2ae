package cli

import (
	"bytes"
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
