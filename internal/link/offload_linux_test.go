package link

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"gif/internal/outer"
)

// tcpSeg describes a TCP segment in an Ethernet frame. Its frame method
// builds it with checksums computed by the tests' own checksum function.
type tcpSeg struct {
	v6               bool
	dstMAC           net.HardwareAddr
	vlans            []uint16 // outer first; the outer of two is 802.1ad
	srcPort, dstPort uint16
	seq, ack         uint32
	flags            uint8
	window           uint16
	id               uint16
	df               bool
	tos, ttl         uint8 // traffic class and hop limit for IPv6
	flowLabel        uint32
	opts             []byte
	payload          []byte
	partial          bool // the pseudo-header sum in the checksum field, as with NEEDS_CSUM
	badSum           bool
}

var (
	segSrcMAC = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0x01}
	segDstMAC = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0x02}
	segSrc4   = netip.MustParseAddr("192.0.2.1")
	segDst4   = netip.MustParseAddr("192.0.2.2")
	segSrc6   = netip.MustParseAddr("2001:db8::1")
	segDst6   = netip.MustParseAddr("2001:db8::2")
	// segTimestamps are TCP options: NOP, NOP, timestamps.
	segTimestamps = []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}
)

// newSeg returns a segment of a bulk IPv4 or IPv6 transfer with size
// bytes of payload.
func newSeg(v6 bool, size int) tcpSeg {
	return tcpSeg{
		v6: v6, dstMAC: segDstMAC, srcPort: 40000, dstPort: 5201, seq: 0xfffff000, ack: 77,
		flags: tcpACK, window: 501, id: 0xfffe, df: true, ttl: 64, opts: segTimestamps, payload: pattern(size, 0),
	}
}

// pattern returns n bytes that differ from those of another seed.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + byte(i>>8) + seed
	}
	return b
}

func (s tcpSeg) frame() []byte {
	b := append(append([]byte{}, s.dstMAC...), segSrcMAC...)
	for i, vid := range s.vlans {
		tpid := uint16(unix.ETH_P_8021Q)
		if i == 0 && len(s.vlans) > 1 {
			tpid = unix.ETH_P_8021AD
		}
		b = binary.BigEndian.AppendUint16(b, tpid)
		b = binary.BigEndian.AppendUint16(b, vid)
	}
	tcpLen := 20 + len(s.opts) + len(s.payload)
	var pseudo []byte
	if s.v6 {
		b = binary.BigEndian.AppendUint16(b, unix.ETH_P_IPV6)
		ip := make([]byte, 40)
		binary.BigEndian.PutUint32(ip, 6<<28|uint32(s.tos)<<20|s.flowLabel)
		binary.BigEndian.PutUint16(ip[4:], uint16(tcpLen))
		ip[6], ip[7] = unix.IPPROTO_TCP, s.ttl
		copy(ip[8:], segSrc6.AsSlice())
		copy(ip[24:], segDst6.AsSlice())
		b = append(b, ip...)
		pseudo = append(pseudo, ip[8:40]...)
	} else {
		b = binary.BigEndian.AppendUint16(b, unix.ETH_P_IP)
		ip := make([]byte, 20)
		ip[0], ip[1] = 0x45, s.tos
		binary.BigEndian.PutUint16(ip[2:], uint16(20+tcpLen))
		binary.BigEndian.PutUint16(ip[4:], s.id)
		if s.df {
			ip[6] = 0x40
		}
		ip[8], ip[9] = s.ttl, unix.IPPROTO_TCP
		copy(ip[12:], segSrc4.AsSlice())
		copy(ip[16:], segDst4.AsSlice())
		binary.BigEndian.PutUint16(ip[10:], ^checksum(0, ip))
		b = append(b, ip...)
		pseudo = append(pseudo, ip[12:20]...)
	}
	pseudo = append(pseudo, 0, unix.IPPROTO_TCP, byte(tcpLen>>8), byte(tcpLen))
	tcpAt := len(b)
	b = binary.BigEndian.AppendUint16(b, s.srcPort)
	b = binary.BigEndian.AppendUint16(b, s.dstPort)
	b = binary.BigEndian.AppendUint32(b, s.seq)
	b = binary.BigEndian.AppendUint32(b, s.ack)
	b = append(b, byte((20+len(s.opts))/4<<4), s.flags)
	b = binary.BigEndian.AppendUint16(b, s.window)
	b = append(b, 0, 0, 0, 0) // checksum, urgent pointer
	b = append(append(b, s.opts...), s.payload...)
	sum := ^checksum(checksum(0, pseudo), b[tcpAt:])
	if s.partial {
		sum = checksum(0, pseudo)
	}
	if s.badSum {
		sum ^= 0x0101
	}
	binary.BigEndian.PutUint16(b[tcpAt+16:], sum)
	return b
}

// in returns s as a device with link-layer headers k hands it over: the
// Ethernet frame, or the IP packet in it.
func (s tcpSeg) in(k linkLayer) []byte {
	return s.frame()[s.linkLen(linkEthernet)-s.linkLen(k):]
}

// linkLen returns the length of the link-layer header of s on a device
// with link-layer headers k.
func (s tcpSeg) linkLen(k linkLayer) int {
	if k == linkIP {
		return 0
	}
	return 14 + 4*len(s.vlans)
}

// headersLen returns the length of the headers of s.
func (s tcpSeg) headersLen(k linkLayer) int {
	n := s.linkLen(k) + 20 + 20 + len(s.opts)
	if s.v6 {
		n += 20
	}
	return n
}

func (k linkLayer) String() string {
	if k == linkIP {
		return "TUN"
	}
	return "TAP"
}

