package daemon_test

import (
	"os"
	"path/filepath"
	"testing"

	"gif/internal/control"
	"gif/internal/daemon"
	"gif/internal/dataplane"
)

// TestFastpathDefault: net.inet.gif.fastpath is 1 in a new daemon and in
// one restoring a state stored before the variable existed; 0 set and
// stored comes back.
func TestFastpathDefault(t *testing.T) {
	fastpath := func(d *daemon.Daemon) int {
		t.Helper()
		v, err := d.Sysctl([]string{"net.inet.gif.fastpath"})
		if err != nil || len(v) != 1 {
			t.Fatalf("sysctl net.inet.gif.fastpath: %v %v", v, err)
		}
		return v[0].Value
	}
	h := newFakeHost(t)
	dir := t.TempDir()
	if got := fastpath(startDaemon(t, h, filepath.Join(dir, "new.json"))); got != 1 {
		t.Errorf("a new daemon's net.inet.gif.fastpath is %d, want 1", got)
	}
	old := filepath.Join(dir, "old.json")
	if err := os.WriteFile(old, []byte(`{"interfaces":[],"sysctl":{"ipip_allow":0,"etherip_allow":1}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, h, old)
	if got := fastpath(d); got != 1 {
		t.Errorf("restored from a state without it, net.inet.gif.fastpath is %d, want 1", got)
	}
	if _, err := d.SetSysctl("net.inet.gif.fastpath", "0"); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if got := fastpath(startDaemon(t, h, old)); got != 0 {
		t.Errorf("net.inet.gif.fastpath=0 comes back as %d", got)
	}
}

// TestShowPlane: ifconfig shows the plane an interface's Iface says carries
// it, and why not the kernel's.
func TestShowPlane(t *testing.T) {
	h := newFakeHost(t)
	h.setLocal(local)
	p := newFakePlane()
	d := startOn(t, h, p, filepath.Join(t.TempDir(), "state.json"), nil)
	mustIfconfig(t, d, "gif0 tunnel 198.51.100.1 203.0.113.1")
	ifc, ok := p.View().IPTable.Lookup(local, peer)
	if !ok {
		t.Fatal("gif0 is not in the plane's table")
	}
	for _, tc := range []struct {
		state      dataplane.PlaneState
		plane, why string
	}{
		{dataplane.PlaneState{}, control.PlaneUserspace, ""},
		{dataplane.PlaneState{Why: "fastpath off"}, control.PlaneUserspace, "fastpath off"},
		{dataplane.PlaneState{Kernel: true}, control.PlaneKernel, ""},
		{dataplane.PlaneState{Kernel: true, Why: "stale"}, control.PlaneKernel, ""},
	} {
		ifc.SetPlaneState(tc.state)
		st := show(t, d, "gif0")
		if st.Plane != tc.plane || st.PlaneReason != tc.why {
			t.Errorf("with %+v gif0 shows plane %q (%q), want %q (%q)", tc.state, st.Plane, st.PlaneReason, tc.plane, tc.why)
		}
	}
}
