// Package outer is the outer transport of gif: raw IP sockets that send and
// receive tunnel packets (IP protocols 4, 41 and 97) over IPv4 or IPv6, a
// batch per system call.
//
// The kernel builds the outer IP header from the fields of each Packet, and
// fragments outer packets that exceed the path MTU unless DF is set. Each
// Conn holds two sockets, one for packets with DF and one for the rest.
// Package outertest has an in-memory Conn pair for tests.
package outer

import (
	"net/netip"

	"gif/internal/wire"
)

const (
	// BatchSize is the most packets one Send system call or one Recv
	// takes, and one Read of a gif's TUN or TAP device: a 64 KiB TCP
	// super-packet split into segments of 536 bytes or more. It matches
	// wireguard-go's conn.IdealBatchSize.
	BatchSize = 128
	// Headroom is the smallest offset Recv of an IPv4 Conn accepts: an IPv4
	// raw socket delivers the outer header too, and it lands in front of
	// the payload.
	Headroom = wire.IPv4MinHeaderLen
	// SocketBufferSize is the send and receive buffer of each socket. Bursts
	// overflow the default (~208 KiB) and cause retransmit storms;
	// wireguard-go uses the same 7 MiB.
	SocketBufferSize = 7 << 20
)

// Packet is one outer packet: its payload, which is everything after the
// outer IP header, and the fields of that header.
type Packet struct {
	// Buf holds the payload at Buf[offset:offset+Size]. Recv fills it up to
	// len(Buf), and over IPv4 may overwrite Buf[offset-Headroom:offset].
	Buf  []byte
	Size int
	// Src and Dst are the outer addresses. On Send the kernel uses Src as
	// the source; it must be an address of this host, or zero to let the
	// kernel choose.
	Src, Dst netip.Addr
	// TOS is the IPv4 TOS or IPv6 traffic class byte, ECN bits included.
	TOS uint8
	// TTL is the IPv4 TTL or IPv6 hop limit. On Send, 0 means the system
	// default.
	TTL uint8
	// DF, on Send, forbids fragmenting the packet: an IPv4 packet gets the
	// Don't Fragment bit, and a packet larger than the path MTU is refused
	// with EMSGSIZE. Without it the kernel fragments. Recv leaves it false.
	DF bool
	// Mark, on Send, is the firewall mark (SO_MARK) the kernel routes the
	// packet with, so that policy rules ("ip rule add fwmark M lookup T")
	// choose its routing table; 0 sends it unmarked. Recv leaves it 0.
	Mark uint32
}

// Conn is a raw socket for one outer family and IP protocol in the network
// namespace it was opened in. Send and Recv may run concurrently with each
// other; concurrent calls of one of them take turns.
type Conn interface {
	// Send sends pkts, each from Buf[offset:offset+Size], and returns how
	// many the kernel accepted. A packet the kernel refuses (EMSGSIZE for
	// DF, ENETUNREACH, a Src that is not local, ...) is dropped and the
	// rest are still sent; the error then names the first refusal and how
	// many were dropped, so the caller counts len(pkts)-n output errors
	// and goes on. Only an error that wraps net.ErrClosed is final.
	Send(pkts []Packet, offset int) (int, error)
	// Recv blocks until at least one packet arrives, then reads up to
	// min(len(pkts), BatchSize) of them into pkts[:n], filling Size, Src,
	// Dst, TOS and TTL. Datagrams too large for Buf are dropped and counted
	// by Truncated; to drop one without copying, Recv may swap Buf slices
	// between elements of pkts. After Close it returns an error wrapping
	// net.ErrClosed.
	Recv(pkts []Packet, offset int) (int, error)
	// BatchSize is the number of packets worth passing to Send and Recv.
	BatchSize() int
	// Truncated counts received datagrams dropped because Buf was too
	// short for them.
	Truncated() uint64
	// Close closes the sockets and unblocks a pending Recv.
	Close() error
}