// links are the link-layers of TUN and TAP devices.
var links = []linkLayer{linkIP, linkEthernet}

// withVirtioNetHdr returns frame behind a virtio-net header.
func withVirtioNetHdr(h virtioNetHdr, frame []byte) []byte {
	b := make([]byte, virtioNetHdrLen, virtioNetHdrLen+len(frame))
	h.encode(b)
	return append(b, frame...)
}

// newBufs returns n buffers of size bytes, filled with 0xa5.
func newBufs(n, size int) [][]byte {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = bytes.Repeat([]byte{0xa5}, size)
	}
	return bufs
}

// cloneBufs returns a deep copy of bufs.
func cloneBufs(bufs [][]byte) [][]byte {
	c := make([][]byte, len(bufs))
	for i, b := range bufs {
		c[i] = bytes.Clone(b)
	}
	return c
}

// gsoFrame returns s as the kernel hands it over to a device with
// link-layer headers k as a super-frame with segments of gsoSize bytes.
// hdr_len is the length of the whole frame, as for a forwarded super-frame,
// which Read must not trust.
func gsoFrame(k linkLayer, s tcpSeg, gsoSize int, ecn bool) []byte {
	s.partial = true
	frame := s.in(k)
	h := virtioNetHdr{
		flags: unix.VIRTIO_NET_HDR_F_NEEDS_CSUM, gsoType: unix.VIRTIO_NET_HDR_GSO_TCPV4, hdrLen: uint16(len(frame)),
		gsoSize: uint16(gsoSize), csumStart: uint16(s.headersLen(k) - 20 - len(s.opts)), csumOffset: 16,
	}
	if s.v6 {
		h.gsoType = unix.VIRTIO_NET_HDR_GSO_TCPV6
	}
	if ecn {
		h.gsoType |= unix.VIRTIO_NET_HDR_GSO_ECN
	}
	return withVirtioNetHdr(h, frame)
}

func TestSplitFrameTCP(t *testing.T) {
	const offset = 7
	qinq := newSeg(false, 10000)
	qinq.vlans = []uint16{10, 20}
	vlan6 := newSeg(true, 65000)
	vlan6.vlans, vlan6.tos, vlan6.flowLabel = []uint16{5}, 0x2e<<2, 0x12345
	pshFin := newSeg(false, 3*1448+1)
	pshFin.flags |= tcpPSH | tcpFIN
	noOpts := newSeg(true, 1000)
	noOpts.opts = nil
	cwr := newSeg(false, 3*1448)
	cwr.flags |= tcpCWR
	for _, tc := range []struct {
		name    string
		seg     tcpSeg
		gsoSize int
		ecn     bool
	}{
		{"IPv4", newSeg(false, 65160), 1448, false},
		{"IPv6", newSeg(true, 64000), 1428, false},
		{"IPv6 with a VLAN tag", vlan6, 1424, false},
		{"IPv4 with two VLAN tags", qinq, 1440, false},
		{"FIN and PSH", pshFin, 1448, false},
		{"one segment", noOpts, 1440, false},
		{"CWR", cwr, 1448, true},
	} {
		for _, k := range links {
			t.Run(k.String()+"/"+tc.name, func(t *testing.T) {
				bufs := newBufs(outer.BatchSize, offset+1500+18)
				sizes := make([]int, len(bufs))
				n, err := k.splitFrame(gsoFrame(k, tc.seg, tc.gsoSize, tc.ecn), bufs, sizes, offset)
				mustNoErr(t, err)
				if want := (len(tc.seg.payload) + tc.gsoSize - 1) / tc.gsoSize; n != want {
					t.Fatalf("splitFrame made %d frames, want %d", n, want)
				}
				for i := range n {
					want := tc.seg
					want.payload = tc.seg.payload[i*tc.gsoSize : min((i+1)*tc.gsoSize, len(tc.seg.payload))]
					want.seq += uint32(i * tc.gsoSize)
					want.id += uint16(i)
					if i < n-1 {
						want.flags &^= tcpFIN | tcpPSH
					}
					if i > 0 {
						want.flags &^= tcpCWR
					}
					if got := bufs[i][offset : offset+sizes[i]]; !bytes.Equal(got, want.in(k)) {
						t.Errorf("frame %d:\n got %x\nwant %x", i, got, want.in(k))
					}
					if !bytes.Equal(bufs[i][:offset], bytes.Repeat([]byte{0xa5}, offset)) {
						t.Errorf("frame %d: splitFrame wrote before offset", i)
					}
				}
			})
		}
	}
}

