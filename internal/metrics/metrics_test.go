package metrics

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"gif/internal/buildinfo"
	"gif/internal/control"
	"gif/internal/ike"
	"gif/internal/ipsec"
	"gif/internal/tunnel"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// snapshot is a daemon with two gifs, one on the kernel plane, some
// traffic, an established ISAKMP SA, a Quick Mode on the way and a pair of
// ESP SAs.
func snapshot() Snapshot {
	var ikeStats ike.Stats
	ikeStats.In, ikeStats.Out, ikeStats.Retransmits = 9, 11, 2
	ikeStats.Started = [ike.NumPhases]uint64{ike.PhaseMain: 3, ike.PhaseQuick: 2}
	ikeStats.Failures[ike.PhaseMain][ike.FailUnreachable] = 1
	ikeStats.Failures[ike.PhaseQuick][ike.FailNoProposal] = 1
	ikeStats.Established1, ikeStats.Established2 = 1, 1
	return Snapshot{
		Stats: control.Stats{
			Interfaces: []control.InterfaceStatus{
				{Config: tunnel.Config{Name: "gif0"}, Running: true, Plane: control.PlaneKernel,
					Stats: tunnel.InterfaceStats{IPackets: 5, IBytes: 420, OPackets: 6, OBytes: 504, OErrors: 1, Drops: map[string]uint64{"loop": 2}}},
				{Config: tunnel.Config{Name: "gif1"}, Plane: control.PlaneUserspace},
			},
			IPIP:          tunnel.IPIPStats{IPackets: 7, IBytes: 700, PDrops: 3, Spoof: 1},
			EtherIP:       tunnel.EtherIPStats{OPackets: 4, NoIfDrops: 2},
			ESP:           ipsec.Stats{Input: 8, Replay: 1},
			KernelPassed:  []control.PassCount{{Reason: "unknown pair", Packets: 3}},
			KernelCarried: 12,
		},
		IKE: ike.Status{
			ISAKMP:   []ike.ISAKMPStatus{{State: ike.StateEstablished}, {State: "Main Mode, sent 2 times"}},
			Quick:    []ike.QuickStatus{{State: "Quick Mode, sent 1 times"}},
			Children: []ike.ChildStatus{{Renew: 100}},
		},
		IKECounters: ikeStats,
	}
}

var build = buildinfo.Info{Version: "v1.2.3", Revision: "abc", GoVersion: "go1.26.8"}

