package netns

import (
	"net/netip"
	"reflect"
	"testing"
)

// TestReadPacketsTunnels decodes testdata/tunnels.pcap (see tunnels.py),
// whose headers differ in every field the tests assert.
func TestReadPacketsTunnels(t *testing.T) {
	packets, err := ReadPackets("testdata/tunnels.pcap")
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddr
	outer4 := IPHeader{Version: 4, Src: addr("192.0.2.1"), Dst: addr("192.0.2.2"), TTL: 64, ID: 1}
	outer6 := IPHeader{Version: 6, Src: addr("2001:db8::1"), Dst: addr("2001:db8::2"), TTL: 64}
	inner4 := IPHeader{Version: 4, Src: addr("198.51.100.1"), Dst: addr("198.51.100.2"), TTL: 64, Proto: 1, ID: 1}
	inner6 := IPHeader{Version: 6, Src: addr("2001:db8:1::1"), Dst: addr("2001:db8:2::1"), TTL: 64, Proto: 58}
	with := func(h IPHeader, change func(*IPHeader)) IPHeader {
		change(&h)
		return h
	}
	echo4 := &ICMP{Version: 4, Type: 8}
	echo6 := &ICMP{Version: 6, Type: 128}
	tests := []struct {
		name    string
		ip      []IPHeader
		etherIP *EtherIPHeader
		icmp    *ICMP
	}{{
		name: "IPv4 in IPv4",
		ip: []IPHeader{
			with(outer4, func(h *IPHeader) { h.TTL, h.Proto, h.DSField, h.ECN, h.DF, h.ID = 33, 4, 1, 1, true, 77 }),
			with(inner4, func(h *IPHeader) { h.TTL, h.DSField, h.ECN, h.ID = 9, 2, 2, 5 }),
		},
		icmp: echo4,
	}, {
		name: "IPv6 in IPv4",
		ip: []IPHeader{
			with(outer4, func(h *IPHeader) { h.TTL, h.Proto = 34, 41 }),
			with(inner6, func(h *IPHeader) { h.TTL, h.DSField, h.ECN, h.Flow = 7, 0xb8, 0, 12345 }),
		},
		icmp: echo6,
	}, {
		name: "IPv4 in IPv6",
		ip: []IPHeader{
			with(outer6, func(h *IPHeader) { h.TTL, h.Proto, h.DSField, h.ECN, h.Flow = 40, 4, 3, 3, 999 }),
			with(inner4, func(h *IPHeader) { h.TTL = 9 }),
		},
		icmp: echo4,
	}, {
		name:    "EtherIP over IPv4",
		ip:      []IPHeader{with(outer4, func(h *IPHeader) { h.Proto = 97 }), with(inner4, func(h *IPHeader) { h.TTL = 5 })},
		etherIP: &EtherIPHeader{Version: 3},
		icmp:    echo4,
	}, {
		name:    "EtherIP over IPv6",
		ip:      []IPHeader{with(outer6, func(h *IPHeader) { h.Proto = 97 }), with(inner6, func(h *IPHeader) { h.TTL = 3 })},
		etherIP: &EtherIPHeader{Version: 3},
		icmp:    echo6,
	}, {
		name: "fragmentation needed quoting IPv4 in IPv4",
		ip:   []IPHeader{{Version: 4, Src: addr("192.0.2.2"), Dst: addr("192.0.2.1"), TTL: 64, Proto: 1, ID: 1}},
		icmp: &ICMP{Version: 4, Type: 3, Code: 4, MTU: 1400, Quoted: []IPHeader{
			with(outer4, func(h *IPHeader) { h.Proto, h.DF = 4, true }),
			inner4,
		}},
	}, {
		name: "packet too big quoting IPv4 in IPv6",
		ip:   []IPHeader{{Version: 6, Src: addr("2001:db8::2"), Dst: addr("2001:db8::1"), TTL: 64, Proto: 58}},
		icmp: &ICMP{Version: 6, Type: 2, MTU: 1280, Quoted: []IPHeader{
			with(outer6, func(h *IPHeader) { h.Proto = 4 }),
			inner4,
		}},
	}, {
		name: "first fragment of IPv4 in IPv4",
		ip: []IPHeader{
			with(outer4, func(h *IPHeader) { h.Proto, h.MF, h.ID = 4, true, 9 }),
			inner4,
		},
		icmp: echo4,
	}, {
		name: "last fragment of IPv4 in IPv4",
		ip:   []IPHeader{with(outer4, func(h *IPHeader) { h.Proto, h.FragOffset, h.ID = 4, 8, 9 })},
	}}
	if len(packets) != len(tests) {
		t.Fatalf("got %d packets, want %d", len(packets), len(tests))
	}
	for i, tt := range tests {
		p := packets[i]
		if !reflect.DeepEqual(p.IP, tt.ip) {
			t.Errorf("%s: IP headers\n got %+v\nwant %+v", tt.name, p.IP, tt.ip)
		}
		if !reflect.DeepEqual(p.EtherIP, tt.etherIP) {
			t.Errorf("%s: EtherIP %+v, want %+v", tt.name, p.EtherIP, tt.etherIP)
		}
		if !reflect.DeepEqual(p.ICMP, tt.icmp) {
			t.Errorf("%s: ICMP\n got %+v\nwant %+v", tt.name, p.ICMP, tt.icmp)
		}
	}
	if got := packets[0].Protocols; !reflect.DeepEqual(got, []string{"eth", "ethertype", "ip", "ip", "icmp"}) {
		t.Errorf("protocols of IPv4 in IPv4: %q", got)
	}
}

func TestDecodeMissingField(t *testing.T) {
	layers := map[string]any{
		"frame": map[string]any{"frame.protocols": "eth:ethertype:ip"},
		"ip":    map[string]any{"ip.src": "192.0.2.1"},
	}
	if _, err := decodePacket(layers); err == nil {
		t.Fatal("decoded an IPv4 layer without ip.ttl")
	}
}
