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

// tapBatchSize is the most frames a tapDevice reads at once.
const tapBatchSize = 128

// tapOffloads are what a TAP device asks of the kernel: leave checksums to
// gif (TUN_F_CSUM), and hand over TCP over IPv4 and IPv6 as super-frames
// (TSO). The kernel segments whatever else it would have offloaded, such as
// TCP with CWR (TUN_F_TSO_ECN) and UDP (USO).
const tapOffloads = unix.TUN_F_CSUM | unix.TUN_F_TSO4 | unix.TUN_F_TSO6

// tapReadSize is the size of the buffer a TAP device with offloads reads
// into. The kernel segments anything of 64 KiB or more (the device's
// gso_max_size) itself; a VLAN tag and the virtio-net header come on top.
const tapReadSize = 1 << 17

// errNoOffload means the kernel refused the offloads of a TAP device.
var errNoOffload = errors.New("offloads refused")

// tapDevice is a TAP device. With offloads (IFF_VNET_HDR), each read(2) or
// write(2) moves one frame or TCP super-frame behind a virtio-net header,
// and Read and Write split and coalesce TCP segments (tap_offload_linux.go);
// without, each moves one frame.
type tapDevice struct {
	file    *os.File
	conn    syscall.RawConn
	name    string
	offload bool

	// readRx and writeIov are t.readQueued and t.writevNow, made once: a
	// method value made at each call would allocate.
	readMu sync.Mutex
	rx     []byte // a frame read with its virtio-net header
	rxLen  int    // the length of the frame in rx not yet handed out, or 0
	readRx func(fd uintptr) bool

	writeMu    sync.Mutex
	gro        coalescer
	groBroken  bool // the kernel refused a coalesced frame
	iov        []unix.Iovec
	writeErrno syscall.Errno
	writeIov   func(fd uintptr) bool

	// For tests: super-frames that Read split; write(2) calls of Write.
	splits, writes atomic.Uint64
}

// CreateTAP creates the TAP device name with the given MTU, for a gif that
// is a bridge member. The device is down, has the kernel's random MAC
// address and carrier, and gets no IPv6 link-local address when it comes up:
// a bridge port needs none. name may hold a %d for the kernel to fill in.
// The device disappears when it is closed (once no Read is running).
//
// Read and Write move whole Ethernet frames without FCS at
// bufs[i][offset:], for any offset. Read blocks for the first frame, then
// takes the frames already queued, up to len(bufs). Each of its buffers
// must hold offset+MTU+18 bytes, room for the Ethernet header and a VLAN
// tag (a bridge without VLAN filtering forwards tagged frames as they are);
// Read drops a longer frame with an error. Write returns the number of
// frames it wrote; it fails with EIO while the device is down, and with
// EINVAL on a frame shorter than an Ethernet header. The kernel does not
// hold written frames to the MTU; the bridge holds each frame to the MTU of
// the member it forwards it to.
//
// As it does for the NIC of a virtual machine, the kernel hands TCP to the
// device as super-frames of up to 64 KiB, and takes them back (offloads,
// with IFF_VNET_HDR). Read splits a super-frame into frames that fit the
// MTU; one that would need more than len(bufs) it drops, with
// ErrTooManySegments. Write coalesces consecutive segments of each TCP
// flow into super-frames, and leaves bufs as they are. Where the kernel
// refuses offloads, each read(2) or write(2) moves one frame, and the
// kernel cuts a frame longer than a buffer to fit, silently.
func CreateTAP(name string, mtu int) (Device, error) {
	t, err := createTAP(name, mtu, true)
	if errors.Is(err, errNoOffload) {
		t, err = createTAP(name, mtu, false)
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// createTAP creates a TAP device, with offloads or without.
func createTAP(name string, mtu int, offload bool) (*tapDevice, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("create tap %s: %w", name, err)
	}
	flags := uint16(unix.IFF_TAP)
	if offload {
		flags |= unix.IFF_VNET_HDR
	}
	name, err = setupTUN(fd, flags, name, mtu)
	if err == nil && offload {
		if err = unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tapOffloads); err != nil {
			err = fmt.Errorf("create tap %s: %w: %w", name, errNoOffload, err)
		}
	}
	if err != nil {
		unix.Close(fd) // and so remove the device
		return nil, err
	}
	// The fd is non-blocking, so the file uses Go's poller, and Close ends
	// a blocked Read.
	file := os.NewFile(uintptr(fd), "/dev/net/tun")
	conn, err := file.SyscallConn()
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("create tap %s: %w", name, err)
	}
	t := &tapDevice{file: file, conn: conn, name: name, offload: offload}
	if offload {
		t.rx = make([]byte, tapReadSize)
		t.readRx, t.writeIov = t.readQueued, t.writevNow
	}
	return t, nil
}

func (t *tapDevice) Name() string   { return t.name }
func (t *tapDevice) BatchSize() int { return tapBatchSize }

func (t *tapDevice) Close() error {
	if err := t.file.Close(); err != nil {
		return fmt.Errorf("close %s: %w", t.name, err)
	}
	return nil
}