func TestSplitFrameNotGSO(t *testing.T) {
	const offset = 3
	udp := ethFrame(0, segDstMAC, segSrcMAC, unix.ETH_P_IP,
		udpPacket(0, netip.AddrPortFrom(segSrc4, 53), netip.AddrPortFrom(segDst4, 4000), []byte("a datagram")))
	// The kernel leaves the sum of the pseudo-header in the checksum field.
	partial := bytes.Clone(udp)
	pseudo := append(append(segSrc4.AsSlice(), segDst4.AsSlice()...), 0, unix.IPPROTO_UDP, 0, 18)
	binary.BigEndian.PutUint16(partial[14+20+6:], checksum(0, pseudo))
	arp := ethFrame(0, segDstMAC, segSrcMAC, unix.ETH_P_ARP, arpPacket(1, segSrcMAC, segSrc4, nil, segDst4))
	for _, tc := range []struct {
		name        string
		k           linkLayer
		h           virtioNetHdr
		frame, want []byte
	}{
		{"plain", linkEthernet, virtioNetHdr{}, arp, arp},
		{"checksum valid", linkEthernet, virtioNetHdr{flags: unix.VIRTIO_NET_HDR_F_DATA_VALID}, udp, udp},
		{"checksum needed", linkEthernet, virtioNetHdr{flags: unix.VIRTIO_NET_HDR_F_NEEDS_CSUM, csumStart: 14 + 20, csumOffset: 6}, partial, udp},
		{"hdr_len ignored", linkEthernet, virtioNetHdr{hdrLen: 9999}, arp, arp},
		{"TUN plain", linkIP, virtioNetHdr{}, udp[14:], udp[14:]},
		{"TUN checksum needed", linkIP, virtioNetHdr{flags: unix.VIRTIO_NET_HDR_F_NEEDS_CSUM, csumStart: 20, csumOffset: 6}, partial[14:], udp[14:]},
		{"TUN not IP", linkIP, virtioNetHdr{}, []byte{0x12, 0x34}, []byte{0x12, 0x34}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bufs := newBufs(2, offset+len(tc.frame))
			sizes := make([]int, len(bufs))
			n, err := tc.k.splitFrame(withVirtioNetHdr(tc.h, tc.frame), bufs, sizes, offset)
			if err != nil || n != 1 || !bytes.Equal(bufs[0][offset:offset+sizes[0]], tc.want) {
				t.Errorf("splitFrame() = %d, %v, frame %x; want 1 frame %x", n, err, bufs[0][offset:offset+sizes[0]], tc.want)
			}
		})
	}
}

func TestSplitFrameErrors(t *testing.T) {
	const offset = 10
	good := newSeg(false, 5*1448)
	gso := func(s tcpSeg) []byte { return gsoFrame(linkEthernet, s, 1448, false) }
	withHdr := func(in []byte, change func(*virtioNetHdr)) []byte {
		h := decodeVirtioNetHdr(in)
		change(&h)
		h.encode(in)
		return in
	}
	v6 := newSeg(true, 3000)
	threeTags := good
	threeTags.vlans = []uint16{1, 2, 3}
	badOffset := gso(good)
	badOffset[virtioNetHdrLen+14+20+12] = 4 << 4 // a 16-byte TCP header
	truncated := gso(good)[:virtioNetHdrLen+14+20+10]
	noPayload := good
	noPayload.payload = nil
	arp := withVirtioNetHdr(virtioNetHdr{gsoType: unix.VIRTIO_NET_HDR_GSO_TCPV4, gsoSize: 1448},
		ethFrame(0, segDstMAC, segSrcMAC, unix.ETH_P_ARP, arpPacket(1, segSrcMAC, segSrc4, nil, segDst4)))
	tunGSO := func(s tcpSeg) []byte { return gsoFrame(linkIP, s, 1448, false) }
	tunUDP := withVirtioNetHdr(virtioNetHdr{gsoType: unix.VIRTIO_NET_HDR_GSO_TCPV4, gsoSize: 1448},
		udpPacket(0, netip.AddrPortFrom(segSrc4, 53), netip.AddrPortFrom(segDst4, 4000), make([]byte, 3000)))
	tunBadVersion := tunGSO(good)
	tunBadVersion[virtioNetHdrLen] = 0x55
	tunIPv4InIPv6 := tunGSO(v6)
	tunIPv4InIPv6[virtioNetHdrLen] = 0x45 // an IPv6 packet that says it is IPv4
	for _, tc := range []struct {
		name string
		tun  bool // a TUN device's packet, not a TAP device's frame
		in   []byte
		bufs [][]byte
		want error
	}{
		{"shorter than the virtio-net header", false, make([]byte, 9), nil, errBadFrame},
		{"UDP GSO", false, withHdr(gso(good), func(h *virtioNetHdr) { h.gsoType = unix.VIRTIO_NET_HDR_GSO_UDP_L4 }), nil, errBadFrame},
		{"unknown GSO type", false, withHdr(gso(good), func(h *virtioNetHdr) { h.gsoType = 0x42 }), nil, errBadFrame},
		{"ECN without TCP", false, withHdr(gso(good), func(h *virtioNetHdr) { h.gsoType = unix.VIRTIO_NET_HDR_GSO_ECN }), nil, errBadFrame},
		{"GSO size 0", false, withHdr(gso(good), func(h *virtioNetHdr) { h.gsoSize = 0 }), nil, errBadFrame},
		{"GSO size too large for IP", false, withHdr(gso(newSeg(false, 0xffff-40)), func(h *virtioNetHdr) { h.gsoSize = 0xffff }), newBufs(1, 1<<17), errBadFrame},
		{"IPv6 GSO on IPv4", false, withHdr(gso(good), func(h *virtioNetHdr) { h.gsoType = unix.VIRTIO_NET_HDR_GSO_TCPV6 }), nil, errBadFrame},
		{"IPv4 GSO on IPv6", false, withHdr(gso(v6), func(h *virtioNetHdr) { h.gsoType = unix.VIRTIO_NET_HDR_GSO_TCPV4 }), nil, errBadFrame},
		{"GSO on ARP", false, arp, nil, errBadFrame},
		{"three VLAN tags", false, gso(threeTags), nil, errBadFrame},
		{"TCP data offset below 5", false, badOffset, nil, errBadFrame},
		{"TCP header cut short", false, truncated, nil, errBadFrame},
		{"GSO without payload", false, gso(noPayload), nil, errBadFrame},
		{"checksum beyond the frame", false, withVirtioNetHdr(virtioNetHdr{flags: unix.VIRTIO_NET_HDR_F_NEEDS_CSUM, csumStart: 50, csumOffset: 9}, make([]byte, 60)), nil, errBadFrame},
		{"checksum at an odd offset", false, withVirtioNetHdr(virtioNetHdr{flags: unix.VIRTIO_NET_HDR_F_NEEDS_CSUM, csumStart: 34, csumOffset: 7}, make([]byte, 60)), nil, errBadFrame},
		{"checksum start beyond the frame", false, withVirtioNetHdr(virtioNetHdr{flags: unix.VIRTIO_NET_HDR_F_NEEDS_CSUM, csumStart: 61}, make([]byte, 60)), nil, errBadFrame},
		{"frame longer than the buffer", false, withVirtioNetHdr(virtioNetHdr{}, make([]byte, 1500+18+1)), nil, errBadFrame},
		{"segments longer than a buffer", false, gso(good), newBufs(outer.BatchSize, offset+1000), errBadFrame},
		{"too many segments", false, gso(good), newBufs(4, offset+1518), ErrTooManySegments},
		{"no buffers", false, withVirtioNetHdr(virtioNetHdr{}, make([]byte, 60)), [][]byte{}, ErrTooManySegments},
		{"TUN GSO on UDP", true, tunUDP, nil, errBadFrame},
		{"TUN GSO on IP version 5", true, tunBadVersion, nil, errBadFrame},
		{"TUN IPv4 GSO on IPv6", true, withHdr(tunGSO(v6), func(h *virtioNetHdr) { h.gsoType = unix.VIRTIO_NET_HDR_GSO_TCPV4 }), nil, errBadFrame},
		{"TUN IPv6 header with version 4", true, tunIPv4InIPv6, nil, errBadFrame},
		{"TUN TCP header cut short", true, tunGSO(good)[:virtioNetHdrLen+20+10], nil, errBadFrame},
		{"TUN GSO without payload", true, tunGSO(noPayload), nil, errBadFrame},
		{"TUN segments longer than a buffer", true, tunGSO(good), newBufs(outer.BatchSize, offset+1000), errBadFrame},
		{"TUN too many segments", true, tunGSO(good), newBufs(4, offset+1500), ErrTooManySegments},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bufs := tc.bufs
			if bufs == nil {
				bufs = newBufs(outer.BatchSize, offset+1500+18)
			}
			k := linkEthernet
			if tc.tun {
				k = linkIP
			}
			before := cloneBufs(bufs)
			n, err := k.splitFrame(tc.in, bufs, make([]int, len(bufs)), offset)
			if n != 0 || !errors.Is(err, tc.want) {
				t.Errorf("splitFrame() = %d, %v; want 0 and %v", n, err, tc.want)
			}
			if !slices.EqualFunc(bufs, before, bytes.Equal) {
				t.Error("splitFrame wrote to the buffers")
			}
		})
	}
}

