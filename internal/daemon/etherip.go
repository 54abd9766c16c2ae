package daemon

import (
	"gif/internal/outer"
	"gif/internal/tunnel"
	"gif/internal/wire"
)

// receiveEtherIP reads EtherIP packets of one outer family and hands each
// frame to the bridged gif of its address pair, with OpenBSD's checks in
// OpenBSD's order (etherip_input), each counted in etheripstat.
func (d *Daemon) receiveEtherIP(conn outer.Conn) {
	// Frames start after the EtherIP header, at one offset for the batch.
	const frameOffset = headroom + wire.EtherIPHeaderLen
	d.receiveLoop(conn, wire.ProtoEtherIP, frameOffset, &d.etherip.QFull, func() claimer {
		table := d.etherTable.Load()
		allow := d.sysctl.Load().EtherIPAllow
		return func(p *outer.Packet, ds []delivery) []delivery {
			// IPsec-protected packets (issue 5) will pass without the
			// sysctl, as net.inet.etherip.allow's manual says.
			if allow == 0 {
				d.etherip.PDrops.Add(1)
				return ds
			}
			d.etherip.IPackets.Add(1)
			payload := p.Buf[headroom : headroom+p.Size]
			if _, drop := tunnel.DecapEtherIP(payload); drop != tunnel.DropNone {
				if drop == tunnel.DropShort {
					d.etherip.HDrops.Add(1)
				} else {
					d.etherip.ADrops.Add(1)
				}
				return ds
			}
			ifc, ok := table.Lookup(p.Dst, p.Src)
			if !ok {
				d.etherip.NoIfDrops.Add(1)
				return ds
			}
			frame := uint64(p.Size - wire.EtherIPHeaderLen)
			d.etherip.IBytes.Add(frame)
			ifc.counters.IPackets.Add(1)
			ifc.counters.IBytes.Add(frame)
			return addDelivery(ds, ifc, p.Buf[:headroom+p.Size])
		}
	})
}
