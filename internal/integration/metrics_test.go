package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gif/internal/tools"
)

// metricsAddr is where the tests' daemons serve their metrics, inside
// their own namespace.
const metricsAddr = "127.0.0.1:9661"

// scrape reads the metrics of n's daemon: the text, and each series' value
// by its name and labels as the text writes them.
func (n *node) scrape(t *testing.T) (string, map[string]float64) {
	t.Helper()
	var conn net.Conn
	// Dialled inside the namespace; http.Get would dial on another thread.
	if err := n.Do(func() (err error) {
		conn, err = net.DialTimeout("tcp", metricsAddr, 5*time.Second)
		return err
	}); err != nil {
		t.Fatalf("%s: connect to the metrics: %v", n.Name(), err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(commandTimeout))
	fmt.Fprintf(conn, "GET /metrics HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", metricsAddr)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s: read the metrics: %v", n.Name(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: GET /metrics: %s, %v\n%s", n.Name(), resp.Status, err, body)
	}
	values := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("%s: metrics line %q: %v", n.Name(), line, err)
		}
		values[line[:i]] = v
	}
	return string(body), values
}

// TestMetrics: a daemon started with -m serves metrics that follow the
// traffic through a gif on each plane, and that promtool finds well formed.
func TestMetrics(t *testing.T) {
	for _, plane := range planes {
		t.Run(plane, func(t *testing.T) { testMetrics(t, plane) })
	}
}

func testMetrics(t *testing.T, plane string) {
	a, b := newPairOn(t, plane)
	a.startDaemon(t, "-m", metricsAddr)
	tunnelBoth(a, b, 4, 4)
	_, before := a.scrape(t)
	const pings = 5
	a.mustPing(innerB4, pings)
	text, after := a.scrape(t)
	for _, series := range []string{
		`gif_interface_transmit_packets_total{interface="gif0"}`,
		`gif_interface_receive_packets_total{interface="gif0"}`,
		`gif_interface_transmit_bytes_total{interface="gif0"}`,
		`gif_interface_receive_bytes_total{interface="gif0"}`,
		`gif_ipip_transmit_packets_total`,
		`gif_ipip_receive_packets_total`,
	} {
		if moved := after[series] - before[series]; moved < pings {
			t.Errorf("%s: %v, then %v after %d pings", series, before[series], after[series], pings)
		}
	}
	want := map[string]float64{`gif_interface_running{interface="gif0"}`: 1, `gif_ike_isakmp_sas{state="established"}`: 0,
		`gif_interface_kernel_plane{interface="gif0"}`: map[string]float64{kernelPlane: 1, userspacePlane: 0}[plane]}
	for series, v := range want {
		if got, ok := after[series]; !ok || got != v {
			t.Errorf("%s: %v (there: %v), want %v", series, got, ok, v)
		}
	}
	if _, ok := after["gif_kernel_plane_carried_packets_total"]; ok != (plane == kernelPlane) {
		t.Errorf("on the %s plane: gif_kernel_plane_carried_packets_total there: %v", plane, ok)
	}
	if !strings.Contains(text, "\ngif_build_info{goversion=\"go") {
		t.Error("the scrape lacks gif_build_info")
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, `interface="gif0"`) || strings.HasPrefix(line, "gif_build_info") ||
			strings.HasPrefix(line, "gif_ipip_") && strings.Contains(line, "_packets_total") || strings.HasPrefix(line, "gif_kernel_plane_") && !strings.HasSuffix(line, " 0") {
			t.Log(line)
		}
	}
	promtoolCheck(t, text)
}

