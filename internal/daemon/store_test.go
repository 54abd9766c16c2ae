package daemon_test

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gif/internal/conf/ipsecconf"
	"gif/internal/daemon"
	"gif/internal/ipsec/policy"
)

// blockRename puts a non-empty directory where the file path goes: the
// file can be written beside it, but not renamed into place.
func blockRename(t *testing.T, path string) {
	t.Helper()
	if err := os.RemoveAll(path); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(path, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
}

// refusedWith checks that err refuses the change what because the file
// path could not be stored.
func refusedWith(t *testing.T, what string, err error, path string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), "store "+path+": ") || !strings.HasSuffix(err.Error(), ": nothing changed") {
		t.Errorf("%s: %v, want store %s: <cause>: nothing changed", what, err, path)
	}
}

// TestApplyStateRenameFails checks the last line of defence: a state file
// written but refused its place, after Linux changed, has Linux put back.
func TestApplyStateRenameFails(t *testing.T) {
	h := newFakeHost(t)
	h.setLocal(local)
	path := filepath.Join(t.TempDir(), "state.json")
	d := startDaemon(t, h, path)
	mustIfconfig(t, d, "gif0 tunnel 198.51.100.1 203.0.113.1 inet 192.0.2.1/24")
	before := takeSnapshot(t, d, h, path)
	blockRename(t, path)
	before.stateFile = nil
	_, _, err := ifconfigCmd(d, "gif0 mtu 1500 inet 192.0.2.1/28")
	refusedWith(t, "ifconfig with a directory in the state file's place", err, path)
	if len(h.callsOf("SetMTU")) < 2 {
		t.Error("Linux was not changed and put back: the file was not written before Linux changed")
	}
	before.check(t, takeSnapshot(t, d, h, filepath.Join(path, "none"))) // no state file to compare
}

// TestLoadIPsecStoreFails checks that rules whose file cannot be stored
// leave the loaded rules as they were, whether the disk refuses the file
// before the SAs change or its place after.
func TestLoadIPsecStoreFails(t *testing.T) {
	h := newFakeHost(t)
	h.setLocal(local, local2, local6)
	dir := t.TempDir()
	d := startDaemon(t, h, filepath.Join(dir, "state.json"))
	parse := func(spi string) policy.Config {
		t.Helper()
		cfg, err := ipsecconf.Parse("ipsec.conf", []byte("esp from 198.51.100.1 to 203.0.113.1 spi "+spi+
			" authkey "+strings.Repeat("11", 32)+" enckey "+strings.Repeat("33", 16)+"\n"), ipsecconf.OSFiles{})
		if err != nil {
			t.Fatal(err)
		}
		return *cfg
	}
	loaded := func() string {
		var spis []string
		for _, sa := range d.IPsec().SAs {
			spis = append(spis, fmt.Sprintf("%s>%s 0x%x", sa.Src, sa.Dst, sa.SPI))
		}
		return strings.Join(spis, ",")
	}
	if _, err := d.LoadIPsec(parse("0x4242")); err != nil {
		t.Fatal(err)
	}
	want := loaded()
	path := filepath.Join(dir, "ipsec.json")

	blockRename(t, path)
	_, err := d.LoadIPsec(parse("0x4343"))
	refusedWith(t, "ipsecctl -f with a directory in ipsec.json's place", err, path)
	if got := loaded(); got != want {
		t.Errorf("SAs after a refused load: %s, want %s", got, want)
	}

	// No directory at all: refused before the SAs change.
	stateDir := filepath.Dir(path)
	if err := os.RemoveAll(stateDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stateDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = d.DeleteIPsec(parse("0x4242"))
	refusedWith(t, "ipsecctl -d without a state directory", err, path)
	if got := loaded(); got != want {
		t.Errorf("SAs after a refused delete: %s, want %s", got, want)
	}
}

// TestSeqReservationFailureLoggedOnce: a disk that refuses the ESP sequence
// number reservations, which are tried again every second, is logged once
// when it starts refusing and once when it takes them again.
func TestSeqReservationFailureLoggedOnce(t *testing.T) {
	h := newFakeHost(t)
	h.setLocal(local)
	rec := &logRecorder{}
	statePath := filepath.Join(t.TempDir(), "state.json")
	d, err := daemon.New(h, newFakePlane(), daemon.Config{StatePath: statePath, Log: slog.New(rec), ListenIKE: listenQuietly, WatchAddrs: h.watchAddrs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	cfg, err := ipsecconf.Parse("ipsec.conf", []byte("esp from 198.51.100.1 to 203.0.113.1 spi 0x4242"+
		" authkey "+strings.Repeat("11", 32)+" enckey "+strings.Repeat("33", 16)+"\n"), ipsecconf.OSFiles{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.LoadIPsec(*cfg); err != nil {
		t.Fatal(err)
	}
	const refused, again = "cannot keep ESP sequence numbers", "ESP sequence numbers kept again"
	check := func(step string, wantRefused, wantAgain int) {
		t.Helper()
		if r, a := rec.matching(refused), rec.matching(again); len(r) != wantRefused || len(a) != wantAgain {
			t.Errorf("%s: logged %q and %q; want %d and %d", step, r, a, wantRefused, wantAgain)
		}
	}
	seqPath := filepath.Join(filepath.Dir(statePath), "ipsec-seq.json")
	blockRename(t, seqPath)
	for range 3 {
		d.RenewSeqReservations()
	}
	check("refused three times", 1, 0)
	if err := os.RemoveAll(seqPath); err != nil {
		t.Fatal(err)
	}
	d.RenewSeqReservations()
	d.RenewSeqReservations()
	check("stored again", 1, 1)
	if _, err := os.Stat(seqPath); err != nil {
		t.Errorf("no reservations stored: %v", err)
	}
}
