package link

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// vnetOffloads are what a TUN or TAP device asks of the kernel: leave
// checksums to gif (TUN_F_CSUM), and hand over TCP over IPv4 and IPv6 as
// super-frames (TSO). The kernel segments whatever else it would have
// offloaded, such as TCP with CWR (TUN_F_TSO_ECN) and UDP (USO), and takes
// no UDP super-frames from gif.
const vnetOffloads = unix.TUN_F_CSUM | unix.TUN_F_TSO4 | unix.TUN_F_TSO6

// rxLen is the size of the buffer a device with offloads reads into: the
// longest frame the kernel hands over, an IPv6 super-packet of 64 KiB behind
// Ethernet with two VLAN tags, and its virtio-net header. The kernel
// segments anything longer (the device's gso_max_size) itself.
const rxLen = virtioNetHdrLen + 14 + 4*maxVLANTags + 40 + 0xffff

// rxBufs holds the read buffers of devices with offloads. A device borrows
// one only while it reads, or holds a super-frame not yet handed out, so
// that a thousand idle devices do not keep a thousand buffers.
var rxBufs = sync.Pool{New: func() any { return new([rxLen]byte) }}

// vnetFile is the file of a TUN or TAP device opened with IFF_VNET_HDR and
// offloads: each read(2) or write(2) moves one frame or TCP super-frame
// behind a virtio-net header. read splits super-frames into frames, write
// coalesces TCP segments into super-frames (tap_offload_linux.go). Its
// buffers come from pools for each call: an idle device costs little more
// than the struct.
type vnetFile struct {
	file   *os.File
	conn   syscall.RawConn
	name   string
	link   linkLayer
	waiter *readWaiter

	// readWait, readQueued and writeIov are method values of f, made once:
	// one made at each call would allocate.
	readMu     sync.Mutex
	rx         *[rxLen]byte // borrowed from rxBufs, or nil
	rxLen      int          // the length of the frame in rx not yet handed out, or 0
	rxErr      error        // the error of the last read(2)
	readWait   func(fd uintptr) bool
	readQueued func(fd uintptr) bool

	writeMu    sync.Mutex
	gro        *coalescer // borrowed from coalescers during a write
	groBroken  bool       // the kernel refused a coalesced frame
	writeErrno syscall.Errno
	writeIov   func(fd uintptr) bool

	// For tests: super-frames that read split; write(2) calls of write.
	splits, writes atomic.Uint64
}

// newVnetFile wraps the non-blocking fd of a TUN or TAP device in a file
// that uses Go's poller, so that Close ends a blocked Read.
func newVnetFile(fd int, name string, link linkLayer) (*vnetFile, error) {
	file := os.NewFile(uintptr(fd), "/dev/net/tun")
	conn, err := file.SyscallConn()
	if err != nil {
		file.Close()
		return nil, err
	}
	f := &vnetFile{file: file, conn: conn, name: name, link: link, waiter: newReadWaiter(conn)}
	f.readWait = func(fd uintptr) bool { return f.readFrame(fd, true) }
	f.readQueued = func(fd uintptr) bool { return f.readFrame(fd, false) }
	f.writeIov = f.writevNow
	return f, nil
}

func (f *vnetFile) Name() string { return f.name }

func (f *vnetFile) Close() error {
	if err := f.file.Close(); err != nil {
		return fmt.Errorf("close %s: %w", f.name, err)
	}
	return nil
}

// WaitReadable returns at once while part of a super-frame is still to be
// handed out.
func (f *vnetFile) WaitReadable() error {
	f.readMu.Lock()
	pending := f.rxLen > 0
	f.readMu.Unlock()
	if pending {
		return nil
	}
	return f.waiter.wait(f.name)
}

// read blocks for the first frame, splits it into bufs, then takes the
// frames already queued, up to len(bufs). A super-frame that does not fit
// the buffers left waits for the next read; one that does not fit all of
// them it drops, with ErrTooManySegments.
func (f *vnetFile) read(bufs [][]byte, sizes []int, offset int) (int, error) {
	f.readMu.Lock()
	defer f.readMu.Unlock()
	n, err := f.readSplit(bufs, sizes, offset)
	if f.rxLen == 0 && f.rx != nil {
		rxBufs.Put(f.rx)
		f.rx = nil
	}
	if err != nil {
		return n, fmt.Errorf("read from %s: %w", f.name, err)
	}
	return n, nil
}

func (f *vnetFile) readSplit(bufs [][]byte, sizes []int, offset int) (int, error) {
	if f.rxLen == 0 {
		if err := f.conn.Read(f.readWait); err != nil {
			return 0, pollError(err)
		}
		if err := f.rxErr; err != nil {
			f.rxErr = nil
			return 0, err
		}
	}
	n := 0
	for {
		k, err := f.link.splitFrame(f.rx[:f.rxLen], bufs[n:], sizes[n:], offset)
		if errors.Is(err, ErrTooManySegments) && n > 0 {
			return n, nil // the frame waits in rx for the next read
		}
		f.rxLen = 0
		if k > 1 {
			f.splits.Add(1)
		}
		n += k
		if err != nil || n == len(bufs) {
			return n, err
		}
		// One pass through the poller: readQueued says it is done at once,
		// so it takes only a frame already queued.
		f.conn.Read(f.readQueued)
		if f.rxLen == 0 {
			return n, nil
		}
	}
}

