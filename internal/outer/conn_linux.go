package outer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"gif/internal/wire"
)

// Listen opens a raw socket for IP protocol proto over IPv4 (family 4) or
// IPv6 (family 6) in the calling thread's network namespace.
func Listen(family int, proto uint8) (Conn, error) {
	name := fmt.Sprintf("ip%d proto %d", family, proto)
	c, err := listen(family, proto, name)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", name, err)
	}
	return c, nil
}

// rawConn is a Conn over raw sockets. The kernel adds the outer header: with
// IP_HDRINCL Linux refuses packets above the device MTU instead of
// fragmenting them.
type rawConn struct {
	name   string
	family int
	// recvSock receives; it sends nothing.
	recvSock *socket
	// sendSock sends packets the kernel may fragment, and dfSock those with
	// DF. The kernel decides whether to fragment by a socket option,
	// IP(V6)_MTU_DISCOVER, and not per message (it ignores IPV6_DONTFRAG on
	// raw sockets of protocols other than IPPROTO_RAW), hence two. Both
	// drop everything they receive, and block in sendmmsg when their buffer
	// is full: the Go poller does not watch them, since a socket it
	// watches wakes it each time the kernel frees a packet the socket sent.
	sendSock, dfSock *socket

	sendMu sync.Mutex
	send   *batch
	recvMu sync.Mutex
	recv   *batch

	truncated atomic.Uint64
}

func listen(family int, proto uint8, name string) (*rawConn, error) {
	c := &rawConn{name: name, family: family}
	switch family {
	case 4:
		c.send = newBatch(sendSlot4)
		c.recv = newBatch(nil)
	case 6:
		c.send = newBatch(sendSlot6)
		c.recv = newBatch(slot6)
	default:
		return nil, fmt.Errorf("family %d is neither 4 nor 6", family)
	}
	var err error
	if c.recvSock, err = openSocket(family, proto, roleRecv); err != nil {
		return nil, err
	}
	if c.sendSock, err = openSocket(family, proto, roleSend); err != nil {
		c.recvSock.Close()
		return nil, fmt.Errorf("send socket: %w", err)
	}
	if c.dfSock, err = openSocket(family, proto, roleSendDF); err != nil {
		c.recvSock.Close()
		c.sendSock.Close()
		return nil, fmt.Errorf("DF socket: %w", err)
	}
	return c, nil
}

// role is what a socket of a rawConn is for.
type role int

const (
	roleRecv role = iota
	roleSend
	roleSendDF
)

// socket is one raw socket; a receiving one is polled by the Go runtime.
type socket struct {
	io.Closer
	raw syscall.RawConn
}

func openSocket(family int, proto uint8, r role) (*socket, error) {
	af := unix.AF_INET
	if family == 6 {
		af = unix.AF_INET6
	}
	fd, err := unix.Socket(af, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(proto))
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	if err := setOptions(fd, family, r); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if r != roleRecv {
		// A raw socket starts receiving when it is created, before its
		// filter is attached. A blocking fd keeps os.NewFile from giving
		// it to the poller.
		drain(fd)
		f := os.NewFile(uintptr(fd), "raw socket")
		raw, err := f.SyscallConn()
		if err != nil {
			f.Close()
			return nil, err
		}
		return &socket{Closer: f, raw: raw}, nil
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("set non-blocking: %w", err)
	}
	f := os.NewFile(uintptr(fd), "raw socket")
	defer f.Close() // net.FilePacketConn holds a copy
	pc, err := net.FilePacketConn(f)
	if err != nil {
		return nil, err
	}
	conn := pc.(*net.IPConn)
	raw, err := conn.SyscallConn()
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &socket{Closer: conn, raw: raw}, nil
}

