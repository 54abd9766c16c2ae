package link

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync/atomic"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"
)

// tunDevice is a TUN device opened as wireguard-go's tun.CreateTUN opens it
// (IFF_VNET_HDR, TSO and USO offloads, GRO on write, batches of 128), but
// without its monitor: CreateTUN starts a netlink listener and a goroutine
// that writes to the device every second to report up/down events gif has no
// use for.
type tunDevice struct {
	tun  tun.Device
	file *os.File
	name string
	// groBroken is set once the kernel has rejected a GRO-coalesced write;
	// from then on every packet is written on its own.
	groBroken atomic.Bool
}

// CreateTUN creates the TUN device name with the given MTU. The device is
// down, point-to-point and without ARP; the kernel will not give it an IPv6
// link-local address when it comes up (gif adds its own: LinkLocal), and it
// keeps its IPv6 addresses while down.
// name may hold a %d for the kernel to fill in. The device disappears when
// it is closed.
func CreateTUN(name string, mtu int) (Device, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("create tun %s: %w", name, err)
	}
	name, err = setupTUN(fd, unix.IFF_TUN|unix.IFF_VNET_HDR, name, mtu)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	// From here the fd belongs to an *os.File inside dev; if this fails, the
	// file's finalizer closes it.
	dev, _, err := tun.CreateUnmonitoredTUNFromFD(fd)
	if err != nil {
		return nil, fmt.Errorf("create tun %s: %w", name, err)
	}
	return &tunDevice{tun: dev, file: dev.File(), name: name}, nil
}

// setupTUN attaches fd to a new TUN or TAP device (flags IFF_TUN or
// IFF_TAP, and more; IFF_NO_PI is added) and configures it while it is
// still down. It returns the device's name.
func setupTUN(fd int, flags uint16, name string, mtu int) (string, error) {
	kind := "tun"
	if flags&unix.IFF_TAP != 0 {
		kind = "tap"
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return "", fmt.Errorf("create %s %s: %w", kind, name, err)
	}
	ifr.SetUint16(flags | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		return "", fmt.Errorf("create %s %s: %w", kind, name, err)
	}
	name = ifr.Name()
	if err := unix.SetNonblock(fd, true); err != nil {
		return "", fmt.Errorf("create %s %s: %w", kind, name, err)
	}
	link, err := netlink.LinkByName(name)
	if err != nil {
		return "", fmt.Errorf("create %s %s: %w", kind, name, err)
	}
	// EAFNOSUPPORT: the kernel has no IPv6, so no link-local address either.
	err = netlink.LinkSetIP6AddrGenMode(link, nl.IN6_ADDR_GEN_MODE_NONE)
	if err != nil && !errors.Is(err, unix.EAFNOSUPPORT) {
		return "", fmt.Errorf("turn off IPv6 address generation on %s: %w", name, err)
	}
	// Like the IPv4 ones, IPv6 addresses stay while the interface is down,
	// as on OpenBSD. ENOENT: the kernel has no IPv6.
	err = setIPv6Conf(name, "keep_addr_on_down", true)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("keep IPv6 addresses of %s: %w", name, err)
	}
	if err := netlink.LinkSetMTU(link, mtu); err != nil {
		return "", fmt.Errorf("set mtu of %s to %d: %w", name, mtu, err)
	}
	return name, nil
}

func (t *tunDevice) Name() string   { return t.name }
func (t *tunDevice) BatchSize() int { return t.tun.BatchSize() }

func (t *tunDevice) Close() error {
	if err := t.tun.Close(); err != nil {
		return fmt.Errorf("close %s: %w", t.name, err)
	}
	return nil
}

func (t *tunDevice) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	n, err := t.tun.Read(bufs, sizes, offset)
	if err != nil {
		return n, fmt.Errorf("read from %s: %w", t.name, err)
	}
	return n, nil
}

func (t *tunDevice) Write(bufs [][]byte, offset int) (int, error) {
	if offset < WriteOffset {
		return 0, fmt.Errorf("write to %s: offset %d is less than %d", t.name, offset, WriteOffset)
	}
	bufs, dropped := keepIP(bufs, offset)
	var errs error
	if dropped > 0 {
		errs = fmt.Errorf("write to %s: dropped %d packets that are neither IPv4 nor IPv6", t.name, dropped)
	}
	// Packets go in order: the runs of plain packets between merged ones
	// through wireguard-go's Write, each merged one on its own.
	n, run, mtu := 0, 0, 0
	for i, b := range bufs {
		seg, ok := mergedTCP(b[offset:])
		if !ok {
			continue
		}
		// The capacity keeps wireguard-go's Write, which may append to the
		// slice, off the packets after the run.
		m, err := t.writePlain(bufs[run:i:i], offset)
		n, errs = n+m, errors.Join(errs, err)
		m, err = t.writeMerged(b, offset, seg, &mtu)
		n, errs = n+m, errors.Join(errs, err)
		run = i + 1
		if errors.Is(err, os.ErrClosed) {
			return n, errs
		}
	}
	m, err := t.writePlain(bufs[run:], offset)
	return n + m, errors.Join(errs, err)
}

