package conffile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("x\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	data, mode, err := Read(path)
	if err != nil || string(data) != "x\n" || mode.Perm() != 0o640 {
		t.Fatalf("Read: %q %v %v", data, mode, err)
	}
	if _, _, err := Read(dir); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("Read of a directory: %v", err)
	}
	if _, _, err := Read(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Read of a missing file: %v", err)
	}
}
