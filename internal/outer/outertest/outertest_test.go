package outertest

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"gif/internal/outer"
)

var (
	src = netip.MustParseAddr("192.0.2.1")
	dst = netip.MustParseAddr("192.0.2.2")
)

func newPacket(size int, seed byte, tos, ttl uint8) outer.Packet {
	buf := make([]byte, outer.Headroom+size)
	for i := range size {
		buf[outer.Headroom+i] = seed + byte(i)
	}
	return outer.Packet{Buf: buf, Size: size, Src: src, Dst: dst, TOS: tos, TTL: ttl}
}

func recvBufs(n, size int) []outer.Packet {
	pkts := make([]outer.Packet, n)
	for i := range pkts {
		pkts[i].Buf = make([]byte, outer.Headroom+size)
	}
	return pkts
}

func TestPairCopiesPackets(t *testing.T) {
	a, b := NewPair()
	sent := []outer.Packet{newPacket(100, 1, 0xb8, 3), newPacket(1400, 2, 0x03, 0)}
	sent[1].Mark, sent[1].DF = 100, true
	if n, err := a.Send(sent, outer.Headroom); n != 2 || err != nil {
		t.Fatalf("Send = %d, %v", n, err)
	}
	got := recvBufs(4, 2048)
	n, err := b.Recv(got, outer.Headroom)
	if n != 2 || err != nil {
		t.Fatalf("Recv = %d, %v; want 2, nil", n, err)
	}
	for i, want := range sent {
		if want.TTL == 0 {
			want.TTL = DefaultTTL
		}
		g := got[i]
		if g.Size != want.Size || g.Src != src || g.Dst != dst || g.TOS != want.TOS || g.TTL != want.TTL || g.Mark != want.Mark || g.DF != want.DF {
			t.Errorf("packet %d: got %+v", i, g)
		}
		if !bytes.Equal(g.Buf[outer.Headroom:outer.Headroom+g.Size], want.Buf[outer.Headroom:outer.Headroom+want.Size]) {
			t.Errorf("packet %d: payload differs", i)
		}
	}
}

func TestSendCopiesAtSendTime(t *testing.T) {
	a, b := NewPair()
	p := newPacket(10, 1, 0, 64)
	a.Send([]outer.Packet{p}, outer.Headroom)
	p.Buf[outer.Headroom] = 0xee
	got := recvBufs(1, 64)
	b.Recv(got, outer.Headroom)
	if got[0].Buf[outer.Headroom] == 0xee {
		t.Error("the received packet changed with the sender's buffer")
	}
}

func TestTruncated(t *testing.T) {
	a, b := NewPair()
	a.Send([]outer.Packet{newPacket(500, 1, 0, 64), newPacket(50, 2, 0, 64)}, outer.Headroom)
	got := recvBufs(2, 100)
	if n, err := b.Recv(got, outer.Headroom); n != 1 || err != nil || got[0].Size != 50 {
		t.Fatalf("Recv = %d, %v, size %d; want the 50-byte packet", n, err, got[0].Size)
	}
	if b.Truncated() != 1 {
		t.Errorf("Truncated() = %d, want 1", b.Truncated())
	}
}

func TestQueueFullDrops(t *testing.T) {
	a, b := NewPair()
	pkts := make([]outer.Packet, QueueLen+5)
	for i := range pkts {
		pkts[i] = newPacket(20, byte(i), 0, 64)
	}
	if n, err := a.Send(pkts, outer.Headroom); n != len(pkts) || err != nil {
		t.Fatalf("Send = %d, %v", n, err)
	}
	if b.Dropped() != 5 {
		t.Errorf("Dropped() = %d, want 5", b.Dropped())
	}
}

func TestCloseUnblocksRecv(t *testing.T) {
	a, b := NewPair()
	errc := make(chan error)
	go func() {
		_, err := b.Recv(recvBufs(1, 100), outer.Headroom)
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	b.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Recv after Close: %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Recv still blocked after Close")
	}
	if _, err := b.Send([]outer.Packet{newPacket(10, 0, 0, 64)}, outer.Headroom); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
	if err := b.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	// Sending to a closed peer is not an error, as with a raw socket.
	if n, err := a.Send([]outer.Packet{newPacket(10, 0, 0, 64)}, outer.Headroom); n != 1 || err != nil {
		t.Errorf("Send to closed peer = %d, %v", n, err)
	}
}

func TestSendSkipsBadPacket(t *testing.T) {
	a, b := NewPair()
	bad := newPacket(10, 0, 0, 64)
	bad.Size = 100
	if n, err := a.Send([]outer.Packet{newPacket(10, 0, 0, 64), bad, newPacket(30, 0, 0, 64)}, outer.Headroom); n != 2 || err == nil {
		t.Errorf("Send = %d, %v; want 2 and an error", n, err)
	}
	got := recvBufs(2, 100)
	if n, _ := b.Recv(got, outer.Headroom); n != 2 || got[1].Size != 30 {
		t.Errorf("Recv = %d, second size %d; want 2, 30", n, got[1].Size)
	}
}

// TestTake checks that Take hands over the next packet with its fields, in
// a buffer of its own, and that Queued counts what waits.
func TestTake(t *testing.T) {
	a, b := NewPair()
	p := newPacket(10, 1, 0x20, 9)
	p.DF, p.Mark = true, 7
	a.Send([]outer.Packet{p, newPacket(5, 2, 0, 0)}, outer.Headroom)
	if b.Queued() != 2 {
		t.Errorf("Queued = %d; want 2", b.Queued())
	}
	got, ok := b.Take(time.Second)
	if !ok || got.Size != 10 || len(got.Buf) != 10 || got.Src != src || got.Dst != dst || got.TOS != 0x20 || got.TTL != 9 || !got.DF || got.Mark != 7 {
		t.Fatalf("Take = %+v, %t", got, ok)
	}
	if !bytes.Equal(got.Buf, p.Buf[outer.Headroom:]) {
		t.Errorf("payload %x; want %x", got.Buf, p.Buf[outer.Headroom:])
	}
	if got, ok := b.Take(time.Second); !ok || got.Size != 5 || got.TTL != DefaultTTL {
		t.Errorf("second Take = %+v, %t", got, ok)
	}
	if got, ok := b.Take(10 * time.Millisecond); ok {
		t.Errorf("Take = %+v with nothing sent", got)
	}
}