// flowRun returns n consecutive segments that follow s, each with size
// bytes of payload.
func flowRun(s tcpSeg, n, size int) []tcpSeg {
	segs := make([]tcpSeg, n)
	for i := range segs {
		segs[i] = s
		segs[i].payload = pattern(size, byte(i))
		segs[i].seq += uint32(i * size)
		segs[i].id += uint16(i)
	}
	return segs
}

// at returns a copy of segs with segment i changed.
func at(segs []tcpSeg, i int, change func(*tcpSeg)) []tcpSeg {
	segs = slices.Clone(segs)
	change(&segs[i])
	return segs
}

// from returns a copy of segs with the segments from i on changed.
func from(segs []tcpSeg, i int, change func(*tcpSeg)) []tcpSeg {
	segs = slices.Clone(segs)
	for j := i; j < len(segs); j++ {
		change(&segs[j])
	}
	return segs
}

// alternate returns the segments of a and b in turn.
func alternate(a, b []tcpSeg) []tcpSeg {
	var segs []tcpSeg
	for i := range a {
		segs = append(segs, a[i], b[i])
	}
	return segs
}

// groups returns the frame indices of each super-frame c planned.
func (c *coalescer) groups() [][]int {
	var groups [][]int
	for _, s := range c.supers {
		var g []int
		for i := s.first; i >= 0; i = c.next[i] {
			g = append(g, i)
		}
		groups = append(groups, g)
	}
	return groups
}

// superFrameOf returns the frame and virtio-net header Write should make
// of segs: the first, with the payload of all and the PSH flag of the last.
func superFrameOf(k linkLayer, segs []tcpSeg) (virtioNetHdr, []byte) {
	s := segs[0]
	s.payload = nil
	for _, seg := range segs {
		s.payload = append(s.payload, seg.payload...)
	}
	s.flags |= segs[len(segs)-1].flags & tcpPSH
	s.partial = true
	h := virtioNetHdr{
		flags: unix.VIRTIO_NET_HDR_F_NEEDS_CSUM, gsoType: unix.VIRTIO_NET_HDR_GSO_TCPV4, hdrLen: uint16(s.headersLen(k)),
		gsoSize: uint16(len(segs[0].payload)), csumStart: uint16(s.headersLen(k) - 20 - len(s.opts)), csumOffset: 16,
	}
	if s.v6 {
		h.gsoType = unix.VIRTIO_NET_HDR_GSO_TCPV6
	}
	if s.flags&tcpCWR != 0 {
		h.gsoType |= unix.VIRTIO_NET_HDR_GSO_ECN
	}
	return h, s.in(k)
}

