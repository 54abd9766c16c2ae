package tunnel

import "sync/atomic"

// Counters are one interface's packet counters, updated by the data path
// without locks. Input bytes count the inner packet, as Linux counts them.
type Counters struct {
	IPackets, IBytes atomic.Uint64
	OPackets, OBytes atomic.Uint64
	IErrors, OErrors atomic.Uint64
	// Drops counts dropped packets by cause, in both directions.
	Drops [numDrops]atomic.Uint64
}

// InterfaceStats is a snapshot of Counters.
type InterfaceStats struct {
	IPackets uint64            `json:"ipackets"`
	IBytes   uint64            `json:"ibytes"`
	OPackets uint64            `json:"opackets"`
	OBytes   uint64            `json:"obytes"`
	IErrors  uint64            `json:"ierrors"`
	OErrors  uint64            `json:"oerrors"`
	Drops    map[string]uint64 `json:"drops,omitempty"`
}

// Snapshot reads every counter.
func (c *Counters) Snapshot() InterfaceStats {
	s := InterfaceStats{
		IPackets: c.IPackets.Load(), IBytes: c.IBytes.Load(),
		OPackets: c.OPackets.Load(), OBytes: c.OBytes.Load(),
		IErrors: c.IErrors.Load(), OErrors: c.OErrors.Load(),
	}
	for d := range c.Drops {
		if n := c.Drops[d].Load(); n > 0 {
			if s.Drops == nil {
				s.Drops = make(map[string]uint64)
			}
			s.Drops[Drop(d).String()] = n
		}
	}
	return s
}

// IPIPCounters is OpenBSD's struct ipipstat: every IP-in-IP packet the host
// receives or sends, claimed by an interface or not.
type IPIPCounters struct {
	IPackets atomic.Uint64 // packets received
	OPackets atomic.Uint64 // packets sent
	HDrops   atomic.Uint64 // shorter than the header
	QFull    atomic.Uint64 // the interface queue was full
	IBytes   atomic.Uint64
	OBytes   atomic.Uint64
	PDrops   atomic.Uint64 // no interface claims it and net.inet.ipip.allow is 0
	Spoof    atomic.Uint64 // inner source is an address of this host
	Family   atomic.Uint64 // inner version does not match the outer protocol
	Unspec   atomic.Uint64 // sent on an interface without tunnel addresses
}

// IPIPStats is a snapshot of IPIPCounters, named as netstat -s shows them.
type IPIPStats struct {
	IPackets uint64 `json:"ipackets"`
	OPackets uint64 `json:"opackets"`
	HDrops   uint64 `json:"hdrops"`
	QFull    uint64 `json:"qfull"`
	IBytes   uint64 `json:"ibytes"`
	OBytes   uint64 `json:"obytes"`
	PDrops   uint64 `json:"pdrops"`
	Spoof    uint64 `json:"spoof"`
	Family   uint64 `json:"family"`
	Unspec   uint64 `json:"unspec"`
}

// Snapshot reads every counter.
func (c *IPIPCounters) Snapshot() IPIPStats {
	return IPIPStats{
		IPackets: c.IPackets.Load(), OPackets: c.OPackets.Load(),
		HDrops: c.HDrops.Load(), QFull: c.QFull.Load(),
		IBytes: c.IBytes.Load(), OBytes: c.OBytes.Load(),
		PDrops: c.PDrops.Load(), Spoof: c.Spoof.Load(),
		Family: c.Family.Load(), Unspec: c.Unspec.Load(),
	}
}

// EtherIPCounters is OpenBSD's struct etheripstat: every EtherIP packet the
// host receives or sends, claimed by a bridged gif or not. As in
// etherip_decap, a received packet is counted in IPackets once it passes
// the policy check, and the bytes are those of the Ethernet frame alone.
type EtherIPCounters struct {
	HDrops    atomic.Uint64 // shorter than the EtherIP and Ethernet headers
	QFull     atomic.Uint64 // the bridge's queue (here: the TAP) was full
	NoIfDrops atomic.Uint64 // no UP gif with the address pair, or it is not a bridge member
	PDrops    atomic.Uint64 // net.inet.etherip.allow is 0 and the packet is not IPsec-protected
	ADrops    atomic.Uint64 // every other drop: another version, reserved bits set
	IPackets  atomic.Uint64 // packets received
	OPackets  atomic.Uint64 // packets sent
	IBytes    atomic.Uint64
	OBytes    atomic.Uint64
}

// EtherIPStats is a snapshot of EtherIPCounters, named as netstat -s shows
// them.
type EtherIPStats struct {
	HDrops    uint64 `json:"hdrops"`
	QFull     uint64 `json:"qfull"`
	NoIfDrops uint64 `json:"noifdrops"`
	PDrops    uint64 `json:"pdrops"`
	ADrops    uint64 `json:"adrops"`
	IPackets  uint64 `json:"ipackets"`
	OPackets  uint64 `json:"opackets"`
	IBytes    uint64 `json:"ibytes"`
	OBytes    uint64 `json:"obytes"`
}

// Snapshot reads every counter.
func (c *EtherIPCounters) Snapshot() EtherIPStats {
	return EtherIPStats{
		HDrops: c.HDrops.Load(), QFull: c.QFull.Load(),
		NoIfDrops: c.NoIfDrops.Load(), PDrops: c.PDrops.Load(),
		ADrops:   c.ADrops.Load(),
		IPackets: c.IPackets.Load(), OPackets: c.OPackets.Load(),
		IBytes: c.IBytes.Load(), OBytes: c.OBytes.Load(),
	}
}
