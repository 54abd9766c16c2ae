package daemon_test

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"

	"gif/internal/daemon"
	"gif/internal/outer"
	"gif/internal/outer/outertest"
)

// The fake host's sockets: the outer transport the wiring tests open on
// it, and IKE's, on which nothing arrives.

type transport struct {
	family int
	proto  uint8
}

// listen opens a socket of the outer transport, as outer.Listen does: one
// end of an outertest pair; the other end is the network, which network
// returns. It replaces the network of an earlier daemon on h.
func (h *fakeHost) listen(family int, proto uint8) (outer.Conn, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.enter("listen", fmt.Sprintf("ipv%d", family), fmt.Sprint(proto)); err != nil {
		return nil, err
	}
	key := transport{family, proto}
	if old, ok := h.networks[key]; ok {
		// A daemon before this one listened; its socket is gone.
		old.conn.Close()
	}
	conn, far := outertest.NewPair()
	h.networks[key] = &network{conn: far}
	return conn, nil
}

// network returns the far end of the daemon's outer transport for family
// and proto.
func (h *fakeHost) network(family int, proto uint8) *network {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	n, ok := h.networks[transport{family, proto}]
	if !ok {
		h.t.Fatalf("the daemon has no IPv%d transport for protocol %d", family, proto)
	}
	return n
}

func (h *fakeHost) closeNetworks() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range h.networks {
		n.conn.Close()
	}
}

// network is the far end of one outer transport: it takes what the
// daemon sends, and send delivers outer packets to the daemon.
type network struct {
	conn *outertest.Conn
}

// send delivers one outer packet from src to dst to the daemon.
func (n *network) send(t *testing.T, src, dst netip.Addr, tos uint8, payload []byte) {
	t.Helper()
	p := outer.Packet{Buf: payload, Size: len(payload), Src: src, Dst: dst, TOS: tos}
	if k, err := n.conn.Send([]outer.Packet{p}, 0); k != 1 || err != nil {
		t.Fatalf("send to the daemon: %d, %v", k, err)
	}
}

// next returns the next packet the daemon sent.
func (n *network) next(t *testing.T) outer.Packet {
	t.Helper()
	p, ok := n.conn.Take(waitTimeout)
	if !ok {
		t.Fatal("the daemon sent nothing")
	}
	return p
}

// listenQuietly opens IKE sockets on which nothing arrives.
func listenQuietly(family int, port uint16) (daemon.IKEConn, error) {
	return &quietConn{closed: make(chan struct{})}, nil
}

// quietConn is an IKE socket of a fake host: what is written goes nowhere.
type quietConn struct {
	once   sync.Once
	closed chan struct{}
}

func (c *quietConn) ReadFrom(buf []byte) (int, netip.AddrPort, netip.Addr, error) {
	<-c.closed
	return 0, netip.AddrPort{}, netip.Addr{}, net.ErrClosed
}

func (c *quietConn) WriteTo(msg []byte, from netip.Addr, to netip.AddrPort) error { return nil }

func (c *quietConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}
