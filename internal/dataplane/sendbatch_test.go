package dataplane

import (
	"testing"
	"time"
)

// TestSendBatchLimit checks that no more send batches than the limit are
// in use at once: the next get waits for a put.
func TestSendBatchLimit(t *testing.T) {
	const limit = 3
	p := newSendBatchPool(limit)
	var held []*sendBatch
	for range limit {
		held = append(held, p.get())
	}
	got := make(chan *sendBatch)
	go func() { got <- p.get() }()
	select {
	case <-got:
		t.Fatalf("a batch beyond the limit of %d was handed out", limit)
	case <-time.After(100 * time.Millisecond):
	}
	p.put(held[0])
	select {
	case b := <-got:
		p.put(b)
	case <-time.After(5 * time.Second):
		t.Fatal("no batch was handed out after one was put back")
	}
	for _, b := range held[1:] {
		p.put(b)
	}
}
