package link

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"gif/internal/wire"
	"golang.org/x/sys/unix"
)

// The offloads of a TUN or TAP device opened with IFF_VNET_HDR. Each frame
// read or written has a struct virtio_net_hdr in front, and one read or
// write moves a TCP super-frame of up to 64 KiB: the link-layer header (none
// on a TUN device; Ethernet with up to two VLAN tags on a TAP device), the
// IP and TCP headers, then the payload of many segments. Read splits
// super-frames into frames the size of the MTU (segmentation, as the
// kernel's TSO would), Write coalesces the segments of each TCP flow into
// super-frames (as the kernel's GRO would). csum_start counts from the start
// of the frame.

// virtioNetHdrLen is the length of struct virtio_net_hdr.
const virtioNetHdrLen = WriteOffset

// TCP header flags (RFC 9293 §3.1; CWR: RFC 3168 §6.1).
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpPSH = 0x08
	tcpACK = 0x10
	tcpURG = 0x20
	tcpCWR = 0x80
)

const (
	tcpFlagsAt    = 13
	tcpChecksumAt = 16
	tcpMinLen     = 20
	maxVLANTags   = 2 // 802.1ad and 802.1Q
	// maxFrameHeaders is the longest header of a frame Write coalesces:
	// Ethernet with two tags, IPv6, TCP with options.
	maxFrameHeaders = 22 + wire.IPv6HeaderLen + 60
)

// errBadFrame marks a frame that Read drops because its virtio-net header
// or its headers make no sense, or because it does not fit a buffer.
var errBadFrame = errors.New("dropped a frame")

// virtioNetHdr is struct virtio_net_hdr of <linux/virtio_net.h>, in the
// host's byte order: TUN and TAP devices use that (legacy virtio) unless
// told otherwise with TUNSETVNETLE or TUNSETVNETBE.
type virtioNetHdr struct {
	flags      uint8
	gsoType    uint8
	hdrLen     uint16
	gsoSize    uint16
	csumStart  uint16
	csumOffset uint16
}

func decodeVirtioNetHdr(b []byte) virtioNetHdr {
	return virtioNetHdr{
		flags:      b[0],
		gsoType:    b[1],
		hdrLen:     binary.NativeEndian.Uint16(b[2:]),
		gsoSize:    binary.NativeEndian.Uint16(b[4:]),
		csumStart:  binary.NativeEndian.Uint16(b[6:]),
		csumOffset: binary.NativeEndian.Uint16(b[8:]),
	}
}

func (h virtioNetHdr) encode(b []byte) {
	b[0], b[1] = h.flags, h.gsoType
	binary.NativeEndian.PutUint16(b[2:], h.hdrLen)
	binary.NativeEndian.PutUint16(b[4:], h.gsoSize)
	binary.NativeEndian.PutUint16(b[6:], h.csumStart)
	binary.NativeEndian.PutUint16(b[8:], h.csumOffset)
}

// linkLayer is what comes before the IP header in the frames of a device.
type linkLayer uint8

const (
	linkIP       linkLayer = iota // TUN: nothing, the frame is an IP packet
	linkEthernet                  // TAP: Ethernet, with up to two VLAN tags
)

