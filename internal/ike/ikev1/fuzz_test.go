package ikev1

import (
	"bytes"
	mathrand "math/rand/v2"
	"testing"

	"gif/internal/ike/isakmp"
)

// FuzzMainModeResponder feeds a responder whose randomness is fixed, so
// that an exchange recorded against it replays to the end, with any first,
// third and fifth message: it must refuse what is wrong and never panic.
func FuzzMainModeResponder(f *testing.F) {
	fixed := func() *mathrand.ChaCha8 { return mathrand.NewChaCha8([32]byte{1}) }
	for _, psk := range []bool{true, false} {
		b1, b2 := seedConfigs(psk)
		b2.Rand = fixed()
		ini, resp, m1, m2 := begin(f, b1, b2)
		m3, _ := ini.Handle(m2)
		m4, _ := resp.Handle(m3)
		m5, _ := ini.Handle(m4)
		if _, err := resp.Handle(m5); err != nil {
			f.Fatalf("recording the seed exchange: %v", err)
		}
		f.Add(psk, m1, m3, m5)
	}
	f.Fuzz(func(t *testing.T, psk bool, m1, m3, m5 []byte) {
		_, b2 := seedConfigs(psk)
		b2.Rand = fixed()
		first, err := isakmp.Parse(m1)
		if err != nil {
			return
		}
		resp, _, err := AnswerPhase1(b2, first)
		if err != nil {
			return
		}
		if _, err := resp.Handle(m3); err != nil {
			return
		}
		// A repeat of message 3 is answered again, not taken as message 5.
		if _, err := resp.Handle(m5); err == nil && !resp.Done() && !bytes.Equal(m5, m3) {
			t.Fatal("message 5 taken, but the exchange is not done")
		}
	})
}

// FuzzQuickModeResponder feeds any first and third Quick Mode message to a
// responder under a Main Mode whose randomness is fixed on both sides, so
// that a recorded Quick Mode replays.
func FuzzQuickModeResponder(f *testing.F) {
	mainMode := func(tb testing.TB) (ini, resp *Phase1) {
		b1, b2 := seedConfigs(true)
		b1.Rand, b2.Rand = mathrand.NewChaCha8([32]byte{1}), mathrand.NewChaCha8([32]byte{2})
		ini, resp, _, msg := begin(tb, b1, b2)
		sides := []*Phase1{ini, resp}
		for k := 0; msg != nil; k++ {
			var err error
			if msg, err = sides[k%2].Handle(msg); err != nil {
				tb.Fatal(err)
			}
		}
		return ini, resp
	}
	cfg := seedQuick()
	policy := onlyFlow(mirror(cfg))
	ini, resp := mainMode(f)
	qi, m1, err := ini.StartQuick(cfg, 0x1000)
	if err != nil {
		f.Fatal(err)
	}
	_, m2, err := resp.AnswerQuick(m1, policy, 0x2000)
	if err != nil {
		f.Fatal(err)
	}
	m3, err := qi.Handle(m2)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(m1, m3)
	f.Fuzz(func(t *testing.T, m1, m3 []byte) {
		_, resp := mainMode(t)
		qr, _, err := resp.AnswerQuick(m1, policy, 0x2000)
		if err != nil {
			return
		}
		if _, err := qr.Handle(m3); err == nil && !qr.Done() && !bytes.Equal(m3, m1) {
			t.Fatal("message 3 taken, but the exchange is not done")
		}
	})
}
