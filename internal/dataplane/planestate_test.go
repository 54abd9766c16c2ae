package dataplane_test

import (
	"log/slog"
	"sync"
	"testing"

	"gif/internal/dataplane"
	"gif/internal/link/linktest"
	"gif/internal/tunnel"
)

// TestPlaneState: an interface says no plane until told, then the last
// state it was given, also while another goroutine sets it (go test -race).
func TestPlaneState(t *testing.T) {
	u := dataplane.NewUserspace(slog.New(slog.DiscardHandler))
	ifc := u.Attach(linktest.New("gif0", testBatchSize), false, new(tunnel.Counters))
	defer ifc.Detach()
	if got := ifc.PlaneState(); got != (dataplane.PlaneState{}) {
		t.Fatalf("a new interface's plane state is %+v, want the zero one", got)
	}
	kernel := dataplane.PlaneState{Kernel: true}
	off := dataplane.PlaneState{Why: "fastpath off"}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 1000 {
			ifc.SetPlaneState(kernel)
		}
	}()
	for range 1000 {
		if got := ifc.PlaneState(); got != kernel && got != (dataplane.PlaneState{}) {
			t.Fatalf("plane state %+v while setting %+v", got, kernel)
		}
	}
	wg.Wait()
	ifc.SetPlaneState(off)
	if got := ifc.PlaneState(); got != off {
		t.Fatalf("plane state %+v, want %+v", got, off)
	}
}