func setOptions(fd, family int, r role) error {
	var opts []sockopt
	switch {
	case r == roleRecv:
		if err := setBuffer(fd, unix.SO_RCVBUFFORCE, unix.SO_RCVBUF); err != nil {
			return err
		}
		if family == 6 {
			opts = []sockopt{
				{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO"},
				{unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS, 1, "IPV6_RECVTCLASS"},
				{unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, 1, "IPV6_RECVHOPLIMIT"},
			}
		}
	case family == 4:
		// The default for a raw socket is IP_PMTUDISC_WANT, which sets DF.
		discover := unix.IP_PMTUDISC_DONT
		if r == roleSendDF {
			discover = unix.IP_PMTUDISC_DO
		}
		opts = []sockopt{{unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, discover, "IP_MTU_DISCOVER"}}
	default:
		discover := unix.IPV6_PMTUDISC_DONT
		if r == roleSendDF {
			discover = unix.IPV6_PMTUDISC_DO
		}
		opts = []sockopt{
			{unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, discover, "IPV6_MTU_DISCOVER"},
			// gif sends flow label 0.
			{unix.IPPROTO_IPV6, unix.IPV6_AUTOFLOWLABEL, 0, "IPV6_AUTOFLOWLABEL"},
		}
	}
	if r != roleRecv {
		if err := setBuffer(fd, unix.SO_SNDBUFFORCE, unix.SO_SNDBUF); err != nil {
			return err
		}
		if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &dropAll); err != nil {
			return fmt.Errorf("setsockopt SO_ATTACH_FILTER: %w", err)
		}
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.value); err != nil {
			return fmt.Errorf("setsockopt %s: %w", o.name, err)
		}
	}
	return nil
}

type sockopt struct {
	level, opt, value int
	name              string
}

// setBuffer sets a socket buffer to SocketBufferSize, beyond the
// net.core.[rw]mem_max limit when the process has CAP_NET_ADMIN.
func setBuffer(fd, force, limited int) error {
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, force, SocketBufferSize) == nil {
		return nil
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, limited, SocketBufferSize); err != nil {
		return fmt.Errorf("set socket buffer: %w", err)
	}
	return nil
}

// dropAll is the classic BPF program "ret #0": accept no bytes of any packet.
var dropAll = unix.SockFprog{Len: 1, Filter: &[]unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}[0]}

// drain discards what a socket received before its filter was attached.
func drain(fd int) {
	var b [1]byte
	for {
		if _, _, err := unix.Recvfrom(fd, b[:], unix.MSG_DONTWAIT|unix.MSG_TRUNC); err != nil {
			return
		}
	}
}

func (c *rawConn) BatchSize() int    { return BatchSize }
func (c *rawConn) Truncated() uint64 { return c.truncated.Load() }

func (c *rawConn) Close() error {
	if err := errors.Join(c.recvSock.Close(), c.sendSock.Close(), c.dfSock.Close()); err != nil {
		return fmt.Errorf("close %s: %w", c.name, err)
	}
	return nil
}

func (c *rawConn) Send(pkts []Packet, offset int) (int, error) {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	total, sent, dropped := len(pkts), 0, 0
	var firstErr error
	for len(pkts) > 0 {
		sock := c.sendSock
		if pkts[0].DF {
			sock = c.dfSock
		}
		k, err := c.send.fillSend(pkts, offset, c.family)
		if k > 0 {
			m, sendErr := c.send.sendmmsg(sock, k)
			sent += m
			switch {
			case sendErr == nil && m == k:
				pkts = pkts[k:] // err, if any, is about the new pkts[0]
			case sendErr == nil:
				// The kernel stopped at a packet it refuses; sending from
				// there reports why.
				pkts = pkts[m:]
				continue
			case errors.Is(sendErr, net.ErrClosed):
				return sent, fmt.Errorf("send %s: %w", c.name, sendErr)
			default:
				pkts, err = pkts[m:], fmt.Errorf("to %v: %w", pkts[m].Dst, sendErr)
			}
		}
		if err != nil {
			dropped++
			if firstErr == nil {
				firstErr = err
			}
			pkts = pkts[1:]
		}
	}
	if firstErr != nil {
		return sent, fmt.Errorf("send %s: dropped %d of %d packets: %w", c.name, dropped, total, firstErr)
	}
	return sent, nil
}

