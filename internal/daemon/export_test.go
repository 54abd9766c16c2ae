package daemon

import "time"

// ServeRequest is the daemon's control handler, for package daemon_test.
var ServeRequest = (*Daemon).serve

// SetRelease makes d call release, delay after the first destroy of a
// burst, instead of returning memory to the system.
func (d *Daemon) SetRelease(delay time.Duration, release func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.release.free, d.release.delay = release, delay
}

// RenewSeqReservations renews every SA's sequence number reservation now,
// as the daemon does once a second when one is due.
func (d *Daemon) RenewSeqReservations() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq.reserve(d.plane.View().Policy.SAs(), true)
}
