package dataplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"time"

	"gif/internal/ipsec"
	"gif/internal/outer"
	"gif/internal/tunnel"
	"gif/internal/wire"
)

// delivery is the part of a received batch that goes to one interface.
type delivery struct {
	ifc  *Iface
	bufs [][]byte
}

// startReceiving starts the receive loop of conn, a transport of protocol
// proto, with buffers made once for the loop's life, outside the heap
// (outer.RecvBuffers).
func (u *Userspace) startReceiving(conn outer.Conn, proto uint8) error {
	bufs, err := outer.NewRecvBuffers(conn.BatchSize(), bufSize)
	if err != nil {
		return fmt.Errorf("receive protocol %d: %w", proto, err)
	}
	go u.receiveLoop(conn, proto, bufs)
	return nil
}

// receiveLoop reads batches of outer packets into bufs until conn closes,
// hands each batch to receiveBatch, and frees bufs.
func (u *Userspace) receiveLoop(conn outer.Conn, proto uint8, bufs *outer.RecvBuffers) {
	defer func() {
		if err := bufs.Free(); err != nil {
			u.log.Warn("receive loop ended", "proto", proto, "err", err)
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
			if u.debugging() {
				u.log.Debug("receive", "proto", proto, "err", err)
			}
			time.Sleep(errorPause)
			continue
		}
		deliveries = u.receiveBatch(proto, pkts[:n], deliveries)
	}
}

// receiveBatch decides the fate of each received packet of protocol proto,
// whose payload starts at the headroom, and writes those that interfaces
// claim to their devices. It returns deliveries, emptied, to keep their
// memory for the next batch.
func (u *Userspace) receiveBatch(proto uint8, pkts []outer.Packet, deliveries []delivery) []delivery {
	v := u.view.Load()
	deliveries = resetDeliveries(deliveries)
	for i := range pkts {
		deliveries = u.claim(v, proto, &pkts[i], deliveries)
	}
	for _, dl := range deliveries {
		u.deliver(dl)
	}
	return deliveries
}

// claim counts one received packet and adds it to the deliveries of its
// interface, or drops it. It is one static call per protocol, so that
// nothing of the batch's View escapes to the heap.
func (u *Userspace) claim(v *View, proto uint8, p *outer.Packet, ds []delivery) []delivery {
	switch proto {
	case wire.ProtoEtherIP:
		return u.claimEtherIP(v, false, p, ds)
	case ipsec.ProtoESP, ProtoESPInUDP:
		return u.claimESP(v, p, ds)
	}
	return u.claimIP(v, proto, false, p, ds)
}

// debugging reports whether debug messages are logged. The packet path
// asks before logging a drop, so that with debugging off a drop builds no
// log arguments: boxing them allocates.
func (u *Userspace) debugging() bool {
	return u.log.Enabled(context.Background(), slog.LevelDebug)
}

// deliver writes one interface's share of a batch to its device: IP packets
// at the headroom, Ethernet frames after their EtherIP header.
func (u *Userspace) deliver(dl delivery) {
	offset, qfull := headroom, &u.counters.IPIP.QFull
	if dl.ifc.ether {
		offset, qfull = headroom+wire.EtherIPHeaderLen, &u.counters.EtherIP.QFull
	}
	if _, err := dl.ifc.dev.Write(dl.bufs, offset); err != nil {
		qfull.Add(1)
		dl.ifc.counters.IErrors.Add(1)
		if u.debugging() {
			u.log.Debug("write to device", "interface", dl.ifc.dev.Name(), "err", err)
		}
	}
}

// claimIP takes an IP-in-IP packet whose inner packet starts at the
// headroom: the gif of its exact address pair receives it, after the
// checks of OpenBSD's ipip_input, each counted in ipipstat. One that came
// without ESP although an IPsec flow requires it is dropped.
func (u *Userspace) claimIP(v *View, proto uint8, protected bool, p *outer.Packet, ds []delivery) []delivery {
	if !protected && u.inClear(v, p, proto) {
		return ds
	}
	u.counters.IPIP.IPackets.Add(1)
	u.counters.IPIP.IBytes.Add(uint64(p.Size))
	ifc, ok := v.IPTable.Lookup(p.Dst, p.Src)
	if !ok {
		// Unclaimed: with net.inet.ipip.allow 0 OpenBSD drops it by
		// policy; gif has no catch-all device to hand it to either way.
		u.counters.IPIP.PDrops.Add(1)
		return ds
	}
	cfg := ifc.cfg.Load()
	inner := p.Buf[headroom : headroom+p.Size]
	size, drop := tunnel.Decap(proto, p.TOS, cfg.ECN, inner)
	if drop != tunnel.DropNone {
		switch drop {
		case tunnel.DropShort:
			u.counters.IPIP.HDrops.Add(1)
		case tunnel.DropFamily:
			u.counters.IPIP.Family.Add(1)
		}
		ifc.counters.Drops[drop].Add(1)
		ifc.counters.IErrors.Add(1)
		return ds
	}
	if v.Sysctl.IPIPAllow != 2 && v.Local[innerSource(inner)] {
		u.counters.IPIP.Spoof.Add(1)
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

func addDelivery(ds []delivery, ifc *Iface, buf []byte) []delivery {
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

// claimEtherIP takes an EtherIP packet whose EtherIP header starts at the
// headroom, with OpenBSD's checks in OpenBSD's order (etherip_input), each
// counted in etheripstat. A packet IPsec protected needs no
// net.inet.etherip.allow, as gif(4) says.
func (u *Userspace) claimEtherIP(v *View, protected bool, p *outer.Packet, ds []delivery) []delivery {
	if !protected && u.inClear(v, p, wire.ProtoEtherIP) {
		return ds
	}
	if v.Sysctl.EtherIPAllow == 0 && !protected {
		u.counters.EtherIP.PDrops.Add(1)
		return ds
	}
	u.counters.EtherIP.IPackets.Add(1)
	payload := p.Buf[headroom : headroom+p.Size]
	if _, drop := tunnel.DecapEtherIP(payload); drop != tunnel.DropNone {
		if drop == tunnel.DropShort {
			u.counters.EtherIP.HDrops.Add(1)
		} else {
			u.counters.EtherIP.ADrops.Add(1)
		}
		return ds
	}
	ifc, ok := v.EtherTable.Lookup(p.Dst, p.Src)
	if !ok {
		u.counters.EtherIP.NoIfDrops.Add(1)
		return ds
	}
	frame := uint64(p.Size - wire.EtherIPHeaderLen)
	u.counters.EtherIP.IBytes.Add(frame)
	ifc.counters.IPackets.Add(1)
	ifc.counters.IBytes.Add(frame)
	return addDelivery(ds, ifc, p.Buf[:headroom+p.Size])
}
