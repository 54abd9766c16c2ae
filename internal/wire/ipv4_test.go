package wire

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// testIPv4 is a UDP packet with DSCP EF and ECT(1), DF, TTL 63, from
// 192.0.2.1 to 198.51.100.2; its checksum was computed by hand.
const testIPv4 = "45b9 001c 1234 4000 3f11 3cad c0000201 c6336402" + " 7061796c6f616421"

// testIPv4Fragment has IHL 6 (one option word), MF and offset 1480,
// TTL 1, protocol 4, from 203.0.113.9 to 192.0.2.200.
const testIPv4Fragment = "4600 001c beef 20b9 0104 d862 cb007109 c00002c8 01010100" + " 00000000"

func TestIPv4Accessors(t *testing.T) {
	trailer := []byte{0xde, 0xad}
	ip, err := ParseIPv4(append(fromHex(t, testIPv4), trailer...))
	if err != nil {
		t.Fatal(err)
	}
	checkField(t, "len", len(ip), 28)
	checkField(t, "HeaderLen", ip.HeaderLen(), 20)
	checkField(t, "TOS", ip.TOS(), uint8(0xb9))
	checkField(t, "ECN", ECNOf(ip.TOS()), ECT1)
	checkField(t, "TotalLength", ip.TotalLength(), uint16(28))
	checkField(t, "ID", ip.ID(), uint16(0x1234))
	checkField(t, "DF", ip.DF(), true)
	checkField(t, "MF", ip.MF(), false)
	checkField(t, "FragmentOffset", ip.FragmentOffset(), uint16(0))
	checkField(t, "TTL", ip.TTL(), uint8(63))
	checkField(t, "Protocol", ip.Protocol(), uint8(17))
	checkField(t, "Checksum", ip.Checksum(), uint16(0x3cad))
	checkField(t, "ChecksumValid", ip.ChecksumValid(), true)
	checkField(t, "Src", ip.Src(), netip.MustParseAddr("192.0.2.1"))
	checkField(t, "Dst", ip.Dst(), netip.MustParseAddr("198.51.100.2"))
	checkField(t, "Payload", string(ip.Payload()), "payload!")

	frag, err := ParseIPv4(fromHex(t, testIPv4Fragment))
	if err != nil {
		t.Fatal(err)
	}
	checkField(t, "fragment HeaderLen", frag.HeaderLen(), 24)
	checkField(t, "fragment DF", frag.DF(), false)
	checkField(t, "fragment MF", frag.MF(), true)
	checkField(t, "fragment FragmentOffset", frag.FragmentOffset(), uint16(1480))
	checkField(t, "fragment TTL", frag.TTL(), uint8(1))
	checkField(t, "fragment Protocol", frag.Protocol(), uint8(ProtoIPv4))
	checkField(t, "fragment ChecksumValid", frag.ChecksumValid(), true)
	checkField(t, "fragment Src", frag.Src(), netip.MustParseAddr("203.0.113.9"))
	checkField(t, "fragment Payload", len(frag.Payload()), 4)
}

func TestParseIPv4Errors(t *testing.T) {
	valid := fromHex(t, testIPv4)
	with := func(i int, v byte) []byte {
		b := bytes.Clone(valid)
		b[i] = v
		return b
	}
	for _, tt := range []struct {
		name   string
		b      []byte
		err    error
		detail string
	}{
		{"empty", nil, ErrTruncated, "no bytes"},
		{"IPv6", fromHex(t, "6000000000000000"), ErrVersion, "version 6"},
		{"version 0", with(0, 0x05), ErrVersion, "version 0"},
		{"short header", valid[:19], ErrTruncated, "19 bytes"},
		{"IHL 4", with(0, 0x44), ErrHeaderLength, "IHL 4"},
		{"IHL 0", with(0, 0x40), ErrHeaderLength, "IHL 0"},
		{"options cut", with(0, 0x48)[:28], ErrTruncated, "IHL 8"},
		{"total length below header", with(3, 19), ErrTotalLength, "total length 19"},
		{"total length beyond bytes", with(3, 29), ErrTruncated, "total length 29, 28 bytes"},
	} {
		_, err := ParseIPv4(tt.b)
		if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.detail) {
			t.Errorf("%s: ParseIPv4 error %v, want %v with %q", tt.name, err, tt.err, tt.detail)
		}
		if _, err := CheckIPv4(tt.b); err != tt.err {
			t.Errorf("%s: CheckIPv4 error %v, want bare %v", tt.name, err, tt.err)
		}
	}
}

