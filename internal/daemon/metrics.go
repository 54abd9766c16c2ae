package daemon

import "gif/internal/metrics"

// Metrics is what a scrape of the daemon's metrics reads: netstat's
// counters and what ipsecctl -s ike shows.
func (d *Daemon) Metrics() metrics.Snapshot {
	return metrics.Snapshot{Stats: d.Stats(), IKE: d.ike.Status(), IKECounters: d.ike.Counters.Snapshot()}
}
