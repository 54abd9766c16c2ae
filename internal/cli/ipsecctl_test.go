package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIPsecctlParseOnlyRefusesWhatLoadRefuses: -n checks a file as a load
// would, so an ah SA, which gif's ESP cannot carry, is an error naming its
// line rather than an SA shown as esp.
func TestIPsecctlParseOnlyRefusesWhatLoadRefuses(t *testing.T) {
	dir := t.TempDir()
	key := "0x" + strings.Repeat("ab", 32)
	for _, c := range []struct {
		rules  string
		status int
		stderr string
	}{
		{"esp from 192.0.2.1 to 192.0.2.2 spi 0x1000 authkey " + key + " enckey 0x" + strings.Repeat("cd", 16) + "\n", 0, ""},
		{"# ah\n\nah from 192.0.2.1 to 192.0.2.2 spi 0x1000 auth hmac-sha2-256 authkey " + key + "\n", 1, "ipsec.conf:3: ah SAs are not supported"},
	} {
		path := filepath.Join(dir, "ipsec.conf")
		if err := os.WriteFile(path, []byte(c.rules), 0o600); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		status := Main([]string{"ipsecctl", "-nvf", path}, &stdout, &stderr)
		if status != c.status || !strings.Contains(stderr.String(), c.stderr) || (c.status != 0 && stdout.Len() > 0) {
			t.Errorf("ipsecctl -nvf with %q: status %d, stdout %q, stderr %q; want %d and %q",
				c.rules, status, stdout.String(), stderr.String(), c.status, c.stderr)
		}
	}
}