// readFrame reads a frame into rx. With wait, when none is queued, it gives
// rx back and asks the poller to wait for one; without, it gives up, and
// leaves any error to the next read.
func (f *vnetFile) readFrame(fd uintptr, wait bool) bool {
	if f.rx == nil {
		f.rx = rxBufs.Get().(*[rxLen]byte)
	}
	for {
		m, err := unix.Read(int(fd), f.rx[:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN && wait:
			rxBufs.Put(f.rx)
			f.rx = nil
			return false
		case err == nil:
			f.rxLen = m
		case wait:
			f.rxErr = deviceError(err)
		}
		return true
	}
}

// pollError is the error of a RawConn call that failed: with no deadline
// set, it fails only when the file is closing, with an error of package
// poll ("use of closed file") that is not os.ErrClosed.
func pollError(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w (%v)", os.ErrClosed, err)
}

// deviceError is err of a read(2) or write(2): EBADFD means the device is
// gone.
func deviceError(err error) error {
	if errors.Is(err, unix.EBADFD) {
		return fmt.Errorf("%w (%w)", os.ErrClosed, err)
	}
	return err
}

// beginWrite takes the writer's lock and a coalescer for one write.
func (f *vnetFile) beginWrite() {
	f.writeMu.Lock()
	f.gro = coalescers.Get().(*coalescer)
}

func (f *vnetFile) endWrite() {
	coalescers.Put(f.gro)
	f.gro = nil
	f.writeMu.Unlock()
}

// write writes the frames bufs[i][offset:], coalescing the segments of
// each TCP flow. It returns the number of frames written and the first
// error; f must be between beginWrite and endWrite.
func (f *vnetFile) write(bufs [][]byte, offset int) (int, error) {
	f.gro.plan(bufs, offset, f.link, !f.groBroken)
	var (
		n        int
		firstErr error
	)
	for i := range f.gro.supers {
		m, err := f.writeSuper(bufs, offset, &f.gro.supers[i])
		n += m
		if errors.Is(err, os.ErrClosed) {
			return n, err
		}
		firstErr = cmp.Or(firstErr, err)
	}
	return n, firstErr
}

// writeError wraps the first error of writing total frames, n of them
// successfully.
func (f *vnetFile) writeError(n, total int, err error) error {
	switch {
	case err == nil:
		return nil
	case n == total || errors.Is(err, os.ErrClosed):
		return fmt.Errorf("write to %s: %w", f.name, err)
	}
	return fmt.Errorf("write to %s: %d of %d frames failed, the first with: %w", f.name, total-n, total, err)
}

// writeSuper writes super-frame s with one writev(2) and returns the number
// of frames it held.
func (f *vnetFile) writeSuper(bufs [][]byte, offset int, s *superFrame) (int, error) {
	err := f.writev(f.gro.frame(bufs, offset, s))
	if err == nil {
		return s.segs, nil
	}
	if s.segs == 1 || !errors.Is(err, unix.EINVAL) {
		return 0, err
	}
	// tailscale/tailscale#13041: from Linux commit e269d79c7d35, backported
	// to several LTS kernels (6.1.103 among them), until 89add40066f9, the
	// kernel refuses some coalesced frames with EINVAL. Write the frames one
	// by one, now and from now on, and say so once.
	f.groBroken = true
	err = fmt.Errorf("the kernel rejects coalesced (GRO) packets, a bug of some Linux versions (tailscale/tailscale#13041); writing packets one by one from now on: %w", err)
	var n int
	for i := s.first; i >= 0; i = f.gro.next[i] {
		one := superFrame{first: i, last: i, segs: 1}
		if e := f.writev(f.gro.frame(bufs, offset, &one)); e != nil {
			err = errors.Join(err, e)
			continue
		}
		n++
	}
	return n, err
}

// writev writes the pieces of one frame with writev(2).
func (f *vnetFile) writev(pieces [][]byte) error {
	iov := f.gro.iov[:0]
	for _, p := range pieces {
		if len(p) > 0 {
			v := unix.Iovec{Base: &p[0]}
			v.SetLen(len(p))
			iov = append(iov, v)
		}
	}
	f.gro.iov = iov
	f.writes.Add(1)
	if err := f.conn.Write(f.writeIov); err != nil {
		return pollError(err)
	}
	if f.writeErrno != 0 {
		return deviceError(f.writeErrno)
	}
	return nil
}

func (f *vnetFile) writevNow(fd uintptr) bool {
	iov := f.gro.iov
	for {
		_, _, f.writeErrno = unix.Syscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
		if f.writeErrno != unix.EINTR {
			return f.writeErrno != unix.EAGAIN
		}
	}
}

// SetCarrier turns the carrier of the device on or off (TUNSETCARRIER,
// Linux 5.0). While it is off the device is not RUNNING, `ip link` shows
// NO-CARRIER, and the kernel sends nothing into it.
func (f *vnetFile) SetCarrier(on bool) error {
	var carrier int
	if on {
		carrier = 1
	}
	var ioctlErr error
	err := f.conn.Control(func(fd uintptr) {
		ioctlErr = unix.IoctlSetPointerInt(int(fd), unix.TUNSETCARRIER, carrier)
	})
	if err = errors.Join(err, ioctlErr); err != nil {
		return fmt.Errorf("set carrier of %s: %w", f.name, err)
	}
	return nil
}
