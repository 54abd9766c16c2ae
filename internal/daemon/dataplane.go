package daemon

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"golang.zx2c4.com/wireguard/tun"

	"gif/internal/link"
	"gif/internal/outer"
	"gif/internal/tunnel"
	"gif/internal/wire"
)

const (
	// headroom is reserved in front of every packet: received outer IPv4
	// headers land there, and the TUN device writes its virtio header there.
	headroom = 64
	// bufSize holds the largest IP packet, reassembled, after the headroom.
	bufSize = headroom + 65535
	// errorPause keeps a persistently failing device or socket from
	// spinning a core.
	errorPause = 10 * time.Millisecond
)

func init() {
	if headroom < outer.Headroom || headroom < link.WriteOffset {
		panic("daemon: headroom is smaller than the transport or device needs")
	}
}

// iface is one gif interface at run time: its device, its configuration as
// the data plane sees it, and its counters.
type iface struct {
	d          *Daemon
	dev        link.Device
	cfg        atomic.Pointer[tunnel.Config]
	counters   tunnel.Counters
	running    atomic.Bool
	carrierSet bool // guarded by d.mu
	loopLogged atomic.Bool
	done       chan struct{}
}

func newIface(dev link.Device, d *Daemon) *iface {
	ifc := &iface{d: d, dev: dev, done: make(chan struct{})}
	ifc.cfg.Store(&tunnel.Config{})
	go ifc.encapsulate()
	return ifc
}

// close removes the device and waits for its send loop to end.
func (ifc *iface) close() {
	ifc.dev.Close()
	<-ifc.done
}

// encapsulate reads packets the kernel routed into the interface and sends
// them to the tunnel's peer.
func (ifc *iface) encapsulate() {
	defer close(ifc.done)
	batch := ifc.dev.BatchSize()
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, bufSize)
	}
	sizes := make([]int, batch)
	var v4, v6 []outer.Packet // by inner family: protocols 4 and 41
	for {
		n, err := ifc.dev.Read(bufs, sizes, headroom)
		if err != nil && !errors.Is(err, tun.ErrTooManySegments) {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			if n == 0 {
				ifc.counters.OErrors.Add(1)
				time.Sleep(errorPause)
				continue
			}
		}
		cfg := ifc.cfg.Load()
		running := ifc.running.Load()
		v4, v6 = v4[:0], v6[:0]
		for i := range n {
			inner := bufs[i][headroom : headroom+sizes[i]]
			if !running {
				if !cfg.HasTunnel() {
					ifc.d.ipip.Unspec.Add(1)
				}
				ifc.counters.OErrors.Add(1)
				continue
			}
			if tunnel.Loops(cfg, inner) {
				ifc.counters.Drops[tunnel.DropLoop].Add(1)
				if ifc.loopLogged.CompareAndSwap(false, true) {
					ifc.d.log.Warn("routing loop: the tunnel's outer route leads back into it; dropping such packets",
						"interface", cfg.Name, "src", cfg.Src, "dst", cfg.Dst)
				}
				continue
			}
			o, drop := tunnel.Encap(cfg, inner)
			if drop != tunnel.DropNone {
				ifc.counters.Drops[drop].Add(1)
				ifc.counters.OErrors.Add(1)
				continue
			}
			p := outer.Packet{Buf: bufs[i], Size: sizes[i], Src: cfg.Src, Dst: cfg.Dst, TOS: o.TOS, TTL: o.TTL, DF: o.DF}
			if o.Proto == wire.ProtoIPv4 {
				v4 = append(v4, p)
			} else {
				v6 = append(v6, p)
			}
		}
		ifc.send(cfg, wire.ProtoIPv4, v4)
		ifc.send(cfg, wire.ProtoIPv6, v6)
	}
}

