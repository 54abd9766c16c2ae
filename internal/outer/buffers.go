package outer

import "os"

// RecvBuffers are the buffers one receive loop reads into, made once for
// the loop's life. On Linux they are mapped outside Go's heap: a loop holds
// BatchSize buffers of the largest IP packet, 8 MiB, and on the heap the
// loops' buffers would count as live memory, so that the collector would
// let as much garbage again pile up, resident, before collecting. Mapped
// memory becomes resident only where packets touch it: each buffer starts
// on a page of its own, so that a small packet touches one page.
type RecvBuffers struct {
	mem  []byte
	Bufs [][]byte // count buffers of size bytes, each with its own capacity
}

// NewRecvBuffers makes count buffers of size bytes; Free releases them.
func NewRecvBuffers(count, size int) (*RecvBuffers, error) {
	page := os.Getpagesize()
	stride := (size + page - 1) / page * page
	mem, err := mapBuffers(count, stride)
	if err != nil {
		return nil, err
	}
	b := &RecvBuffers{mem: mem, Bufs: make([][]byte, count)}
	for i := range b.Bufs {
		b.Bufs[i] = mem[i*stride : i*stride+size : i*stride+size]
	}
	return b, nil
}

// Free releases the buffers; none of them may be used afterwards.
func (b *RecvBuffers) Free() error {
	b.Bufs = nil
	return unmapBuffers(b.mem)
}
