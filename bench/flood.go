package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"gif/internal/ipsec"
	"gif/internal/outer"
	"gif/internal/wire"
)

// Tuning of the flood test.
const (
	floodTime = 30 * time.Second
	// floodSettle lets the daemon finish starting and configuring before
	// its resident memory is taken as the figure before the flood.
	floodSettle = 2 * time.Second
	// floodVariety is how many garbage packets are made for each outer
	// protocol and family; the senders cycle through them.
	floodVariety = 1024
	// floodSPI is the SPI of the SA from b to a: ESP garbage that carries
	// it gets as far as the ICV check.
	floodSPI = 0x1002
)

// floodProtocols are the outer protocols the daemon listens to.
var floodProtocols = []uint8{wire.ProtoIPv4, wire.ProtoIPv6, wire.ProtoEtherIP, ipsec.ProtoESP}

// floodResult is what the flood test measured of a's daemon.
type floodResult struct {
	Duration time.Duration
	Sent     uint64 // garbage packets b's sockets took
	Before   uint64 // VmRSS before the flood, bytes
	After    uint64 // VmRSS at its end
	Peak     uint64 // VmHWM at its end
	Err      error
}

// runFlood sends garbage of every outer protocol over both families from
// b to a's daemon as fast as b can, for floodTime, and measures the
// daemon's resident memory before and at the end. a has what garbage can
// reach: a gif of each family whose tunnel is the pair's underlay, a
// bridged gif with that tunnel for EtherIP, and an SA pair with b.
func runFlood(ctx context.Context, tb *toolbox, logf func(string, ...any)) (res floodResult) {
	res.Err = onPair(ctx, tb, func(p *pair) error { return floodPair(ctx, p, &res, logf) })
	return res
}

func floodPair(ctx context.Context, p *pair, res *floodResult, logf func(string, ...any)) error {
	pid, err := floodTarget(ctx, p)
	if err != nil {
		return fmt.Errorf("set up a: %w", err)
	}
	conns, err := floodConns(p)
	defer func() {
		for _, c := range conns {
			c.conn.Close()
		}
	}()
	if err != nil {
		return err
	}
	time.Sleep(floodSettle)
	if res.Before, _, err = memory(pid); err != nil {
		return err
	}
	start := time.Now()
	res.Sent = flood(ctx, conns, floodTime)
	res.Duration = time.Since(start)
	if err := ctx.Err(); err != nil {
		return err
	}
	if res.After, res.Peak, err = memory(pid); err != nil {
		return err
	}
	logf("flood: %d garbage packets in %v (%.0f kpps); daemon RSS %.1f MB before, %.1f MB after (×%.2f), peak %.1f MB",
		res.Sent, res.Duration.Round(time.Millisecond), float64(res.Sent)/res.Duration.Seconds()/1e3,
		float64(res.Before)/1e6, float64(res.After)/1e6, float64(res.After)/float64(res.Before), float64(res.Peak)/1e6)
	return nil
}

// floodTarget starts a's daemon, configures it, and returns its pid.
func floodTarget(ctx context.Context, p *pair) (int, error) {
	if err := p.a.startGif(ctx, ""); err != nil {
		return 0, err
	}
	file := filepath.Join(p.a.stateDir, "flood-ipsec.conf")
	// The flow covers SCTP, which gif does not send: no garbage is to be
	// dropped for coming in the clear before it reaches its own checks.
	conf := ipsecConf(espDefault, underA4, underB4, "132", [2]uint32{floodSPI - 1, floodSPI}, newESPKeys(espDefault), false)
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		return 0, fmt.Errorf("write ipsec.conf: %w", err)
	}
	for _, args := range [][]string{
		{"ifconfig", "gif0", "tunnel", underA4, underB4, "inet", innerA4, innerB4, "up"},
		{"ifconfig", "gif1", "tunnel", underA6, underB6, "inet6", innerA6, innerB6, "up"},
		{"ifconfig", "gif2", "tunnel", underA4, underB4, "up"},
		{"sysctl", "net.inet.etherip.allow=1"},
		{"ifconfig", "bridge0", "add", "gif2", "up"},
		{"ipsecctl", "-f", file},
	} {
		if _, err := p.a.gif(ctx, args...); err != nil {
			return 0, err
		}
	}
	return p.a.processOf(ctx, "gif")
}

// floodConn is one of b's raw sockets with the garbage it sends.
type floodConn struct {
	conn outer.Conn
	pkts []outer.Packet
}

// floodConns opens b's raw sockets, one per outer family and protocol,
// each with its garbage from b to a.
func floodConns(p *pair) ([]floodConn, error) {
	var conns []floodConn
	err := p.b.Do(func() error {
		for _, family := range []int{4, 6} {
			src, dst := netip.MustParseAddr(underB4), netip.MustParseAddr(underA4)
			if family == 6 {
				src, dst = netip.MustParseAddr(underB6), netip.MustParseAddr(underA6)
			}
			for _, proto := range floodProtocols {
				conn, err := outer.Listen(family, proto)
				if err != nil {
					return fmt.Errorf("garbage socket of b: %w", err)
				}
				// Seeded: every run sends the same garbage.
				rng := rand.New(rand.NewPCG(uint64(family), uint64(proto)))
				pkts := make([]outer.Packet, floodVariety)
				for i := range pkts {
					buf := garbage(rng, proto)
					pkts[i] = outer.Packet{Buf: buf, Size: len(buf), Src: src, Dst: dst}
				}
				conns = append(conns, floodConn{conn: conn, pkts: pkts})
			}
		}
		return nil
	})
	return conns, err
}

// garbage returns a random outer payload of protocol proto: half of them
// start as what the protocol carries (an IPv4 or IPv6 header's first
// byte, EtherIP's header, the SA's SPI), so that they get past the first
// check of the receive path, and the rest is random.
func garbage(rng *rand.Rand, proto uint8) []byte {
	b := make([]byte, 1+rng.IntN(underlayMTU-wire.IPv6HeaderLen))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	if rng.IntN(2) == 0 {
		return b
	}
	switch proto {
	case wire.ProtoIPv4:
		b[0] = 0x45
	case wire.ProtoIPv6:
		b[0] = 0x60
	case wire.ProtoEtherIP:
		b[0] = 0x30
		if len(b) > 1 {
			b[1] = 0
		}
	case ipsec.ProtoESP:
		if len(b) >= 4 {
			binary.BigEndian.PutUint32(b, floodSPI)
		}
	}
	return b
}

// flood sends from every socket as fast as it takes the packets, for d,
// and returns how many it took.
func flood(ctx context.Context, conns []floodConn, d time.Duration) uint64 {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var sent atomic.Uint64
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i = (i + outer.BatchSize) % len(c.pkts) {
				n, _ := c.conn.Send(c.pkts[i:min(i+outer.BatchSize, len(c.pkts))], 0)
				sent.Add(uint64(n))
			}
		})
	}
	wg.Wait()
	return sent.Load()
}
