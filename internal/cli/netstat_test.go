package cli

import (
	"strings"
	"testing"

	"gif/internal/control"
	"gif/internal/tunnel"
)

func TestNetstatProtocols(t *testing.T) {
	st := control.Stats{
		IPIP: tunnel.IPIPStats{
			IPackets: 1, OPackets: 2, HDrops: 3, PDrops: 4, Spoof: 5, QFull: 6,
			IBytes: 1, OBytes: 8, Family: 1, Unspec: 10,
		},
		EtherIP: tunnel.EtherIPStats{
			HDrops: 11, QFull: 1, NoIfDrops: 13, PDrops: 14, ADrops: 15,
			IPackets: 16, OPackets: 1, IBytes: 18, OBytes: 19,
		},
	}
	ipencap := `ipencap:
	1 total input packet
	2 total output packets
	3 packets shorter than header shows
	4 packets dropped due to policy
	5 packets with possibly spoofed local addresses
	6 packets were dropped due to full output queue
	1 input byte
	8 output bytes
	1 protocol family mismatch
	10 attempts to use tunnel with unspecified endpoint(s)
`
	etherip := `etherip:
	11 packets shorter than header shows
	1 packet were dropped due to full output queue
	13 packets were dropped because of no interface/bridge information
	14 packets dropped due to policy
	15 packets dropped for other reasons
	16 input ethernet-in-IP packets
	1 output ethernet-in-IP packet
	18 input bytes
	19 output bytes
`
	const esp = `esp:
	0 input ESP packets
	0 output ESP packets
	0 packets shorter than header shows
	0 packets dropped due to policy
	0 packets for which no TDB was found
	0 packets that failed verification received
	0 packets with bad payload size or padding received
	0 possibly replayed packets received
	0 packets where counter wrapping was detected
	0 input bytes
	0 output bytes
`
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-s"}, ipencap + etherip + esp},
		{[]string{"-s", "-p", "esp"}, esp},
		{[]string{"-s", "-p", "ipip"}, ipencap},
		{[]string{"-p", "ipencap", "-s"}, ipencap},
		{[]string{"-s", "-p", "etherip"}, etherip},
	} {
		v, err := parseNetstat(c.args)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		var b strings.Builder
		v.print(&b, st)
		if got := b.String(); got != c.want {
			t.Errorf("netstat %v:\n%s\nwant:\n%s", c.args, got, c.want)
		}
	}

	// The plural ending of this line is "es"; 1 reads "mismatch", where
	// OpenBSD prints "mismatche".
	st.IPIP.Family = 2
	var b strings.Builder
	netstatView{proto: "ipip"}.print(&b, st)
	if want := "\t2 protocol family mismatches\n"; !strings.Contains(b.String(), want) {
		t.Errorf("got:\n%s\nwant a line %q", b.String(), want)
	}
}

func TestNetstatInterfaces(t *testing.T) {
	st := control.Stats{Interfaces: []control.InterfaceStatus{
		{Config: tunnel.Config{Name: "gif0", MTU: 1280}, Stats: tunnel.InterfaceStats{
			IPackets: 3, IBytes: 252, OPackets: 4, OBytes: 336, IErrors: 1,
			Drops: map[string]uint64{"loop": 2, "ecn": 1},
		}},
		{Config: tunnel.Config{Name: "gif12", MTU: 1500}, Bridge: "bridge0", Stats: tunnel.InterfaceStats{
			IPackets: 1915, IBytes: 131054, OPackets: 2914, OBytes: 4391292,
		}},
	}}
	v, err := parseNetstat([]string{"-i"})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	v.print(&b, st)
	want := `  Name  Mtu Ipkts Ibytes Ierrs Opkts  Obytes Oerrs Drops
  gif0 1280     3    252     1     4     336     0     3
 gif12 1500  1915 131054     0  2914 4391292     0     0
`
	if got := b.String(); got != want {
		t.Errorf("got:\n%q\nwant:\n%q", got, want)
	}
}

func TestParseNetstatErrors(t *testing.T) {
	for _, args := range [][]string{nil, {"-s", "-i"}, {"-i", "-x"}, {"-s", "-p", "tcp"}, {"-s", "-p"}} {
		if v, err := parseNetstat(args); err == nil {
			t.Errorf("netstat %v: no error, got %+v", args, v)
		}
	}
}

// TestNetstatKernelPlane: with the kernel plane running, netstat -s (and
// -p ipip) shows after ipencap how many packets it carried and passed to the
// userspace plane for each reason that counted any; -p etherip does not.
func TestNetstatKernelPlane(t *testing.T) {
	st := control.Stats{KernelCarried: 9, KernelPassed: []control.PassCount{
		{Reason: "unknown pair", Packets: 1},
		{Reason: "fragment", Packets: 0},
		{Reason: "bad checksum", Packets: 3},
		{Reason: "100% odd", Packets: 2},
	}}
	const kernelPlane = `kernel plane:
	9 packets carried in the kernel
	1 packet passed to the userspace plane: unknown pair
	3 packets passed to the userspace plane: bad checksum
	2 packets passed to the userspace plane: 100% odd
`
	for _, c := range []struct {
		args []string
		want string // what the output holds; "" for no kernel plane block
	}{
		{[]string{"-s"}, "\n" + kernelPlane + "etherip:\n"}, // after ipencap, before etherip
		{[]string{"-s", "-p", "ipip"}, "\n" + kernelPlane},
		{[]string{"-s", "-p", "etherip"}, ""},
		{[]string{"-s", "-p", "esp"}, ""},
	} {
		v, err := parseNetstat(c.args)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		var b strings.Builder
		v.print(&b, st)
		got := b.String()
		if c.want == "" && strings.Contains(got, "kernel plane:") || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("netstat %v:\n%s\nwant it to hold:\n%q", c.args, got, c.want)
		}
	}
}