func (c *rawConn) Recv(pkts []Packet, offset int) (int, error) {
	if c.family == 4 && offset < Headroom {
		return 0, fmt.Errorf("recv %s: offset %d is less than Headroom", c.name, offset)
	}
	pkts = pkts[:min(len(pkts), BatchSize)]
	if len(pkts) == 0 {
		return 0, nil
	}
	for i := range pkts {
		if len(pkts[i].Buf) <= offset {
			return 0, fmt.Errorf("recv %s: buffer %d is not longer than offset %d", c.name, i, offset)
		}
	}
	c.recvMu.Lock()
	defer c.recvMu.Unlock()
	for {
		c.recv.prepareRecv(pkts, offset, c.family)
		got, err := c.recv.recvmmsg(c.recvSock, len(pkts))
		if err != nil {
			return 0, fmt.Errorf("recv %s: %w", c.name, err)
		}
		n := 0
		for i := range got {
			if !c.recv.parse(i, &pkts[i], offset, c.family) {
				c.truncated.Add(1)
				continue
			}
			if i != n {
				pkts[n], pkts[i] = pkts[i], pkts[n]
			}
			n++
		}
		if n > 0 {
			return n, nil
		}
	}
}

// Sizes and offsets in control message buffers.
var (
	pktinfo4Space = unix.CmsgSpace(unix.SizeofInet4Pktinfo)
	pktinfo6Space = unix.CmsgSpace(unix.SizeofInet6Pktinfo)
	intSpace      = unix.CmsgSpace(4)
	dataOffset    = unix.CmsgLen(0)
)

// cmsg is a control message in a slot: its level, type and data length.
type cmsg struct {
	level, typ, dataLen int
}

// Control messages of a slot. The data offsets in fill and parse follow
// these layouts.
var (
	// A send slot starts with the mark so that an unmarked packet can leave
	// it out, and still goes on old kernels, which refuse SO_MARK messages.
	// The IPv4 TTL comes last so that it can be left out too: the kernel
	// refuses an IP_TTL of 0 and has no value for "default".
	sendSlot4 = []cmsg{
		{unix.SOL_SOCKET, unix.SO_MARK, 4},
		{unix.IPPROTO_IP, unix.IP_PKTINFO, unix.SizeofInet4Pktinfo},
		{unix.IPPROTO_IP, unix.IP_TOS, 4},
		{unix.IPPROTO_IP, unix.IP_TTL, 4},
	}
	// The same on send, after the mark, and as IPV6_RECVPKTINFO,
	// IPV6_RECVTCLASS and IPV6_RECVHOPLIMIT deliver them on receive.
	slot6 = []cmsg{
		{unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo},
		{unix.IPPROTO_IPV6, unix.IPV6_TCLASS, 4},
		{unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, 4},
	}
	sendSlot6 = append([]cmsg{sendSlot4[0]}, slot6...)
)

// batch holds the system call arguments for BatchSize messages, built once
// so that a call allocates nothing.
type batch struct {
	hdrs  [BatchSize]unix.Mmsghdr
	iovs  [BatchSize]unix.Iovec
	names [BatchSize]unix.RawSockaddrInet6
	oob   []byte
	slot  int // bytes of oob per message

	// State of the system call in progress, kept here so that the
	// callbacks handed to syscall.RawConn are allocated once.
	count    int
	n        int
	errno    syscall.Errno
	recvFunc func(fd uintptr) bool
	sendFunc func(fd uintptr) bool
}

func newBatch(layout []cmsg) *batch {
	b := &batch{}
	for _, m := range layout {
		b.slot += unix.CmsgSpace(m.dataLen)
	}
	b.oob = make([]byte, BatchSize*b.slot)
	for i := range BatchSize {
		slot := b.slotOOB(i)
		off := 0
		for _, m := range layout {
			h := (*unix.Cmsghdr)(unsafe.Pointer(&slot[off]))
			h.Level, h.Type = int32(m.level), int32(m.typ)
			h.SetLen(unix.CmsgLen(m.dataLen))
			off += unix.CmsgSpace(m.dataLen)
		}
		b.hdrs[i].Hdr.Iov = &b.iovs[i]
		b.hdrs[i].Hdr.SetIovlen(1)
	}
	b.recvFunc = b.recvmmsgFD
	b.sendFunc = b.sendmmsgFD
	return b
}

