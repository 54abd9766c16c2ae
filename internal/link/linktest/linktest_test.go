package linktest

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"gif/internal/link"
)

func bufs(n, size int) ([][]byte, []int) {
	b := make([][]byte, n)
	for i := range b {
		b[i] = make([]byte, size)
	}
	return b, make([]int, n)
}

// TestReadTakesWhatIsQueued checks that Read waits for nothing once a
// packet is queued, takes up to len(bufs) of them in order, puts each at
// offset and junk in front of it.
func TestReadTakesWhatIsQueued(t *testing.T) {
	d := New("gif0", 4)
	d.Push([]byte("one"), []byte("two"), []byte("three"))
	b, sizes := bufs(2, 64)
	const offset = 16
	n, err := d.Read(b, sizes, offset)
	if n != 2 || err != nil {
		t.Fatalf("Read = %d, %v; want 2, nil", n, err)
	}
	for i, want := range []string{"one", "two"} {
		if got := b[i][offset : offset+sizes[i]]; string(got) != want {
			t.Errorf("packet %d: %q; want %q", i, got, want)
		}
		if b[i][offset-1] != 0xee {
			t.Errorf("packet %d: the byte before offset is %#x; want junk", i, b[i][offset-1])
		}
	}
	if n, err := d.Read(b, sizes, offset); n != 1 || err != nil || string(b[0][offset:offset+sizes[0]]) != "three" {
		t.Errorf("second Read = %d, %v; want the third packet", n, err)
	}
}

// TestWaitReadable checks that the packet WaitReadable waited for is the
// first the next Read hands out.
func TestWaitReadable(t *testing.T) {
	d := New("gif0", 4)
	d.Push([]byte("first"), []byte("second"))
	if err := d.WaitReadable(); err != nil {
		t.Fatal(err)
	}
	b, sizes := bufs(4, 64)
	n, err := d.Read(b, sizes, 0)
	if n != 2 || err != nil || string(b[0][:sizes[0]]) != "first" || string(b[1][:sizes[1]]) != "second" {
		t.Errorf("Read = %d, %v, %q; want first and second", n, err, b[0][:sizes[0]])
	}
}

// TestWriteAndTake checks that Take returns copies of what was written,
// in order, and that Write refuses an offset without room for the
// virtio-net header.
func TestWriteAndTake(t *testing.T) {
	d := New("gif0", 4)
	packet := []byte("0123456789packet")
	if _, err := d.Write([][]byte{packet}, link.WriteOffset-1); err == nil {
		t.Error("Write took an offset below link.WriteOffset")
	}
	if n, err := d.Write([][]byte{packet, packet[:link.WriteOffset+2]}, link.WriteOffset); n != 2 || err != nil {
		t.Fatalf("Write = %d, %v; want 2, nil", n, err)
	}
	packet[link.WriteOffset] = 'X'
	if d.Written() != 2 {
		t.Errorf("Written = %d; want 2", d.Written())
	}
	for _, want := range []string{"packet", "pa"} {
		if got, ok := d.Take(time.Second); !ok || !bytes.Equal(got, []byte(want)) {
			t.Errorf("Take = %q, %t; want %q", got, ok, want)
		}
	}
	if got, ok := d.Take(10 * time.Millisecond); ok {
		t.Errorf("Take = %q with nothing written", got)
	}
}

// TestCloseUnblocks checks that Close ends a Read and a WaitReadable that
// wait, with os.ErrClosed, and that a closed device refuses writes.
func TestCloseUnblocks(t *testing.T) {
	d := New("gif0", 4)
	errs := make(chan error, 1)
	go func() {
		b, sizes := bufs(1, 64)
		_, err := d.Read(b, sizes, 0)
		errs <- err
	}()
	time.Sleep(10 * time.Millisecond)
	if d.IsClosed() {
		t.Fatal("IsClosed before Close")
	}
	d.Close()
	select {
	case err := <-errs:
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("Read after Close: %v; want os.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock Read")
	}
	if err := d.WaitReadable(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("WaitReadable after Close: %v; want os.ErrClosed", err)
	}
	if _, err := d.Write([][]byte{make([]byte, 20)}, link.WriteOffset); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close: %v; want os.ErrClosed", err)
	}
	if !d.IsClosed() || d.BatchSize() != 4 || d.Name() != "gif0" {
		t.Errorf("IsClosed %t, BatchSize %d, Name %q", d.IsClosed(), d.BatchSize(), d.Name())
	}
}