func TestCoalesce(t *testing.T) {
	run4, run6 := flowRun(newSeg(false, 0), 4, 1448), flowRun(newSeg(true, 0), 4, 1428)
	other := newSeg(false, 0)
	other.srcPort++
	vlan := newSeg(true, 0)
	vlan.vlans = []uint16{7}
	qinq := newSeg(false, 0)
	qinq.vlans = []uint16{7, 8}
	fixedID := flowRun(newSeg(false, 0), 3, 1448)
	for i := range fixedID {
		fixedID[i].id = 0
	}
	arp := tcpSeg{} // stands for a frame that is not TCP
	tiny := newSeg(false, 0)
	tiny.opts = nil
	ack := newSeg(false, 0)
	// Frames of a TAP device only, or packets of a TUN device only.
	linkOnly := map[string]linkLayer{
		"another VLAN": linkEthernet, "another MAC address": linkEthernet, "Ethernet padding": linkEthernet,
		"one-byte segments": linkIP,
	}
	for _, tc := range []struct {
		name string
		segs []tcpSeg
		want [][]int
	}{
		{"IPv4", run4, [][]int{{0, 1, 2, 3}}},
		{"IPv6", run6, [][]int{{0, 1, 2, 3}}},
		{"VLAN", flowRun(vlan, 3, 1424), [][]int{{0, 1, 2}}},
		{"802.1ad and 802.1Q", flowRun(qinq, 3, 1440), [][]int{{0, 1, 2}}},
		{"short last segment with PSH", at(flowRun(newSeg(false, 0), 3, 1448), 2, func(s *tcpSeg) {
			s.payload, s.flags = s.payload[:100], s.flags|tcpPSH
		}), [][]int{{0, 1, 2}}},
		{"PSH ends a super-frame", at(run4, 1, func(s *tcpSeg) { s.flags |= tcpPSH }), [][]int{{0, 1}, {2, 3}}},
		{"a short segment ends a super-frame", at(run4, 1, func(s *tcpSeg) { s.payload = s.payload[:1000] }), [][]int{{0, 1}, {2, 3}}},
		{"no segment longer than the first", append(flowRun(newSeg(false, 0), 1, 1000), flowRun(func() tcpSeg {
			s := newSeg(false, 0)
			s.seq, s.id = s.seq+1000, s.id+1
			return s
		}(), 2, 1448)...), [][]int{{0}, {1, 2}}},
		{"flows interleaved", alternate(run4, flowRun(other, 4, 1000)), [][]int{{0, 2, 4, 6}, {1, 3, 5, 7}}},
		{"a gap", []tcpSeg{run4[0], run4[2], run4[3]}, [][]int{{0}, {1, 2}}},
		{"a retransmission", []tcpSeg{run4[0], run4[1], run4[0], run4[1]}, [][]int{{0, 1}, {2, 3}}},
		{"SYN", at(run4, 2, func(s *tcpSeg) { s.flags |= tcpSYN }), [][]int{{0, 1}, {2}, {3}}},
		{"FIN", at(run4, 2, func(s *tcpSeg) { s.flags |= tcpFIN }), [][]int{{0, 1}, {2}, {3}}},
		{"RST", at(run4, 2, func(s *tcpSeg) { s.flags |= tcpRST }), [][]int{{0, 1}, {2}, {3}}},
		{"URG", at(run4, 2, func(s *tcpSeg) { s.flags |= tcpURG }), [][]int{{0, 1}, {2}, {3}}},
		{"no ACK", at(run4, 0, func(s *tcpSeg) { s.flags = 0 }), [][]int{{0}, {1, 2, 3}}},
		{"CWR on the first", at(run4, 0, func(s *tcpSeg) { s.flags |= tcpCWR }), [][]int{{0, 1, 2, 3}}},
		{"CWR later", at(run4, 2, func(s *tcpSeg) { s.flags |= tcpCWR }), [][]int{{0, 1}, {2, 3}}},
		{"ECE on all", flowRun(func() tcpSeg { s := newSeg(false, 0); s.flags |= 0x40; return s }(), 3, 1448), [][]int{{0, 1, 2}}},
		{"ECE on one", at(run4, 1, func(s *tcpSeg) { s.flags |= 0x40 }), [][]int{{0}, {1}, {2, 3}}},
		{"another acknowledgment", from(run4, 2, func(s *tcpSeg) { s.ack++ }), [][]int{{0, 1}, {2, 3}}},
		{"another window", from(run4, 2, func(s *tcpSeg) { s.window++ }), [][]int{{0, 1}, {2, 3}}},
		{"other options", from(run4, 2, func(s *tcpSeg) { s.opts = []byte{1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 2} }), [][]int{{0, 1}, {2, 3}}},
		{"no options", from(run4, 2, func(s *tcpSeg) { s.opts = nil }), [][]int{{0, 1}, {2, 3}}},
		{"another TTL", from(run4, 2, func(s *tcpSeg) { s.ttl-- }), [][]int{{0, 1}, {2, 3}}},
		{"another TOS", from(run4, 2, func(s *tcpSeg) { s.tos = 1 }), [][]int{{0, 1}, {2, 3}}},
		{"no DF", from(run4, 2, func(s *tcpSeg) { s.df = false }), [][]int{{0, 1}, {2, 3}}},
		{"IDs fixed, with DF", fixedID, [][]int{{0, 1, 2}}},
		{"IDs fixed, without DF", func() []tcpSeg {
			segs := slices.Clone(fixedID)
			for i := range segs {
				segs[i].df = false
			}
			return segs
		}(), [][]int{{0}, {1}, {2}}},
		{"an ID out of order", from(run4, 2, func(s *tcpSeg) { s.id += 5 }), [][]int{{0, 1}, {2, 3}}},
		{"another hop limit", from(run6, 2, func(s *tcpSeg) { s.ttl-- }), [][]int{{0, 1}, {2, 3}}},
		{"another traffic class", from(run6, 2, func(s *tcpSeg) { s.tos = 4 }), [][]int{{0, 1}, {2, 3}}},
		{"another flow label", from(run6, 2, func(s *tcpSeg) { s.flowLabel = 1 }), [][]int{{0, 1}, {2, 3}}},
		{"another VLAN", alternate(flowRun(vlan, 2, 1424), from(flowRun(vlan, 2, 1424), 0, func(s *tcpSeg) { s.vlans = []uint16{8} })),
			[][]int{{0, 2}, {1, 3}}},
		{"another MAC address", alternate(run4, from(run4, 0, func(s *tcpSeg) { s.dstMAC = segSrcMAC })), [][]int{{0, 2, 4, 6}, {1, 3, 5, 7}}},
		{"a bad checksum on the first", at(run4, 0, func(s *tcpSeg) { s.badSum = true }), [][]int{{0}, {1, 2, 3}}},
		{"a bad checksum later", at(run4, 2, func(s *tcpSeg) { s.badSum = true }), [][]int{{0, 1}, {2}, {3}}},
		{"no payload", []tcpSeg{ack, ack, ack}, [][]int{{0}, {1}, {2}}},
		{"no segment overtakes an ACK", []tcpSeg{run4[0], at(run4, 1, func(s *tcpSeg) { s.payload = nil })[1], run4[1], run4[2]},
			[][]int{{0}, {1}, {2, 3}}},
		{"no segment overtakes another TCP header", []tcpSeg{run4[0], at(run4, 1, func(s *tcpSeg) { s.opts = nil })[1], run4[1], run4[2]},
			[][]int{{0}, {1}, {2, 3}}},
		{"Ethernet padding", flowRun(tiny, 3, 1), [][]int{{0}, {1}, {2}}},
		{"one-byte segments", flowRun(tiny, 3, 1), [][]int{{0, 1, 2}}},
		{"not TCP in between", []tcpSeg{run4[0], arp, run4[1]}, [][]int{{0, 2}, {1}}},
		{"64 KiB at most", flowRun(newSeg(false, 0), 47, 1400), [][]int{
			{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29,
				30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45}, {46}}},
	} {
		for _, k := range links {
			if only, ok := linkOnly[tc.name]; ok && only != k {
				continue
			}
			t.Run(k.String()+"/"+tc.name, func(t *testing.T) {
				testCoalesce(t, k, tc.segs, tc.want)
			})
		}
	}
}

