package daemon

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"time"

	"gif/internal/conf/ipsecconf"
	"gif/internal/ike"
	"gif/internal/ike/ikev1"
)

// IKEDirEnv names the environment variable that says where the RSA keys
// of ike rules are, instead of /etc/gif/isakmpd.
const IKEDirEnv = "GIF_IKE_DIR"

// ikeTick is how often the IKE engine's timers are looked at.
const ikeTick = 250 * time.Millisecond

// startIKE opens IKE's sockets and starts the engine that negotiates the
// SAs of ike rules.
func (d *Daemon) startIKE() {
	d.ike = ike.New(ike.Config{KeyDir: os.Getenv(IKEDirEnv), Log: d.log}, ikeTransport{d}, ikeInstaller{d})
	for _, family := range []int{4, 6} {
		conn, err := d.host.ListenIKE(family)
		if err != nil {
			d.log.Warn("no IKE socket: ike rules cannot negotiate", "family", family, "err", err)
			continue
		}
		d.ikeConns[family] = conn
		go d.receiveIKE(conn)
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

func (d *Daemon) receiveIKE(conn IKEConn) {
	buf := make([]byte, 65535)
	for {
		n, from, err := conn.ReadFrom(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			d.log.Debug("IKE receive", "err", err)
			time.Sleep(errorPause)
			continue
		}
		d.ike.Receive(buf[:n], from, netip.Addr{})
	}
}

// ikeTransport sends the engine's messages on the socket of their family.
type ikeTransport struct{ d *Daemon }

func (t ikeTransport) Send(msg []byte, from netip.Addr, to netip.AddrPort) error {
	family := 6
	if to.Addr().Unmap().Is4() {
		family = 4
	}
	conn := t.d.ikeConns[family]
	if conn == nil {
		return errors.New("no IKE socket of the peer's family")
	}
	return conn.WriteTo(msg, to)
}

// ikeInstaller puts negotiated SAs in the SAD, newest first, so that the
// flow of their rule uses the newest.
type ikeInstaller struct{ d *Daemon }

func (in ikeInstaller) Install(rule ipsecconf.IKE, local, peer netip.Addr, c *ikev1.ChildSA) {
	d := in.d
	d.mu.Lock()
	defer d.mu.Unlock()
	sa := func(src, dst netip.Addr, spi uint32, enc, auth []byte) ipsecconf.SA {
		return ipsecconf.SA{File: rule.File, Line: rule.Line, Proto: "esp", Mode: c.Mode, Src: src, Dst: dst, SPI: spi,
			Auth: c.Auth, Enc: c.Enc, AuthKey: auth, EncKey: enc}
	}
	d.negotiated = append([]ipsecconf.SA{sa(local, peer, c.SPIOut, c.EncKeyOut, c.AuthKeyOut),
		sa(peer, local, c.SPIIn, c.EncKeyIn, c.AuthKeyIn)}, d.negotiated...)
	in.apply()
}

func (in ikeInstaller) Remove(local, peer netip.Addr, c *ikev1.ChildSA) {
	d := in.d
	d.mu.Lock()
	defer d.mu.Unlock()
	d.negotiated = slices.DeleteFunc(d.negotiated, func(sa ipsecconf.SA) bool {
		return sa.SPI == c.SPIIn && sa.Dst == local || sa.SPI == c.SPIOut && sa.Dst == peer
	})
	in.apply()
}

// apply compiles the loaded rules with the negotiated SAs.
func (in ikeInstaller) apply() {
	d := in.d
	var cfg ipsecconf.Config
	if pol := d.policy.Load(); pol != nil {
		cfg = pol.config
	}
	if err := d.usePolicy(cfg); err != nil {
		d.log.Error("negotiated SAs not installed", "err", err)
	}
}
