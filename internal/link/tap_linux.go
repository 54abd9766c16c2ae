package link

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// tapBatchSize is the most frames a tapDevice reads at once.
const tapBatchSize = 128

// tapDevice is a TAP device that moves one Ethernet frame per read(2) or
// write(2). It has no virtio-net header: wireguard-go's offloads, which need
// one, expect an IP header where a TAP has the Ethernet header.
type tapDevice struct {
	file *os.File
	conn syscall.RawConn
	name string
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
// tag (a bridge without VLAN filtering forwards tagged frames as they are):
// the kernel cuts a longer frame to fit, silently. Write returns the number
// of frames it wrote; it fails with EIO while the device is down, and with
// EINVAL on a frame shorter than an Ethernet header. The kernel does not
// hold written frames to the MTU; the bridge holds each frame to the MTU of
// the member it forwards it to.
func CreateTAP(name string, mtu int) (Device, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("create tap %s: %w", name, err)
	}
	name, err = setupTUN(fd, unix.IFF_TAP, name, mtu)
	if err != nil {
		unix.Close(fd)
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
	return &tapDevice{file: file, conn: conn, name: name}, nil
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
	m, err := t.file.Read(bufs[0][offset:])
	if err != nil {
		return 0, fmt.Errorf("read from %s: %w", t.name, err)
	}
	sizes[0] = m
	n := 1
	// One pass through the poller: the callback says it is done at once, so
	// it takes only the frames already queued.
	t.conn.Read(func(fd uintptr) bool {
		for ; n < len(bufs); n++ {
			m, err := unix.Read(int(fd), bufs[n][offset:])
			if err != nil {
				break // EAGAIN: nothing queued; anything else the next Read reports
			}
			sizes[n] = m
		}
		return true
	})
	return n, nil
}

func (t *tapDevice) Write(bufs [][]byte, offset int) (int, error) {
	var (
		n        int
		firstErr error
	)
	for _, b := range bufs {
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
