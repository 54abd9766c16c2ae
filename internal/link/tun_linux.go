package link

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"gif/internal/outer"
)

// tunDevice is a TUN device with offloads (IFF_VNET_HDR, TSO): Read splits
// the TCP super-packets the kernel hands over, Write coalesces TCP segments
// into super-packets (vnetFile), in batches of outer.BatchSize.
type tunDevice struct {
	*vnetFile
}

// CreateTUN creates the TUN device name with the given MTU. The device is
// down, point-to-point and without ARP; the kernel will not give it an IPv6
// link-local address when it comes up (gif adds its own: LinkLocal), it
// keeps its IPv6 addresses while down, and it takes no router
// advertisements, so sends no router solicitations.
// name may hold a %d for the kernel to fill in. The device disappears when
// it is closed.
func CreateTUN(name string, mtu int) (Device, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("create tun %s: %w", name, err)
	}
	name, err = setupTUN(fd, unix.IFF_TUN|unix.IFF_VNET_HDR, name, mtu)
	if err == nil {
		if err = unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, vnetOffloads); err != nil {
			err = fmt.Errorf("set offloads of tun %s: %w", name, err)
		}
	}
	if err != nil {
		unix.Close(fd) // and so remove the device
		return nil, err
	}
	f, err := newVnetFile(fd, name, linkIP)
	if err != nil {
		return nil, fmt.Errorf("create tun %s: %w", name, err)
	}
	return &tunDevice{f}, nil
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
	// No router advertisements, and so no router solicitations: OpenBSD
	// autoconfigures no gif (autoconf is off, and gif lacks it), while
	// Linux solicits a router on an interface as soon as it has a
	// link-local address, again and again: into the tunnel, or as an
	// output error before the interface is RUNNING.
	err = setIPv6Conf(name, "accept_ra", false)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("turn off router advertisements on %s: %w", name, err)
	}
	if err := netlink.LinkSetMTU(link, mtu); err != nil {
		return "", fmt.Errorf("set mtu of %s to %d: %w", name, mtu, err)
	}
	return name, nil
}

func (t *tunDevice) BatchSize() int { return outer.BatchSize }

func (t *tunDevice) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	return t.read(bufs, sizes, offset)
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
	t.beginWrite()
	defer t.endWrite()
	// Packets go in order: the runs of plain packets between merged ones
	// coalesced, each merged one on its own.
	var (
		n, run, mtu int
		firstErr    error
	)
	for i, b := range bufs {
		seg, ok := mergedTCP(b[offset:])
		if !ok {
			continue
		}
		m, err := t.write(bufs[run:i], offset)
		n, firstErr = n+m, cmp.Or(firstErr, err)
		if errors.Is(err, os.ErrClosed) {
			break
		}
		m, err = t.writeMerged(b[offset:], seg, &mtu)
		n, firstErr = n+m, cmp.Or(firstErr, err)
		run = i + 1
		if errors.Is(err, os.ErrClosed) {
			break
		}
	}
	if !errors.Is(firstErr, os.ErrClosed) {
		m, err := t.write(bufs[run:], offset)
		n, firstErr = n+m, cmp.Or(firstErr, err)
	}
	return n, errors.Join(errs, t.writeError(n, len(bufs), firstErr))
}

// writeMerged writes one TCP segment that the kernel's GRO merged on the
// way in (see mergedTCP) behind the virtio-net header that makes the kernel
// take it as the super-packet it is; written as a plain packet, it would
// carry a partial checksum. *mtu caches the device's MTU for the rest of
// the batch.
func (t *tunDevice) writeMerged(pkt []byte, seg segment, mtu *int) (int, error) {
	if *mtu == 0 {
		var err error
		if *mtu, err = interfaceMTU(t.name); err != nil {
			return 0, err
		}
	}
	hdr := t.gro.hdr[:virtioNetHdrLen]
	seg.header(*mtu).encode(hdr)
	t.gro.pieces = append(t.gro.pieces[:0], hdr, pkt)
	if err := t.writev(t.gro.pieces); err != nil {
		return 0, fmt.Errorf("write merged segment: %w", err)
	}
	return 1, nil
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