// writeMerged writes one TCP segment that the kernel's GRO merged on the
// way in (see mergedTCP) behind the virtio-net header that makes the kernel
// take it as the super-packet it is; wireguard-go's Write would pass it on
// as a plain packet with a partial checksum. *mtu caches the device's MTU
// for the rest of the batch.
func (t *tunDevice) writeMerged(b []byte, offset int, seg segment, mtu *int) (int, error) {
	if *mtu == 0 {
		var err error
		if *mtu, err = interfaceMTU(t.name); err != nil {
			return 0, fmt.Errorf("write to %s: %w", t.name, err)
		}
	}
	seg.header(*mtu).encode(b[offset-WriteOffset : offset])
	if _, err := t.file.Write(b[offset-WriteOffset:]); err != nil {
		if errors.Is(err, unix.EBADFD) {
			err = os.ErrClosed
		}
		return 0, fmt.Errorf("write merged segment to %s: %w", t.name, err)
	}
	return 1, nil
}

// writePlain writes packets that the kernel has not merged, coalescing
// those of one flow unless the kernel refuses coalesced packets.
func (t *tunDevice) writePlain(bufs [][]byte, offset int) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	if t.groBroken.Load() {
		return t.writeEach(bufs, offset)
	}
	// wireguard-go returns bytes, not packets.
	_, err := t.tun.Write(bufs, offset)
	if err == nil {
		return len(bufs), nil
	}
	// A failed write(2) may have held several coalesced packets, so on
	// error n can count too many.
	n := max(len(bufs)-failedWrites(err), 0)
	if errors.Is(err, os.ErrClosed) {
		n = 0
	}
	// tailscale/tailscale#13041: from Linux commit e269d79c7d35, backported
	// to several LTS kernels (6.1.103 among them), until 89add40066f9, the
	// kernel rejects TCP and UDP GSO writes with EINVAL. keepIP leaves it no
	// other reason for EINVAL, so when a coalesced batch fails with it, stop
	// coalescing.
	if errors.Is(err, unix.EINVAL) && coalesced(bufs, offset) {
		t.groBroken.Store(true)
		err = fmt.Errorf("the kernel rejects coalesced (GRO) packets, a bug of some Linux versions (tailscale/tailscale#13041); writing packets one by one from now on: %w", err)
	}
	return n, fmt.Errorf("write to %s: %w", t.name, err)
}

// keepIP moves the packets that are not IPv4 or IPv6, which the kernel
// would refuse with EINVAL, to the end of bufs. It returns the others and
// how many it left out.
func keepIP(bufs [][]byte, offset int) ([][]byte, int) {
	kept := len(bufs)
	for i := 0; i < kept; {
		if b := bufs[i]; len(b) > offset && (b[offset]>>4 == 4 || b[offset]>>4 == 6) {
			i++
			continue
		}
		kept--
		bufs[i], bufs[kept] = bufs[kept], bufs[i]
	}
	return bufs[:kept], len(bufs) - kept
}

// failedWrites counts the write(2) calls that failed in a wireguard-go
// Write, which joins their errors.
func failedWrites(err error) int {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		return len(joined.Unwrap())
	}
	return 1
}

// coalesced reports whether the virtio-net header in front of any packet in
// bufs has a GSO type, which wireguard-go sets only on coalesced packets.
func coalesced(bufs [][]byte, offset int) bool {
	const gsoTypeAt = 1 // struct virtio_net_hdr: flags, gso_type, ...
	for _, b := range bufs {
		if b[offset-WriteOffset+gsoTypeAt] != unix.VIRTIO_NET_HDR_GSO_NONE {
			return true
		}
	}
	return false
}

// writeEach writes each packet with its own write(2), behind a virtio-net
// header that asks for no offload.
func (t *tunDevice) writeEach(bufs [][]byte, offset int) (int, error) {
	var (
		n    int
		errs error
	)
	for _, b := range bufs {
		pkt := b[offset-WriteOffset:]
		clear(pkt[:WriteOffset])
		_, err := t.file.Write(pkt)
		if errors.Is(err, unix.EBADFD) {
			return n, fmt.Errorf("write to %s: %w", t.name, os.ErrClosed)
		}
		if err != nil {
			errs = errors.Join(errs, err)
			continue
		}
		n++
	}
	if errs != nil {
		return n, fmt.Errorf("write to %s: %w", t.name, errs)
	}
	return n, nil
}

// interfaceMTU asks the kernel for the MTU of the interface name
// (SIOCGIFMTU).
func interfaceMTU(name string) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("get mtu of %s: %w", name, err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, fmt.Errorf("get mtu of %s: %w", name, err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFMTU, ifr); err != nil {
		return 0, fmt.Errorf("get mtu of %s: %w", name, err)
	}
	return int(ifr.Uint32()), nil
}

// SetCarrier turns the carrier of a device from CreateTUN on or off
// (TUNSETCARRIER, Linux 5.0). While it is off the device is not RUNNING,
// `ip link` shows NO-CARRIER, and the kernel sends nothing into it.
func (t *tunDevice) SetCarrier(on bool) error {
	return setCarrier(t.file, t.name, on)
}

// setCarrier turns the carrier of the TUN or TAP device of file on or off.
func setCarrier(file *os.File, name string, on bool) error {
	conn, err := file.SyscallConn()
	if err != nil {
		return fmt.Errorf("set carrier of %s: %w", name, err)
	}
	var carrier int
	if on {
		carrier = 1
	}
	var ioctlErr error
	err = conn.Control(func(fd uintptr) {
		ioctlErr = unix.IoctlSetPointerInt(int(fd), unix.TUNSETCARRIER, carrier)
	})
	if err = errors.Join(err, ioctlErr); err != nil {
		return fmt.Errorf("set carrier of %s: %w", name, err)
	}
	return nil
}
