// Package metrics exposes the daemon's counters to Prometheus: a Collector
// that reads them at each scrape (no counter is kept twice), and the HTTP
// server of gif daemon -m.
package metrics

import (
	"strings"
	"unicode"

	"gif/internal/buildinfo"
	"gif/internal/control"
	"gif/internal/ike"
	"gif/internal/ipsec"
	"gif/internal/tunnel"

	"github.com/prometheus/client_golang/prometheus"
)

// Snapshot is what one scrape reads of the daemon.
type Snapshot struct {
	// Stats is what gif netstat shows: each gif's counters, ipipstat,
	// etheripstat, espstat and the kernel plane's.
	Stats control.Stats
	// IKE is what gif ipsecctl -s ike shows: the exchanges and SAs of ike
	// rules; IKECounters the engine's counters.
	IKE         ike.Status
	IKECounters ike.Stats
}

// field is one counter of a protocol's statistics, as a metric.
type field[T any] struct {
	name, help string
	value      func(T) uint64
}

// counters are the metrics of a protocol's statistics, one per field.
type counters[T any] struct {
	fields []field[T]
	descs  []*prometheus.Desc
}

func newCounters[T any](subsystem string, fields []field[T]) counters[T] {
	c := counters[T]{fields: fields}
	for _, f := range fields {
		c.descs = append(c.descs, prometheus.NewDesc(prometheus.BuildFQName(namespace, subsystem, f.name), f.help, nil, nil))
	}
	return c
}

func (c counters[T]) describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c counters[T]) collect(ch chan<- prometheus.Metric, stats T) {
	for i, f := range c.fields {
		ch <- prometheus.MustNewConstMetric(c.descs[i], prometheus.CounterValue, float64(f.value(stats)))
	}
}

const namespace = "gif"

