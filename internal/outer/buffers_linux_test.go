package outer

import (
	"os"
	"runtime"
	"testing"
	"unsafe"
)

// TestRecvBuffersOutsideHeap checks that a receive loop's buffers do not
// count as Go heap, where they would let as much garbage pile up before a
// collection; that each starts a page, so that a small packet touches one;
// and that each is its own: writing one up to its capacity leaves the next
// alone.
func TestRecvBuffersOutsideHeap(t *testing.T) {
	const count, size = BatchSize, 65535
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b, err := NewRecvBuffers(count, size)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := b.Free(); err != nil {
			t.Error(err)
		}
	}()
	runtime.ReadMemStats(&after)
	if grown := after.HeapAlloc - before.HeapAlloc; grown > count*size/100 {
		t.Errorf("the heap grew by %d bytes for %d buffers of %d", grown, count, size)
	}
	if len(b.Bufs) != count {
		t.Fatalf("%d buffers; want %d", len(b.Bufs), count)
	}
	for i, buf := range b.Bufs {
		if len(buf) != size || cap(buf) != size {
			t.Fatalf("buffer %d: len %d cap %d; want %d", i, len(buf), cap(buf), size)
		}
		if at := uintptr(unsafe.Pointer(&buf[0])); at%uintptr(os.Getpagesize()) != 0 {
			t.Fatalf("buffer %d starts at %#x, inside a page", i, at)
		}
	}
	first := b.Bufs[0][:cap(b.Bufs[0])]
	for i := range first {
		first[i] = 0xff
	}
	if b.Bufs[1][0] != 0 {
		t.Error("writing buffer 0 to its capacity wrote into buffer 1")
	}
}
