package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gif/internal/control"
	"gif/internal/netns"
	"gif/internal/tools"
)

// TestSystemdUnit checks the shipped unit with systemd's own verifier, as
// make install writes it.
func TestSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile("../../dist/gif.service")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("@SBINDIR@", filepath.Dir(gifBin), "@DOCDIR@", "/usr/share/doc/gif").Replace(string(unit))
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

// unitCaps returns the capabilities that the shipped unit keeps, its
// CapabilityBoundingSet, as systemd names them (CAP_NET_ADMIN).
func unitCaps(t *testing.T) []string {
	t.Helper()
	unit, err := os.ReadFile("../../dist/gif.service")
	if err != nil {
		t.Fatal(err)
	}
	var caps []string
	for _, line := range strings.Split(string(unit), "\n") {
		if value, ok := strings.CutPrefix(line, "CapabilityBoundingSet="); ok {
			caps = append(caps, strings.Fields(value)...)
		}
	}
	if len(caps) == 0 {
		t.Fatal("dist/gif.service: no CapabilityBoundingSet")
	}
	return caps
}

// capBits are the numbers of the capabilities the unit may keep.
var capBits = map[string]uint{
	"CAP_NET_ADMIN": capNetAdmin, "CAP_NET_RAW": capNetRaw, "CAP_NET_BIND_SERVICE": capNetBindService,
	"CAP_BPF": capBPF, "CAP_SYS_ADMIN": capSysAdmin,
}

// TestUnitCapabilities runs two daemons with exactly the capabilities of
// the shipped unit, as systemd would, and checks that they carry an IP
// tunnel on the kernel plane, both inner families, and that they warn of
// nothing: a capability the unit lacks would show as a warning (IKE's
// ports, the kernel plane's fallback) or as a failure.
func TestUnitCapabilities(t *testing.T) {
	caps := unitCaps(t)
	setpriv := []string{"-all"}
	var want uint64
	for _, c := range caps {
		bit, ok := capBits[c]
		if !ok {
			t.Fatalf("dist/gif.service keeps %s, which capBits does not number", c)
		}
		want |= 1 << bit
		setpriv = append(setpriv, "+"+strings.ToLower(strings.TrimPrefix(c, "CAP_")))
	}
	a, b := newPair(t)
	daemons := map[*node]*netns.Proc{}
	for _, n := range []*node{a, b} {
		daemons[n] = n.startWithCaps(t, strings.Join(setpriv, ","))
		for _, set := range []string{"CapEff", "CapBnd"} {
			if got := n.daemonCaps(t, set); got != want {
				t.Fatalf("%s: the daemon's %s is %x, want %x (%s)", n.Name(), set, got, want, strings.Join(caps, " "))
			}
		}
	}
	tunnelBoth(a, b, 4, 4, 6)
	a.mustPing(innerB4, 3)
	a.mustPing(innerB6, 3)
	transfer(t, a, b, innerB4)
	for _, n := range []*node{a, b} {
		if st := n.status("gif0"); st.Plane != control.PlaneKernel {
			t.Errorf("%s: gif0 is on the %s plane (%s), want %s", n.Name(), st.Plane, st.PlaneReason, control.PlaneKernel)
		}
		if out := n.gif("ifconfig", "gif0"); !strings.Contains(out, "\n\tdataplane: kernel\n") {
			t.Errorf("%s: ifconfig gif0 lacks the line \"\\tdataplane: kernel\":\n%s", n.Name(), out)
		}
		for _, line := range strings.Split(daemons[n].Output(), "\n") {
			if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
				t.Errorf("%s: the daemon warns with the unit's capabilities: %s", n.Name(), line)
			}
		}
	}
}
