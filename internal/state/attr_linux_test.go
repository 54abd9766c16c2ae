package state

import (
	"context"
	"path/filepath"
	"testing"

	"gif/internal/tools"
)

// TestPrepareRefusesUnreplaceable checks that Prepare refuses a file the
// rename could not replace (immutable, or in an append-only directory):
// by the rename, the caller would have changed what the file describes.
func TestPrepareRefusesUnreplaceable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := Save(path, "old"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		flag, on, want string
	}{
		{"i", path, path + " is immutable (chattr +i)"},
		{"a", dir, dir + " is append-only (chattr +a)"},
	} {
		chattr := func(op string) {
			cmd, err := tools.Command(context.Background(), "chattr", op+tt.flag, tt.on)
			if err == nil {
				var out []byte
				if out, err = cmd.CombinedOutput(); err != nil {
					t.Fatalf("chattr %s%s %s: %v: %s", op, tt.flag, tt.on, err, out)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		chattr("+")
		_, err := Prepare(path, "new")
		chattr("-")
		if want := "store " + path + ": " + tt.want; err == nil || err.Error() != want {
			t.Errorf("Prepare with chattr +%s on %s: %v, want %s", tt.flag, tt.on, err, want)
		}
		if names := dirEntries(t, dir); len(names) != 1 {
			t.Errorf("refused Prepare left %q", names)
		}
	}
}
