package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Tuning of the measurements.
const (
	pingCount    = 300    // echo requests per repetition
	pingInterval = "0.01" // seconds between them (iputils -i; root only below 0.2)
	pingTimeout  = 30 * time.Second
	udpPayload   = 64 // bytes of each UDP datagram of the packet rate test
	tcpStreams   = 4  // parallel streams of the second TCP test
	// settle is the pause after each test, so that the next starts with
	// empty queues.
	settle = time.Second
	// iperfSlack bounds how much longer than BENCH_TIME an iperf3 run may
	// take: connection, results exchange.
	iperfSlack = 30 * time.Second
	// iperfConnectTimeout is iperf3's --connect-timeout, in milliseconds.
	iperfConnectTimeout = "5000"
	// userHZ is the unit of /proc/stat: 1/100 s on every Linux ABI.
	userHZ = 100
)

// sample is what one repetition of a configuration measured.
type sample struct {
	TCP1, TCP4     float64 // Gbit/s received, one and tcpStreams streams
	UDPRate        float64 // udpPayload-byte datagrams received per second
	RTTP50, RTTP99 float64 // ping round trips, µs
	CPUPerGB       float64 // busy CPU seconds, all cores, per GB received in the TCP1 test
}

// result is what the run measured of one configuration.
type result struct {
	Config    config
	Samples   []sample
	PeakRSS   uint64   // VmHWM of the daemon, the larger of the hosts, bytes; 0 without one
	Fragments uint64   // IP fragments both hosts received during the tests
	Notes     []string // what the figures do not show, such as lost pings
	Err       error    // the configuration failed: Samples are partial or empty
}

// runConfig builds fresh hosts, sets c up, measures it reps times and
// tears it all down.
func runConfig(ctx context.Context, tb *toolbox, opts options, c config, logf func(string, ...any)) (res result) {
	res.Config = c
	res.Err = onPair(ctx, tb, func(p *pair) error { return measureConfig(ctx, p, opts, c, &res, logf) })
	return res
}

// measureConfig sets c up on p and measures it into res.
func measureConfig(ctx context.Context, p *pair, opts options, c config, res *result, logf func(string, ...any)) error {
	if err := c.setup(ctx, p, c.MTU); err != nil {
		return fmt.Errorf("set up: %w", err)
	}
	if err := p.awaitPath(ctx, c.Target, c.MTU); err != nil {
		return err
	}
	m := &measurer{p: p, c: c, time: opts.Time}
	if err := m.startServer(ctx); err != nil {
		return err
	}
	fragsBefore, err := p.reassemblies(ctx)
	if err != nil {
		return err
	}
	for rep := range opts.Reps {
		s, err := m.once(ctx, res)
		if err != nil {
			return fmt.Errorf("repetition %d: %w", rep+1, err)
		}
		res.Samples = append(res.Samples, s)
		logf("%-18s %d/%d: tcp %.2f, %d streams %.2f Gbit/s; udp %.0f kpps; rtt p50 %.0f p99 %.0f µs; %.2f cpu s/GB",
			c.Name, rep+1, opts.Reps, s.TCP1, tcpStreams, s.TCP4, s.UDPRate/1e3, s.RTTP50, s.RTTP99, s.CPUPerGB)
	}
	fragsAfter, err := p.reassemblies(ctx)
	if err != nil {
		return err
	}
	res.Fragments = fragsAfter - fragsBefore
	if c.Daemon != "" {
		if res.PeakRSS, err = peakRSS(ctx, p, c.Daemon); err != nil {
			return err
		}
	}
	return nil
}

// peakRSS returns the larger VmHWM of the processes named comm in a and b.
func peakRSS(ctx context.Context, p *pair, comm string) (uint64, error) {
	var most uint64
	for _, n := range []*node{p.a, p.b} {
		pid, err := n.processOf(ctx, comm)
		if err != nil {
			return 0, err
		}
		_, peak, err := memory(pid)
		if err != nil {
			return 0, err
		}
		most = max(most, peak)
	}
	return most, nil
}

// measurer runs the tests of one configuration from a to b.
type measurer struct {
	p    *pair
	c    config
	time time.Duration
}

