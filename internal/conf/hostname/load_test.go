package hostname

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"hostname.bridge0":     "add gif0 add fxp1\nup link2\n",
		"hostname.gif0":        "tunnel 1.2.3.4 4.3.2.1\nup\n",
		"hostname.fxp1":        "up\n",
		"hostname.gif0.orig":   "bogus\n",
		"hostname.gif0~":       "bogus\n",
		"hostname.gif1":        "up\nmtux 1400\n",
		"sysctl.conf":          "net.inet.etherip.allow=1\n",
		"hostname.00:00:5e:00": "bogus\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "hostname.fxp1"), 0o644); err != nil {
		t.Fatal(err)
	}

	files, err := LoadDir(dir)
	var names []string
	for _, f := range files {
		names = append(names, f.Interface)
	}
	if want := []string{"fxp1", "gif0", "bridge0"}; !slices.Equal(names, want) {
		t.Errorf("LoadDir loaded %q, want %q", names, want)
	}
	var fe *Error
	gif1 := filepath.Join(dir, "hostname.gif1")
	if !errors.As(err, &fe) || fe.File != gif1 || fe.Line != 2 {
		t.Errorf("LoadDir error %v, want %s:2: ...", err, gif1)
	}
	if len(files) == 3 {
		if w := files[0].Warnings; len(w) != 1 || !strings.Contains(w[0], "chmod o-rwx") {
			t.Errorf("hostname.fxp1 (mode 0644) warnings %q, want one saying chmod o-rwx", w)
		}
		if w := files[1].Warnings; len(w) != 0 {
			t.Errorf("hostname.gif0 (mode 0600) warnings %q", w)
		}
	}

	// Named interfaces only; a missing file is an error, the others load.
	files, err = LoadDir(dir, "gif7", "gif0")
	missing := filepath.Join(dir, "hostname.gif7")
	if len(files) != 1 || files[0].Interface != "gif0" {
		t.Errorf("LoadDir(gif7, gif0) loaded %+v, want gif0", files)
	}
	if !errors.Is(err, fs.ErrNotExist) || err.Error() != missing+": no such file or directory" {
		t.Errorf("LoadDir(gif7, gif0) error %v, want %s: no such file or directory", err, missing)
	}

	if _, err := LoadDir(filepath.Join(dir, "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadDir of a missing directory: %v", err)
	}
}