func (b *batch) slotOOB(i int) []byte { return b.oob[i*b.slot : (i+1)*b.slot] }

// fillSend prepares messages for the leading packets of pkts that go to one
// socket: up to BatchSize of them with the same DF, stopping before the first
// that cannot be sent. It returns how many it prepared and, if it stopped
// at an unsendable packet, why.
func (b *batch) fillSend(pkts []Packet, offset, family int) (int, error) {
	n := 0
	for ; n < len(pkts) && n < BatchSize && pkts[n].DF == pkts[0].DF; n++ {
		if err := b.fill(n, &pkts[n], offset, family); err != nil {
			return n, err
		}
	}
	return n, nil
}

func (b *batch) fill(i int, p *Packet, offset, family int) error {
	if p.Size <= 0 || offset < 0 || offset+p.Size > len(p.Buf) {
		return fmt.Errorf("packet of %d bytes at offset %d does not fit its %d-byte buffer", p.Size, offset, len(p.Buf))
	}
	dst, src := p.Dst.Unmap(), p.Src.Unmap()
	if family == 4 && !dst.Is4() || family == 6 && !dst.Is6() {
		return fmt.Errorf("destination %v is not an IPv%d address", p.Dst, family)
	}
	if src.IsValid() && src.Is4() != dst.Is4() {
		return fmt.Errorf("source %v is not an IPv%d address", p.Src, family)
	}
	h := &b.hdrs[i].Hdr
	b.iovs[i].Base = &p.Buf[offset]
	b.iovs[i].SetLen(p.Size)
	h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
	slot := b.slotOOB(i)
	binary.NativeEndian.PutUint32(slot[dataOffset:], p.Mark)
	ip := slot[intSpace:] // the messages after the mark
	control := slot
	if p.Mark == 0 {
		control = ip
	}
	h.Control = &control[0]
	h.SetControllen(len(control))
	if family == 4 {
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&b.names[i]))
		sa.Family = unix.AF_INET
		sa.Addr = dst.As4()
		h.Namelen = unix.SizeofSockaddrInet4
		// struct in_pktinfo: ipi_ifindex, ipi_spec_dst (the source), ipi_addr.
		data := ip[dataOffset:]
		var s [4]byte
		if src.IsValid() {
			s = src.As4()
		}
		copy(data[4:8], s[:])
		putInt(ip[pktinfo4Space+dataOffset:], int32(p.TOS))
		putInt(ip[pktinfo4Space+intSpace+dataOffset:], int32(p.TTL))
		if p.TTL == 0 {
			h.SetControllen(len(control) - intSpace)
		}
		return nil
	}
	sa := &b.names[i]
	sa.Family = unix.AF_INET6
	sa.Addr = dst.As16()
	h.Namelen = unix.SizeofSockaddrInet6
	// struct in6_pktinfo: ipi6_addr (the source), ipi6_ifindex.
	var s [16]byte
	if src.IsValid() {
		s = src.As16()
	}
	copy(ip[dataOffset:], s[:])
	hopLimit := int32(p.TTL)
	if p.TTL == 0 {
		hopLimit = -1 // the route's or the system's default
	}
	putInt(ip[pktinfo6Space+dataOffset:], int32(p.TOS))
	putInt(ip[pktinfo6Space+intSpace+dataOffset:], hopLimit)
	return nil
}

