package wiretest

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"gif/internal/wire"
)

// TestPackets checks that what the builders make parses back, with the
// fields they were given.
func TestPackets(t *testing.T) {
	payload := []byte("payload")
	v4, err := wire.CheckIPv4(IPv4("192.0.2.1", "192.0.2.2", 0xb8, 7, 253, payload))
	if err != nil {
		t.Fatal(err)
	}
	if v4.Src() != netip.MustParseAddr("192.0.2.1") || v4.Dst() != netip.MustParseAddr("192.0.2.2") ||
		v4.TOS() != 0xb8 || v4.TTL() != 7 || v4.Protocol() != 253 || !bytes.Equal(v4.Payload(), payload) {
		t.Errorf("IPv4 packet %x", []byte(v4))
	}
	v6, err := wire.CheckIPv6(IPv6("2001:db8::1", "2001:db8::2", 0x28, 9, 41, payload))
	if err != nil {
		t.Fatal(err)
	}
	if v6.Src() != netip.MustParseAddr("2001:db8::1") || v6.Dst() != netip.MustParseAddr("2001:db8::2") ||
		v6.TrafficClass() != 0x28 || v6.HopLimit() != 9 || v6.NextHeader() != 41 || !bytes.Equal(v6.Payload(), payload) {
		t.Errorf("IPv6 packet %x", []byte(v6))
	}
	dst := net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0xb2}
	src := net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0xa1}
	frame := Ethernet(dst, src, wire.EtherTypeIPv4, payload)
	if want := append([]byte{0, 0, 0x5e, 0, 0x53, 0xb2, 0, 0, 0x5e, 0, 0x53, 0xa1, 0x08, 0x00}, payload...); !bytes.Equal(frame, want) {
		t.Errorf("frame %x; want %x", frame, want)
	}
	if got := EtherIP(0x30, 0, frame); !bytes.Equal(got[:2], []byte{0x30, 0}) || !bytes.Equal(got[2:], frame) {
		t.Errorf("EtherIP payload %x", got)
	}
}
