package daemon_test

import (
	"testing"

	"gif/internal/ike"
)

// TestMetrics: a scrape reads each gif with its counters and the IKE
// engine's state and counters.
func TestMetrics(t *testing.T) {
	d, _ := newDaemon(t)
	if _, _, err := ifconfigCmd(d, "gif0 tunnel "+local.String()+" "+peer.String()+" up"); err != nil {
		t.Fatal(err)
	}
	m := d.Metrics()
	if len(m.Stats.Interfaces) != 1 || m.Stats.Interfaces[0].Name != "gif0" || !m.Stats.Interfaces[0].Running {
		t.Errorf("Metrics().Stats.Interfaces = %+v, want gif0 RUNNING", m.Stats.Interfaces)
	}
	if m.IKE.Counters == nil || m.IKECounters != (ike.Stats{}) {
		t.Errorf("Metrics() IKE: status %+v, counters %+v; want the engine's, all 0", m.IKE, m.IKECounters)
	}
}
