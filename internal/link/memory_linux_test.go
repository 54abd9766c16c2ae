package link

import (
	"fmt"
	"runtime"
	"testing"
)

// TestDeviceMemory checks that an idle device keeps no buffers of its own:
// a thousand gifs must fit in a small daemon.
func TestDeviceMemory(t *testing.T) {
	const (
		devices   = 100
		maxPerDev = 16 << 10
	)
	for _, kind := range []string{"tun", "tap"} {
		t.Run(kind, func(t *testing.T) {
			inNewNetns(t)
			create := CreateTUN
			if kind == "tap" {
				create = CreateTAP
			}
			before := liveHeap()
			devs := make([]Device, 0, devices)
			t.Cleanup(func() {
				for _, dev := range devs {
					dev.Close()
				}
			})
			for i := range devices {
				dev, err := create(fmt.Sprintf("giftest%d", i), 1280)
				mustNoErr(t, err)
				devs = append(devs, dev)
			}
			perDev := (int64(liveHeap()) - int64(before)) / devices
			t.Logf("%s: %d bytes of heap per device", kind, perDev)
			if perDev > maxPerDev {
				t.Errorf("each %s device keeps %d bytes of heap, want at most %d", kind, perDev, maxPerDev)
			}
			runtime.KeepAlive(devs)
		})
	}
}

// liveHeap returns the bytes of heap in use after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
