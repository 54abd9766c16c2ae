package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The testdata files are the output of iperf3 3.12, iputils ping and
// Linux 6.18 across a veth pair.
func TestParseIperfTCP(t *testing.T) {
	r, err := parseIperf([]byte(readTestdata(t, "iperf-tcp.json")))
	if err != nil {
		t.Fatal(err)
	}
	want := iperfResult{Seconds: 1.04325, Bytes: 927596544, BitsPerSecond: 7113129501.07836}
	if r != want {
		t.Fatalf("got %+v, want %+v", r, want)
	}
}

func TestParseIperfUDP(t *testing.T) {
	r, err := parseIperf([]byte(readTestdata(t, "iperf-udp.json")))
	if err != nil {
		t.Fatal(err)
	}
	// 186120 sent, 77579 lost: 108541 arrived, 6946624 bytes of 64.
	if r.Datagrams != 108541 || r.Bytes != 108541*64 || r.Seconds != 1.000547 {
		t.Fatalf("got %+v, want 108541 datagrams of 64 bytes in 1.000547 s", r)
	}
}

func TestParseIperfErrors(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"iperf3 error", readTestdata(t, "iperf-error.json"), "iperf3: unable to connect to server: Connection timed out"},
		{"no receiver sum", `{"end": {"sum_sent": {"seconds": 1, "bytes": 5}}}`, "no end.sum_received"},
		{"zero seconds", `{"end": {"sum_received": {"seconds": 0, "bytes": 5}}}`, "seconds is 0"},
		{"not JSON", "iperf3: error - unable to connect", "decode iperf3 JSON"},
	} {
		_, err := parseIperf([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestParsePingTimes(t *testing.T) {
	out := readTestdata(t, "ping.txt") + "64 bytes from 192.0.2.2: icmp_seq=5 ttl=64 time=0.300 ms (DUP!)\n"
	got, err := parsePingTimes(out)
	if err != nil {
		t.Fatal(err)
	}
	us := time.Microsecond
	want := []time.Duration{48 * us, 69 * us, 101 * us, 46 * us, 84 * us}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if got, _ := parsePingTimes("From 192.0.2.1 icmp_seq=1 Destination Host Unreachable\n"); len(got) != 0 {
		t.Fatalf("an error line read as a reply: %v", got)
	}
}

func TestParseCPUTimes(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	stat := "cpu  100 2 30 5000 7 1 9 4 50 0\ncpu0 50 1 15 2500 3 0 4 2 25 0\nintr 1\n"
	got, err := parseCPUTimes(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := (cpuTimes{Busy: 100 + 2 + 30 + 1 + 9 + 4, Total: 146 + 5000 + 7}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for _, bad := range []string{"cpu0 1 2 3 4 5 6 7 8\n", "cpu  1 2 3\n", "cpu  1 2 x 4 5 6 7 8\n"} {
		if _, err := parseCPUTimes(bad); err == nil {
			t.Errorf("parseCPUTimes(%q) succeeded", bad)
		}
	}
}

func TestParseStatusBytes(t *testing.T) {
	status := "Name:\tgif\nVmPeak:\t 1300000 kB\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t9\n"
	for field, want := range map[string]uint64{"VmHWM": 20480 * 1024, "VmRSS": 10240 * 1024} {
		got, err := parseStatusBytes(status, field)
		if err != nil || got != want {
			t.Errorf("%s = %d, %v; want %d", field, got, err, want)
		}
	}
	if _, err := parseStatusBytes(status, "VmSwap"); err == nil {
		t.Error("a missing field parsed")
	}
	if _, err := parseStatusBytes(status, "Threads"); err == nil {
		t.Error("a field not in kB parsed")
	}
}

func TestParseReassemblies(t *testing.T) {
	got, err := parseReassemblies(readTestdata(t, "snmp.txt"), readTestdata(t, "snmp6.txt"))
	if err != nil || got != 0 {
		t.Fatalf("real counters: %d, %v; want 0", got, err)
	}
	snmp := "Ip: Forwarding DefaultTTL ReasmTimeout ReasmReqds ReasmOKs\nIp: 2 64 1 17 8\n" +
		"Icmp: InMsgs ReasmReqds\nIcmp: 5 1000\n"
	snmp6 := "Ip6InReceives                   \t99\nIp6ReasmReqds                   \t4\n"
	if got, err := parseReassemblies(snmp, snmp6); err != nil || got != 21 {
		t.Fatalf("got %d, %v; want 17 + 4", got, err)
	}
	if _, err := parseReassemblies("Ip: Forwarding\nIp: 2\n", snmp6); err == nil {
		t.Fatal("no ReasmReqds parsed")
	}
	if _, err := parseReassemblies(snmp, "Ip6InReceives 1\n"); err == nil {
		t.Fatal("no Ip6ReasmReqds parsed")
	}
}

func TestParseRouteDev(t *testing.T) {
	dev, err := parseRouteDev("198.51.100.2 dev gif0 src 198.51.100.1 uid 0 \n    cache \n")
	if err != nil || dev != "gif0" {
		t.Fatalf("got %q, %v; want gif0", dev, err)
	}
	if _, err := parseRouteDev("RTNETLINK answers: Network is unreachable"); err == nil {
		t.Fatal("a route without a device parsed")
	}
}
