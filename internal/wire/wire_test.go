package wire

import (
	"encoding/hex"
	"strings"
	"testing"
)

// fromHex decodes hex written with spaces for readability.
func fromHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// checkField reports an accessor that returned got instead of want.
func checkField(t *testing.T, name string, got, want any) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", name, got, want)
	}
}

func TestVersion(t *testing.T) {
	for _, tt := range []struct {
		b    []byte
		want int
	}{
		{nil, 0},
		{[]byte{}, 0},
		{[]byte{0x45}, 4},
		{[]byte{0x60, 0}, 6},
		{[]byte{0x30, 0x00}, 3},
		{[]byte{0xff}, 15},
	} {
		if got := Version(tt.b); got != tt.want {
			t.Errorf("Version(% x) = %d, want %d", tt.b, got, tt.want)
		}
	}
}

func TestECN(t *testing.T) {
	for _, tt := range []struct {
		tos  uint8
		ecn  ECN
		name string
	}{
		{0x00, NotECT, "Not-ECT"},
		{0xb9, ECT1, "ECT(1)"},
		{0xba, ECT0, "ECT(0)"},
		{0xbb, CE, "CE"},
		{0xfc, NotECT, "Not-ECT"},
	} {
		if got := ECNOf(tt.tos); got != tt.ecn {
			t.Errorf("ECNOf(%#x) = %v, want %v", tt.tos, got, tt.ecn)
		}
		if got := tt.ecn.String(); got != tt.name {
			t.Errorf("%#x String() = %q, want %q", uint8(tt.ecn), got, tt.name)
		}
	}
	if got := ECN(7).String(); got != "ECN(7)" {
		t.Errorf("ECN(7).String() = %q", got)
	}
	for _, tt := range []struct {
		tos  uint8
		e    ECN
		want uint8
	}{
		{0xb8, CE, 0xbb},
		{0xbb, NotECT, 0xb8},
		{0xbb, ECT0, 0xba},
		{0x03, ECT1, 0x01},
		{0xfd, ECN(0xfe), 0xfe}, // only the two low bits of e count
	} {
		if got := WithECN(tt.tos, tt.e); got != tt.want {
			t.Errorf("WithECN(%#x, %v) = %#x, want %#x", tt.tos, tt.e, got, tt.want)
		}
	}
}

func TestDoesNotAllocate(t *testing.T) {
	ip4 := IPv4(fromHex(t, testIPv4))
	ip6 := IPv6(fromHex(t, testIPv6))
	eth := []byte{0x30, 0x00, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0x08, 0x00}
	n := testing.AllocsPerRun(100, func() {
		_, _ = CheckIPv4(ip4)
		_, _ = CheckIPv4(ip4[:3])
		ip4.SetTOS(ip4.TOS() ^ 1)
		_ = ip4.Src().Is4() && ip4.Dst().Is4() && ip4.ChecksumValid()
		_ = ip4.Payload()
		_, _ = CheckIPv6(ip6)
		_, _ = CheckIPv6(ip6[:3])
		ip6.SetTrafficClass(ip6.TrafficClass() ^ 1)
		_ = ip6.Src().Is6() && ip6.Dst().Is6()
		_ = ip6.Payload()
		e, _ := CheckEtherIP(eth)
		_, _ = CheckEtherIP(eth[:1])
		_ = Ethernet(e.Payload()).Src()
		_ = Checksum(ip6, 0)
	})
	if n != 0 {
		t.Errorf("%v allocations per run", n)
	}
}
