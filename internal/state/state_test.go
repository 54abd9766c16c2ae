package state

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

type tunnel struct {
	Name  string         `json:"name"`
	MTU   int            `json:"mtu"`
	Dst   netip.Addr     `json:"dst"`
	Flags map[string]any `json:"flags,omitempty"`
}

// dirEntries lists the names in dir.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestSaveLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "tunnels.json")
	in := []tunnel{
		{Name: "gif0", MTU: 1280, Dst: netip.MustParseAddr("192.0.2.1"), Flags: map[string]any{"df": true}},
		{Name: "gif1", MTU: 1480, Dst: netip.MustParseAddr("2001:db8::1")},
	}
	if err := Save(path, in); err != nil {
		t.Fatal(err)
	}
	var out []tunnel
	if err := Load(path, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("loaded %+v, saved %+v", out, in)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "[{\"name\":\"gif0\",") || !strings.HasSuffix(string(data), "]\n") {
		t.Errorf("file is not JSON ending in a newline:\n%s", data)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700 | os.ModeDir, filepath.Dir(dir): 0o700 | os.ModeDir} {
		if info, err := os.Stat(p); err != nil || info.Mode() != want {
			t.Errorf("%s: mode %v (%v), want %v", p, info.Mode(), err, want)
		}
	}

	// Saving again replaces the file and leaves nothing else behind.
	in[0].MTU = 1400
	if err := Save(path, in); err != nil {
		t.Fatal(err)
	}
	if err := Load(path, &out); err != nil || out[0].MTU != 1400 {
		t.Errorf("after second Save loaded mtu %d (%v), want 1400", out[0].MTU, err)
	}
	if names := dirEntries(t, dir); len(names) != 1 || names[0] != "tunnels.json" {
		t.Errorf("directory holds %q, want only tunnels.json", names)
	}
}

func TestSaveFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")

	if err := Save(path, make(chan int)); err == nil {
		t.Error("Save of an unencodable value succeeded")
	}
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Errorf("failed Save left %q", names)
	}

	// A directory in the way makes the rename fail after the temp file is written.
	if err := os.MkdirAll(filepath.Join(path, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	err := Save(path, 1)
	if err == nil || !strings.HasPrefix(err.Error(), "store "+path+": ") || strings.Contains(err.Error(), ".tmp-") {
		t.Errorf("Save over a directory: %v", err)
	}
	if names := dirEntries(t, dir); len(names) != 1 || names[0] != "state.json" {
		t.Errorf("failed rename left %q", names)
	}
}

// A crash after the temp file is written and before the rename leaves the
// old file in place and the new one under a hidden name that Load ignores.
func TestCrashBeforeRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := Save(path, "old"); err != nil {
		t.Fatal(err)
	}

	p, err := Prepare(path, "new")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(p.tmp) != dir {
		t.Errorf("temp file %s is not beside %s, so rename could cross file systems", p.tmp, path)
	}
	if base := filepath.Base(p.tmp); !strings.HasPrefix(base, ".state.json.tmp-") {
		t.Errorf("temp file %s is not a hidden name derived from state.json", base)
	}
	if info, err := os.Stat(p.tmp); err != nil || info.Mode() != 0o600 {
		t.Errorf("temp file mode %v (%v), want 0600", info.Mode(), err)
	}
	var got string
	if err := Load(path, &got); err != nil || got != "old" {
		t.Errorf("after crash before rename loaded %q (%v), want old", got, err)
	}

	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := Load(path, &got); err != nil || got != "new" {
		t.Errorf("after rename loaded %q (%v), want new", got, err)
	}
	if _, err := os.Stat(p.tmp); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temp file still exists after rename: %v", err)
	}
}

// Discard drops a prepared file and leaves the old one as it was.
func TestPrepareDiscard(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys")
	if err := WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := PrepareFile(path, []byte("new"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(p.tmp); err != nil || info.Mode() != 0o644 {
		t.Errorf("prepared file mode %v (%v), want 0644 before it is in place", info.Mode(), err)
	}
	p.Discard()
	if data, err := os.ReadFile(path); err != nil || string(data) != "old" {
		t.Errorf("after Discard %s holds %q (%v), want old", path, data, err)
	}
	if names := dirEntries(t, dir); len(names) != 1 || names[0] != "keys" {
		t.Errorf("Discard left %q", names)
	}
}

// A refused Prepare or Commit names the file it was for and the cause,
// not the temp file, and leaves nothing behind.
func TestPrepareCommitRefused(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(blocker, "state.json")
	if _, err := Prepare(path, 1); err == nil || !strings.HasPrefix(err.Error(), "store "+path+": ") || !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("Prepare under a file: %v, want store %s: ... not a directory", err, path)
	}

	path = filepath.Join(dir, "state.json")
	p, err := Prepare(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	// A directory that appears in the way makes the rename fail.
	if err := os.MkdirAll(filepath.Join(path, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	err = p.Commit()
	if want := "store " + path + ": "; err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), ".tmp-") || errors.Is(err, ErrNotSynced) {
		t.Errorf("Commit over a directory: %v, want %s<cause>, not ErrNotSynced", err, want)
	}
	if names := dirEntries(t, dir); len(names) != 2 {
		t.Errorf("failed Commit left %q, want file and state.json", names)
	}
}

func TestLoadMissing(t *testing.T) {
	var v any
	err := Load(filepath.Join(t.TempDir(), "none.json"), &v)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestLoadCorrupt(t *testing.T) {
	for _, tt := range []struct {
		data string
		want string // after the path
	}{
		{"{\n  \"name\": gif0\n}\n", ":2:11: invalid character 'g' looking for beginning of value"},
		{"[\n\t{\"name\": \"gif0\"},\n\t{\"name\": \"gif1\",\n", ":3:18: unexpected end of JSON input"},
		{"[{\"name\": \"gif0\"}]\n]", ":2:1: invalid character ']' after top-level value"},
		{"[\n{\"name\": \"gif0\", \"mtu\": \"big\"}]", ":2:29: json: cannot unmarshal string into Go struct field tunnel.mtu of type int"},
		{"[{\"dst\": \"192.0.2\"}]", `: ParseAddr("192.0.2"): IPv4 address too short`},
	} {
		path := filepath.Join(t.TempDir(), "tunnels.json")
		if err := os.WriteFile(path, []byte(tt.data), 0o600); err != nil {
			t.Fatal(err)
		}
		var v []tunnel
		err := Load(path, &v)
		if want := "corrupt state file " + path + tt.want; err == nil || err.Error() != want {
			t.Errorf("Load(%q):\n got %v\nwant %s", tt.data, err, want)
		}
	}

	path := filepath.Join(t.TempDir(), "truncated.json")
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	var v any
	var syntaxErr *json.SyntaxError
	if err := Load(path, &v); !errors.As(err, &syntaxErr) {
		t.Errorf("Load of a truncated file: %v does not wrap a *json.SyntaxError", err)
	}
}

func TestDirFromEnvironment(t *testing.T) {
	t.Setenv(DirEnv, "/tmp/gif-state-somewhere")
	if dir, err := Dir(); err != nil || dir != "/tmp/gif-state-somewhere" {
		t.Errorf("Dir() = %q, %v with %s set", dir, err, DirEnv)
	}
}
