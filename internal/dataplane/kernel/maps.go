package kernel

import (
	"net/netip"

	"gif/internal/dataplane"
	"gif/internal/tunnel"
)

// What the programs read, as the maps hold it (gif.c's structs, host
// byte order but for the addresses, which are in network byte order).
type (
	// addr is struct gif_addr: an IPv4 address in its first 4 bytes.
	addr [16]byte

	egressEntry struct { // egress_tunnels[gif ifindex]
		Src, Dst addr
		Domain   uint32
		Family   uint8
		TTL      uint8 // 0: copy the inner one
		DF       uint8
		ECN      uint8
	}
	ingressKey struct { // ingress_tunnels' key
		Local, Remote addr
		Family        uint8
		_             [3]uint8
	}
	ingressEntry struct {
		Ifindex uint32
		ECN     uint8
		_       [3]uint8
	}
	localKey struct { // local_addrs' key
		Addr   addr
		Family uint8
		_      [3]uint8
	}
	settingsEntry struct {
		IPIPAllow uint32
	}
	// ifCounters is struct if_counters: what the programs carried for a
	// gif, summed over the CPUs.
	ifCounters struct {
		IPackets, IBytes, OPackets, OBytes uint64
	}
)

func addrOf(a netip.Addr) addr {
	var out addr
	if a.Is4() {
		b := a.As4()
		copy(out[:], b[:])
		return out
	}
	return a.As16()
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// Reasons a tunnel is not on the kernel plane, as ifconfig shows them.
const (
	whyEther       = "bridged: EtherIP"
	whyGlobalOff   = "net.inet.gif.fastpath=0"
	whyOff         = "fastpath off"
	whyNotRunning  = "not running"
	whyIPsec       = "an IPsec flow covers it"
	whyLowerUnit   = "a lower unit has the same tunnel"
	whyNoDevice    = "no device index"
	whyMapsFailing = "the kernel's maps refused it"
)

// entries is what the maps should hold for a view.
type entries struct {
	egress   map[uint32]egressEntry
	ingress  map[ingressKey]ingressEntry
	local    map[localKey]uint8
	settings settingsEntry
}

// decide returns what the maps hold for v and which plane carries each of
// ifaces (with the ifindex of its device, 0 when unknown). A tunnel is on
// the kernel plane only when it is RUNNING, carries IP (not bridged), no
// IPsec flow covers its pair, both switches are on, and it is the lowest
// unit of its pair (the one the receive table holds).
func decide(v *dataplane.View, ifaces map[*dataplane.Iface]uint32) (entries, map[*dataplane.Iface]dataplane.PlaneState) {
	e := entries{
		egress:  make(map[uint32]egressEntry),
		ingress: make(map[ingressKey]ingressEntry),
		local:   make(map[localKey]uint8),
	}
	if v.Sysctl != nil {
		e.settings.IPIPAllow = uint32(v.Sysctl.IPIPAllow)
	}
	for a, ok := range v.Local {
		if ok {
			e.local[localKey{Addr: addrOf(a), Family: uint8(tunnel.Family(a))}] = 1
		}
	}
	states := make(map[*dataplane.Iface]dataplane.PlaneState, len(ifaces))
	for ifc, index := range ifaces {
		why := whyNot(v, ifc, index)
		states[ifc] = dataplane.PlaneState{Kernel: why == "", Why: why}
		if why != "" {
			continue
		}
		c := ifc.Config()
		family := uint8(tunnel.Family(c.Src))
		ttl := uint8(c.TTL)
		if c.TTL == tunnel.TTLCopy {
			ttl = 0
		}
		e.egress[index] = egressEntry{Src: addrOf(c.Src), Dst: addrOf(c.Dst), Domain: uint32(c.Domain),
			Family: family, TTL: ttl, DF: boolByte(c.DF), ECN: boolByte(c.ECN)}
		e.ingress[ingressKey{Local: addrOf(c.Src), Remote: addrOf(c.Dst), Family: family}] =
			ingressEntry{Ifindex: index, ECN: boolByte(c.ECN)}
	}
	return e, states
}

// whyNot says why the kernel plane does not carry ifc, or "" when it does.
func whyNot(v *dataplane.View, ifc *dataplane.Iface, index uint32) string {
	c := ifc.Config()
	switch {
	case ifc.Ether():
		return whyEther
	case v.Sysctl == nil || v.Sysctl.Fastpath == 0:
		return whyGlobalOff
	case c.NoFastpath:
		return whyOff
	case !ifc.Running() || !c.HasTunnel():
		return whyNotRunning
	case index == 0:
		return whyNoDevice
	}
	if owner, ok := v.IPTable.Lookup(c.Src, c.Dst); !ok || owner != ifc {
		return whyLowerUnit
	}
	if v.Policy.CoversTunnel(c.Src, c.Dst) {
		return whyIPsec
	}
	return ""
}

// kvMap is what syncing needs of a BPF map; *ebpf.Map has it.
type kvMap interface {
	Put(key, value any) error
	Delete(key any) error
}

// syncMap makes m, which holds have, hold want: it deletes first, so that
// what leaves the kernel plane leaves even when a later put fails, and
// returns what m holds then with the first error.
func syncMap[K, V comparable](m kvMap, have, want map[K]V) (map[K]V, error) {
	held := make(map[K]V, len(want))
	var first error
	for k, v := range have {
		if _, ok := want[k]; ok {
			held[k] = v
			continue
		}
		if err := m.Delete(k); err != nil && first == nil {
			held[k] = v
			first = err
		}
	}
	for k, v := range want {
		if old, ok := held[k]; ok && old == v {
			continue
		}
		if err := m.Put(k, v); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		held[k] = v
	}
	return held, first
}

// counterMap reads the if_counters of a gif, summed over the CPUs.
type counterMap interface {
	sum(ifindex uint32) (ifCounters, error)
	remove(ifindex uint32) error
}

// folder adds what the programs counted since the last fold to the
// interfaces' and the global counters.
type folder struct {
	m    counterMap
	last map[uint32]ifCounters
}

// fold adds the delta of ifindex to c and global.
func (f *folder) fold(ifindex uint32, c *tunnel.Counters, global *tunnel.IPIPCounters) error {
	now, err := f.m.sum(ifindex)
	if err != nil {
		return err
	}
	last := f.last[ifindex]
	d := ifCounters{now.IPackets - last.IPackets, now.IBytes - last.IBytes, now.OPackets - last.OPackets, now.OBytes - last.OBytes}
	f.last[ifindex] = now
	c.IPackets.Add(d.IPackets)
	c.IBytes.Add(d.IBytes)
	c.OPackets.Add(d.OPackets)
	c.OBytes.Add(d.OBytes)
	global.IPackets.Add(d.IPackets)
	global.IBytes.Add(d.IBytes)
	global.OPackets.Add(d.OPackets)
	global.OBytes.Add(d.OBytes)
	return nil
}

// forget folds ifindex a last time and removes its counters, for an
// interface that leaves.
func (f *folder) forget(ifindex uint32, c *tunnel.Counters, global *tunnel.IPIPCounters) error {
	err := f.fold(ifindex, c, global)
	delete(f.last, ifindex)
	if rerr := f.m.remove(ifindex); err == nil {
		err = rerr
	}
	return err
}
