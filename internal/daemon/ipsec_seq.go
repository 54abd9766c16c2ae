package daemon

import (
	"fmt"
	"log/slog"
	"time"

	"gif/internal/ipsec"
	"gif/internal/state"
)

// Manual keys outlive the daemon, and so does the peer's replay window: a
// daemon that restarts must not seal with sequence numbers it may have used
// before, or the peer drops them as replayed. So the daemon keeps, for each
// SA, a reservation: a sequence number above any it has sent, written
// ahead of use; a new daemon starts above the reservation.
const (
	seqFileName = "ipsec-seq.json"
	// seqReserve is how far ahead of the last sequence number sent a
	// reservation reaches: more than an SA seals between two checks.
	seqReserve = 1 << 22
	// seqCheckEvery is how often reservations are renewed.
	seqCheckEvery = time.Second
)

// seqKey names an SA in the reservation file.
func seqKey(sa *ipsec.SA) string { return fmt.Sprintf("%s/0x%08x", sa.Dst(), sa.SPI()) }

// seqReservations keeps the reservations of the SAs in the file path. The
// Daemon's mu guards it.
type seqReservations struct {
	path     string
	log      *slog.Logger
	reserved map[string]uint64 // by seqKey
	unstored bool              // whether the last try to store them failed
}

// skipSent makes each new SA of sas start above the reservation a previous
// daemon left for it, and reserves ahead for all of them.
func (s *seqReservations) skipSent(sas []*ipsec.SA) {
	var saved map[string]uint64
	if err := state.Load(s.path, &saved); err == nil {
		for _, sa := range sas {
			sa.SkipTo(saved[seqKey(sa)])
		}
	}
	s.reserve(sas, true)
}

// reserve writes new reservations when an SA has come within half a
// reservation of its own (or always, with force).
func (s *seqReservations) reserve(sas []*ipsec.SA, force bool) {
	need := force
	next := make(map[string]uint64, len(sas))
	for _, sa := range sas {
		key, last := seqKey(sa), sa.LastSeq()
		next[key] = s.reserved[key]
		if last+seqReserve/2 > s.reserved[key] || force {
			next[key] = last + seqReserve
			need = true
		}
	}
	if !need {
		return
	}
	// Renewal is tried every second while it is due: a disk that refuses
	// it is logged when it starts and when it ends, not at every try.
	if err := state.Save(s.path, next); err != nil {
		if !s.unstored {
			s.log.Error("cannot keep ESP sequence numbers: a daemon started before this is mended may reuse some, which the peers drop as replays; trying again every second",
				"err", err)
		}
		s.unstored = true
		return
	}
	if s.unstored {
		s.log.Info("ESP sequence numbers kept again", "file", s.path)
	}
	s.unstored = false
	s.reserved = next
}

// keepSeqReserved renews the reservations until stop is closed.
func (d *Daemon) keepSeqReserved(stop <-chan struct{}) {
	t := time.NewTicker(seqCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			d.mu.Lock()
			if pol := d.plane.View().Policy; pol != nil {
				d.seq.reserve(pol.SAs(), false)
			}
			d.mu.Unlock()
		}
	}
}
