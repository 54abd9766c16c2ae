package daemon

import (
	"gif/internal/outer"
	"gif/internal/tunnel"
	"gif/internal/wire"
)

// claimEtherIP takes an EtherIP packet whose EtherIP header starts at the
// headroom, with OpenBSD's checks in OpenBSD's order (etherip_input), each
// counted in etheripstat. A packet IPsec protected needs no
// net.inet.etherip.allow, as gif(4) says.
func (dp *plane) claimEtherIP(v *view, protected bool, p *outer.Packet, ds []delivery) []delivery {
	if !protected && dp.inClear(v, p, wire.ProtoEtherIP) {
		return ds
	}
	if v.sysctl.EtherIPAllow == 0 && !protected {
		dp.etherip.PDrops.Add(1)
		return ds
	}
	dp.etherip.IPackets.Add(1)
	payload := p.Buf[headroom : headroom+p.Size]
	if _, drop := tunnel.DecapEtherIP(payload); drop != tunnel.DropNone {
		if drop == tunnel.DropShort {
			dp.etherip.HDrops.Add(1)
		} else {
			dp.etherip.ADrops.Add(1)
		}
		return ds
	}
	ifc, ok := v.etherTable.Lookup(p.Dst, p.Src)
	if !ok {
		dp.etherip.NoIfDrops.Add(1)
		return ds
	}
	frame := uint64(p.Size - wire.EtherIPHeaderLen)
	dp.etherip.IBytes.Add(frame)
	ifc.counters.IPackets.Add(1)
	ifc.counters.IBytes.Add(frame)
	return addDelivery(ds, ifc, p.Buf[:headroom+p.Size])
}
