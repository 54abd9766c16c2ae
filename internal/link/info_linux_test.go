package link

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestInfo(t *testing.T) {
	inNewNetns(t)
	newBridge(t, "giftestbr0")
	newVeth(t, "giftestv0", "giftestv1", 1400)
	mustNoErr(t, SetMaster("giftestv0", "giftestbr0"))
	tap := newTAP(t, "giftest0", 1500)
	tun := newTUN(t, "giftest1", 1280)
	mustNoErr(t, SetUp("lo", true))

	for _, tt := range []struct {
		name                  string
		kind                  string
		mtu                   int
		up, ethernet, withMAC bool
		master                string
	}{
		{"lo", "", 65536, true, false, false, ""},
		{"giftestbr0", "bridge", 1400, false, true, true, ""},
		{"giftestv0", "veth", 1400, true, true, true, "giftestbr0"},
		{tap.Name(), "tun", 1500, false, true, true, ""},
		{tun.Name(), "tun", 1280, false, false, false, ""},
	} {
		info, err := Info(tt.name)
		if err != nil {
			t.Errorf("Info(%s): %v", tt.name, err)
			continue
		}
		index, err := Index(tt.name)
		mustNoErr(t, err)
		if info.Name != tt.name || info.Index != index || info.Kind != tt.kind || info.MTU != tt.mtu ||
			info.Up != tt.up || info.Ethernet != tt.ethernet || (len(info.MAC) == 6) != tt.withMAC || info.Master != tt.master {
			t.Errorf("Info(%s) = %+v, want index %d, kind %q, MTU %d, up %v, Ethernet %v, MAC %v, master %q",
				tt.name, info, index, tt.kind, tt.mtu, tt.up, tt.ethernet, tt.withMAC, tt.master)
		}
		if info.Running && !info.Up {
			t.Errorf("Info(%s) = %+v: running but down", tt.name, info)
		}
	}
	// The veth runs once both ends are up.
	if info, err := Info("giftestv0"); err != nil || !info.Running {
		t.Errorf("Info(giftestv0) = %+v, %v; want running", info, err)
	}
	_, err := Info("giftest9")
	if err == nil || !errors.Is(err, unix.ENODEV) || !strings.Contains(err.Error(), "describe giftest9") {
		t.Errorf("Info of a missing interface = %v, want ENODEV naming it", err)
	}
}
