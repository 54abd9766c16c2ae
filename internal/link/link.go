// Package link is the kernel side of gif: the TUN device of each interface,
// moved in batches as wireguard-go's tun.Device moves them, and the netlink calls that
// configure it (state, MTU, addresses, statistics).
//
// Every function works in the network namespace of the calling OS thread.
package link

import (
	"crypto/md5"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// Device is the kernel side of one gif interface.
type Device interface {
	// Read reads up to len(bufs) packets; packet i lands at
	// bufs[i][offset:offset+sizes[i]]. Each buffer must hold offset+MTU bytes,
	// and len(bufs) should be BatchSize(): the kernel hands over TCP and UDP
	// streams as one super-packet that Read splits into MTU-sized packets.
	Read(bufs [][]byte, sizes []int, offset int) (n int, err error)
	// Write writes the packets bufs[i][offset:] and returns how many it
	// wrote; offset must be at least WriteOffset. It coalesces in-order
	// segments of one TCP flow into one write (GRO), with writev, so it
	// leaves bufs and the buffers as they are.
	Write(bufs [][]byte, offset int) (int, error)
	// WaitReadable blocks until Read has something to read, so that a
	// reader needs its buffers only then. Only one goroutine may wait or
	// read at a time. It fails once the device is closed.
	WaitReadable() error
	// BatchSize is the number of packets Read and Write handle at once.
	BatchSize() int
	Name() string
	Close() error
}

// WriteOffset is the smallest offset Device.Write accepts: the length of the
// virtio-net header (struct virtio_net_hdr) that goes in front of each packet.
const WriteOffset = 10

// DomainRulePriority is the priority of the policy rules of AddDomainRules
// (and of the next one): after Linux's "lookup local" (0), before its
// "lookup main" (32766) and "lookup default" (32767).
const DomainRulePriority = 1000

// ErrTooManySegments is returned by Device.Read when a super-packet splits
// into more packets than len(bufs). It drops the rest of that super-packet;
// reading may go on.
var ErrTooManySegments = errors.New("too many segments")

// Addr is an address of an interface: the local address with its prefix
// length and, on a point-to-point address, the far end. The prefix length of
// a point-to-point address applies to Peer, as in `ip addr add A peer B/len`.
type Addr struct {
	Prefix netip.Prefix
	Peer   netip.Addr
}

// Stats are the kernel's counters of an interface. Rx counts what gif wrote
// into the device (received by the host), Tx what the host sent into it. The
// kernel counts each write and read once: a Device.Write of packets it
// coalesced, or a Device.Read of a super-packet it split, counts as one.
type Stats struct {
	RxPackets, RxBytes, TxPackets, TxBytes   uint64
	RxErrors, TxErrors, RxDropped, TxDropped uint64
}

// The u/l ("u") and individual/group ("g") bits of the first octet of a MAC
// address or EUI-64 (RFC 4291 appendix A).
const (
	euiLocalBit = 0x02
	euiGroupBit = 0x01
)

// LinkLocalFrom returns the link-local address OpenBSD's in6_ifattach gives
// an interface without a hardware address of its own, such as gif: fe80::/64
// with the EUI-64 interface ID of the first usable hardware address in macs
// (in interface index order), or, when there is none, an ID from the MD5
// digest of hostname (the KAME get_rand_ifid of the OpenBSD releases that
// had gif; current OpenBSD uses random bytes, which would change at every
// start).
func LinkLocalFrom(macs []net.HardwareAddr, hostname string) netip.Addr {
	b := [16]byte{0: 0xfe, 1: 0x80}
	id := b[8:]
	for _, mac := range macs {
		if eui64(id, mac) {
			return netip.AddrFrom16(b)
		}
	}
	digest := md5.Sum([]byte(hostname))
	copy(id, digest[:8])
	id[0] &^= euiGroupBit | euiLocalBit // g: individual; u: local, inverted into an interface ID
	return netip.AddrFrom16(b)
}

// eui64 writes the interface ID made from mac into id and reports whether
// mac may give one, by the checks of OpenBSD's in6_get_hw_ifid.
func eui64(id []byte, mac net.HardwareAddr) bool {
	switch len(mac) {
	case 6:
		copy(id[:3], mac[:3])
		id[3], id[4] = 0xff, 0xfe
		copy(id[5:], mac[3:])
	case 8:
		copy(id, mac)
	default:
		return false
	}
	if allBytes(mac, 0x00) || allBytes(mac, 0xff) || id[0]&euiGroupBit != 0 {
		return false
	}
	id[0] ^= euiLocalBit
	// An all-zero ID is the subnet-router anycast address.
	return id[0]&^(euiGroupBit|euiLocalBit) != 0 || !allBytes(id[1:], 0x00)
}

func allBytes(b []byte, v byte) bool {
	for _, x := range b {
		if x != v {
			return false
		}
	}
	return true
}

// SetCarrier turns the carrier of dev on or off, so that the interface is
// RUNNING only while its tunnel is usable. dev must come from CreateTUN or
// have a SetCarrier(bool) error method of its own.
func SetCarrier(dev Device, on bool) error {
	c, ok := dev.(interface{ SetCarrier(on bool) error })
	if !ok {
		return fmt.Errorf("set carrier of %s: %T has no carrier", dev.Name(), dev)
	}
	return c.SetCarrier(on)
}