func (t *tapDevice) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	if !t.offload {
		return t.readPlain(bufs, sizes, offset)
	}
	t.readMu.Lock()
	defer t.readMu.Unlock()
	if t.rxLen == 0 {
		m, err := t.file.Read(t.rx)
		if err != nil {
			return 0, fmt.Errorf("read from %s: %w", t.name, err)
		}
		t.rxLen = m
	}
	n := 0
	for {
		k, err := splitFrame(t.rx[:t.rxLen], bufs[n:], sizes[n:], offset)
		if errors.Is(err, ErrTooManySegments) && n > 0 {
			return n, nil // the frame waits in rx for the next Read
		}
		t.rxLen = 0
		if k > 1 {
			t.splits.Add(1)
		}
		n += k
		if err != nil {
			return n, fmt.Errorf("read from %s: %w", t.name, err)
		}
		if n == len(bufs) {
			return n, nil
		}
		// One pass through the poller: readQueued says it is done at
		// once, so it takes only a frame already queued.
		t.conn.Read(t.readRx)
		if t.rxLen == 0 {
			return n, nil
		}
	}
}

// readQueued reads a frame into rx if one is queued.
func (t *tapDevice) readQueued(fd uintptr) bool {
	m, err := unix.Read(int(fd), t.rx)
	if err == nil {
		t.rxLen = m
	}
	return true // EAGAIN: nothing queued; anything else the next Read reports
}

func (t *tapDevice) readPlain(bufs [][]byte, sizes []int, offset int) (int, error) {
	m, err := t.file.Read(bufs[0][offset:])
	if err != nil {
		return 0, fmt.Errorf("read from %s: %w", t.name, err)
	}
	sizes[0] = m
	n := 1
	// One pass through the poller, as in Read.
	t.conn.Read(func(fd uintptr) bool {
		for ; n < len(bufs); n++ {
			m, err := unix.Read(int(fd), bufs[n][offset:])
			if err != nil {
				break
			}
			sizes[n] = m
		}
		return true
	})
	return n, nil
}

func (t *tapDevice) Write(bufs [][]byte, offset int) (int, error) {
	if !t.offload {
		return t.writePlain(bufs, offset)
	}
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	t.gro.plan(bufs, offset, !t.groBroken)
	var (
		n        int
		firstErr error
	)
	for i := range t.gro.supers {
		m, err := t.writeSuper(bufs, offset, &t.gro.supers[i])
		n += m
		if errors.Is(err, os.ErrClosed) {
			return n, fmt.Errorf("write to %s: %w", t.name, err)
		}
		firstErr = cmp.Or(firstErr, err)
	}
	if firstErr != nil {
		return n, fmt.Errorf("write to %s: %d of %d frames failed, the first with: %w", t.name, len(bufs)-n, len(bufs), firstErr)
	}
	return n, nil
}

// writeSuper writes super-frame s with one writev(2) and returns the number
// of frames it held.
func (t *tapDevice) writeSuper(bufs [][]byte, offset int, s *superFrame) (int, error) {
	err := t.writev(t.gro.frame(bufs, offset, s))
	if err == nil {
		return s.segs, nil
	}
	if s.segs == 1 || !errors.Is(err, unix.EINVAL) {
		return 0, err
	}
	// tailscale/tailscale#13041: from Linux commit e269d79c7d35, backported
	// to several LTS kernels, until 89add40066f9, the kernel refuses some
	// coalesced frames with EINVAL. Write the frames one by one, now and
	// from now on.
	t.groBroken = true
	var n int
	err = nil
	for i := s.first; i >= 0; i = t.gro.next[i] {
		one := superFrame{first: i, last: i, segs: 1}
		if e := t.writev(t.gro.frame(bufs, offset, &one)); e != nil {
			err = cmp.Or(err, e)
			continue
		}
		n++
	}
	return n, err
}

// writev writes the pieces of one frame with writev(2).
func (t *tapDevice) writev(pieces [][]byte) error {
	t.iov = t.iov[:0]
	for _, p := range pieces {
		if len(p) > 0 {
			v := unix.Iovec{Base: &p[0]}
			v.SetLen(len(p))
			t.iov = append(t.iov, v)
		}
	}
	t.writes.Add(1)
	if err := t.conn.Write(t.writeIov); err != nil {
		// With no write deadline, RawConn.Write fails only on a closed file.
		return os.ErrClosed
	}
	if t.writeErrno != 0 {
		return t.writeErrno
	}
	return nil
}

func (t *tapDevice) writevNow(fd uintptr) bool {
	_, _, t.writeErrno = unix.Syscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&t.iov[0])), uintptr(len(t.iov)))
	return t.writeErrno != unix.EAGAIN
}

func (t *tapDevice) writePlain(bufs [][]byte, offset int) (int, error) {
	var (
		n        int
		firstErr error
	)
	for _, b := range bufs {
		t.writes.Add(1)
		_, err := t.file.Write(b[offset:])
		if errors.Is(err, os.ErrClosed) {
			return n, fmt.Errorf("write to %s: %w", t.name, err)
		}
		if err != nil {
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		n++
	}
	if firstErr != nil {
		return n, fmt.Errorf("write to %s: %d of %d frames failed, the first with: %w", t.name, len(bufs)-n, len(bufs), firstErr)
	}
	return n, nil
}

// SetCarrier turns the carrier of a device from CreateTAP on or off. While
// it is off the bridge sends no frames to it.
func (t *tapDevice) SetCarrier(on bool) error {
	return setCarrier(t.file, t.name, on)
}
