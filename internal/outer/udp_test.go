package outer

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestUDPConnAddresses: a UDPConn tells the local address a datagram came
// to, and answers from the address it is told, not the one the route
// would choose (127.0.0.1 toward 127.0.0.1). Loopback only.
func TestUDPConnAddresses(t *testing.T) {
	for _, tt := range []struct {
		family     int
		to, client string
	}{
		{4, "127.0.0.2", "127.0.0.1"},
		{6, "::1", "::1"},
	} {
		server, err := ListenUDP(tt.family, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer server.Close()
		port := server.LocalAddr().(*net.UDPAddr).AddrPort().Port()
		to := netip.AddrPortFrom(netip.MustParseAddr(tt.to), port)
		client, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(tt.client), 0)))
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		deadline := time.Now().Add(5 * time.Second)
		server.SetDeadline(deadline)
		client.SetDeadline(deadline)

		if _, err := client.WriteToUDPAddrPort([]byte("request"), to); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, from, at, err := server.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		if string(buf[:n]) != "request" || from != client.LocalAddr().(*net.UDPAddr).AddrPort() || at != to.Addr() {
			t.Errorf("family %d: read %q from %v to %v; want \"request\" from %v to %v", tt.family, buf[:n], from, at, client.LocalAddr(), to.Addr())
		}
		if err := server.WriteTo([]byte("answer"), at, from); err != nil {
			t.Fatal(err)
		}
		n, src, err := client.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		if string(buf[:n]) != "answer" || src.Addr().Unmap() != to.Addr() || src.Port() != port {
			t.Errorf("family %d: the answer %q came from %v; want from %v", tt.family, buf[:n], src, to)
		}
	}
}
