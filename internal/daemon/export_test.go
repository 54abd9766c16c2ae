package daemon

import (
	"time"

	"gif/internal/dataplane"
)

// ServeRequest is the daemon's control handler, for package daemon_test.
var ServeRequest = (*Daemon).serve

// Headroom is where a receive loop's packets start in their buffers.
const Headroom = dataplane.Headroom

// BufSize is the size of a receive loop's buffers.
const BufSize = dataplane.BufSize

// NewReceiver returns a receive loop of d's data plane without its socket:
// the benchmarks hand it batches.
func (d *Daemon) NewReceiver(proto uint8) *dataplane.Receiver {
	return d.plane.(*dataplane.Userspace).NewReceiver(proto)
}

// SendOnce reads one batch from the device of the gif called name and
// sends what it read, as the gif's send loop does once its device is
// readable.
func (d *Daemon) SendOnce(name string) {
	d.mu.Lock()
	ifc := d.ifaces[name]
	d.mu.Unlock()
	ifc.SendOnce()
}

// SetRelease makes d call release, delay after the first destroy of a
// burst, instead of returning memory to the system.
func (d *Daemon) SetRelease(delay time.Duration, release func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.release, d.releaseDelay = release, delay
}

// RenewSeqReservations renews every SA's sequence number reservation now,
// as the daemon does once a second when one is due.
func (d *Daemon) RenewSeqReservations() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reserveSeq(d.plane.View().Policy.SAs(), true)
}
