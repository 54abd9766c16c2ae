package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"sync/atomic"

	"gif/internal/dataplane"
	"gif/internal/tunnel"
)

// gifAddr is an address as the maps hold it (struct gif_addr): in
// network byte order, IPv4 in the first word.
func gifAddr(a netip.Addr) [4]uint32 {
	b := a.As16()
	if a.Is4() {
		b = [16]byte{}
		v4 := a.As4()
		copy(b[:], v4[:])
	}
	var w [4]uint32
	for i := range w {
		w[i] = binary.NativeEndian.Uint32(b[4*i:])
	}
	return w
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
	whyNoDevice    = "its egress program is not attached"
	whyAttaching   = "attaching its egress program"
	whyMapsFailing = "the kernel's maps refused it"
)

// entries is what the maps should hold for a view.
type entries struct {
	egress   map[uint32]gifEgressTunnel
	ingress  map[gifIngressKey]gifIngressTunnel
	local    map[gifLocalAddr]uint8
	settings gifSettings
}

// decide returns what the maps hold for v and which plane carries each of
// ifaces (with the ifindex of its device, 0 when unknown). A tunnel is on
// the kernel plane only when it is RUNNING, carries IP (not bridged), no
// IPsec flow covers its pair, both switches are on, and it is the lowest
// unit of its pair (the one the receive table holds).
func decide(v *dataplane.View, ifaces map[*dataplane.Iface]uint32) (entries, map[*dataplane.Iface]dataplane.PlaneState) {
	e := entries{
		egress:  make(map[uint32]gifEgressTunnel),
		ingress: make(map[gifIngressKey]gifIngressTunnel),
		local:   make(map[gifLocalAddr]uint8),
	}
	if v.Sysctl != nil {
		e.settings.IpipAllow = uint32(v.Sysctl.IPIPAllow)
	}
	for a, ok := range v.Local {
		if ok {
			var k gifLocalAddr
			k.Addr.A, k.Family = gifAddr(a), uint8(tunnel.Family(a))
			e.local[k] = 1
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
		out := gifEgressTunnel{Domain: uint32(c.Domain), Family: family, Ttl: ttl, Df: boolByte(c.DF), Ecn: boolByte(c.ECN)}
		out.Src.A, out.Dst.A = gifAddr(c.Src), gifAddr(c.Dst)
		e.egress[index] = out
		var in gifIngressKey
		in.Local.A, in.Remote.A, in.Family = gifAddr(c.Src), gifAddr(c.Dst), family
		e.ingress[in] = gifIngressTunnel{Ifindex: index, Ecn: boolByte(c.ECN)}
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

// syncTunnels makes the maps hold want, from have, and returns what they
// hold then. The local addresses go first and must all be there: without
// one, gif_decap's spoof check would let through what the userspace plane
// drops. If one is missing, want loses every tunnel, so no tunnel stays on
// the kernel plane, and the error says why.
func syncTunnels(egress, ingress, local kvMap, have entries, want *entries) (entries, error) {
	held := have
	var err, errLocal error
	held.local, errLocal = syncMap(local, have.local, want.local)
	if !maps.Equal(held.local, want.local) {
		want.egress, want.ingress = nil, nil
		errLocal = fmt.Errorf("local addresses: %w; every tunnel left the kernel plane", errLocal)
	}
	held.egress, err = syncMap(egress, have.egress, want.egress)
	errs := []error{errLocal, err}
	held.ingress, err = syncMap(ingress, have.ingress, want.ingress)
	return held, errors.Join(append(errs, err)...)
}

// counterMap reads the if_counters of a gif, summed over the CPUs.
type counterMap interface {
	sum(ifindex uint32) (gifIfCounters, error)
	remove(ifindex uint32) error
}

// folder adds what the programs counted since the last fold to the
// interfaces' and the global counters.
type folder struct {
	m       counterMap
	last    map[uint32]gifIfCounters
	carried uint64 // packets folded, in and out, over every interface that ever was
}

// fold adds the delta of ifindex to c and global.
func (f *folder) fold(ifindex uint32, c *tunnel.Counters, global *tunnel.IPIPCounters) error {
	now, err := f.m.sum(ifindex)
	if err != nil {
		return err
	}
	last := f.last[ifindex]
	f.last[ifindex] = now
	f.carried += now.Ipackets - last.Ipackets + now.Opackets - last.Opackets
	for _, add := range []struct {
		now, last uint64
		to        [2]*atomic.Uint64
	}{
		{now.Ipackets, last.Ipackets, [2]*atomic.Uint64{&c.IPackets, &global.IPackets}},
		{now.Ibytes, last.Ibytes, [2]*atomic.Uint64{&c.IBytes, &global.IBytes}},
		{now.Opackets, last.Opackets, [2]*atomic.Uint64{&c.OPackets, &global.OPackets}},
		{now.Obytes, last.Obytes, [2]*atomic.Uint64{&c.OBytes, &global.OBytes}},
	} {
		add.to[0].Add(add.now - add.last)
		add.to[1].Add(add.now - add.last)
	}
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
