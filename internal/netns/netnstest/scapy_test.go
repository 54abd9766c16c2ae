package netnstest_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"gif/internal/netns/netnstest"
)

// TestScapyUDP sends a datagram with scapy from a to a socket that Do opened
// in b and that the test reads after Do has returned.
func TestScapyUDP(t *testing.T) {
	t.Parallel()
	_, a, b := netnstest.NewPair(t)
	var conn net.PacketConn
	err := b.Do(func() (err error) {
		conn, err = net.ListenPacket("udp4", "192.0.2.2:0")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	port := conn.LocalAddr().(*net.UDPAddr).Port

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	out, err := netnstest.Scapy(ctx, a, `
		send(IP(dst="192.0.2.2")/UDP(sport=4242, dport=`+strconv.Itoa(port)+`)/Raw(b"hello gif"))
		print("sent")
	`)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != "sent" {
		t.Errorf("scapy printed %q", out)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 100)
	n, from, err := conn.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); got != "hello gif" || from.String() != "192.0.2.1:4242" {
		t.Errorf("received %q from %s", got, from)
	}
}

func TestScapyError(t *testing.T) {
	t.Parallel()
	_, a, _ := netnstest.NewPair(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := netnstest.Scapy(ctx, a, "raise SystemExit('gif test failure')")
	if err == nil || !strings.Contains(err.Error(), "gif test failure") {
		t.Errorf("got %v", err)
	}
}