// The protocols' counters, named after what they count; the help names
// the field of OpenBSD's struct that gif netstat -s prints.
var (
	ipipCounters = newCounters("ipip", []field[tunnel.IPIPStats]{
		{"receive_packets_total", "IP-in-IP packets received, claimed by a gif or not (ipipstat ipackets).", func(s tunnel.IPIPStats) uint64 { return s.IPackets }},
		{"receive_bytes_total", "Bytes of IP-in-IP packets received (ipipstat ibytes).", func(s tunnel.IPIPStats) uint64 { return s.IBytes }},
		{"transmit_packets_total", "IP-in-IP packets sent (ipipstat opackets).", func(s tunnel.IPIPStats) uint64 { return s.OPackets }},
		{"transmit_bytes_total", "Bytes of IP-in-IP packets sent (ipipstat obytes).", func(s tunnel.IPIPStats) uint64 { return s.OBytes }},
		{"short_drops_total", "Packets dropped as shorter than their header shows (ipipstat hdrops).", func(s tunnel.IPIPStats) uint64 { return s.HDrops }},
		{"queue_full_drops_total", "Packets dropped because the interface queue was full (ipipstat qfull).", func(s tunnel.IPIPStats) uint64 { return s.QFull }},
		{"policy_drops_total", "Packets no gif claims, dropped by net.inet.ipip.allow (ipipstat pdrops).", func(s tunnel.IPIPStats) uint64 { return s.PDrops }},
		{"spoof_drops_total", "Packets dropped whose inner source is an address of this host (ipipstat spoof).", func(s tunnel.IPIPStats) uint64 { return s.Spoof }},
		{"family_mismatch_drops_total", "Packets dropped whose inner version does not match the outer protocol (ipipstat family).", func(s tunnel.IPIPStats) uint64 { return s.Family }},
		{"unspecified_endpoint_drops_total", "Packets dropped as sent on a gif without tunnel addresses (ipipstat unspec).", func(s tunnel.IPIPStats) uint64 { return s.Unspec }},
	})
	etheripCounters = newCounters("etherip", []field[tunnel.EtherIPStats]{
		{"receive_packets_total", "EtherIP packets received that passed the policy check (etheripstat ipackets).", func(s tunnel.EtherIPStats) uint64 { return s.IPackets }},
		{"receive_bytes_total", "Bytes of the Ethernet frames received over EtherIP (etheripstat ibytes).", func(s tunnel.EtherIPStats) uint64 { return s.IBytes }},
		{"transmit_packets_total", "EtherIP packets sent (etheripstat opackets).", func(s tunnel.EtherIPStats) uint64 { return s.OPackets }},
		{"transmit_bytes_total", "Bytes of the Ethernet frames sent over EtherIP (etheripstat obytes).", func(s tunnel.EtherIPStats) uint64 { return s.OBytes }},
		{"short_drops_total", "Packets dropped as shorter than the EtherIP and Ethernet headers (etheripstat hdrops).", func(s tunnel.EtherIPStats) uint64 { return s.HDrops }},
		{"queue_full_drops_total", "Frames dropped because the TAP device's queue was full (etheripstat qfull).", func(s tunnel.EtherIPStats) uint64 { return s.QFull }},
		{"no_interface_drops_total", "Packets dropped for want of an up bridged gif with their address pair (etheripstat noifdrops).", func(s tunnel.EtherIPStats) uint64 { return s.NoIfDrops }},
		{"policy_drops_total", "Packets dropped by net.inet.etherip.allow, not IPsec-protected (etheripstat pdrops).", func(s tunnel.EtherIPStats) uint64 { return s.PDrops }},
		{"header_drops_total", "Packets dropped for their EtherIP header: another version, reserved bits set (etheripstat adrops).", func(s tunnel.EtherIPStats) uint64 { return s.ADrops }},
	})
	espCounters = newCounters("esp", []field[ipsec.Stats]{
		{"receive_packets_total", "ESP packets received (espstat input).", func(s ipsec.Stats) uint64 { return s.Input }},
		{"receive_bytes_total", "Bytes of ESP packets received (espstat ibytes).", func(s ipsec.Stats) uint64 { return s.IBytes }},
		{"transmit_packets_total", "ESP packets sent (espstat output).", func(s ipsec.Stats) uint64 { return s.Output }},
		{"transmit_bytes_total", "Bytes of ESP packets sent (espstat obytes).", func(s ipsec.Stats) uint64 { return s.OBytes }},
		{"short_drops_total", "Packets dropped as shorter than their header shows (espstat hdrops).", func(s ipsec.Stats) uint64 { return s.HDrops }},
		{"policy_drops_total", "Clear packets dropped because an incoming require flow covers them (espstat pdrops).", func(s ipsec.Stats) uint64 { return s.PDrops }},
		{"no_sa_drops_total", "Packets dropped for want of an SA of their SPI (espstat notdb).", func(s ipsec.Stats) uint64 { return s.NotDB }},
		{"auth_failure_drops_total", "Packets dropped that failed verification (espstat badauth).", func(s ipsec.Stats) uint64 { return s.BadAuth }},
		{"bad_length_drops_total", "Packets dropped for a bad payload size or padding (espstat badilen).", func(s ipsec.Stats) uint64 { return s.BadILen }},
		{"replay_drops_total", "Packets dropped as possibly replayed (espstat replay).", func(s ipsec.Stats) uint64 { return s.Replay }},
		{"sequence_wrap_drops_total", "Packets dropped because the SA's sequence number would wrap (espstat wrap).", func(s ipsec.Stats) uint64 { return s.Wrap }},
	})
	ikeCounters = newCounters("ike", []field[ike.Stats]{
		{"messages_received_total", "IKE messages received.", func(s ike.Stats) uint64 { return s.In }},
		{"messages_sent_total", "IKE messages sent, retransmissions included.", func(s ike.Stats) uint64 { return s.Out }},
		{"messages_dropped_total", "IKE messages refused: malformed, forged, of no exchange.", func(s ike.Stats) uint64 { return s.Dropped }},
		{"retransmissions_total", "IKE messages sent again for want of an answer.", func(s ike.Stats) uint64 { return s.Retransmits }},
		{"isakmp_sas_established_total", "ISAKMP SAs that Main Mode made.", func(s ike.Stats) uint64 { return s.Established1 }},
		{"esp_sa_pairs_established_total", "Pairs of ESP SAs that Quick Mode made.", func(s ike.Stats) uint64 { return s.Established2 }},
	})
)

