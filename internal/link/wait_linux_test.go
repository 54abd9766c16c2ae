package link

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

// TestWaitReadable checks that WaitReadable blocks while the device has
// nothing to read, returns once it has, returns at once while packets are
// still queued (the poller reports only the edge), and ends with
// os.ErrClosed when the device closes.
func TestWaitReadable(t *testing.T) {
	inNewNetns(t)
	dev := newTUN(t, "giftest0", 1280)
	local, peer := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	mustNoErr(t, AddAddr(dev.Name(), Addr{netip.PrefixFrom(local, 32), peer}))
	mustNoErr(t, SetUp(dev.Name(), true))

	waited := make(chan error, 1)
	wait := func() { waited <- dev.WaitReadable() }
	go wait()
	select {
	case err := <-waited:
		t.Fatalf("WaitReadable returned %v with nothing to read", err)
	case <-time.After(100 * time.Millisecond):
	}

	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(peer, 9)))
	mustNoErr(t, err)
	defer conn.Close()
	for range 2 {
		_, err = conn.Write([]byte("to the peer"))
		mustNoErr(t, err)
	}
	for i := range 2 {
		select {
		case err := <-waited:
			mustNoErr(t, err)
		case <-time.After(3 * time.Second):
			t.Fatalf("WaitReadable did not return with datagram %d queued", i+1)
		}
		bufs, sizes := [][]byte{make([]byte, 16+1280)}, []int{0}
		if n, err := dev.Read(bufs, sizes, 16); n != 1 || err != nil {
			t.Fatalf("Read = %d, %v; want the datagram", n, err)
		}
		go wait()
	}

	mustNoErr(t, dev.Close())
	select {
	case err := <-waited:
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("WaitReadable after Close = %v, want os.ErrClosed", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("WaitReadable did not return after Close")
	}
}
