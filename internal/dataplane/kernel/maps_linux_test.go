package kernel

import (
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"testing"

	"gif/internal/dataplane"
	"gif/internal/ipsec/policy"
	"gif/internal/link/linktest"
	"gif/internal/tunnel"
)

// gif attaches a gif called name with c's tunnel to u, RUNNING as running says.
func gif(t *testing.T, u *dataplane.Userspace, ether, running bool, c tunnel.Config) *dataplane.Iface {
	t.Helper()
	ifc := u.Attach(linktest.New(c.Name, 1), ether, new(tunnel.Counters))
	t.Cleanup(ifc.Detach)
	c.Up = true
	ifc.SetConfig(&c)
	ifc.SetRunning(running)
	return ifc
}

func tunnelConfig(name string, src, dst netip.Addr) tunnel.Config {
	c := tunnel.NewConfig(name)
	c.Src, c.Dst = src, dst
	return c
}

func viewOf(ifaces []*dataplane.Iface, sysctl tunnel.Sysctl, pol *dataplane.SPD) *dataplane.View {
	ip, ether := dataplane.Tables(ifaces)
	return &dataplane.View{IPTable: ip, EtherTable: ether, Sysctl: &sysctl,
		Local: map[netip.Addr]bool{local4: true, local6: true}, Policy: pol}
}