// testCoalesce checks the super-frames that a coalescer makes of segs on
// a device with link-layer headers k.
func testCoalesce(t *testing.T, k linkLayer, segs []tcpSeg, want [][]int) {
	const offset = 5
	var bufs [][]byte
	for _, s := range segs {
		frame := s.in(k)
		if s.dstMAC == nil {
			// Not TCP.
			frame = udpPacket(0, netip.AddrPortFrom(segSrc4, 53), netip.AddrPortFrom(segDst4, 4000), []byte("a datagram"))
			if k == linkEthernet {
				frame = ethFrame(0, segDstMAC, segSrcMAC, unix.ETH_P_ARP, arpPacket(1, segSrcMAC, segSrc4, nil, segDst4))
			}
		}
		if k == linkEthernet && len(frame) < 60 {
			frame = append(frame, make([]byte, 60-len(frame))...) // padding
		}
		bufs = append(bufs, append(make([]byte, offset), frame...))
	}
	before := cloneBufs(bufs)
	var c coalescer
	c.plan(bufs, offset, k, true)
	groups := c.groups()
	if !slices.EqualFunc(groups, want, slices.Equal) {
		t.Fatalf("super-frames %v, want %v", groups, want)
	}
	for i, g := range groups {
		got := bytes.Join(c.frame(bufs, offset, &c.supers[i]), nil)
		var wantHdr virtioNetHdr
		wantFrame := bufs[g[0]][offset:]
		if len(g) > 1 {
			var run []tcpSeg
			for _, j := range g {
				run = append(run, segs[j])
			}
			wantHdr, wantFrame = superFrameOf(k, run)
		}
		if h := decodeVirtioNetHdr(got); h != wantHdr {
			t.Errorf("super-frame %d: virtio-net header %+v, want %+v", i, h, wantHdr)
		}
		if !bytes.Equal(got[virtioNetHdrLen:], wantFrame) {
			t.Errorf("super-frame %d:\n got %x\nwant %x", i, got[virtioNetHdrLen:], wantFrame)
		}
	}
	if !slices.EqualFunc(bufs, before, bytes.Equal) {
		t.Error("the buffers changed")
	}
	c.plan(bufs, offset, k, false)
	if groups, want := len(c.groups()), len(bufs); groups != want {
		t.Errorf("without coalescing, %d super-frames, want %d", groups, want)
	}
}

// tcpChecksumOK checks the TCP checksum of the segment in frame with the
// tests' own checksum function.
func tcpChecksumOK(frame []byte, l tcpLayout) bool {
	from, to := l.addrs()
	tcpLen := len(frame) - l.tcp
	pseudo := append(bytes.Clone(frame[from:to]), 0, unix.IPPROTO_TCP, byte(tcpLen>>8), byte(tcpLen))
	return checksum(checksum(0, pseudo), frame[l.tcp:]) == 0xffff
}

