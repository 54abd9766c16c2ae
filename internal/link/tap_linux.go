package link

import (
	"cmp"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"gif/internal/outer"
)

// errNoOffload means the kernel refused the offloads of a TAP device.
var errNoOffload = errors.New("offloads refused")

// tapDevice is a TAP device. With offloads (IFF_VNET_HDR), each read(2) or
// write(2) moves one frame or TCP super-frame behind a virtio-net header,
// and Read and Write split and coalesce TCP segments (vnetFile); without,
// each moves one frame.
type tapDevice struct {
	*vnetFile
	offload bool
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
		if err = unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, vnetOffloads); err != nil {
			err = fmt.Errorf("create tap %s: %w: %w", name, errNoOffload, err)
		}
	}
	if err != nil {
		unix.Close(fd) // and so remove the device
		return nil, err
	}
	f, err := newVnetFile(fd, name, linkEthernet)
	if err != nil {
		return nil, fmt.Errorf("create tap %s: %w", name, err)
	}
	return &tapDevice{vnetFile: f, offload: offload}, nil
}

func (t *tapDevice) BatchSize() int { return outer.BatchSize }

func (t *tapDevice) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	if !t.offload {
		return t.readPlain(bufs, sizes, offset)
	}
	return t.read(bufs, sizes, offset)
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
	t.beginWrite()
	defer t.endWrite()
	n, err := t.write(bufs, offset)
	return n, t.writeError(n, len(bufs), err)
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
	return n, t.writeError(n, len(bufs), firstErr)
}
