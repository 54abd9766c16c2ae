package daemon

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"time"

	"gif/internal/dataplane"
	"gif/internal/ike"
	"gif/internal/ike/ikev1"
	"gif/internal/ike/pki"
	"gif/internal/ipsec/policy"
	"gif/internal/outer"
)

// IKEDirEnv names the environment variable that says where the RSA keys
// of ike rules are, instead of /etc/gif/isakmpd.
const IKEDirEnv = "GIF_IKE_DIR"

// ikeKeyDir is where the RSA keys of ike rules are.
func ikeKeyDir() string {
	if dir := os.Getenv(IKEDirEnv); dir != "" {
		return dir
	}
	return pki.DefaultDir
}

// makeLocalKey makes this host's RSA key for ike rules if it has none, as
// OpenBSD's rc does at boot, so that its local.pub is there to give to the
// peers.
func makeLocalKey(log *slog.Logger) {
	dir := ikeKeyDir()
	_, created, err := pki.LocalKey(dir)
	switch {
	case err != nil:
		log.Warn("this host's RSA key for ike rules", "err", err)
	case created:
		log.Info("made this host's RSA key for ike rules", "key", pki.LocalKeyPath(dir), "public", pki.LocalPubPath(dir))
	}
}

// ikeTick is how often the IKE engine's timers are looked at.
const ikeTick = 250 * time.Millisecond

// ikeErrorPause keeps a persistently failing IKE socket from spinning a core.
const ikeErrorPause = 10 * time.Millisecond

// startIKE opens IKE's sockets and starts the engine that negotiates the
// SAs of ike rules.
func (d *Daemon) startIKE(listen func(family int, port uint16) (IKEConn, error)) {
	d.ike = ike.New(ike.Config{KeyDir: ikeKeyDir(), Log: d.log}, &d.sockets, ikeInstaller{d})
	for _, family := range []int{4, 6} {
		conn, err := listen(family, ike.Port)
		if err != nil {
			d.log.Warn("no IKE socket: ike rules cannot negotiate", "family", family, "err", err)
			continue
		}
		d.sockets.ike[family] = conn
		go d.receiveIKE(conn)
		nat, err := listen(family, ikev1.NATTPort)
		if err != nil {
			d.log.Warn("no socket for NAT traversal: peers behind a NAT cannot negotiate", "family", family, "err", err)
			continue
		}
		c := &natConn{d: d, conn: nat}
		d.sockets.nat[family] = c
		if err := d.plane.AddTransport(family, dataplane.ProtoESPInUDP, c); err != nil {
			d.log.Warn("no ESP in UDP: peers behind a NAT cannot send ESP", "family", family, "err", err)
		}
	}
	go func() {
		t := time.NewTicker(ikeTick)
		defer t.Stop()
		for {
			select {
			case <-d.stop:
				return
			case <-t.C:
				d.ike.Tick()
			}
		}
	}()
}

// IKEConn is a UDP socket of IKE of one family, on every address
// (outer.UDPConn).
type IKEConn interface {
	// ReadFrom reads a datagram, and says who sent it and to which of
	// this host's addresses (the zero Addr when it cannot tell).
	ReadFrom(buf []byte) (n int, from netip.AddrPort, to netip.Addr, err error)
	// WriteTo sends msg from this host's address from (the route's choice
	// when zero) to to.
	WriteTo(msg []byte, from netip.Addr, to netip.AddrPort) error
	Close() error
}

func (d *Daemon) receiveIKE(conn IKEConn) {
	buf := make([]byte, 65535)
	for {
		n, from, to, err := conn.ReadFrom(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			d.log.Debug("IKE receive", "err", err)
			time.Sleep(ikeErrorPause)
			continue
		}
		d.ike.Receive(buf[:n], from, to)
	}
}

// ikeSockets are IKE's sockets by family: on port 500, and on 4500 for NAT
// traversal. They are the engine's transport: it sends its messages on the
// socket of their family and port, on 4500 behind the non-ESP marker.
type ikeSockets struct {
	ike map[int]IKEConn
	nat map[int]*natConn // also the plane's transport of ESP in UDP
}

func (s *ikeSockets) Send(msg []byte, from netip.Addr, to netip.AddrPort) error {
	family := 6
	if to.Addr().Unmap().Is4() {
		family = 4
	}
	if to.Port() == ikev1.NATTPort {
		if c := s.nat[family]; c != nil {
			return c.conn.WriteTo(append(make([]byte, nonESPMarkerLen, nonESPMarkerLen+len(msg)), msg...), from, to)
		}
		return errors.New("no socket for NAT traversal of the peer's family")
	}
	conn := s.ike[family]
	if conn == nil {
		return errors.New("no IKE socket of the peer's family")
	}
	return conn.WriteTo(msg, from, to)
}