func (b *batch) prepareRecv(pkts []Packet, offset, family int) {
	for i := range pkts {
		h := &b.hdrs[i].Hdr
		start := offset
		if family == 4 {
			// The outer header goes into the headroom, leaving the payload
			// at offset when the header has no options.
			start -= Headroom
		} else {
			h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
			h.Namelen = unix.SizeofSockaddrInet6
			h.Control = &b.slotOOB(i)[0]
			h.SetControllen(b.slot)
		}
		b.iovs[i].Base = &pkts[i].Buf[start]
		b.iovs[i].SetLen(len(pkts[i].Buf) - start)
		h.Flags = 0
	}
}

// parse fills p from message i of a received batch; it reports false for a
// datagram to drop.
func (b *batch) parse(i int, p *Packet, offset, family int) bool {
	h := &b.hdrs[i]
	if h.Hdr.Flags&unix.MSG_TRUNC != 0 {
		return false
	}
	n := int(h.Len)
	*p = Packet{Buf: p.Buf}
	if family == 4 {
		// The kernel has checked the header (ip_rcv_core).
		ip := wire.IPv4(p.Buf[offset-Headroom : offset-Headroom+n])
		ihl := ip.HeaderLen()
		p.TOS, p.TTL, p.Src, p.Dst = ip.TOS(), ip.TTL(), ip.Src(), ip.Dst()
		if ihl > Headroom {
			copy(p.Buf[offset:], ip[ihl:])
		}
		p.Size = n - ihl
		return true
	}
	p.Size = n
	p.Src = netip.AddrFrom16(b.names[i].Addr)
	oob := b.slotOOB(i)[:h.Hdr.Controllen]
	for len(oob) >= dataOffset {
		c := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(c.Len)
		if l < dataOffset || l > len(oob) {
			break
		}
		data := oob[dataOffset:l]
		if c.Level == unix.IPPROTO_IPV6 {
			switch {
			case c.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
				p.Dst = netip.AddrFrom16([16]byte(data[:16]))
			case c.Type == unix.IPV6_TCLASS && len(data) >= 4:
				p.TOS = uint8(binary.NativeEndian.Uint32(data))
			case c.Type == unix.IPV6_HOPLIMIT && len(data) >= 4:
				p.TTL = uint8(binary.NativeEndian.Uint32(data))
			}
		}
		oob = oob[min(unix.CmsgSpace(l-dataOffset), len(oob)):]
	}
	return true
}

func putInt(b []byte, v int32) { binary.NativeEndian.PutUint32(b, uint32(v)) }

// recvmmsg reads up to count messages, waiting until at least one arrives.
func (b *batch) recvmmsg(s *socket, count int) (int, error) {
	b.count = count
	if err := s.raw.Read(b.recvFunc); err != nil {
		return 0, err
	}
	if b.errno != 0 {
		return 0, fmt.Errorf("recvmmsg: %w", b.errno)
	}
	return b.n, nil
}

// sendmmsg sends the first count prepared messages. The kernel stops at the
// first message it refuses; it reports that refusal only if that message
// was the first.
func (b *batch) sendmmsg(s *socket, count int) (int, error) {
	b.count = count
	if err := s.raw.Write(b.sendFunc); err != nil {
		if errors.Is(err, os.ErrClosed) {
			err = net.ErrClosed
		}
		return 0, err
	}
	if b.errno != 0 {
		return 0, fmt.Errorf("sendmmsg: %w", b.errno)
	}
	return b.n, nil
}

func (b *batch) recvmmsgFD(fd uintptr) bool {
	return b.mmsg(unix.SYS_RECVMMSG, fd)
}

func (b *batch) sendmmsgFD(fd uintptr) bool {
	return b.mmsg(unix.SYS_SENDMMSG, fd)
}

// mmsg runs one recvmmsg or sendmmsg on the non-blocking fd; it returns false
// to wait for the fd to become ready.
func (b *batch) mmsg(trap, fd uintptr) bool {
	for {
		n, _, errno := unix.Syscall6(trap, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(b.count), 0, 0, 0)
		switch errno {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		b.n, b.errno = int(n), errno
		if errno != 0 {
			b.n = 0
		}
		return true
	}
}
