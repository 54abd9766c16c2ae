// Package outertest joins two outer.Conns in memory, for tests of code that
// sends and receives outer packets without raw sockets or root.
package outertest

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"gif/internal/outer"
)

const (
	// QueueLen is how many packets a Conn holds for Recv; a Send beyond
	// that drops the packet, as a full socket buffer would.
	QueueLen = 1024
	// DefaultTTL is what a packet sent with TTL 0 arrives with.
	DefaultTTL = 64
)

// Conn is one end of a pair made by NewPair. What one end sends, the other
// receives, with the header fields as sent and no MTU. Unlike a raw socket
// it also hands over each packet's Mark and DF flag, so that a test sees
// what was sent with which mark and whether it may be fragmented.
type Conn struct {
	peer      *Conn
	queue     chan packet
	closed    chan struct{}
	closeOnce sync.Once
	dropped   atomic.Uint64
	truncated atomic.Uint64
}

var _ outer.Conn = (*Conn)(nil)

type packet struct {
	payload  []byte
	src, dst netip.Addr
	tos, ttl uint8
	df       bool
	mark     uint32
}

// NewPair returns two Conns joined to each other.
func NewPair() (*Conn, *Conn) {
	a, b := newConn(), newConn()
	a.peer, b.peer = b, a
	return a, b
}

func newConn() *Conn {
	return &Conn{queue: make(chan packet, QueueLen), closed: make(chan struct{})}
}

// Send copies pkts to the peer's queue. Like outer.Listen's Conn it skips a
// packet that does not fit its buffer and reports it in the error, and like
// a raw socket it reports a packet as sent even when the peer is closed or
// its queue is full.
func (c *Conn) Send(pkts []outer.Packet, offset int) (int, error) {
	select {
	case <-c.closed:
		return 0, fmt.Errorf("send: %w", net.ErrClosed)
	default:
	}
	sent := 0
	var firstErr error
	for _, p := range pkts {
		if p.Size <= 0 || offset < 0 || offset+p.Size > len(p.Buf) {
			if firstErr == nil {
				firstErr = fmt.Errorf("packet of %d bytes at offset %d does not fit its %d-byte buffer", p.Size, offset, len(p.Buf))
			}
			continue
		}
		sent++
		ttl := p.TTL
		if ttl == 0 {
			ttl = DefaultTTL
		}
		pkt := packet{payload: append([]byte(nil), p.Buf[offset:offset+p.Size]...), src: p.Src, dst: p.Dst, tos: p.TOS, ttl: ttl, df: p.DF, mark: p.Mark}
		select {
		case c.peer.queue <- pkt:
		default:
			c.peer.dropped.Add(1)
		}
	}
	if firstErr != nil {
		return sent, fmt.Errorf("send: dropped %d of %d packets: %w", len(pkts)-sent, len(pkts), firstErr)
	}
	return sent, nil
}

// Recv waits for at least one packet and then takes what is queued, up to
// len(pkts) and outer.BatchSize.
func (c *Conn) Recv(pkts []outer.Packet, offset int) (int, error) {
	pkts = pkts[:min(len(pkts), outer.BatchSize)]
	n := 0
	for n < len(pkts) {
		var pkt packet
		if n == 0 {
			select {
			case pkt = <-c.queue:
			case <-c.closed:
				return 0, fmt.Errorf("recv: %w", net.ErrClosed)
			}
		} else {
			select {
			case pkt = <-c.queue:
			default:
				return n, nil
			}
		}
		p := &pkts[n]
		if offset+len(pkt.payload) > len(p.Buf) {
			c.truncated.Add(1)
			continue
		}
		*p = pkt.received(p.Buf, offset)
		n++
	}
	return n, nil
}

// received is pkt as Recv hands it over, its payload at buf[offset:].
func (pkt packet) received(buf []byte, offset int) outer.Packet {
	return outer.Packet{Buf: buf, Size: copy(buf[offset:], pkt.payload), Src: pkt.src, Dst: pkt.dst,
		TOS: pkt.tos, TTL: pkt.ttl, DF: pkt.df, Mark: pkt.mark}
}

// Take returns the next packet sent to c, its payload in Buf[:Size] of its
// own, waiting up to timeout; ok is false when none came. It is Recv for
// a test that waits for one packet.
func (c *Conn) Take(timeout time.Duration) (p outer.Packet, ok bool) {
	select {
	case pkt := <-c.queue:
		return pkt.received(make([]byte, len(pkt.payload)), 0), true
	case <-time.After(timeout):
		return outer.Packet{}, false
	}
}

// Queued returns how many packets sent to c wait for Recv.
func (c *Conn) Queued() int { return len(c.queue) }

func (c *Conn) BatchSize() int { return outer.BatchSize }

// Truncated counts received packets dropped because Buf was too short.
func (c *Conn) Truncated() uint64 { return c.truncated.Load() }

// Dropped counts packets the peer sent while this Conn's queue was full.
func (c *Conn) Dropped() uint64 { return c.dropped.Load() }

// Close unblocks a pending Recv; later Sends and Recvs fail.
func (c *Conn) Close() error {
	err := fmt.Errorf("close: %w", net.ErrClosed)
	c.closeOnce.Do(func() {
		close(c.closed)
		err = nil
	})
	return err
}