func (s *ikeSockets) Keepalive(from netip.Addr, to netip.AddrPort) error {
	family := 6
	if to.Addr().Unmap().Is4() {
		family = 4
	}
	c := s.nat[family]
	if c == nil {
		return errors.New("no socket for NAT traversal of the peer's family")
	}
	return c.conn.WriteTo([]byte{natKeepalive}, from, to)
}

// close closes the sockets of port 500; those of 4500 are the plane's to
// close.
func (s *ikeSockets) close() {
	for family, c := range s.ike {
		c.Close()
		delete(s.ike, family)
	}
}

// natKeepalive is the one byte of a NAT keepalive (RFC 3948 §2.3).
const natKeepalive = 0xff

// nonESPMarkerLen is the length of the zeros in front of an IKE message on
// port 4500, where an ESP packet starts with its SPI, never 0 (RFC 3948).
const nonESPMarkerLen = 4

// natConn is the socket of port 4500 as an outer transport of ESP in UDP
// (RFC 3948): what it receives behind the non-ESP marker goes to the IKE
// engine, NAT keepalives are dropped, and ESP packets come out of Recv as
// the raw socket's do.
type natConn struct {
	d    *Daemon
	conn IKEConn
}

func (c *natConn) Send(pkts []outer.Packet, offset int) (int, error) {
	for i, p := range pkts {
		if err := c.conn.WriteTo(p.Buf[offset:offset+p.Size], p.Src, netip.AddrPortFrom(p.Dst, ikev1.NATTPort)); err != nil {
			return i, fmt.Errorf("send ESP in UDP to %s: %w", p.Dst, err)
		}
	}
	return len(pkts), nil
}

func (c *natConn) Recv(pkts []outer.Packet, offset int) (int, error) {
	p := &pkts[0]
	for {
		n, from, to, err := c.conn.ReadFrom(p.Buf[offset:])
		if err != nil {
			return 0, err
		}
		msg := p.Buf[offset : offset+n]
		switch {
		case n == 1 && msg[0] == natKeepalive:
		case n >= nonESPMarkerLen && binary.BigEndian.Uint32(msg) == 0:
			c.d.ike.Receive(bytes.Clone(msg[nonESPMarkerLen:]), from, to)
		case n >= 8:
			p.Size, p.Src, p.Dst, p.TOS, p.TTL = n, from.Addr().Unmap(), to, 0, 0
			return 1, nil
		}
	}
}

func (c *natConn) BatchSize() int    { return 1 }
func (c *natConn) Truncated() uint64 { return 0 }
func (c *natConn) Close() error      { return c.conn.Close() }

// ikeInstaller puts negotiated SAs in the SAD, newest first, so that the
// flow of their rule uses the newest.
type ikeInstaller struct{ d *Daemon }

func (in ikeInstaller) Install(rule policy.IKE, local, peer netip.Addr, c *ikev1.ChildSA) {
	d := in.d
	d.mu.Lock()
	defer d.mu.Unlock()
	sa := func(src, dst netip.Addr, spi uint32, enc, auth []byte) policy.SA {
		return policy.SA{File: rule.File, Line: rule.Line, Proto: policy.ESP, Mode: c.Mode, Src: src, Dst: dst, SPI: spi,
			Auth: c.Auth, Enc: c.Enc, AuthKey: auth, EncKey: enc, UDPEncap: c.UDPEncap}
	}
	d.negotiated = append([]policy.SA{sa(local, peer, c.SPIOut, c.EncKeyOut, c.AuthKeyOut),
		sa(peer, local, c.SPIIn, c.EncKeyIn, c.AuthKeyIn)}, d.negotiated...)
	in.apply()
}

func (in ikeInstaller) Remove(local, peer netip.Addr, c *ikev1.ChildSA) {
	d := in.d
	d.mu.Lock()
	defer d.mu.Unlock()
	d.negotiated = slices.DeleteFunc(d.negotiated, func(sa policy.SA) bool {
		return sa.SPI == c.SPIIn && sa.Dst == local || sa.SPI == c.SPIOut && sa.Dst == peer
	})
	in.apply()
}

// apply compiles the loaded rules with the negotiated SAs.
func (in ikeInstaller) apply() {
	d := in.d
	var cfg policy.Config
	if pol := d.plane.View().Policy; pol != nil {
		cfg = pol.Config()
	}
	if err := d.usePolicy(cfg); err != nil {
		d.log.Error("negotiated SAs not installed", "err", err)
	}
}
