package dataplane

import "gif/internal/outer"

// Headroom is where received packets start in their buffers, and BufSize
// the size of those buffers.
const (
	Headroom = headroom
	BufSize  = bufSize
)

// Receiver is a receive loop of one protocol without its socket: tests
// and benchmarks hand it batches.
type Receiver struct {
	u          *Userspace
	proto      uint8
	deliveries []delivery
}

// NewReceiver returns a receive loop of protocol proto without a socket.
func (u *Userspace) NewReceiver(proto uint8) *Receiver { return &Receiver{u: u, proto: proto} }

// Receive decides the fate of pkts, whose payloads start at Headroom, as
// the receive loop does with a batch it read.
func (r *Receiver) Receive(pkts []outer.Packet) {
	r.deliveries = r.u.receiveBatch(r.proto, pkts, r.deliveries)
}

// SendOnce reads one batch from the device and sends what it read, as the
// send loop does once the device is readable: for benchmarks and tests
// that drive the loop by hand.
func (ifc *Iface) SendOnce() {
	b := sendBatches.get()
	ifc.readAndSend(b, min(ifc.dev.BatchSize(), outer.BatchSize))
	sendBatches.put(b)
}