func FuzzSplitFrame(f *testing.F) {
	vlan := newSeg(true, 9000)
	vlan.vlans = []uint16{3}
	f.Add(false, gsoFrame(linkEthernet, newSeg(false, 5000), 1448, false))
	f.Add(false, gsoFrame(linkEthernet, vlan, 1000, true))
	f.Add(false, withVirtioNetHdr(virtioNetHdr{flags: unix.VIRTIO_NET_HDR_F_NEEDS_CSUM, csumStart: 34, csumOffset: 16}, newSeg(false, 100).frame()))
	f.Add(false, withVirtioNetHdr(virtioNetHdr{}, ethFrame(0, segDstMAC, segSrcMAC, unix.ETH_P_ARP, arpPacket(1, segSrcMAC, segSrc4, nil, segDst4))))
	f.Add(true, gsoFrame(linkIP, newSeg(false, 5000), 1448, false))
	f.Add(true, gsoFrame(linkIP, newSeg(true, 9000), 1000, true))
	f.Add(true, withVirtioNetHdr(virtioNetHdr{flags: unix.VIRTIO_NET_HDR_F_NEEDS_CSUM, csumStart: 20, csumOffset: 16}, newSeg(false, 100).in(linkIP)))
	f.Fuzz(func(t *testing.T, tun bool, in []byte) {
		const offset = 4
		k := linkEthernet
		if tun {
			k = linkIP
		}
		bufs := newBufs(16, offset+1518)
		sizes := make([]int, len(bufs))
		orig := bytes.Clone(in)
		n, err := k.splitFrame(in, bufs, sizes, offset)
		if err != nil {
			if n != 0 || !errors.Is(err, errBadFrame) && !errors.Is(err, ErrTooManySegments) {
				t.Fatalf("splitFrame() = %d, %v", n, err)
			}
			return
		}
		h, frame := decodeVirtioNetHdr(orig), orig[virtioNetHdrLen:]
		if h.gsoType == unix.VIRTIO_NET_HDR_GSO_NONE {
			out := bufs[0][offset : offset+sizes[0]]
			if h.flags&unix.VIRTIO_NET_HDR_F_NEEDS_CSUM != 0 {
				// The field held the sum of the pseudo-header, which the
				// checksum covers.
				at := int(h.csumStart) + int(h.csumOffset)
				if checksum(binary.BigEndian.Uint16(frame[at:]), out[h.csumStart:]) != 0xffff {
					t.Errorf("checksum at %d of %x is wrong", at, out)
				}
				copy(out[at:at+2], frame[at:])
			}
			if n != 1 || !bytes.Equal(out, frame) {
				t.Errorf("splitFrame() = %d frames, the first %x; want 1, %x", n, out, frame)
			}
			return
		}
		in0, _ := k.parseTCPLayout(frame)
		var payload []byte
		for i := range n {
			out := bufs[i][offset : offset+sizes[i]]
			l, ok := k.parseTCPLayout(out)
			if !ok || l != in0 || !bytes.Equal(out[:l.ip], frame[:l.ip]) {
				t.Fatalf("frame %d has other headers: %x", i, out)
			}
			ip := out[l.ip:l.tcp]
			if l.v6 && int(binary.BigEndian.Uint16(ip[4:])) != len(out)-l.tcp ||
				!l.v6 && (int(binary.BigEndian.Uint16(ip[2:])) != len(out)-l.ip || checksum(0, ip) != 0xffff) {
				t.Errorf("frame %d: wrong IP length or header checksum: %x", i, ip)
			}
			if !tcpChecksumOK(out, l) {
				t.Errorf("frame %d: wrong TCP checksum", i)
			}
			seq := binary.BigEndian.Uint32(frame[l.tcp+4:]) + uint32(len(payload))
			if got := binary.BigEndian.Uint32(out[l.tcp+4:]); got != seq {
				t.Errorf("frame %d: sequence number %d, want %d", i, got, seq)
			}
			payload = append(payload, out[l.data:]...)
		}
		if !bytes.Equal(payload, frame[in0.data:]) {
			t.Error("the payloads of the frames differ from that of the super-frame")
		}
	})
}

// fuzzFrames builds up to 128 frames of four TCP flows from data, 8 bytes
// for each, with changes to headers, flags, sequence numbers and IDs that
// decide whether they coalesce.
func fuzzFrames(data []byte, offset int, link linkLayer) [][]byte {
	var flows [4]tcpSeg
	for k := range flows {
		flows[k] = newSeg(k >= 2, 0)
		flows[k].srcPort += uint16(k)
	}
	var bufs [][]byte
	for ; len(data) >= 8 && len(bufs) < 128; data = data[8:] {
		r := data[:8]
		k := r[0] & 3
		s := flows[k]
		if r[0]&0x04 != 0 {
			s.vlans = []uint16{uint16(r[7] & 3)}
		}
		if r[0]&0x08 != 0 {
			s.flags |= tcpPSH
		}
		if r[0]&0x10 != 0 {
			s.flags |= tcpCWR
		}
		if r[0]&0x20 != 0 {
			s.badSum = true
		}
		if r[1]&0x80 != 0 {
			s.flags ^= r[1] & (tcpSYN | tcpFIN | tcpRST | tcpURG | tcpACK | 0x40)
		}
		s.seq += uint32(r[2]) * 100
		s.payload = pattern(int(r[3])*6, r[4])
		switch r[4] & 3 {
		case 1:
			s.id--
		case 2:
			s.id += uint16(r[5])
		}
		s.ttl += r[5] & 1
		s.tos += r[5] >> 1 & 1
		s.df = s.df != (r[5]&4 != 0)
		s.window += uint16(r[5] >> 3 & 1)
		s.ack += uint32(r[5] >> 4 & 1)
		if r[5]&0x20 != 0 {
			s.opts = nil
		}
		s.flowLabel = uint32(r[6] & 1)
		frame := s.in(link)
		if r[6]&0x80 != 0 {
			frame = frame[:min(int(r[6]&0x7f), len(frame))]
		}
		bufs = append(bufs, append(make([]byte, offset), frame...))
		flows[k].seq, flows[k].id = s.seq+uint32(len(s.payload)), s.id+1
	}
	return bufs
}

// flowKey returns the link-layer header, IP addresses and TCP ports of a
// frame, or nil if it is not TCP.
func flowKey(k linkLayer, frame []byte) []byte {
	l, ok := k.parseTCPLayout(frame)
	if !ok {
		return nil
	}
	from, to := l.addrs()
	return slices.Concat(frame[:l.ip], frame[from:to], frame[l.tcp:l.tcp+4])
}