func (ifc *iface) send(cfg *tunnel.Config, proto uint8, pkts []outer.Packet) {
	if len(pkts) == 0 {
		return
	}
	conn := ifc.d.conns[transportKey{family(cfg.Src), proto}]
	sent := 0
	if conn != nil {
		var err error
		sent, err = conn.Send(pkts, headroom)
		if err != nil {
			ifc.d.log.Debug("send", "interface", cfg.Name, "err", err)
		}
	}
	for i, p := range pkts {
		if i >= sent {
			ifc.counters.OErrors.Add(1)
			continue
		}
		size := uint64(p.Size)
		ifc.counters.OPackets.Add(1)
		ifc.counters.OBytes.Add(size)
		ifc.d.ipip.OPackets.Add(1)
		ifc.d.ipip.OBytes.Add(size)
	}
}

func family(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

// delivery is the part of a received batch that goes to one interface.
type delivery struct {
	ifc  *iface
	bufs [][]byte
}

// receive reads outer packets of one family and protocol, finds the
// interface each belongs to and writes the inner packets to its device.
func (d *Daemon) receive(conn outer.Conn, proto uint8) {
	batch := conn.BatchSize()
	pkts := make([]outer.Packet, batch)
	for i := range pkts {
		pkts[i].Buf = make([]byte, bufSize)
	}
	var deliveries []delivery
	for {
		n, err := conn.Recv(pkts, headroom)
		if err != nil && n == 0 {
			if errors.Is(err, os.ErrClosed) || errors.Is(err, net.ErrClosed) {
				return
			}
			d.log.Debug("receive", "proto", proto, "err", err)
			time.Sleep(errorPause)
			continue
		}
		table := d.table.Load()
		allow := d.sysctl.Load().IPIPAllow
		for i := range deliveries {
			deliveries[i].bufs = deliveries[i].bufs[:0]
		}
		deliveries = deliveries[:0]
		for i := range n {
			p := &pkts[i]
			d.ipip.IPackets.Add(1)
			d.ipip.IBytes.Add(uint64(p.Size))
			ifc, ok := table.Lookup(p.Dst, p.Src)
			if !ok {
				// Unclaimed: with net.inet.ipip.allow 0 OpenBSD drops it by
				// policy; gif has no catch-all device to hand it to either way.
				d.ipip.PDrops.Add(1)
				continue
			}
			cfg := ifc.cfg.Load()
			inner := p.Buf[headroom : headroom+p.Size]
			size, drop := tunnel.Decap(proto, p.TOS, cfg.ECN, inner)
			if drop != tunnel.DropNone {
				switch drop {
				case tunnel.DropShort:
					d.ipip.HDrops.Add(1)
				case tunnel.DropFamily:
					d.ipip.Family.Add(1)
				}
				ifc.counters.Drops[drop].Add(1)
				ifc.counters.IErrors.Add(1)
				continue
			}
			if allow != 2 && d.IsLocal(innerSource(inner)) {
				d.ipip.Spoof.Add(1)
				ifc.counters.IErrors.Add(1)
				continue
			}
			ifc.counters.IPackets.Add(1)
			ifc.counters.IBytes.Add(uint64(size))
			deliveries = addDelivery(deliveries, ifc, p.Buf[:headroom+size])
		}
		for _, dl := range deliveries {
			if _, err := dl.ifc.dev.Write(dl.bufs, headroom); err != nil {
				d.ipip.QFull.Add(1)
				dl.ifc.counters.IErrors.Add(1)
				d.log.Debug("write to device", "err", err)
			}
		}
	}
}

func addDelivery(ds []delivery, ifc *iface, buf []byte) []delivery {
	for i := range ds {
		if ds[i].ifc == ifc {
			ds[i].bufs = append(ds[i].bufs, buf)
			return ds
		}
	}
	if len(ds) < cap(ds) {
		ds = ds[:len(ds)+1]
		ds[len(ds)-1].ifc = ifc
		ds[len(ds)-1].bufs = append(ds[len(ds)-1].bufs[:0], buf)
		return ds
	}
	return append(ds, delivery{ifc: ifc, bufs: [][]byte{buf}})
}

// innerSource returns the source address of a decapsulated packet that
// Decap has already checked.
func innerSource(inner []byte) netip.Addr {
	if wire.Version(inner) == 4 {
		return wire.IPv4(inner).Src()
	}
	return wire.IPv6(inner).Src()
}