// promtoolCheck fails the test unless promtool finds the scraped text
// well formed and named by Prometheus' conventions.
func promtoolCheck(t *testing.T, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	check, err := tools.Command(ctx, "promtool", "check", "metrics")
	if err != nil {
		t.Fatal(err)
	}
	check.Stdin = strings.NewReader(text)
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestIKEMetrics: the seed's ike rules with a pre-shared key; b1's metrics
// show the SAs established, the exchanges begun, no failure, and the ESP
// and EtherIP traffic.
func TestIKEMetrics(t *testing.T) {
	n := newSeedLAN(t)
	n.b1.startDaemon(t, "-m", metricsAddr)
	n.configure(4)
	loadIKE(t, n, ` psk "a lab-only pre-shared key"`)
	waitReach(t, n)
	const pings = 3
	n.h1.mustPing(lanH2, pings)
	text, got := n.b1.scrape(t)
	for series, least := range map[string]float64{
		`gif_ike_isakmp_sas{state="established"}`:   1,
		`gif_ike_esp_sa_pairs{state="established"}`: 1,
		`gif_ike_negotiations_total{phase="main"}`:  1,
		`gif_ike_negotiations_total{phase="quick"}`: 1,
		`gif_ike_isakmp_sas_established_total`:      1,
		`gif_ike_esp_sa_pairs_established_total`:    1,
		`gif_ike_messages_received_total`:           3,
		`gif_esp_receive_packets_total`:             pings,
		`gif_esp_transmit_packets_total`:            pings,
		`gif_etherip_receive_packets_total`:         pings,
		`gif_etherip_transmit_packets_total`:        pings, // sealed in ESP, counted too
	} {
		if got[series] < least {
			t.Errorf("%s: %v, want at least %v", series, got[series], least)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "gif_ike_negotiation_failures_total{") && !strings.HasSuffix(line, " 0") {
			t.Errorf("a failure: %s", line)
		}
		if strings.HasPrefix(line, "gif_ike_") && !strings.HasSuffix(line, " 0") || strings.HasPrefix(line, "gif_esp_") && strings.Contains(line, "packets") {
			t.Log(line)
		}
	}
	promtoolCheck(t, text)
}

// stateFiles lists the files of n's state directory with their sizes and
// modification times.
func stateFiles(t *testing.T, n *node) string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(n.stateDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files = append(files, fmt.Sprintf("%s %d %v", path, info.Size(), info.ModTime()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(files, "\n")
}

// listening returns the TCP sockets listening in the namespace of pid,
// as /proc/PID/net/tcp and tcp6 show them (local address:port in hex).
func listening(t *testing.T, pid int) []string {
	t.Helper()
	var socks []string
	for _, file := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "net", file))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			if f := strings.Fields(line); len(f) > 3 && f[3] == "0A" { // TCP_LISTEN
				socks = append(socks, file+" "+f[1])
			}
		}
	}
	return socks
}

// TestMetricsOffByDefault: a daemon started without -m, as a command
// starts it, opens no TCP socket; with -m, one.
func TestMetricsOffByDefault(t *testing.T) {
	a, b := newPair(t)
	tunnelBoth(a, b, 4, 4) // a's daemon starts by itself
	pids := a.pids()
	if len(pids) != 1 {
		t.Fatalf("%d processes in a, want its daemon alone", len(pids))
	}
	if socks := listening(t, pids[0]); len(socks) > 0 {
		t.Errorf("a daemon without -m listens on TCP: %v", socks)
	}
	b.gif("ifconfig", "gif0", "destroy")
	stopDaemon(t, b)
	b.startDaemon(t, "-m", metricsAddr)
	pids = b.pids()
	want := fmt.Sprintf("tcp 0100007F:%04X", 9661) // 127.0.0.1 as /proc writes it
	if socks := listening(t, pids[0]); len(socks) != 1 || socks[0] != want {
		t.Errorf("a daemon with -m %s listens on %v, want %s alone", metricsAddr, socks, want)
	}
}

// TestMetricsBadAddress: an address the daemon cannot listen on stops it
// with an error that names the address, before it creates or changes
// anything: no interface from the stored state, no file in the state
// directory.
func TestMetricsBadAddress(t *testing.T) {
	a, b := newPair(t)
	tunnelBoth(a, b, 4, 4)
	stopDaemon(t, a) // its state keeps gif0
	stored := stateFiles(t, a)
	var taken net.Listener
	if err := a.Do(func() (err error) { taken, err = net.Listen("tcp", metricsAddr); return err }); err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, c := range []struct{ addr, want string }{
		{"localhost", `gif daemon: metrics address "localhost": address localhost: missing port in address`},
		{"127.0.0.1:metrics", `gif daemon: metrics address "127.0.0.1:metrics": port "metrics" is not a number from 1 to 65535`},
		{"192.0.2.99:9661", `gif daemon: metrics address "192.0.2.99:9661": listen tcp 192.0.2.99:9661: bind: cannot assign requested address`},
		{metricsAddr, `gif daemon: metrics address "127.0.0.1:9661": listen tcp 127.0.0.1:9661: bind: address already in use`},
	} {
		_, err := a.gifTry("daemon", "-m", c.addr)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("gif daemon -m %s: %v, want %q", c.addr, err, c.want)
		}
		if links := a.sh("ip", "-o", "link", "show"); strings.Contains(links, "gif0") {
			t.Errorf("after gif daemon -m %s: gif0 is back:\n%s", c.addr, links)
		}
		if now := stateFiles(t, a); now != stored {
			t.Errorf("after gif daemon -m %s the state directory changed:\n%s\nwas:\n%s", c.addr, now, stored)
		}
	}
}
