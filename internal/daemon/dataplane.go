package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"gif/internal/ipsec"
	"gif/internal/link"
	"gif/internal/outer"
	"gif/internal/tunnel"
	"gif/internal/wire"
)

const (
	// headroom is reserved in front of every packet: received outer IPv4
	// headers land there, the TUN device writes its virtio header there,
	// and ESP in tunnel mode puts there the IP header it protects (40
	// bytes for IPv6), its own header and IV (up to 24) in front of an
	// EtherIP header (2).
	headroom = 128
	// tailroom is kept after the largest packet for ESP's padding, trailer
	// and ICV.
	tailroom = 512
	// bufSize holds the largest IP packet, reassembled, between the two.
	bufSize = headroom + 65535 + tailroom
	// sendBufSize holds the largest packet or frame a device hands over:
	// one of the largest MTU gif sets, with an Ethernet header and two VLAN
	// tags. A device whose MTU was raised beyond that behind gif's back
	// fails such reads, and they count as output errors.
	sendBufSize = headroom + tunnel.MaxMTU + 22 + tailroom
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
// the data plane sees it, and its counters. A gif that is a bridge member
// has a TAP device and carries Ethernet frames in EtherIP; otherwise it has
// a TUN device and carries IP packets.
type iface struct {
	dp         *plane
	dev        link.Device
	ether      bool
	cfg        atomic.Pointer[tunnel.Config]
	counters   *tunnel.Counters // the interface's, kept when its device changes kind
	running    atomic.Bool
	carrierSet bool // guarded by d.mu
	// missingSrc is the tunnel source that is not an address of this host,
	// once logged; guarded by d.mu.
	missingSrc netip.Addr
	loopLogged atomic.Bool
	done       chan struct{}
}

func newIface(dev link.Device, dp *plane, ether bool, counters *tunnel.Counters) *iface {
	ifc := &iface{dp: dp, dev: dev, ether: ether, counters: counters, done: make(chan struct{})}
	ifc.cfg.Store(&tunnel.Config{})
	go ifc.encapsulate()
	return ifc
}

// close removes the device and waits for its send loop to end.
func (ifc *iface) close() {
	ifc.dev.Close()
	<-ifc.done
}

// sendBatch is what one read of a device needs: buffers, and the outer
// packets made of them by protocol. Interfaces share them through
// sendBatches and take one only once their device has something to read,
// so that memory follows the interfaces that carry traffic, not how many
// there are.
type sendBatch struct {
	bufs   [][]byte
	sizes  []int
	v4, v6 []outer.Packet // protocols 4 and 41
	eth    []outer.Packet // protocol 97
	esp    espGroups      // protocol 50, by where the ESP packets start
}

// sendBatches holds the send batches, at most 4 per core in use at once.
// A batch is 1.1 MB. When a thousand gifs come up together, the kernel's
// first packets into them (neighbour discovery, MLD) wake every send loop,
// and each one preempted while holding a batch kept it: the heap reached
// 105 MB during one gif netstart, and the runtime keeps part of what a
// peak costs. No more loops than cores run at once; the other slots are
// for loops that wait in a send.
var sendBatches = newSendBatchPool(4 * runtime.GOMAXPROCS(0))

// sendBatchPool hands out send batches, no more than its limit at once;
// the collector frees those that no one has used for a while.
type sendBatchPool struct {
	slots chan struct{}
	pool  sync.Pool
}

func newSendBatchPool(limit int) *sendBatchPool {
	return &sendBatchPool{slots: make(chan struct{}, limit), pool: sync.Pool{New: func() any {
		b := &sendBatch{bufs: make([][]byte, outer.BatchSize), sizes: make([]int, outer.BatchSize)}
		for i := range b.bufs {
			b.bufs[i] = make([]byte, sendBufSize)
		}
		return b
	}}}
}

// get waits until fewer than the limit are in use and returns a batch.
func (p *sendBatchPool) get() *sendBatch {
	p.slots <- struct{}{}
	return p.pool.Get().(*sendBatch)
}

func (p *sendBatchPool) put(b *sendBatch) {
	p.pool.Put(b)
	<-p.slots
}

// encapsulate reads what the kernel sends into the interface, IP packets
// or Ethernet frames, and sends it to the tunnel's peer.
func (ifc *iface) encapsulate() {
	defer close(ifc.done)
	batch := min(ifc.dev.BatchSize(), outer.BatchSize)
	for {
		if err := ifc.dev.WaitReadable(); err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			ifc.counters.OErrors.Add(1)
			time.Sleep(errorPause)
			continue
		}
		b := sendBatches.get()
		closed := ifc.readAndSend(b, batch)
		sendBatches.put(b)
		if closed {
			return
		}
	}
}

