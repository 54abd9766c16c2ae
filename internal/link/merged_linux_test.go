package link

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"gif/internal/wire"
)

// tcpPacket builds an IPv4 or IPv6 TCP segment with payload bytes of data
// and 12 bytes of options; partial puts the pseudo-header sum in its
// checksum, as the kernel's GRO leaves it, and otherwise the full checksum.
func tcpPacket(t *testing.T, v6 bool, payload int, partial bool) []byte {
	t.Helper()
	const tcpLen = 32
	var pkt []byte
	var ipLen int
	if v6 {
		ipLen = wire.IPv6HeaderLen
		pkt = make([]byte, ipLen+tcpLen+payload)
		wire.IPv6(pkt).Encode(wire.IPv6Fields{PayloadLength: uint16(tcpLen + payload), NextHeader: unix.IPPROTO_TCP, HopLimit: 64,
			Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2")})
	} else {
		ipLen = wire.IPv4MinHeaderLen
		pkt = make([]byte, ipLen+tcpLen+payload)
		wire.IPv4(pkt).Encode(wire.IPv4Fields{TotalLength: uint16(len(pkt)), Protocol: unix.IPPROTO_TCP, TTL: 64, DF: true,
			Src: netip.MustParseAddr("198.51.100.1"), Dst: netip.MustParseAddr("198.51.100.2")})
	}
	tcp := pkt[ipLen:]
	binary.BigEndian.PutUint16(tcp[0:], 5201)
	binary.BigEndian.PutUint16(tcp[2:], 40000)
	tcp[tcpDataOffAt] = tcpLen / 4 << 4
	tcp[13] = 0x10 // ACK
	for i := range payload {
		tcp[tcpLen+i] = byte(i * 7)
	}
	l, ok := linkIP.parseTCPLayout(pkt)
	if !ok {
		t.Fatal("test packet does not parse")
	}
	from, to := l.addrs()
	addrs := pkt[from:to]
	pseudo := pseudoSum(addrs, len(tcp))
	if partial {
		binary.BigEndian.PutUint16(tcp[tcpChecksumAt:], pseudo)
	} else {
		binary.BigEndian.PutUint16(tcp[tcpChecksumAt:], ^wire.Checksum(tcp, uint32(pseudo)))
		if wire.Checksum(tcp, uint32(pseudo)) != 0xffff {
			t.Fatal("test packet has a wrong checksum")
		}
	}
	return pkt
}

func TestMergedTCP(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		ipLen, gsoType := 20, uint8(unix.VIRTIO_NET_HDR_GSO_TCPV4)
		if v6 {
			ipLen, gsoType = 40, unix.VIRTIO_NET_HDR_GSO_TCPV6
		}
		const mtu = 1480
		mss := mtu - ipLen - 32
		for _, tc := range []struct {
			name      string
			payload   int
			partial   bool
			merged    bool
			wantGSO   uint8
			wantMSS   int
			corrupter func([]byte)
		}{
			{name: "super-packet", payload: 40000, partial: true, merged: true, wantGSO: gsoType, wantMSS: mss},
			{name: "two small segments", payload: 200, partial: true, merged: true, wantGSO: unix.VIRTIO_NET_HDR_GSO_NONE},
			{name: "full checksum", payload: 40000},
			{name: "plain segment", payload: 1000},
			{name: "not TCP", payload: 3000, partial: true, corrupter: func(p []byte) {
				if v6 {
					p[6] = 17
				} else {
					p[9] = 17
				}
			}},
			{name: "length mismatch", payload: 3000, partial: true, corrupter: func(p []byte) {
				if v6 {
					p[5]++
				} else {
					p[3]++
				}
			}},
			{name: "data offset too short", payload: 3000, partial: true, corrupter: func(p []byte) { p[ipLen+tcpDataOffAt] = 4 << 4 }},
		} {
			pkt := tcpPacket(t, v6, tc.payload, tc.partial)
			if tc.corrupter != nil {
				tc.corrupter(pkt)
			}
			seg, ok := mergedTCP(pkt)
			if ok != tc.merged {
				t.Errorf("v6=%v %s: merged %v, want %v", v6, tc.name, ok, tc.merged)
				continue
			}
			if !ok {
				continue
			}
			want := virtioNetHdr{flags: unix.VIRTIO_NET_HDR_F_NEEDS_CSUM, gsoType: tc.wantGSO, hdrLen: uint16(ipLen + 32),
				gsoSize: uint16(tc.wantMSS), csumStart: uint16(ipLen), csumOffset: tcpChecksumAt}
			if h := seg.header(mtu); h != want {
				t.Errorf("v6=%v %s: header %+v, want %+v", v6, tc.name, h, want)
			}
		}
	}
}

func TestMergedTCPShortPackets(t *testing.T) {
	full := tcpPacket(t, false, 100, true)
	for n := range len(full) {
		if _, ok := mergedTCP(full[:n]); ok {
			t.Errorf("a packet cut to %d bytes passes as merged", n)
		}
	}
}

func FuzzMergedTCP(f *testing.F) {
	f.Add([]byte{0x45, 0, 0, 20})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		seg, ok := mergedTCP(pkt)
		if ok {
			seg.header(1280)
		}
	})
}
