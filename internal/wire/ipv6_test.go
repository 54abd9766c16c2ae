package wire

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// testIPv6 carries 8 bytes of IPv4-in-IPv6 with traffic class 0xb9 (DSCP
// EF, ECT(1)), flow label 0x12345 and hop limit 64, from 2001:db8::1 to
// 2001:db8::2.
const testIPv6 = "6b912345 0008 04 40" +
	" 20010db8000000000000000000000001 20010db8000000000000000000000002" +
	" 7061796c6f616421"

func TestIPv6Accessors(t *testing.T) {
	ip, err := ParseIPv6(append(fromHex(t, testIPv6), 0xde, 0xad))
	if err != nil {
		t.Fatal(err)
	}
	checkField(t, "len", len(ip), 48)
	checkField(t, "TrafficClass", ip.TrafficClass(), uint8(0xb9))
	checkField(t, "FlowLabel", ip.FlowLabel(), uint32(0x12345))
	checkField(t, "PayloadLength", ip.PayloadLength(), uint16(8))
	checkField(t, "NextHeader", ip.NextHeader(), uint8(ProtoIPv4))
	checkField(t, "HopLimit", ip.HopLimit(), uint8(64))
	checkField(t, "Src", ip.Src(), netip.MustParseAddr("2001:db8::1"))
	checkField(t, "Dst", ip.Dst(), netip.MustParseAddr("2001:db8::2"))
	checkField(t, "Payload", string(ip.Payload()), "payload!")
}

func TestParseIPv6Errors(t *testing.T) {
	valid := fromHex(t, testIPv6)
	for _, tt := range []struct {
		name   string
		b      []byte
		err    error
		detail string
	}{
		{"empty", []byte{}, ErrTruncated, "no bytes"},
		{"IPv4", fromHex(t, testIPv4), ErrVersion, "version 4"},
		{"short header", valid[:39], ErrTruncated, "39 bytes"},
		{"payload cut", valid[:47], ErrTruncated, "payload length 8, 47 bytes"},
	} {
		_, err := ParseIPv6(tt.b)
		if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.detail) {
			t.Errorf("%s: ParseIPv6 error %v, want %v with %q", tt.name, err, tt.err, tt.detail)
		}
		if _, err := CheckIPv6(tt.b); err != tt.err {
			t.Errorf("%s: CheckIPv6 error %v, want bare %v", tt.name, err, tt.err)
		}
	}
	if ip, err := ParseIPv6(valid[:40]); err == nil {
		t.Errorf("ParseIPv6 accepted a header without its payload: %x", ip)
	}
}

func TestIPv6SetTrafficClass(t *testing.T) {
	for _, tc := range []uint8{0x00, 0xff, 0xbb, 0x01, 0x80} {
		ip, _ := ParseIPv6(fromHex(t, testIPv6))
		ip.SetTrafficClass(tc)
		if ip.TrafficClass() != tc || Version(ip) != 6 || ip.FlowLabel() != 0x12345 {
			t.Errorf("SetTrafficClass(%#x): traffic class %#x, version %d, flow label %#x",
				tc, ip.TrafficClass(), Version(ip), ip.FlowLabel())
		}
		if want := fromHex(t, testIPv6)[4:]; !bytes.Equal(ip[4:], want) {
			t.Errorf("SetTrafficClass(%#x) changed bytes beyond the first word", tc)
		}
	}
}

func TestIPv6EncodeRoundTrip(t *testing.T) {
	for _, f := range []IPv6Fields{
		{
			TrafficClass: 0xb9, FlowLabel: 0x12345, PayloadLength: 8, NextHeader: ProtoIPv4, HopLimit: 64,
			Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"),
		},
		{
			TrafficClass: 0xff, FlowLabel: 0xfffff, PayloadLength: 0, NextHeader: ProtoEtherIP, HopLimit: 1,
			Src: netip.MustParseAddr("fe80::1"), Dst: netip.MustParseAddr("::"),
		},
	} {
		b := make([]byte, IPv6HeaderLen+int(f.PayloadLength))
		IPv6(b).Encode(f)
		ip, err := ParseIPv6(b)
		if err != nil {
			t.Fatalf("ParseIPv6(Encode(%+v)): %v", f, err)
		}
		got := IPv6Fields{
			TrafficClass: ip.TrafficClass(), FlowLabel: ip.FlowLabel(), PayloadLength: ip.PayloadLength(),
			NextHeader: ip.NextHeader(), HopLimit: ip.HopLimit(), Src: ip.Src(), Dst: ip.Dst(),
		}
		if got != f {
			t.Errorf("Encode(%+v) reads back as %+v", f, got)
		}
	}
	b := make([]byte, IPv6HeaderLen)
	IPv6(b).Encode(IPv6Fields{
		TrafficClass: 0xb9, FlowLabel: 0x12345, PayloadLength: 8, NextHeader: ProtoIPv4, HopLimit: 64,
		Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"),
	})
	if want := fromHex(t, testIPv6)[:IPv6HeaderLen]; !bytes.Equal(b, want) {
		t.Errorf("Encode wrote % x, want % x", b, want)
	}
	// Bits of a flow label beyond 20 do not spill into the traffic class.
	IPv6(b).Encode(IPv6Fields{FlowLabel: 0xfff00001, Src: netip.IPv6Unspecified(), Dst: netip.IPv6Unspecified()})
	if ip := IPv6(b); ip.TrafficClass() != 0 || ip.FlowLabel() != 1 || Version(ip) != 6 {
		t.Errorf("an oversized flow label gave % x", b[:4])
	}
}

func TestIPv6Fragment(t *testing.T) {
	// Next header 4, offset 1448 (181 units), M set, ID 0xdeadbeef.
	f := IPv6Fragment(fromHex(t, "04 00 05a9 deadbeef"))
	if f.NextHeader() != ProtoIPv4 || f.FragmentOffset() != 1448 || !f.MF() || f.ID() != 0xdeadbeef {
		t.Errorf("fragment header: next %d, offset %d, MF %v, ID %#x",
			f.NextHeader(), f.FragmentOffset(), f.MF(), f.ID())
	}
	f = IPv6Fragment(fromHex(t, "29 00 0000 00000001"))
	if f.NextHeader() != ProtoIPv6 || f.FragmentOffset() != 0 || f.MF() || f.ID() != 1 {
		t.Errorf("first fragment header: next %d, offset %d, MF %v, ID %#x",
			f.NextHeader(), f.FragmentOffset(), f.MF(), f.ID())
	}
}