// startServer starts iperf3's server in b; the lab stops it. Without
// --forceflush its output, which says when it listens, stays buffered.
func (m *measurer) startServer(ctx context.Context) error {
	srv, err := m.p.b.Start("iperf3", "-s", "--forceflush")
	if err != nil {
		return fmt.Errorf("start iperf3 server: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	if err := srv.WaitFor(ctx, "Server listening"); err != nil {
		return fmt.Errorf("start iperf3 server: %w", err)
	}
	return nil
}

// once runs every test one time: ping first, on a quiet path.
func (m *measurer) once(ctx context.Context, res *result) (sample, error) {
	var s sample
	var err error
	if s.RTTP50, s.RTTP99, err = m.ping(ctx, res); err != nil {
		return s, err
	}
	before, err := readCPUTimes()
	if err != nil {
		return s, err
	}
	tcp1, err := m.iperf(ctx, "tcp, 1 stream")
	if err != nil {
		return s, err
	}
	after, err := readCPUTimes()
	if err != nil {
		return s, err
	}
	s.TCP1 = tcp1.BitsPerSecond / 1e9
	s.CPUPerGB = float64(after.Busy-before.Busy) / userHZ / (float64(tcp1.Bytes) / 1e9)
	tcp4, err := m.iperf(ctx, fmt.Sprintf("tcp, %d streams", tcpStreams), "-P", strconv.Itoa(tcpStreams))
	if err != nil {
		return s, err
	}
	s.TCP4 = tcp4.BitsPerSecond / 1e9
	udp, err := m.iperf(ctx, "udp", "-u", "-l", strconv.Itoa(udpPayload), "-b", "0")
	if err != nil {
		return s, err
	}
	s.UDPRate = float64(udp.Datagrams) / udp.Seconds
	return s, nil
}

// iperf runs an iperf3 client in a towards the target for the run's time.
func (m *measurer) iperf(ctx context.Context, test string, args ...string) (iperfResult, error) {
	ctx, cancel := context.WithTimeout(ctx, m.time+iperfSlack)
	defer cancel()
	argv := append([]string{"-c", m.c.Target, "-t", strconv.Itoa(int(m.time / time.Second)), "-J",
		"--connect-timeout", iperfConnectTimeout}, args...)
	out, runErr := m.p.a.Run(ctx, "iperf3", argv...)
	res, err := parseIperf([]byte(out))
	if err != nil {
		return res, fmt.Errorf("iperf3 %s to %s: %w", test, m.c.Target, errors.Join(err, runErr))
	}
	if res.Bytes == 0 {
		return res, fmt.Errorf("iperf3 %s to %s: nothing arrived", test, m.c.Target)
	}
	time.Sleep(settle)
	return res, nil
}

// ping sends pingCount echo requests and returns the median and 99th
// percentile of the round trips, in µs. Lost replies are noted.
func (m *measurer) ping(ctx context.Context, res *result) (p50, p99 float64, err error) {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	pr, err := m.p.a.Ping(ctx, m.c.Target, "-c", strconv.Itoa(pingCount), "-i", pingInterval, "-W", "1")
	if err != nil {
		return 0, 0, fmt.Errorf("ping %s: %w", m.c.Target, err)
	}
	rtts, err := parsePingTimes(pr.Output)
	if err != nil {
		return 0, 0, fmt.Errorf("ping %s: %w", m.c.Target, err)
	}
	if len(rtts) == 0 {
		return 0, 0, fmt.Errorf("ping %s: no reply of %d\n%s", m.c.Target, pr.Transmitted, pr.Output)
	}
	if lost := pr.Transmitted - len(rtts); lost > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("ping: %d of %d echo requests lost", lost, pr.Transmitted))
	}
	micros := make([]float64, len(rtts))
	for i, d := range rtts {
		micros[i] = float64(d) / float64(time.Microsecond)
	}
	time.Sleep(settle)
	return percentile(micros, 50), percentile(micros, 99), nil
}

// readCPUTimes reads the busy time of the whole machine: /proc/stat is
// the same in every network namespace.
func readCPUTimes() (cpuTimes, error) {
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, fmt.Errorf("read CPU times: %w", err)
	}
	return parseCPUTimes(string(stat))
}