// interfaceCounters are the per-gif counters, labelled with the interface.
var interfaceCounters = []struct {
	desc  *prometheus.Desc
	value func(tunnel.InterfaceStats) uint64
}{
	{interfaceDesc("receive_packets_total", "Packets the gif received: the inner packets written to its device."), func(s tunnel.InterfaceStats) uint64 { return s.IPackets }},
	{interfaceDesc("receive_bytes_total", "Bytes of the inner packets the gif received."), func(s tunnel.InterfaceStats) uint64 { return s.IBytes }},
	{interfaceDesc("transmit_packets_total", "Packets the gif sent."), func(s tunnel.InterfaceStats) uint64 { return s.OPackets }},
	{interfaceDesc("transmit_bytes_total", "Bytes of the inner packets the gif sent."), func(s tunnel.InterfaceStats) uint64 { return s.OBytes }},
	{interfaceDesc("receive_errors_total", "Input errors of the gif."), func(s tunnel.InterfaceStats) uint64 { return s.IErrors }},
	{interfaceDesc("transmit_errors_total", "Output errors of the gif: packets it could not send."), func(s tunnel.InterfaceStats) uint64 { return s.OErrors }},
}

func interfaceDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "interface", name), help, append([]string{"interface"}, labels...), nil)
}

// The phases of IKE as labels.
var phaseLabels = [ike.NumPhases]string{ike.PhaseMain: "main", ike.PhaseQuick: "quick"}

var (
	interfaceDrops   = interfaceDesc("drops_total", "Packets the gif dropped, both ways, by reason.", "reason")
	interfaceRunning = interfaceDesc("running", "1 while the gif is RUNNING: up, its tunnel set, its source an address of this host.")
	interfaceKernel  = interfaceDesc("kernel_plane", "1 while the kernel data plane carries the gif, 0 while the userspace plane does.")

	kernelCarried = prometheus.NewDesc("gif_kernel_plane_carried_packets_total",
		"Packets the kernel plane's programs carried themselves.", nil, nil)
	kernelPassed = prometheus.NewDesc("gif_kernel_plane_passed_packets_total",
		"Packets the kernel plane's programs handed to the userspace plane, by reason.", []string{"reason"}, nil)

	ikeNegotiations = prometheus.NewDesc("gif_ike_negotiations_total",
		"IKE exchanges begun, as initiator or responder, by phase: main (Main Mode, an ISAKMP SA) or quick (Quick Mode, a pair of ESP SAs).",
		[]string{"phase"}, nil)
	ikeFailures = prometheus.NewDesc("gif_ike_negotiation_failures_total",
		"IKE exchanges that failed, by phase and reason.", []string{"phase", "reason"}, nil)
	ikeISAKMPSAs = prometheus.NewDesc("gif_ike_isakmp_sas",
		"ISAKMP SAs by state: negotiating (Main Mode on the way) or established.", []string{"state"}, nil)
	ikeSAPairs = prometheus.NewDesc("gif_ike_esp_sa_pairs",
		"Pairs of ESP SAs of ike rules by state: negotiating (Quick Mode on the way), established, or renewing (due for renewal, or renewed and waiting to expire).",
		[]string{"state"}, nil)

	buildInfo = prometheus.NewDesc("gif_build_info",
		"Always 1; its labels say which gif runs: the module version, the VCS revision and the Go release.",
		[]string{"version", "revision", "goversion"}, nil)
)

// Collector reads the daemon's counters at each scrape.
type Collector struct {
	read  func() Snapshot
	build buildinfo.Info
}

// NewCollector returns a Collector that takes each scrape's values from
// read, and labels gif_build_info with build.
func NewCollector(read func() Snapshot, build buildinfo.Info) *Collector {
	return &Collector{read: read, build: build}
}