// TestDecide holds the eligibility rule: RUNNING, IP, both switches on,
// the lowest unit of its pair, no IPsec flow either way.
func TestDecide(t *testing.T) {
	u := dataplane.NewUserspace(slog.New(slog.NewTextHandler(io.Discard, nil)))
	other := netip.MustParseAddr("198.51.100.9")
	off := tunnelConfig("gif4", local4, netip.MustParseAddr("198.51.100.4"))
	off.NoFastpath = true
	copyTTL := tunnelConfig("gif7", local6, peer6)
	copyTTL.TTL, copyTTL.DF, copyTTL.Domain = tunnel.TTLCopy, true, 3
	ifaces := map[string]*dataplane.Iface{
		"gif0": gif(t, u, false, true, tunnelConfig("gif0", local4, peer4)),
		"gif1": gif(t, u, false, true, tunnelConfig("gif1", local4, peer4)), // gif0's pair
		"gif2": gif(t, u, false, false, tunnelConfig("gif2", local4, netip.MustParseAddr("198.51.100.2"))),
		"gif3": gif(t, u, true, true, tunnelConfig("gif3", local4, netip.MustParseAddr("198.51.100.3"))),
		"gif4": gif(t, u, false, true, off),
		"gif5": gif(t, u, false, true, tunnelConfig("gif5", local4, other)),
		"gif7": gif(t, u, false, true, copyTTL),
	}
	index := map[*dataplane.Iface]uint32{}
	for i, name := range []string{"gif0", "gif1", "gif2", "gif3", "gif4", "gif5", "gif7"} {
		index[ifaces[name]] = uint32(10 + i)
	}
	// An incoming flow from the peer of gif5 covers its pair the other way.
	pol, err := dataplane.CompilePolicy(policy.Config{Flows: []policy.Flow{{Proto: policy.ESP, Dir: policy.In,
		IPProto: 4, Src: netip.PrefixFrom(other, 32), Dst: netip.PrefixFrom(local4, 32), Type: policy.Require}}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	all := []*dataplane.Iface{}
	for _, ifc := range ifaces {
		all = append(all, ifc)
	}
	e, states := decide(viewOf(all, tunnel.Sysctl{Fastpath: 1, IPIPAllow: 2}, pol), index)
	want := map[string]string{"gif0": "", "gif1": whyLowerUnit, "gif2": whyNotRunning, "gif3": whyEther,
		"gif4": whyOff, "gif5": whyIPsec, "gif7": ""}
	for name, why := range want {
		if st := states[ifaces[name]]; st.Why != why || st.Kernel != (why == "") {
			t.Errorf("%s: plane state %+v, want why %q", name, st, why)
		}
	}
	wantEgress := map[uint32]gifEgressTunnel{10: {Family: 4, Ttl: 64, Ecn: 1}, 16: {Family: 6, Ttl: 0, Df: 1, Ecn: 1, Domain: 3}}
	for index, pair := range map[uint32][2]netip.Addr{10: {local4, peer4}, 16: {local6, peer6}} {
		e := wantEgress[index]
		e.Src.A, e.Dst.A = gifAddr(pair[0]), gifAddr(pair[1])
		wantEgress[index] = e
	}
	if !maps.Equal(e.egress, wantEgress) {
		t.Errorf("egress %+v, want %+v", e.egress, wantEgress)
	}
	wantIngress := map[gifIngressKey]gifIngressTunnel{}
	for index, pair := range map[uint32][2]netip.Addr{10: {local4, peer4}, 16: {local6, peer6}} {
		var k gifIngressKey
		k.Local.A, k.Remote.A, k.Family = gifAddr(pair[0]), gifAddr(pair[1]), family(pair[0])
		wantIngress[k] = gifIngressTunnel{Ifindex: index, Ecn: 1}
	}
	if !maps.Equal(e.ingress, wantIngress) {
		t.Errorf("ingress %+v, want %+v", e.ingress, wantIngress)
	}
	var l6 gifLocalAddr
	l6.Addr.A, l6.Family = gifAddr(local6), 6
	if len(e.local) != 2 || e.local[l6] != 1 || e.settings.IpipAllow != 2 {
		t.Errorf("local %v settings %+v", e.local, e.settings)
	}

	_, states = decide(viewOf(all, tunnel.Sysctl{}, nil), index)
	if st := states[ifaces["gif0"]]; st.Kernel || st.Why != whyGlobalOff {
		t.Errorf("net.inet.gif.fastpath=0: gif0 %+v", st)
	}
}

// TestCoversTunnel: a flow covers a tunnel's outer packets either way,
// for protocol 4, 41 or any, not for another protocol.
func TestCoversTunnel(t *testing.T) {
	for _, tc := range []struct {
		proto    uint8
		src, dst netip.Addr
		want     bool
	}{
		{4, local4, peer4, true}, {41, peer4, local4, true}, {0, peer4, local4, true},
		{97, local4, peer4, false}, {4, local4, netip.MustParseAddr("198.51.100.1"), false},
	} {
		pol, err := dataplane.CompilePolicy(policy.Config{Flows: []policy.Flow{{Proto: policy.ESP, Dir: policy.Out,
			IPProto: tc.proto, Src: netip.PrefixFrom(tc.src, 32), Dst: netip.PrefixFrom(tc.dst, 32), Type: policy.Bypass}}}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := pol.CoversTunnel(local4, peer4); got != tc.want {
			t.Errorf("flow proto %d %s -> %s covers %s-%s: %v, want %v", tc.proto, tc.src, tc.dst, local4, peer4, got, tc.want)
		}
	}
	if (*dataplane.SPD)(nil).CoversTunnel(local4, peer4) {
		t.Error("no policy covers a tunnel")
	}
}

// fakeMap is a BPF hash map in memory.
type fakeMap struct {
	m       map[any]any
	failPut bool
}

func (f *fakeMap) Put(k, v any) error {
	if f.failPut {
		return errors.New("map full")
	}
	f.m[k] = v
	return nil
}

func (f *fakeMap) Delete(k any) error {
	if _, ok := f.m[k]; !ok {
		return errors.New("key does not exist")
	}
	delete(f.m, k)
	return nil
}

// TestSyncMap: the map ends holding exactly what is wanted; a failing put
// still lets deletions through and reports what the map holds.
func TestSyncMap(t *testing.T) {
	m := &fakeMap{m: map[any]any{}}
	held, err := syncMap(m, nil, map[uint32]uint8{1: 1, 2: 2})
	if err != nil || len(m.m) != 2 {
		t.Fatalf("first sync: %v, map %v", err, m.m)
	}
	held, err = syncMap(m, held, map[uint32]uint8{2: 3, 4: 4})
	if err != nil || !maps.Equal(held, map[uint32]uint8{2: 3, 4: 4}) || len(m.m) != 2 || m.m[uint32(2)] != uint8(3) {
		t.Fatalf("second sync: %v, held %v, map %v", err, held, m.m)
	}
	m.failPut = true
	held, err = syncMap(m, held, map[uint32]uint8{5: 5})
	if err == nil || len(held) != 0 || len(m.m) != 0 {
		t.Fatalf("failing sync: %v, held %v, map %v", err, held, m.m)
	}
}

// TestSyncTunnelsNeedsEveryLocalAddress: when the local addresses do not
// all fit, no tunnel is left in the egress or ingress map, as gif_decap's
// spoof check needs them all; once they fit, the tunnels come back.
func TestSyncTunnelsNeedsEveryLocalAddress(t *testing.T) {
	egress, ingress, local := &fakeMap{m: map[any]any{}}, &fakeMap{m: map[any]any{}}, &fakeMap{m: map[any]any{}}
	want := func() entries {
		var k gifLocalAddr
		k.Addr.A, k.Family = gifAddr(netip.MustParseAddr("192.0.2.1")), 4
		return entries{
			egress:  map[uint32]gifEgressTunnel{7: {Family: 4}},
			ingress: map[gifIngressKey]gifIngressTunnel{{Family: 4}: {Ifindex: 7}},
			local:   map[gifLocalAddr]uint8{k: 1},
		}
	}
	local.failPut = true
	w := want()
	have, err := syncTunnels(egress, ingress, local, entries{}, &w)
	if err == nil || len(egress.m)+len(ingress.m)+len(have.egress)+len(have.ingress) != 0 || len(w.egress) != 0 {
		t.Fatalf("local map full: %v; maps hold %v %v, held %+v, want %+v", err, egress.m, ingress.m, have, w)
	}
	local.failPut = false
	w = want()
	have, err = syncTunnels(egress, ingress, local, have, &w)
	if err != nil || len(egress.m) != 1 || len(ingress.m) != 1 || len(local.m) != 1 || !maps.Equal(have.egress, w.egress) {
		t.Fatalf("local map with room: %v; maps hold %v %v %v", err, egress.m, ingress.m, local.m)
	}
}

// fakeCounters is if_counters summed over the CPUs, in memory.
type fakeCounters map[uint32]gifIfCounters

func (f fakeCounters) sum(i uint32) (gifIfCounters, error) { return f[i], nil }
func (f fakeCounters) remove(i uint32) error               { delete(f, i); return nil }

// TestFold: each fold adds what the programs counted since the last one
// to the interface and to ipipstat; forget folds once more and removes.
func TestFold(t *testing.T) {
	m := fakeCounters{7: {Ipackets: 3, Ibytes: 300, Opackets: 2, Obytes: 200}}
	f := folder{m: m, last: map[uint32]gifIfCounters{}}
	var c tunnel.Counters
	var global tunnel.IPIPCounters
	c.IPackets.Store(10) // what the userspace plane counted
	if err := f.fold(7, &c, &global); err != nil {
		t.Fatal(err)
	}
	m[7] = gifIfCounters{Ipackets: 5, Ibytes: 500, Opackets: 2, Obytes: 200}
	if err := f.fold(7, &c, &global); err != nil {
		t.Fatal(err)
	}
	if s := c.Snapshot(); s.IPackets != 15 || s.IBytes != 500 || s.OPackets != 2 || s.OBytes != 200 {
		t.Errorf("interface counters %+v", s)
	}
	if s := global.Snapshot(); s.IPackets != 5 || s.IBytes != 500 || s.OPackets != 2 || s.OBytes != 200 {
		t.Errorf("ipipstat %+v", s)
	}
	if f.carried != 7 {
		t.Errorf("carried %d packets, want the 7 folded", f.carried)
	}
	m[7] = gifIfCounters{Ipackets: 6, Ibytes: 600, Opackets: 2, Obytes: 200}
	if err := f.forget(7, &c, &global); err != nil {
		t.Fatal(err)
	}
	if _, ok := m[7]; ok || c.IPackets.Load() != 16 || len(f.last) != 0 {
		t.Errorf("after forget: map %v, ipackets %d, last %v", m, c.IPackets.Load(), f.last)
	}
	if f.carried != 8 {
		t.Errorf("carried %d packets after forget, want 8", f.carried)
	}
}