func TestIPv4Edges(t *testing.T) {
	// A header of exactly 20 bytes with nothing after it is a packet.
	valid := fromHex(t, testIPv4)
	b := bytes.Clone(valid[:20])
	b[3] = 20
	ip, err := ParseIPv4(b)
	if err != nil || len(ip.Payload()) != 0 {
		t.Errorf("ParseIPv4(bare header) = %v, %v", ip, err)
	}
	// The largest header: IHL 15.
	b = make([]byte, 60)
	copy(b, valid[:20])
	b[0], b[3] = 0x4f, 60
	if ip, err := ParseIPv4(b); err != nil || ip.HeaderLen() != 60 {
		t.Errorf("ParseIPv4(IHL 15) = %v, %v", ip, err)
	}
}

func TestIPv4SetTOS(t *testing.T) {
	for _, tos := range []uint8{0x00, 0xb8, 0xbb, 0xff, 0x01} {
		ip, _ := ParseIPv4(fromHex(t, testIPv4))
		before := bytes.Clone(ip)
		ip.SetTOS(tos)
		if ip.TOS() != tos || !ip.ChecksumValid() {
			t.Errorf("SetTOS(%#x): TOS %#x, checksum valid %v", tos, ip.TOS(), ip.ChecksumValid())
		}
		for i := range ip {
			if i != ipv4TOS && i != ipv4Checksum && i != ipv4Checksum+1 && ip[i] != before[i] {
				t.Errorf("SetTOS(%#x) changed byte %d", tos, i)
			}
		}
	}
	// A corrupt header stays corrupt.
	ip, _ := ParseIPv4(fromHex(t, testIPv4))
	ip[ipv4TTL]--
	ip.SetTOS(0x03)
	if ip.ChecksumValid() {
		t.Error("SetTOS repaired a corrupt checksum")
	}
}

func TestIPv4EncodeRoundTrip(t *testing.T) {
	for _, f := range []IPv4Fields{
		{
			TOS: 0xb9, TotalLength: 28, ID: 0x1234, DF: true, TTL: 63, Protocol: 17,
			Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("198.51.100.2"),
		},
		{
			TOS: 0, TotalLength: 20, ID: 0, DF: false, TTL: 255, Protocol: ProtoIPv6,
			Src: netip.MustParseAddr("203.0.113.255"), Dst: netip.MustParseAddr("0.0.0.0"),
		},
	} {
		b := make([]byte, f.TotalLength)
		IPv4(b).Encode(f)
		ip, err := ParseIPv4(b)
		if err != nil {
			t.Fatalf("ParseIPv4(Encode(%+v)): %v", f, err)
		}
		got := IPv4Fields{
			TOS: ip.TOS(), TotalLength: ip.TotalLength(), ID: ip.ID(), DF: ip.DF(), TTL: ip.TTL(),
			Protocol: ip.Protocol(), Src: ip.Src(), Dst: ip.Dst(),
		}
		if got != f || !ip.ChecksumValid() || ip.MF() || ip.FragmentOffset() != 0 || ip.HeaderLen() != 20 {
			t.Errorf("Encode(%+v) reads back as %+v (checksum valid %v)", f, got, ip.ChecksumValid())
		}
	}
	// Encode writes the header the hand-made test packet has.
	b := make([]byte, 20)
	IPv4(b).Encode(IPv4Fields{
		TOS: 0xb9, TotalLength: 28, ID: 0x1234, DF: true, TTL: 63, Protocol: 17,
		Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("198.51.100.2"),
	})
	if want := fromHex(t, testIPv4)[:20]; !bytes.Equal(b, want) {
		t.Errorf("Encode wrote % x, want % x", b, want)
	}
}