func TestCollector(t *testing.T) {
	c := NewCollector(snapshot, build)
	want := `
# HELP gif_interface_receive_packets_total Packets the gif received: the inner packets written to its device.
# TYPE gif_interface_receive_packets_total counter
gif_interface_receive_packets_total{interface="gif0"} 5
gif_interface_receive_packets_total{interface="gif1"} 0
# HELP gif_interface_transmit_bytes_total Bytes of the inner packets the gif sent.
# TYPE gif_interface_transmit_bytes_total counter
gif_interface_transmit_bytes_total{interface="gif0"} 504
gif_interface_transmit_bytes_total{interface="gif1"} 0
# HELP gif_interface_transmit_errors_total Output errors of the gif: packets it could not send.
# TYPE gif_interface_transmit_errors_total counter
gif_interface_transmit_errors_total{interface="gif0"} 1
gif_interface_transmit_errors_total{interface="gif1"} 0
# HELP gif_interface_kernel_plane 1 while the kernel data plane carries the gif, 0 while the userspace plane does.
# TYPE gif_interface_kernel_plane gauge
gif_interface_kernel_plane{interface="gif0"} 1
gif_interface_kernel_plane{interface="gif1"} 0
# HELP gif_ipip_receive_bytes_total Bytes of IP-in-IP packets received (ipipstat ibytes).
# TYPE gif_ipip_receive_bytes_total counter
gif_ipip_receive_bytes_total 700
# HELP gif_ipip_policy_drops_total Packets no gif claims, dropped by net.inet.ipip.allow (ipipstat pdrops).
# TYPE gif_ipip_policy_drops_total counter
gif_ipip_policy_drops_total 3
# HELP gif_etherip_no_interface_drops_total Packets dropped for want of an up bridged gif with their address pair (etheripstat noifdrops).
# TYPE gif_etherip_no_interface_drops_total counter
gif_etherip_no_interface_drops_total 2
# HELP gif_esp_replay_drops_total Packets dropped as possibly replayed (espstat replay).
# TYPE gif_esp_replay_drops_total counter
gif_esp_replay_drops_total 1
# HELP gif_kernel_plane_passed_packets_total Packets the kernel plane's programs handed to the userspace plane, by reason.
# TYPE gif_kernel_plane_passed_packets_total counter
gif_kernel_plane_passed_packets_total{reason="unknown_pair"} 3
# HELP gif_kernel_plane_carried_packets_total Packets the kernel plane's programs carried themselves.
# TYPE gif_kernel_plane_carried_packets_total counter
gif_kernel_plane_carried_packets_total 12
# HELP gif_ike_isakmp_sas ISAKMP SAs by state: negotiating (Main Mode on the way) or established.
# TYPE gif_ike_isakmp_sas gauge
gif_ike_isakmp_sas{state="established"} 1
gif_ike_isakmp_sas{state="negotiating"} 1
# HELP gif_ike_esp_sa_pairs Pairs of ESP SAs of ike rules by state: negotiating (Quick Mode on the way), established, or renewing (due for renewal, or renewed and waiting to expire).
# TYPE gif_ike_esp_sa_pairs gauge
gif_ike_esp_sa_pairs{state="established"} 1
gif_ike_esp_sa_pairs{state="negotiating"} 1
gif_ike_esp_sa_pairs{state="renewing"} 0
# HELP gif_ike_negotiations_total IKE exchanges begun, as initiator or responder, by phase: main (Main Mode, an ISAKMP SA) or quick (Quick Mode, a pair of ESP SAs).
# TYPE gif_ike_negotiations_total counter
gif_ike_negotiations_total{phase="main"} 3
gif_ike_negotiations_total{phase="quick"} 2
# HELP gif_ike_retransmissions_total IKE messages sent again for want of an answer.
# TYPE gif_ike_retransmissions_total counter
gif_ike_retransmissions_total 2
# HELP gif_build_info Always 1; its labels say which gif runs: the module version, the VCS revision and the Go release.
# TYPE gif_build_info gauge
gif_build_info{goversion="go1.26.8",revision="abc",version="v1.2.3"} 1
`
	names := []string{"gif_interface_receive_packets_total", "gif_interface_transmit_bytes_total", "gif_interface_transmit_errors_total",
		"gif_interface_kernel_plane", "gif_ipip_receive_bytes_total", "gif_ipip_policy_drops_total", "gif_etherip_no_interface_drops_total",
		"gif_esp_replay_drops_total", "gif_kernel_plane_passed_packets_total", "gif_kernel_plane_carried_packets_total",
		"gif_ike_isakmp_sas", "gif_ike_esp_sa_pairs", "gif_ike_negotiations_total", "gif_ike_retransmissions_total", "gif_build_info"}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

// TestDropsAndFailuresByReason: every reason has its series, those that
// counted nothing too, so that a rate starts from 0.
func TestDropsAndFailuresByReason(t *testing.T) {
	c := NewCollector(snapshot, build)
	if n, want := testutil.CollectAndCount(c, "gif_interface_drops_total"), 2*len(tunnel.DropReasons()); n != want {
		t.Errorf("gif_interface_drops_total: %d series, want %d (2 gifs, %d reasons)", n, want, len(tunnel.DropReasons()))
	}
	if n, want := testutil.CollectAndCount(c, "gif_ike_negotiation_failures_total"), ike.NumPhases*ike.NumFailReasons; n != want {
		t.Errorf("gif_ike_negotiation_failures_total: %d series, want %d", n, want)
	}
	want := `
# HELP gif_ike_negotiation_failures_total IKE exchanges that failed, by phase and reason.
# TYPE gif_ike_negotiation_failures_total counter
gif_ike_negotiation_failures_total{phase="main",reason="authentication_failed"} 0
gif_ike_negotiation_failures_total{phase="main",reason="configuration"} 0
gif_ike_negotiation_failures_total{phase="main",reason="no_proposal_chosen"} 0
gif_ike_negotiation_failures_total{phase="main",reason="other"} 0
gif_ike_negotiation_failures_total{phase="main",reason="peer_unreachable"} 1
gif_ike_negotiation_failures_total{phase="quick",reason="authentication_failed"} 0
gif_ike_negotiation_failures_total{phase="quick",reason="configuration"} 0
gif_ike_negotiation_failures_total{phase="quick",reason="no_proposal_chosen"} 1
gif_ike_negotiation_failures_total{phase="quick",reason="other"} 0
gif_ike_negotiation_failures_total{phase="quick",reason="peer_unreachable"} 0
# HELP gif_interface_drops_total Packets the gif dropped, both ways, by reason.
# TYPE gif_interface_drops_total counter
gif_interface_drops_total{interface="gif0",reason="ecn"} 0
gif_interface_drops_total{interface="gif0",reason="family"} 0
gif_interface_drops_total{interface="gif0",reason="loop"} 2
gif_interface_drops_total{interface="gif0",reason="short"} 0
gif_interface_drops_total{interface="gif0",reason="version"} 0
gif_interface_drops_total{interface="gif1",reason="ecn"} 0
gif_interface_drops_total{interface="gif1",reason="family"} 0
gif_interface_drops_total{interface="gif1",reason="loop"} 0
gif_interface_drops_total{interface="gif1",reason="short"} 0
gif_interface_drops_total{interface="gif1",reason="version"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "gif_ike_negotiation_failures_total", "gif_interface_drops_total"); err != nil {
		t.Error(err)
	}
}

// TestUserspacePlaneAlone: without the kernel plane there is no kernel
// plane metric, rather than zeros that would say it carries nothing.
func TestUserspacePlaneAlone(t *testing.T) {
	c := NewCollector(func() Snapshot {
		s := snapshot()
		s.Stats.KernelPassed, s.Stats.KernelCarried = nil, 0
		return s
	}, build)
	if n := testutil.CollectAndCount(c, "gif_kernel_plane_carried_packets_total", "gif_kernel_plane_passed_packets_total"); n != 0 {
		t.Errorf("%d kernel plane series without the kernel plane", n)
	}
}

func TestSnakeCase(t *testing.T) {
	for words, want := range map[string]string{"ECN: CE over Not-ECT": "ecn_ce_over_not_ect", "too big for the route MTU": "too_big_for_the_route_mtu", "fragment": "fragment"} {
		if got := snakeCase(words); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", words, got, want)
		}
	}
}

// TestLint holds every metric to Prometheus' naming conventions.
func TestLint(t *testing.T) {
	problems, err := testutil.CollectAndLint(NewCollector(snapshot, build))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// TestServer scrapes a server on the loopback.
func TestServer(t *testing.T) {
	l, err := Listen("127.0.0.1:0")
	if err == nil {
		t.Fatalf("port 0 accepted")
	}
	l, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(NewCollector(snapshot, build))
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	resp, err := http.Get("http://" + l.Addr().String() + Path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`gif_interface_receive_packets_total{interface="gif0"} 5`, "go_goroutines ", "process_resident_memory_bytes "} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the scrape lacks %q", want)
		}
	}
}

// TestListenErrors: a bad address fails with an error that names it and
// what is wrong.
func TestListenErrors(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, c := range []struct{ addr, want string }{
		{"9661", `metrics address "9661": address 9661: missing port in address`},
		{"127.0.0.1", `missing port in address`},
		{"127.0.0.1:http", `port "http" is not a number from 1 to 65535`},
		{"127.0.0.1:0", `port "0" is not a number`},
		{"127.0.0.1:70000", `port "70000" is not a number`},
		{"192.0.2.1:9661", "cannot assign requested address"},
		{"no-such-host.invalid:9661", "no-such-host.invalid"},
		{taken.Addr().String(), "address already in use"},
	} {
		l, err := Listen(c.addr)
		if err == nil {
			l.Close()
			t.Errorf("Listen(%q) succeeded", c.addr)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `metrics address "`+c.addr+`"`) {
			t.Errorf("Listen(%q) = %v, want it to name the address and hold %q", c.addr, err, c.want)
		}
	}
}
