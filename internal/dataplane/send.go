package dataplane

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"time"

	"gif/internal/link"
	"gif/internal/outer"
	"gif/internal/tunnel"
	"gif/internal/wire"
)

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
func (ifc *Iface) encapsulate() {
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
func (ifc *Iface) readAndSend(b *sendBatch, batch int) (closed bool) {
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
	pol := ifc.u.view.Load().Policy
	b.v4, b.v6, b.eth = b.v4[:0], b.v6[:0], b.eth[:0]
	b.esp.reset()
	for i := range n {
		payload := bufs[i][headroom : headroom+sizes[i]]
		if !running {
			if !cfg.HasTunnel() {
				ifc.u.counters.IPIP.Unspec.Add(1)
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
			if p, off, proto, ok = ifc.u.protect(pol, p, off, proto); !ok {
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
			b.esp.add(off, proto, p, sizes[i])
		}
	}
	ifc.send(cfg, wire.ProtoIPv4, b.v4, headroom, nil)
	ifc.send(cfg, wire.ProtoIPv6, b.v6, headroom, nil)
	ifc.send(cfg, wire.ProtoEtherIP, b.eth, headroom-wire.EtherIPHeaderLen, nil)
	for _, g := range b.esp {
		ifc.send(cfg, g.proto, g.pkts, g.off, g.inner)
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
	inner []int // each packet's inner bytes, which the counters count
}

func (g *espGroups) reset() {
	for i := range *g {
		(*g)[i].pkts, (*g)[i].inner = (*g)[i].pkts[:0], (*g)[i].inner[:0]
	}
	*g = (*g)[:0]
}

func (g *espGroups) add(off int, proto uint8, p outer.Packet, inner int) {
	for i := range *g {
		if (*g)[i].off == off && (*g)[i].proto == proto {
			(*g)[i].pkts, (*g)[i].inner = append((*g)[i].pkts, p), append((*g)[i].inner, inner)
			return
		}
	}
	if len(*g) < cap(*g) {
		*g = (*g)[:len(*g)+1]
		last := &(*g)[len(*g)-1]
		last.off, last.proto = off, proto
		last.pkts, last.inner = append(last.pkts[:0], p), append(last.inner[:0], inner)
		return
	}
	*g = append(*g, espGroup{off: off, proto: proto, pkts: []outer.Packet{p}, inner: []int{inner}})
}

// loops reports, counts and logs (once) a packet that is already an outer
// packet of this tunnel: its outer route leads back into the tunnel.
func (ifc *Iface) loops(cfg *tunnel.Config, payload []byte) bool {
	loop := tunnel.Loops(cfg, payload)
	if ifc.ether {
		loop = tunnel.LoopsFrame(cfg, payload)
	}
	if !loop {
		return false
	}
	ifc.counters.Drops[tunnel.DropLoop].Add(1)
	if ifc.loopLogged.CompareAndSwap(false, true) {
		ifc.u.log.Warn("routing loop: the tunnel's outer route leads back into it; dropping such packets",
			"interface", cfg.Name, "src", cfg.Src, "dst", cfg.Dst)
	}
	return true
}

// send sends one protocol's share of a batch, whose outer payloads start
// at offset, and counts what went: per interface the inner packet or frame,
// and in ipipstat or etheripstat, also when ESP sealed it, as OpenBSD's
// ipip_output and etherip_output count before IPsec (espstat is counted by
// Seal). inner holds the inner bytes of sealed packets, whose sizes are
// the ESP payload's; nil, they are the sizes less the EtherIP header.
func (ifc *Iface) send(cfg *tunnel.Config, proto uint8, pkts []outer.Packet, offset int, inner []int) {
	if len(pkts) == 0 {
		return
	}
	conn := ifc.u.conns[transportKey{tunnel.Family(cfg.Src), proto}]
	sent := 0
	if conn != nil {
		var err error
		sent, err = conn.Send(pkts, offset)
		if err != nil && ifc.u.debugging() {
			ifc.u.log.Debug("send", "interface", cfg.Name, "err", err)
		}
	}
	header := 0
	packets, bytes := &ifc.u.counters.IPIP.OPackets, &ifc.u.counters.IPIP.OBytes
	if ifc.ether {
		header = wire.EtherIPHeaderLen
		packets, bytes = &ifc.u.counters.EtherIP.OPackets, &ifc.u.counters.EtherIP.OBytes
	}
	for i, p := range pkts {
		if i >= sent {
			ifc.counters.OErrors.Add(1)
			continue
		}
		size := uint64(p.Size - header)
		if inner != nil {
			size = uint64(inner[i])
		}
		ifc.counters.OPackets.Add(1)
		ifc.counters.OBytes.Add(size)
		packets.Add(1)
		bytes.Add(size)
	}
}