// readAndSend reads up to batch packets or frames from the device into b,
// encapsulates them and sends them. It reports whether the device is
// closed.
func (ifc *iface) readAndSend(b *sendBatch, batch int) (closed bool) {
	bufs, sizes := b.bufs[:batch], b.sizes[:batch]
	n, err := ifc.dev.Read(bufs, sizes, headroom)
	if err != nil {
		if errors.Is(err, os.ErrClosed) {
			return true
		}
		// The device dropped what it could not read: a packet, or the
		// rest of a super-packet (ErrTooManySegments).
		ifc.counters.OErrors.Add(1)
		if n == 0 && !errors.Is(err, link.ErrTooManySegments) {
			time.Sleep(errorPause)
			return false
		}
	}
	cfg := ifc.cfg.Load()
	running := ifc.running.Load()
	pol := ifc.dp.view.Load().policy
	b.v4, b.v6, b.eth = b.v4[:0], b.v6[:0], b.eth[:0]
	b.esp.reset()
	for i := range n {
		payload := bufs[i][headroom : headroom+sizes[i]]
		if !running {
			if !cfg.HasTunnel() {
				ifc.dp.ipip.Unspec.Add(1)
			}
			ifc.counters.OErrors.Add(1)
			continue
		}
		if ifc.loops(cfg, payload) {
			continue
		}
		// The rules of Daemon.reconcile route a packet marked with
		// cfg.Domain by that routing table.
		p := outer.Packet{Buf: bufs[i], Size: sizes[i], Src: cfg.Src, Dst: cfg.Dst, Mark: uint32(cfg.Domain)}
		var o tunnel.Outer
		off := headroom
		if ifc.ether {
			o = tunnel.EncapEtherIP(cfg)
			off -= wire.EtherIPHeaderLen
			wire.PutEtherIPHeader(bufs[i][off:])
			p.Size += wire.EtherIPHeaderLen
		} else {
			var drop tunnel.Drop
			if o, drop = tunnel.Encap(cfg, payload); drop != tunnel.DropNone {
				ifc.counters.Drops[drop].Add(1)
				ifc.counters.OErrors.Add(1)
				continue
			}
		}
		p.TOS, p.TTL, p.DF = o.TOS, o.TTL, o.DF
		proto := o.Proto
		if pol != nil {
			var ok bool
			if p, off, proto, ok = ifc.dp.protect(pol, p, off, proto); !ok {
				ifc.counters.OErrors.Add(1)
				continue
			}
		}
		switch proto {
		case wire.ProtoIPv4:
			b.v4 = append(b.v4, p)
		case wire.ProtoIPv6:
			b.v6 = append(b.v6, p)
		case wire.ProtoEtherIP:
			b.eth = append(b.eth, p)
		default:
			b.esp.add(off, proto, p)
		}
	}
	ifc.send(cfg, wire.ProtoIPv4, b.v4, headroom)
	ifc.send(cfg, wire.ProtoIPv6, b.v6, headroom)
	ifc.send(cfg, wire.ProtoEtherIP, b.eth, headroom-wire.EtherIPHeaderLen)
	for _, g := range b.esp {
		ifc.send(cfg, g.proto, g.pkts, g.off)
	}
	return false
}

// espGroups gathers a batch's ESP packets by where they start in their
// buffers, since a send takes one offset, and by how they go (raw ESP or
// ESP in UDP): the packets of one interface and SA start at the same place.
type espGroups []espGroup

type espGroup struct {
	off   int
	proto uint8
	pkts  []outer.Packet
}

func (g *espGroups) reset() {
	for i := range *g {
		(*g)[i].pkts = (*g)[i].pkts[:0]
	}
	*g = (*g)[:0]
}

func (g *espGroups) add(off int, proto uint8, p outer.Packet) {
	for i := range *g {
		if (*g)[i].off == off && (*g)[i].proto == proto {
			(*g)[i].pkts = append((*g)[i].pkts, p)
			return
		}
	}
	if len(*g) < cap(*g) {
		*g = (*g)[:len(*g)+1]
		last := &(*g)[len(*g)-1]
		last.off, last.proto, last.pkts = off, proto, append(last.pkts[:0], p)
		return
	}
	*g = append(*g, espGroup{off: off, proto: proto, pkts: []outer.Packet{p}})
}