// Describe sends every metric's description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range interfaceCounters {
		ch <- m.desc
	}
	for _, d := range []*prometheus.Desc{interfaceDrops, interfaceRunning, interfaceKernel, kernelCarried, kernelPassed,
		ikeNegotiations, ikeFailures, ikeISAKMPSAs, ikeSAPairs, buildInfo} {
		ch <- d
	}
	ipipCounters.describe(ch)
	etheripCounters.describe(ch)
	espCounters.describe(ch)
	ikeCounters.describe(ch)
}

// Collect reads the daemon once and sends every metric.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.read()
	for _, ifc := range s.Stats.Interfaces {
		for _, m := range interfaceCounters {
			ch <- prometheus.MustNewConstMetric(m.desc, prometheus.CounterValue, float64(m.value(ifc.Stats)), ifc.Name)
		}
		// Every reason, also those that counted none, so that rates start at 0.
		for _, reason := range tunnel.DropReasons() {
			ch <- prometheus.MustNewConstMetric(interfaceDrops, prometheus.CounterValue, float64(ifc.Stats.Drops[reason]), ifc.Name, reason)
		}
		ch <- prometheus.MustNewConstMetric(interfaceRunning, prometheus.GaugeValue, boolValue(ifc.Running), ifc.Name)
		ch <- prometheus.MustNewConstMetric(interfaceKernel, prometheus.GaugeValue, boolValue(ifc.Plane == control.PlaneKernel), ifc.Name)
	}
	ipipCounters.collect(ch, s.Stats.IPIP)
	etheripCounters.collect(ch, s.Stats.EtherIP)
	espCounters.collect(ch, s.Stats.ESP)
	if s.Stats.KernelPassed != nil { // the kernel plane runs
		ch <- prometheus.MustNewConstMetric(kernelCarried, prometheus.CounterValue, float64(s.Stats.KernelCarried))
		for _, p := range s.Stats.KernelPassed {
			ch <- prometheus.MustNewConstMetric(kernelPassed, prometheus.CounterValue, float64(p.Packets), snakeCase(p.Reason))
		}
	}
	c.collectIKE(ch, s.IKE, s.IKECounters)
	ch <- prometheus.MustNewConstMetric(buildInfo, prometheus.GaugeValue, 1, c.build.Version, c.build.Revision, c.build.GoVersion)
}

func (c *Collector) collectIKE(ch chan<- prometheus.Metric, st ike.Status, stats ike.Stats) {
	ikeCounters.collect(ch, stats)
	for p, phase := range phaseLabels {
		ch <- prometheus.MustNewConstMetric(ikeNegotiations, prometheus.CounterValue, float64(stats.Started[p]), phase)
		for r := range ike.FailReason(ike.NumFailReasons) {
			ch <- prometheus.MustNewConstMetric(ikeFailures, prometheus.CounterValue, float64(stats.Failures[p][r]), phase, r.String())
		}
	}
	var established, negotiating int
	for _, sa := range st.ISAKMP {
		if sa.State == ike.StateEstablished {
			established++
		} else {
			negotiating++
		}
	}
	ch <- prometheus.MustNewConstMetric(ikeISAKMPSAs, prometheus.GaugeValue, float64(negotiating), "negotiating")
	ch <- prometheus.MustNewConstMetric(ikeISAKMPSAs, prometheus.GaugeValue, float64(established), "established")
	var renewing int
	for _, child := range st.Children {
		if child.Renew == 0 {
			renewing++
		}
	}
	ch <- prometheus.MustNewConstMetric(ikeSAPairs, prometheus.GaugeValue, float64(len(st.Quick)), "negotiating")
	ch <- prometheus.MustNewConstMetric(ikeSAPairs, prometheus.GaugeValue, float64(len(st.Children)-renewing), "established")
	ch <- prometheus.MustNewConstMetric(ikeSAPairs, prometheus.GaugeValue, float64(renewing), "renewing")
}

// snakeCase turns netstat's words for a reason into a label value:
// "ECN: CE over Not-ECT" becomes "ecn_ce_over_not_ect".
func snakeCase(words string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(words), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}), "_")
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
