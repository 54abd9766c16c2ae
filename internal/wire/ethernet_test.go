package wire

import (
	"testing"
)

func TestEthernet(t *testing.T) {
	b := fromHex(t, "0200000000aa 0200000000bb 86dd 60")
	e := Ethernet(b)
	if got := e.Dst().String(); got != "02:00:00:00:00:aa" {
		t.Errorf("Dst = %s", got)
	}
	if got := e.Src().String(); got != "02:00:00:00:00:bb" {
		t.Errorf("Src = %s", got)
	}
	if e.EtherType() != EtherTypeIPv6 {
		t.Errorf("EtherType = %#04x", e.EtherType())
	}
	if p := e.Payload(); len(p) != 1 || p[0] != 0x60 {
		t.Errorf("Payload = % x", p)
	}
	// The addresses are views: appending to one must not overwrite the frame.
	_ = append(e.Dst(), 0xee)
	if b[6] != 0x02 {
		t.Error("appending to Dst overwrote Src")
	}
	e.Src()[5] = 0xcc
	if b[11] != 0xcc {
		t.Error("Src is a copy, not a view")
	}
}