// ipAt returns where the IP header of frame starts and the IP version the
// link-layer header announces, or false if it announces no IP. A TUN frame
// announces the version of its first nibble.
func (k linkLayer) ipAt(frame []byte) (at int, version byte, ok bool) {
	if k == linkIP {
		if len(frame) == 0 {
			return 0, 0, false
		}
		return 0, frame[0] >> 4, true
	}
	for at := 12; at+2 <= len(frame) && at <= 12+4*maxVLANTags; at += 4 {
		switch binary.BigEndian.Uint16(frame[at:]) {
		case unix.ETH_P_8021Q, unix.ETH_P_8021AD:
		case wire.EtherTypeIPv4:
			return at + 2, 4, true
		case wire.EtherTypeIPv6:
			return at + 2, 6, true
		default:
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// tcpLayout is where the headers of a frame carrying TCP start.
type tcpLayout struct {
	ip, tcp, data int // offsets in the frame of the IP and TCP headers and of the payload
	v6            bool
}

// addrs returns where the IP source and destination addresses are.
func (l tcpLayout) addrs() (from, to int) {
	if l.v6 {
		return l.ip + 8, l.ip + 40
	}
	return l.ip + 12, l.ip + 20
}

// parseTCPLayout finds the IP and TCP headers of frame: IPv4 (with or
// without options) or IPv6 without extension headers, behind the link-layer
// header.
func (k linkLayer) parseTCPLayout(frame []byte) (tcpLayout, bool) {
	var l tcpLayout
	at, version, ok := k.ipAt(frame)
	if !ok {
		return l, false
	}
	l.ip = at
	ip := frame[l.ip:]
	switch {
	case version == 4 && len(ip) >= wire.IPv4MinHeaderLen && ip[0]>>4 == 4 && ip[9] == unix.IPPROTO_TCP:
		ihl := int(ip[0]&0x0f) * 4
		if ihl < wire.IPv4MinHeaderLen {
			return l, false
		}
		l.tcp = l.ip + ihl
	case version == 6 && len(ip) >= wire.IPv6HeaderLen && ip[0]>>4 == 6 && ip[6] == unix.IPPROTO_TCP:
		l.tcp, l.v6 = l.ip+wire.IPv6HeaderLen, true
	default:
		return l, false
	}
	if len(frame) < l.tcp+tcpMinLen {
		return l, false
	}
	l.data = l.tcp + int(frame[l.tcp+tcpDataOffAt]>>4)*4
	return l, l.data >= l.tcp+tcpMinLen && l.data <= len(frame)
}

// pseudoHeaderSum returns the ones' complement sum of the TCP pseudo-header
// (RFC 9293 §3.1) of frame, whose TCP header and payload are tcpLen bytes.
func pseudoHeaderSum(frame []byte, l tcpLayout, tcpLen int) uint32 {
	from, to := l.addrs()
	return uint32(pseudoSum(frame[from:to], tcpLen))
}

// tcpChecksumValid reports whether the TCP checksum of frame is right.
func tcpChecksumValid(frame []byte, l tcpLayout) bool {
	tcp := frame[l.tcp:]
	return wire.Checksum(tcp, pseudoHeaderSum(frame, l, len(tcp))) == 0xffff
}

// splitFrame takes in, a frame with its virtio-net header as a device with
// offloads hands it over, and writes the frames it makes into
// bufs[i][offset:offset+sizes[i]]: the frame with its checksum completed,
// or the segments of a TCP super-frame. It returns how many frames it made.
// It writes nothing when it fails: with ErrTooManySegments when bufs is too
// short, with errBadFrame otherwise.
func (k linkLayer) splitFrame(in []byte, bufs [][]byte, sizes []int, offset int) (int, error) {
	if len(in) < virtioNetHdrLen {
		return 0, fmt.Errorf("%w: %d bytes, shorter than a virtio-net header", errBadFrame, len(in))
	}
	h, frame := decodeVirtioNetHdr(in), in[virtioNetHdrLen:]
	switch h.gsoType {
	case unix.VIRTIO_NET_HDR_GSO_NONE:
		if len(bufs) == 0 {
			return 0, ErrTooManySegments
		}
		if len(frame) > len(bufs[0])-offset {
			return 0, fmt.Errorf("%w: %d bytes, longer than the buffer", errBadFrame, len(frame))
		}
		if h.flags&unix.VIRTIO_NET_HDR_F_NEEDS_CSUM != 0 {
			// The kernel left the checksum to us (CHECKSUM_PARTIAL): the
			// field holds the sum of the pseudo-header. csum_start counts
			// from the start of the frame.
			start, at := int(h.csumStart), int(h.csumStart)+int(h.csumOffset)
			if at+2 > len(frame) || (at-start)%2 != 0 {
				return 0, fmt.Errorf("%w: checksum at %d, %d after the start it covers, in a %d-byte frame", errBadFrame, at, at-start, len(frame))
			}
			sum := ^wire.Checksum(frame[start:], 0)
			if sum == 0 {
				sum = 0xffff // as the kernel's skb_checksum_help: 0 means "none" to UDP
			}
			binary.BigEndian.PutUint16(frame[at:], sum)
		}
		sizes[0] = copy(bufs[0][offset:], frame)
		return 1, nil
	case unix.VIRTIO_NET_HDR_GSO_TCPV4, unix.VIRTIO_NET_HDR_GSO_TCPV6,
		unix.VIRTIO_NET_HDR_GSO_TCPV4 | unix.VIRTIO_NET_HDR_GSO_ECN, unix.VIRTIO_NET_HDR_GSO_TCPV6 | unix.VIRTIO_NET_HDR_GSO_ECN:
		return k.splitTCP(frame, h.gsoType, int(h.gsoSize), bufs, sizes, offset)
	}
	return 0, fmt.Errorf("%w: GSO type %#x", errBadFrame, h.gsoType)
}

// splitTCP cuts a TCP super-frame into segments of gsoSize payload bytes
// each, and gives each its own IP length, IPv4 ID, TCP sequence number and
// checksums. It parses the headers itself: hdr_len from the kernel can be
// the length of the whole linear part of a forwarded super-frame.
func (k linkLayer) splitTCP(frame []byte, gsoType uint8, gsoSize int, bufs [][]byte, sizes []int, offset int) (int, error) {
	l, ok := k.parseTCPLayout(frame)
	if !ok {
		return 0, fmt.Errorf("%w: GSO type %#x on a frame that is not TCP over IP", errBadFrame, gsoType)
	}
	if l.v6 != (gsoType&^unix.VIRTIO_NET_HDR_GSO_ECN == unix.VIRTIO_NET_HDR_GSO_TCPV6) {
		return 0, fmt.Errorf("%w: GSO type %#x on a frame of the other IP version", errBadFrame, gsoType)
	}
	payload := len(frame) - l.data
	if gsoSize == 0 || payload == 0 {
		return 0, fmt.Errorf("%w: GSO size %d, %d bytes of payload", errBadFrame, gsoSize, payload)
	}
	segLen := l.data + min(gsoSize, payload)
	if segLen-l.ip > 0xffff {
		return 0, fmt.Errorf("%w: GSO size %d is too large for IP", errBadFrame, gsoSize)
	}
	segs := (payload + gsoSize - 1) / gsoSize
	if segs > len(bufs) {
		return 0, ErrTooManySegments
	}
	for _, b := range bufs[:segs] {
		if len(b)-offset < segLen {
			return 0, fmt.Errorf("%w: %d-byte segments, longer than a buffer", errBadFrame, segLen)
		}
	}
	seq := binary.BigEndian.Uint32(frame[l.tcp+4:])
	for i := range segs {
		start := l.data + i*gsoSize
		out := bufs[i][offset:]
		n := copy(out, frame[:l.data])
		n += copy(out[n:], frame[start:min(start+gsoSize, len(frame))])
		out = out[:n]
		sizes[i] = n
		ip, tcp := out[l.ip:l.tcp], out[l.tcp:]
		if l.v6 {
			binary.BigEndian.PutUint16(ip[4:], uint16(len(tcp)))
		} else {
			binary.BigEndian.PutUint16(ip[2:], uint16(len(out)-l.ip))
			binary.BigEndian.PutUint16(ip[4:], binary.BigEndian.Uint16(ip[4:])+uint16(i))
			ip[10], ip[11] = 0, 0
			binary.BigEndian.PutUint16(ip[10:], ^wire.Checksum(ip, 0))
		}
		binary.BigEndian.PutUint32(tcp[4:], seq+uint32(i*gsoSize))
		if i < segs-1 {
			tcp[tcpFlagsAt] &^= tcpFIN | tcpPSH
		}
		if i > 0 && gsoType&unix.VIRTIO_NET_HDR_GSO_ECN != 0 {
			tcp[tcpFlagsAt] &^= tcpCWR // only the first segment says the window shrank
		}
		tcp[tcpChecksumAt], tcp[tcpChecksumAt+1] = 0, 0
		binary.BigEndian.PutUint16(tcp[tcpChecksumAt:], ^wire.Checksum(tcp, pseudoHeaderSum(out, l, len(tcp))))
	}
	return segs, nil
}

// A coalescer plans the write(2) calls of one Write: it coalesces
// consecutive segments of each TCP flow into a super-frame by the rules of
// the kernel's TCP GRO (tcp_gro_receive, inet_gro_receive,
// ipv6_gro_receive), so that the kernel could cut the super-frame into the
// same segments again. A Write borrows one from coalescers, so that its
// slices are reused without each device keeping its own.
type coalescer struct {
	supers []superFrame // one per write(2), in the order of their first frames
	flows  []int        // for each flow, the super-frame that may still grow, as an index into supers
	next   []int        // next[i] is the frame after frame i in its super-frame, or -1
	hdr    [virtioNetHdrLen + maxFrameHeaders]byte
	pieces [][]byte
	iov    []unix.Iovec // the pieces of the write(2) being made
}

var coalescers = sync.Pool{New: func() any { return new(coalescer) }}

// A superFrame is a frame and the segments of its flow appended to it.
type superFrame struct {
	first, last int // indices into bufs
	segs        int
	l           tcpLayout // of every segment
	gsoSize     int       // payload length of every segment but the last
	size        int       // payload length of all segments
	nextSeq     uint32
	idStep      uint16 // 1 for incrementing IPv4 IDs, 0 for a fixed one (with DF)
	psh         bool   // the last segment has PSH
	open        bool   // a segment may still be appended
	verified    bool   // the first segment's TCP checksum is right
}

// plan groups the frames bufs[i][offset:], of a device with link-layer
// headers k, into super-frames; with coalesce false, each on its own.
func (c *coalescer) plan(bufs [][]byte, offset int, k linkLayer, coalesce bool) {
	c.supers, c.flows = c.supers[:0], c.flows[:0]
	c.next = slices.Grow(c.next[:0], len(bufs))[:len(bufs)]
	for i, b := range bufs {
		c.next[i] = -1
		frame := b[offset:]
		s := superFrame{first: i, last: i, segs: 1}
		l, tcp := k.parseTCPLayout(frame)
		if !coalesce || !tcp {
			c.supers = append(c.supers, s)
			continue
		}
		f := c.flowOf(bufs, offset, frame, l)
		if f >= 0 && c.appendTo(&c.supers[c.flows[f]], bufs, offset, i, l) {
			continue
		}
		// The flow goes on from this frame, in order, even if it cannot
		// grow: no later segment may overtake it.
		s.l, s.idStep = l, 1
		if coalescible(frame, l) {
			s.size = len(frame) - l.data
			s.gsoSize = s.size
			s.nextSeq = binary.BigEndian.Uint32(frame[l.tcp+4:]) + uint32(s.size)
			s.psh = frame[l.tcp+tcpFlagsAt]&tcpPSH != 0
			s.open = !s.psh
		}
		if f < 0 {
			c.flows = append(c.flows, len(c.supers))
		} else {
			c.flows[f] = len(c.supers)
		}
		c.supers = append(c.supers, s)
	}
}

// coalescible reports whether frame, with layout l, is a TCP segment that GRO
// may coalesce: an IPv4 packet without options or fragmentation, with a
// valid header checksum, or an IPv6 packet without extension headers; IP
// lengths that match the frame (no Ethernet padding); ACK, and no SYN, FIN,
// RST or URG; payload.
func coalescible(frame []byte, l tcpLayout) bool {
	if l.data == len(frame) {
		return false
	}
	ip := frame[l.ip:]
	if l.v6 {
		if int(binary.BigEndian.Uint16(ip[4:])) != len(ip)-wire.IPv6HeaderLen {
			return false
		}
	} else {
		const dfBit = 0x4000
		if l.tcp-l.ip != wire.IPv4MinHeaderLen || int(binary.BigEndian.Uint16(ip[2:])) != len(ip) ||
			binary.BigEndian.Uint16(ip[6:])&^dfBit != 0 || wire.Checksum(ip[:wire.IPv4MinHeaderLen], 0) != 0xffff {
			return false
		}
	}
	flags := frame[l.tcp+tcpFlagsAt]
	return flags&tcpACK != 0 && flags&(tcpSYN|tcpFIN|tcpRST|tcpURG) == 0
}

// flowOf returns the index into c.flows of the flow of frame, by its
// link-layer header (Ethernet addresses, VLAN tags), IP addresses and TCP ports, or
// -1 for a new flow.
func (c *coalescer) flowOf(bufs [][]byte, offset int, frame []byte, l tcpLayout) int {
	from, to := l.addrs()
	for f, k := range c.flows {
		s := &c.supers[k]
		head := bufs[s.first][offset:]
		if s.l.ip == l.ip && s.l.v6 == l.v6 && bytes.Equal(head[s.l.tcp:s.l.tcp+4], frame[l.tcp:l.tcp+4]) &&
			bytes.Equal(head[from:to], frame[from:to]) && bytes.Equal(head[:l.ip], frame[:l.ip]) {
			return f
		}
	}
	return -1
}

// appendTo appends frame i, of the flow of s and with layout l, to s if
// GRO would.
func (c *coalescer) appendTo(s *superFrame, bufs [][]byte, offset, i int, l tcpLayout) bool {
	head, frame := bufs[s.first][offset:], bufs[i][offset:]
	if !s.open || l != s.l || !coalescible(frame, l) {
		return false
	}
	size := len(frame) - l.data
	hip, ip := head[l.ip:l.tcp], frame[l.ip:l.tcp]
	if l.v6 {
		// Traffic class, flow label and hop limit; the payload length fits.
		if !bytes.Equal(hip[:4], ip[:4]) || hip[7] != ip[7] || l.data-l.tcp+s.size+size > 0xffff {
			return false
		}
	} else {
		// TOS, DF and TTL; the total length fits; the IDs count up, or,
		// with DF, may stay the same (RFC 6864).
		const dfBit = 0x40
		id, headID := binary.BigEndian.Uint16(ip[4:]), binary.BigEndian.Uint16(hip[4:])
		fixed := s.segs == 1 && ip[6]&dfBit != 0 && id == headID
		if hip[1] != ip[1] || hip[6] != ip[6] || hip[8] != ip[8] || l.data-l.ip+s.size+size > 0xffff ||
			id != headID+s.idStep*uint16(s.segs) && !fixed {
			return false
		}
		if fixed {
			s.idStep = 0
		}
	}
	htcp, tcp := head[l.tcp:l.data], frame[l.tcp:l.data]
	flags := tcp[tcpFlagsAt]
	// The next bytes of the flow, no more than the first segment has; the
	// same acknowledgment, window and options; the same flags but PSH, and
	// no CWR, which only the first segment may have.
	if binary.BigEndian.Uint32(tcp[4:]) != s.nextSeq || size > s.gsoSize ||
		!bytes.Equal(htcp[8:12], tcp[8:12]) || !bytes.Equal(htcp[14:16], tcp[14:16]) || !bytes.Equal(htcp[18:], tcp[18:]) ||
		(htcp[tcpFlagsAt]^flags)&^(tcpPSH|tcpCWR) != 0 || flags&tcpCWR != 0 {
		return false
	}
	// The kernel trusts the checksum of a super-frame (CHECKSUM_PARTIAL),
	// so check those of its segments.
	if !s.verified {
		if !tcpChecksumValid(head, l) {
			s.open = false
			return false
		}
		s.verified = true
	}
	if !tcpChecksumValid(frame, l) {
		return false
	}
	c.next[s.last] = i
	s.last = i
	s.segs++
	s.size += size
	s.nextSeq += uint32(size)
	s.psh = flags&tcpPSH != 0
	s.open = !s.psh && size == s.gsoSize
	return true
}

// frame returns the pieces of super-frame s, for one writev(2): the
// virtio-net header and the headers of the first segment, fixed up, then
// the payload of each segment. A frame on its own gets a virtio-net header
// that asks for nothing. It changes no buffer in bufs.
func (c *coalescer) frame(bufs [][]byte, offset int, s *superFrame) [][]byte {
	head := bufs[s.first][offset:]
	if s.segs == 1 {
		clear(c.hdr[:virtioNetHdrLen])
		c.pieces = append(c.pieces[:0], c.hdr[:virtioNetHdrLen], head)
		return c.pieces
	}
	l := s.l
	hdrs := c.hdr[virtioNetHdrLen : virtioNetHdrLen+l.data]
	copy(hdrs, head)
	ip, tcp := hdrs[l.ip:l.tcp], hdrs[l.tcp:]
	tcpLen := len(tcp) + s.size
	gsoType := uint8(unix.VIRTIO_NET_HDR_GSO_TCPV4)
	if l.v6 {
		gsoType = unix.VIRTIO_NET_HDR_GSO_TCPV6
		binary.BigEndian.PutUint16(ip[4:], uint16(tcpLen))
	} else {
		binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)+tcpLen))
		ip[10], ip[11] = 0, 0
		binary.BigEndian.PutUint16(ip[10:], ^wire.Checksum(ip, 0))
	}
	if tcp[tcpFlagsAt]&tcpCWR != 0 {
		gsoType |= unix.VIRTIO_NET_HDR_GSO_ECN
	}
	if s.psh {
		tcp[tcpFlagsAt] |= tcpPSH
	}
	// With NEEDS_CSUM the kernel adds the rest of the TCP checksum to the
	// sum of the pseudo-header, where it needs the checksum at all.
	binary.BigEndian.PutUint16(tcp[tcpChecksumAt:], uint16(pseudoHeaderSum(hdrs, l, tcpLen)))
	virtioNetHdr{
		flags:      unix.VIRTIO_NET_HDR_F_NEEDS_CSUM,
		gsoType:    gsoType,
		hdrLen:     uint16(l.data),
		gsoSize:    uint16(s.gsoSize),
		csumStart:  uint16(l.tcp),
		csumOffset: tcpChecksumAt,
	}.encode(c.hdr[:])
	c.pieces = append(c.pieces[:0], c.hdr[:virtioNetHdrLen+l.data], head[l.data:])
	for i := c.next[s.first]; i >= 0; i = c.next[i] {
		c.pieces = append(c.pieces, bufs[i][offset+l.data:])
	}
	return c.pieces
}
