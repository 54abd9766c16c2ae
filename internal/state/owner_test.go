package state

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestSetAsideForeign checks who inherits a state directory: the namespace
// that wrote it, after a daemon restart or a reboot; not another namespace
// of the same boot, which finds it moved aside with its owner record.
func TestSetAsideForeign(t *testing.T) {
	files := []string{"state.json", "ipsec.json", "ipsec-seq.json"}
	writer := Owner{Boot: "8a6a2b5c-0f6e-4b8e-9d53-1a2b3c4d5e6f", Cookie: 4096}
	for _, tt := range []struct {
		name  string
		now   Owner
		moved bool
	}{
		{"same namespace", writer, false},
		{"after a reboot", Owner{Boot: "0c1d2e3f-aaaa-4bbb-8ccc-dddddddddddd", Cookie: 4096}, false},
		{"another namespace of this boot", Owner{Boot: writer.Boot, Cookie: 4100}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := RecordOwner(dir, writer); err != nil {
				t.Fatal(err)
			}
			// ipsec-seq.json is missing: there were no SAs.
			for _, name := range []string{"state.json", "ipsec.json", "daemon.log"} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(name), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			aside, err := SetAsideForeign(dir, tt.now, files)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.moved {
				if aside != "" {
					t.Errorf("state moved to %s", aside)
				}
				if got := dirEntries(t, dir); !slices.Equal(got, []string{"daemon.log", "ipsec.json", "netns.json", "state.json"}) {
					t.Errorf("directory holds %q", got)
				}
				return
			}
			if want := filepath.Join(dir, "deleted-netns-8a6a2b5c-4096"); aside != want {
				t.Fatalf("state moved to %q, want %q", aside, want)
			}
			if got := dirEntries(t, dir); !slices.Equal(got, []string{"daemon.log", "deleted-netns-8a6a2b5c-4096"}) {
				t.Errorf("directory holds %q after the move, want only what is not state", got)
			}
			if got := dirEntries(t, aside); !slices.Equal(got, []string{"ipsec.json", "netns.json", "state.json"}) {
				t.Errorf("moved aside: %q", got)
			}
			var was Owner
			if err := Load(filepath.Join(aside, ownerFileName), &was); err != nil || was != writer {
				t.Errorf("owner record moved aside: %+v, %v; want %+v", was, err, writer)
			}
		})
	}
}

func TestSetAsideForeignWithoutOwner(t *testing.T) {
	dir := t.TempDir()
	// State of a gif before owners were recorded: kept.
	if err := Save(filepath.Join(dir, "state.json"), 1); err != nil {
		t.Fatal(err)
	}
	if aside, err := SetAsideForeign(dir, Owner{Boot: "b", Cookie: 1}, []string{"state.json"}); err != nil || aside != "" {
		t.Errorf("SetAsideForeign without an owner record: %q, %v", aside, err)
	}
	if aside, err := SetAsideForeign(filepath.Join(dir, "missing"), Owner{Boot: "b", Cookie: 1}, []string{"state.json"}); err != nil || aside != "" {
		t.Errorf("SetAsideForeign of a missing directory: %q, %v", aside, err)
	}
}

func TestRecordOwner(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	now := Owner{Boot: "b", Cookie: 7}
	if err := RecordOwner(dir, now); err != nil {
		t.Fatal(err)
	}
	var got Owner
	if err := Load(filepath.Join(dir, ownerFileName), &got); err != nil || got != now {
		t.Errorf("recorded %+v, %v; want %+v", got, err, now)
	}
	// Unchanged, it is not written again (a new file would have a new
	// inode): a full disk does not matter then.
	before, _ := os.Stat(filepath.Join(dir, ownerFileName))
	if err := RecordOwner(dir, now); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(filepath.Join(dir, ownerFileName)); !os.SameFile(before, after) {
		t.Error("an unchanged owner was written again")
	}
}