func FuzzCoalesce(f *testing.F) {
	f.Add(false, bytes.Repeat([]byte{0, 0, 0, 240, 0, 0, 0, 0}, 60))
	f.Add(false, bytes.Repeat([]byte{0, 0, 0, 240, 0, 0, 0, 0, 1, 0, 0, 200, 0, 0, 0, 0, 6, 0, 0, 220, 0, 0, 0, 0}, 20))
	f.Add(false, []byte{0x10, 0, 0, 240, 1, 0, 0, 0, 0, 0, 0, 240, 1, 0, 0, 0, 8, 0, 0, 100, 1, 0, 0, 0})
	f.Add(true, bytes.Repeat([]byte{0, 0, 0, 240, 0, 0, 0, 0, 2, 0, 0, 200, 0, 0, 0, 0}, 30))
	f.Fuzz(func(t *testing.T, tun bool, data []byte) {
		const offset = 3
		link := linkEthernet
		if tun {
			link = linkIP
		}
		bufs := fuzzFrames(data, offset, link)
		before := cloneBufs(bufs)
		var c coalescer
		c.plan(bufs, offset, link, true)
		groups := c.groups()
		superOf := make([]int, len(bufs))
		seen := 0
		for k, g := range groups {
			if g[0] != c.supers[k].first || k > 0 && g[0] < groups[k-1][0] || !slices.IsSorted(g) {
				t.Fatalf("super-frames out of order: %v", groups)
			}
			for _, i := range g {
				superOf[i] = k
				seen++
			}
		}
		if seen != len(bufs) {
			t.Fatalf("super-frames %v do not hold each of the %d frames once", groups, len(bufs))
		}
		// Frames of one flow go out in order.
		keys := make([][]byte, len(bufs))
		for i := range bufs {
			keys[i] = flowKey(link, bufs[i][offset:])
		}
		for i := range bufs {
			for j := i + 1; j < len(bufs); j++ {
				if keys[i] != nil && bytes.Equal(keys[i], keys[j]) && superOf[i] > superOf[j] {
					t.Fatalf("frame %d of a flow goes out after frame %d: %v", i, j, groups)
				}
			}
		}
		// The kernel cuts each super-frame into the frames it came from.
		for k, g := range groups {
			if len(g) == 1 {
				continue
			}
			super := bytes.Join(c.frame(bufs, offset, &c.supers[k]), nil)
			segs := newBufs(len(g), 2000)
			sizes := make([]int, len(segs))
			n, err := link.splitFrame(super, segs, sizes, 0)
			if err != nil || n != len(g) {
				t.Fatalf("super-frame %d of %d frames splits into %d, %v", k, len(g), n, err)
			}
			for i, seg := range segs {
				want, got := bufs[g[i]][offset:], seg[:sizes[i]]
				l, _ := link.parseTCPLayout(got)
				if !tcpChecksumOK(want, l) || !tcpChecksumOK(got, l) {
					t.Errorf("super-frame %d, frame %d: bad TCP checksum", k, i)
				}
				headID, id := binary.BigEndian.Uint16(bufs[g[0]][offset+l.ip+4:]), binary.BigEndian.Uint16(want[l.ip+4:])
				if !l.v6 && id != headID+uint16(i) && (id != headID || want[l.ip+6]&0x40 == 0) {
					t.Errorf("super-frame %d, frame %d: IPv4 ID %d after %d", k, i, id, headID)
				}
				// Only the checksums and IPv4 IDs may differ.
				masked := func(b []byte) []byte {
					b = bytes.Clone(b)
					b[l.tcp+16], b[l.tcp+17] = 0, 0
					if !l.v6 {
						clear(b[l.ip+4 : l.ip+6])
						clear(b[l.ip+10 : l.ip+12])
					}
					return b
				}
				if !bytes.Equal(masked(got), masked(want)) {
					t.Errorf("super-frame %d, frame %d:\n got %x\nwant %x", k, i, got, want)
				}
			}
		}
		if !slices.EqualFunc(bufs, before, bytes.Equal) {
			t.Error("the buffers changed")
		}
	})
}

// BenchmarkSplitFrame splits a 64 KiB super-frame of IPv4 TCP into 45
// frames.
func BenchmarkSplitFrame(b *testing.B) {
	const offset = 130
	s := newSeg(false, 45*1448)
	in := gsoFrame(linkEthernet, s, 1448, false)
	bufs := newBufs(outer.BatchSize, offset+1518)
	sizes := make([]int, len(bufs))
	b.SetBytes(int64(len(s.payload)))
	b.ReportAllocs()
	for b.Loop() {
		if n, err := linkEthernet.splitFrame(in, bufs, sizes, offset); n != 45 || err != nil {
			b.Fatalf("splitFrame() = %d, %v", n, err)
		}
	}
}

// BenchmarkCoalesce coalesces 45 frames of IPv4 TCP into a 64 KiB
// super-frame, checking their checksums.
func BenchmarkCoalesce(b *testing.B) {
	const offset = 130
	var bufs [][]byte
	for _, s := range flowRun(newSeg(false, 0), 45, 1448) {
		bufs = append(bufs, append(make([]byte, offset, 1<<16), s.frame()...))
	}
	var c coalescer
	b.SetBytes(45 * 1448)
	b.ReportAllocs()
	for b.Loop() {
		c.plan(bufs, offset, linkEthernet, true)
		if len(c.supers) != 1 || len(c.frame(bufs, offset, &c.supers[0])) != 46 {
			b.Fatalf("%d super-frames, want 1", len(c.supers))
		}
	}
}
