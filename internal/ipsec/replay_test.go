package ipsec

import "testing"

func TestReplayWindow(t *testing.T) {
	var w replayWindow
	steps := []struct {
		seq  uint32
		want error
	}{
		{0, ErrSeqWrap},
		{5, nil},
		{5, ErrReplay},
		{1, nil},
		{68, nil},        // top 68: the window is 5..68
		{4, ErrReplay},   // 64 behind
		{5, ErrReplay},   // accepted before
		{6, nil},         // 62 behind, new
		{68 + 64, nil},   // the window moves by exactly its size
		{68, ErrReplay},  // 64 behind
		{69, nil},        //
		{1 << 31, nil},   // far ahead
		{132, ErrReplay}, // far behind
		{1<<31 - 63, nil},
		{1<<31 - 64, ErrReplay},
		{0xffffffff, nil},
		{0xffffffff, ErrReplay},
		{0, ErrSeqWrap},
	}
	for _, s := range steps {
		if err := w.check(s.seq); err != s.want {
			t.Fatalf("check %d: got %v, want %v", s.seq, err, s.want)
		}
		if err := w.accept(s.seq); err != s.want {
			t.Fatalf("accept %d: got %v, want %v", s.seq, err, s.want)
		}
	}
}
