package daemon

import (
	"time"

	"gif/internal/outer"
)

// ServeRequest is the daemon's control handler, for package daemon_test.
var ServeRequest = (*Daemon).serve

// Headroom is where a receive loop's packets start in their buffers.
const Headroom = headroom

// BufSize is the size of a receive loop's buffers.
const BufSize = bufSize

// Receiver is a receive loop of one protocol without its socket: the
// benchmarks hand it batches.
type Receiver struct {
	d          *Daemon
	proto      uint8
	deliveries []delivery
}

func (d *Daemon) NewReceiver(proto uint8) *Receiver { return &Receiver{d: d, proto: proto} }

// Receive decides the fate of pkts, whose payloads start at Headroom, as
// the receive loop does with a batch it read.
func (r *Receiver) Receive(pkts []outer.Packet) {
	r.deliveries = r.d.receiveBatch(r.proto, pkts, r.deliveries)
}

// SendOnce reads one batch from the device of the gif called name and
// sends what it read, as the gif's send loop does once its device is
// readable.
func (d *Daemon) SendOnce(name string) {
	d.mu.Lock()
	ifc := d.ifaces[name]
	d.mu.Unlock()
	b := sendBatches.get()
	ifc.readAndSend(b, min(ifc.dev.BatchSize(), outer.BatchSize))
	sendBatches.put(b)
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
	d.reserveSeq(d.view.Load().policy.sas, true)
}
