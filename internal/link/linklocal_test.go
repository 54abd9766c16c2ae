package link

import (
	"net"
	"net/netip"
	"testing"
)

func TestLinkLocalFrom(t *testing.T) {
	mac := func(s string) net.HardwareAddr {
		m, err := net.ParseMAC(s)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, tt := range []struct {
		name     string
		macs     []net.HardwareAddr
		hostname string
		want     string
	}{
		{"universal MAC", []net.HardwareAddr{mac("00:11:22:33:44:55")}, "", "fe80::211:22ff:fe33:4455"},
		{"local MAC", []net.HardwareAddr{mac("02:00:5e:10:00:01")}, "", "fe80::5eff:fe10:1"},
		{"first usable wins", []net.HardwareAddr{mac("00:00:5e:00:53:01"), mac("00:00:5e:00:53:02")}, "", "fe80::200:5eff:fe00:5301"},
		{"skips multicast", []net.HardwareAddr{mac("01:00:5e:00:00:01"), mac("00:00:5e:00:53:02")}, "", "fe80::200:5eff:fe00:5302"},
		{"skips all-zero and all-one", []net.HardwareAddr{mac("00:00:00:00:00:00"), mac("ff:ff:ff:ff:ff:ff"), mac("00:00:5e:00:53:03")}, "", "fe80::200:5eff:fe00:5303"},
		{"skips other lengths", []net.HardwareAddr{nil, {1, 2, 3, 4}}, "gw.example.org", "fe80::fc9c:f292:f00d:9d0a"},
		{"EUI-64", []net.HardwareAddr{mac("00:00:5e:ef:10:00:00:01")}, "", "fe80::200:5eef:1000:1"},
		{"skips the subnet-router anycast ID", []net.HardwareAddr{mac("02:00:00:00:00:00:00:00")}, "router", "fe80::f039:5cd5:4cf8:57dd"},
		// MD5("gw.example.org") = fe9cf292f00d9d0a…: g and u bits cleared.
		{"host name", nil, "gw.example.org", "fe80::fc9c:f292:f00d:9d0a"},
		// MD5("router") = f3395cd54cf857dd…
		{"host name, both bits set", nil, "router", "fe80::f039:5cd5:4cf8:57dd"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := LinkLocalFrom(tt.macs, tt.hostname)
			if want := netip.MustParseAddr(tt.want); got != want {
				t.Errorf("LinkLocalFrom(%v, %q) = %v, want %v", tt.macs, tt.hostname, got, want)
			}
		})
	}
}
