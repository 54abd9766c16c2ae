// Package linktest is an in-memory link.Device, for tests of code that
// reads and writes a gif's device without TUN, TAP or root. The test plays
// the kernel: Push routes packets into the interface for the code under
// test to Read, and Take returns what it Wrote.
package linktest

import (
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"gif/internal/link"
)

// QueueLen is how many packets a Device holds each way; a Write beyond
// that fails, as a full device queue would.
const QueueLen = 1024

// Device is a TUN or TAP device in memory.
type Device struct {
	name      string
	batchSize int
	toRead    chan []byte
	written   chan []byte
	closed    chan struct{}
	closeOnce sync.Once
	pending   []byte // taken by WaitReadable, for the next Read
}

var _ link.Device = (*Device)(nil)

// New returns a device called name whose Read and Write handle up to
// batchSize packets at once.
func New(name string, batchSize int) *Device {
	return &Device{
		name:      name,
		batchSize: batchSize,
		toRead:    make(chan []byte, QueueLen),
		written:   make(chan []byte, QueueLen),
		closed:    make(chan struct{}),
	}
}

// Push hands copies of pkts to the device's reader, as if the kernel
// routed them into the interface.
func (d *Device) Push(pkts ...[]byte) {
	for _, p := range pkts {
		d.toRead <- slices.Clone(p)
	}
}

// Take returns the next packet written to the device, waiting up to
// timeout; ok is false when none came.
func (d *Device) Take(timeout time.Duration) (p []byte, ok bool) {
	select {
	case p := <-d.written:
		return p, true
	case <-time.After(timeout):
		return nil, false
	}
}

// Written returns how many written packets wait to be taken.
func (d *Device) Written() int { return len(d.written) }

// Read waits for a packet and takes what is queued, up to len(bufs). It
// fills the bytes before offset with junk, which a reader that ignores
// offset would take for the packet.
func (d *Device) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	n := 0
	for n < len(bufs) {
		var pkt []byte
		if n == 0 && d.pending != nil {
			pkt, d.pending = d.pending, nil
		} else if n == 0 {
			select {
			case pkt = <-d.toRead:
			case <-d.closed:
				return 0, fmt.Errorf("read from %s: %w", d.name, os.ErrClosed)
			}
		} else {
			select {
			case pkt = <-d.toRead:
			default:
				return n, nil
			}
		}
		if offset+len(pkt) > len(bufs[n]) {
			return n, fmt.Errorf("read from %s: %w", d.name, io.ErrShortBuffer)
		}
		for i := range offset {
			bufs[n][i] = 0xee
		}
		sizes[n] = copy(bufs[n][offset:], pkt)
		n++
	}
	return n, nil
}

// WaitReadable takes the next packet, which Read then hands out first.
func (d *Device) WaitReadable() error {
	if d.pending != nil {
		return nil
	}
	select {
	case d.pending = <-d.toRead:
		return nil
	case <-d.closed:
		return fmt.Errorf("wait for %s: %w", d.name, os.ErrClosed)
	}
}

// Write keeps a copy of each packet bufs[i][offset:] for Take. Like a TUN
// device it refuses an offset with no room for the virtio-net header.
func (d *Device) Write(bufs [][]byte, offset int) (int, error) {
	if offset < link.WriteOffset {
		return 0, fmt.Errorf("write to %s: offset %d is less than %d", d.name, offset, link.WriteOffset)
	}
	if d.IsClosed() {
		return 0, fmt.Errorf("write to %s: %w", d.name, os.ErrClosed)
	}
	for i, b := range bufs {
		select {
		case d.written <- slices.Clone(b[offset:]):
		default:
			return i, fmt.Errorf("write to %s: queue full", d.name)
		}
	}
	return len(bufs), nil
}

func (d *Device) BatchSize() int { return d.batchSize }
func (d *Device) Name() string   { return d.name }

// Close unblocks Read and WaitReadable; later calls fail.
func (d *Device) Close() error {
	d.closeOnce.Do(func() { close(d.closed) })
	return nil
}

// IsClosed reports whether Close was called.
func (d *Device) IsClosed() bool {
	select {
	case <-d.closed:
		return true
	default:
		return false
	}
}