// loops reports, counts and logs (once) a packet that is already an outer
// packet of this tunnel: its outer route leads back into the tunnel.
func (ifc *iface) loops(cfg *tunnel.Config, payload []byte) bool {
	loop := tunnel.Loops(cfg, payload)
	if ifc.ether {
		loop = tunnel.LoopsFrame(cfg, payload)
	}
	if !loop {
		return false
	}
	ifc.counters.Drops[tunnel.DropLoop].Add(1)
	if ifc.loopLogged.CompareAndSwap(false, true) {
		ifc.dp.log.Warn("routing loop: the tunnel's outer route leads back into it; dropping such packets",
			"interface", cfg.Name, "src", cfg.Src, "dst", cfg.Dst)
	}
	return true
}

// send sends one protocol's share of a batch, whose outer payloads start
// at offset, and counts what went: per interface the inner packet or frame,
// per protocol as OpenBSD's ipipstat and etheripstat do.
func (ifc *iface) send(cfg *tunnel.Config, proto uint8, pkts []outer.Packet, offset int) {
	if len(pkts) == 0 {
		return
	}
	conn := ifc.dp.conns[transportKey{family(cfg.Src), proto}]
	sent := 0
	if conn != nil {
		var err error
		sent, err = conn.Send(pkts, offset)
		if err != nil && ifc.dp.debugging() {
			ifc.dp.log.Debug("send", "interface", cfg.Name, "err", err)
		}
	}
	header := 0
	var packets, bytes *atomic.Uint64 // espstat is counted by Seal
	switch proto {
	case wire.ProtoIPv4, wire.ProtoIPv6:
		packets, bytes = &ifc.dp.ipip.OPackets, &ifc.dp.ipip.OBytes
	case wire.ProtoEtherIP:
		header = wire.EtherIPHeaderLen
		packets, bytes = &ifc.dp.etherip.OPackets, &ifc.dp.etherip.OBytes
	}
	for i, p := range pkts {
		if i >= sent {
			ifc.counters.OErrors.Add(1)
			continue
		}
		size := uint64(p.Size - header)
		ifc.counters.OPackets.Add(1)
		ifc.counters.OBytes.Add(size)
		if packets != nil {
			packets.Add(1)
			bytes.Add(size)
		}
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

// view is everything of the configuration the packet path reads,
// immutable once published: a received batch or a send loaded once for
// the batch sees one consistent configuration. The daemon publishes a new
// view on each change.
type view struct {
	ipTable    *tunnel.Table[*iface] // gifs that carry IP
	etherTable *tunnel.Table[*iface] // bridged gifs, which carry EtherIP
	local      map[netip.Addr]bool   // this host's addresses
	sysctl     *tunnel.Sysctl
	policy     *spd // nil without IPsec rules
}

// startReceiving starts the receive loop of conn, a transport of protocol
// proto, with buffers made once for the loop's life, outside the heap
// (outer.RecvBuffers).
func (dp *plane) startReceiving(conn outer.Conn, proto uint8) error {
	bufs, err := outer.NewRecvBuffers(conn.BatchSize(), bufSize)
	if err != nil {
		return fmt.Errorf("receive protocol %d: %w", proto, err)
	}
	go dp.receiveLoop(conn, proto, bufs)
	return nil
}

// receiveLoop reads batches of outer packets into bufs until conn closes,
// hands each batch to receiveBatch, and frees bufs.
func (dp *plane) receiveLoop(conn outer.Conn, proto uint8, bufs *outer.RecvBuffers) {
	defer func() {
		if err := bufs.Free(); err != nil {
			dp.log.Warn("receive loop ended", "proto", proto, "err", err)
		}
	}()
	pkts := make([]outer.Packet, len(bufs.Bufs))
	for i := range pkts {
		pkts[i].Buf = bufs.Bufs[i]
	}
	var deliveries []delivery
	for {
		n, err := conn.Recv(pkts, headroom)
		if err != nil && n == 0 {
			if errors.Is(err, os.ErrClosed) || errors.Is(err, net.ErrClosed) {
				return
			}
			if dp.debugging() {
				dp.log.Debug("receive", "proto", proto, "err", err)
			}
			time.Sleep(errorPause)
			continue
		}
		deliveries = dp.receiveBatch(proto, pkts[:n], deliveries)
	}
}

// receiveBatch decides the fate of each received packet of protocol proto,
// whose payload starts at the headroom, and writes those that interfaces
// claim to their devices. It returns deliveries, emptied, to keep their
// memory for the next batch.
func (dp *plane) receiveBatch(proto uint8, pkts []outer.Packet, deliveries []delivery) []delivery {
	v := dp.view.Load()
	deliveries = resetDeliveries(deliveries)
	for i := range pkts {
		deliveries = dp.claim(v, proto, &pkts[i], deliveries)
	}
	for _, dl := range deliveries {
		dp.deliver(dl)
	}
	return deliveries
}

// claim counts one received packet and adds it to the deliveries of its
// interface, or drops it. It is one static call per protocol, so that
// nothing of the batch's view escapes to the heap.
func (dp *plane) claim(v *view, proto uint8, p *outer.Packet, ds []delivery) []delivery {
	switch proto {
	case wire.ProtoEtherIP:
		return dp.claimEtherIP(v, false, p, ds)
	case ipsec.ProtoESP, protoESPInUDP:
		return dp.claimESP(v, p, ds)
	}
	return dp.claimIP(v, proto, false, p, ds)
}

// debugging reports whether debug messages are logged. The packet path
// asks before logging a drop, so that with debugging off a drop builds no
// log arguments: boxing them allocates.
func (dp *plane) debugging() bool {
	return dp.log.Enabled(context.Background(), slog.LevelDebug)
}

// deliver writes one interface's share of a batch to its device: IP packets
// at the headroom, Ethernet frames after their EtherIP header.
func (dp *plane) deliver(dl delivery) {
	offset, qfull := headroom, &dp.ipip.QFull
	if dl.ifc.ether {
		offset, qfull = headroom+wire.EtherIPHeaderLen, &dp.etherip.QFull
	}
	if _, err := dl.ifc.dev.Write(dl.bufs, offset); err != nil {
		qfull.Add(1)
		dl.ifc.counters.IErrors.Add(1)
		if dp.debugging() {
			dp.log.Debug("write to device", "interface", dl.ifc.dev.Name(), "err", err)
		}
	}
}

// claimIP takes an IP-in-IP packet whose inner packet starts at the
// headroom: the gif of its exact address pair receives it, after the
// checks of OpenBSD's ipip_input, each counted in ipipstat. One that came
// without ESP although an IPsec flow requires it is dropped.
func (dp *plane) claimIP(v *view, proto uint8, protected bool, p *outer.Packet, ds []delivery) []delivery {
	if !protected && dp.inClear(v, p, proto) {
		return ds
	}
	dp.ipip.IPackets.Add(1)
	dp.ipip.IBytes.Add(uint64(p.Size))
	ifc, ok := v.ipTable.Lookup(p.Dst, p.Src)
	if !ok {
		// Unclaimed: with net.inet.ipip.allow 0 OpenBSD drops it by
		// policy; gif has no catch-all device to hand it to either way.
		dp.ipip.PDrops.Add(1)
		return ds
	}
	cfg := ifc.cfg.Load()
	inner := p.Buf[headroom : headroom+p.Size]
	size, drop := tunnel.Decap(proto, p.TOS, cfg.ECN, inner)
	if drop != tunnel.DropNone {
		switch drop {
		case tunnel.DropShort:
			dp.ipip.HDrops.Add(1)
		case tunnel.DropFamily:
			dp.ipip.Family.Add(1)
		}
		ifc.counters.Drops[drop].Add(1)
		ifc.counters.IErrors.Add(1)
		return ds
	}
	if v.sysctl.IPIPAllow != 2 && v.local[innerSource(inner)] {
		dp.ipip.Spoof.Add(1)
		ifc.counters.IErrors.Add(1)
		return ds
	}
	ifc.counters.IPackets.Add(1)
	ifc.counters.IBytes.Add(uint64(size))
	return addDelivery(ds, ifc, p.Buf[:headroom+size])
}

// resetDeliveries empties ds for the next batch, keeping its memory.
func resetDeliveries(ds []delivery) []delivery {
	for i := range ds {
		ds[i].bufs = ds[i].bufs[:0]
	}
	return ds[:0]
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
