package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gif/internal/tools"
)

// TestSystemdUnit checks the shipped unit with systemd's own verifier, as
// make install writes it.
func TestSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile("../../dist/gif.service")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(unit), "@SBINDIR@", filepath.Dir(gifBin))
	for _, want := range []string{"Type=notify", "ExecStart=" + gifBin + " daemon $GIF_DAEMON_FLAGS", "EnvironmentFile=-/etc/gif/daemon.conf", "ExecStartPost=" + gifBin + " netstart"} {
		if !strings.Contains(text, want) {
			t.Errorf("unit lacks %q", want)
		}
	}
	path := filepath.Join(t.TempDir(), "gif.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	verify, err := tools.Command(t.Context(), "systemd-analyze", "verify", "--man=no", path)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := verify.CombinedOutput(); err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
