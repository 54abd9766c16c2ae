package ipsec

import "sync"

// replayWindow is the receiver's anti-replay state (RFC 4303 §3.4.3): the
// highest sequence number accepted and a bitmap of the ReplayWindow
// numbers up to it.
type replayWindow struct {
	mu     sync.Mutex
	top    uint32 // 0 until a packet is accepted
	bitmap uint64 // bit i: top-i was accepted
}

// check reports whether seq may be accepted, without recording it: it is
// done before the ICV check, to drop replays cheaply.
func (w *replayWindow) check(seq uint32) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.checkLocked(seq)
}

// accept records seq, if it may still be accepted.
func (w *replayWindow) accept(seq uint32) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.checkLocked(seq); err != nil {
		return err
	}
	if seq > w.top {
		w.bitmap = w.bitmap<<(seq-w.top) | 1 // a shift of 64 or more clears it
		w.top = seq
	} else {
		w.bitmap |= 1 << (w.top - seq)
	}
	return nil
}

func (w *replayWindow) checkLocked(seq uint32) error {
	switch {
	case seq == 0:
		return ErrSeqWrap
	case seq > w.top:
		return nil
	case w.top-seq >= ReplayWindow, w.bitmap&(1<<(w.top-seq)) != 0:
		return ErrReplay
	}
	return nil
}
