package wire

import (
	"bytes"
	"errors"
	"testing"
)

func FuzzParseIPv4(f *testing.F) {
	for _, s := range []string{testIPv4, testIPv4Fragment, testIPv6, "", "45", "4f00003c"} {
		f.Add(fromHex(f, s))
	}
	f.Add(append(fromHex(f, testIPv4), 1, 2, 3))
	f.Fuzz(func(t *testing.T, b []byte) {
		ip, err := ParseIPv4(b)
		checked, bare := CheckIPv4(b)
		if !errors.Is(err, bare) || (err == nil) != (bare == nil) || !bytes.Equal(ip, checked) {
			t.Fatalf("ParseIPv4 gave %v, CheckIPv4 %v", err, bare)
		}
		if err != nil {
			return
		}
		hl := ip.HeaderLen()
		if len(ip) != int(ip.TotalLength()) || hl < IPv4MinHeaderLen || hl > len(ip) ||
			len(ip.Payload()) != len(ip)-hl || !bytes.Equal(ip, b[:len(ip)]) {
			t.Fatalf("accepted %x: len %d, header %d, payload %d", b, len(ip), hl, len(ip.Payload()))
		}

		fields := IPv4Fields{
			TOS: ip.TOS(), TotalLength: ip.TotalLength(), ID: ip.ID(), DF: ip.DF(),
			TTL: ip.TTL(), Protocol: ip.Protocol(), Src: ip.Src(), Dst: ip.Dst(),
		}
		enc := make([]byte, max(int(fields.TotalLength), IPv4MinHeaderLen))
		IPv4(enc).Encode(fields)
		if !IPv4(enc).ChecksumValid() {
			t.Fatalf("Encode(%+v) wrote a bad checksum", fields)
		}
		// A plain header (no options, not a fragment, reserved flag clear)
		// is exactly what Encode writes, checksum aside: a valid checksum
		// has two forms when the other words sum to 0xffff.
		if hl == IPv4MinHeaderLen && !ip.MF() && ip.FragmentOffset() == 0 && ip[ipv4FlagsFrag]&0x80 == 0 {
			got, want := bytes.Clone(enc[:hl]), bytes.Clone(ip[:hl])
			clear(got[ipv4Checksum : ipv4Checksum+2])
			clear(want[ipv4Checksum : ipv4Checksum+2])
			if !bytes.Equal(got, want) {
				t.Fatalf("Encode(%+v) = %x, parsed from %x", fields, enc[:hl], ip[:hl])
			}
		}

		valid := ip.ChecksumValid()
		ip.SetTOS(^ip.TOS())
		if ip.ChecksumValid() != valid {
			t.Fatalf("SetTOS changed checksum validity from %v of %x", valid, b)
		}
	})
}

func FuzzParseIPv6(f *testing.F) {
	for _, s := range []string{testIPv6, testIPv4, "", "60"} {
		f.Add(fromHex(f, s))
	}
	f.Add(fromHex(f, testIPv6)[:IPv6HeaderLen])
	f.Fuzz(func(t *testing.T, b []byte) {
		ip, err := ParseIPv6(b)
		checked, bare := CheckIPv6(b)
		if !errors.Is(err, bare) || (err == nil) != (bare == nil) || !bytes.Equal(ip, checked) {
			t.Fatalf("ParseIPv6 gave %v, CheckIPv6 %v", err, bare)
		}
		if err != nil {
			return
		}
		if len(ip) != IPv6HeaderLen+int(ip.PayloadLength()) || len(ip.Payload()) != int(ip.PayloadLength()) {
			t.Fatalf("accepted %x: len %d, payload length %d", b, len(ip), ip.PayloadLength())
		}
		enc := make([]byte, IPv6HeaderLen)
		IPv6(enc).Encode(IPv6Fields{
			TrafficClass: ip.TrafficClass(), FlowLabel: ip.FlowLabel(), PayloadLength: ip.PayloadLength(),
			NextHeader: ip.NextHeader(), HopLimit: ip.HopLimit(), Src: ip.Src(), Dst: ip.Dst(),
		})
		if !bytes.Equal(enc, ip[:IPv6HeaderLen]) {
			t.Fatalf("re-encoded %x as %x", ip[:IPv6HeaderLen], enc)
		}
		tc := ^ip.TrafficClass()
		ip.SetTrafficClass(tc)
		if ip.TrafficClass() != tc || Version(ip) != 6 || ip.FlowLabel() != IPv6(enc).FlowLabel() {
			t.Fatalf("SetTrafficClass(%#x) gave %x", tc, ip[:4])
		}
	})
}

func FuzzParseEtherIP(f *testing.F) {
	for _, b := range [][]byte{nil, {0x30}, {0x30, 0x00}, {0x03, 0x00, 0xff}, {0x30, 0x01}, {0x43, 0xd2}} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEtherIP(b)
		checked, bare := CheckEtherIP(b)
		if !errors.Is(err, bare) || (err == nil) != (bare == nil) || !bytes.Equal(e, checked) {
			t.Fatalf("ParseEtherIP gave %v, CheckEtherIP %v", err, bare)
		}
		want := len(b) >= 2 && b[1] == 0 && (b[0] == 0x30 || b[0] == 0x03)
		if (err == nil) != want {
			t.Fatalf("ParseEtherIP(%x) error %v", b, err)
		}
		if err != nil {
			if len(b) < 2 && !errors.Is(err, ErrTruncated) || len(b) >= 2 && !errors.Is(err, ErrVersion) {
				t.Fatalf("ParseEtherIP(%x) error %v", b, err)
			}
			return
		}
		if e.Legacy() != (b[0] == 0x03) {
			t.Fatalf("Legacy() = %v for %x", e.Legacy(), b[:2])
		}
		re := bytes.Clone(b)
		PutEtherIPHeader(re)
		e2, err := ParseEtherIP(re)
		if err != nil || e2.Legacy() || !bytes.Equal(e2.Payload(), e.Payload()) {
			t.Fatalf("re-encoded %x as %x: %v", b, re, err)
		}
	})
}
