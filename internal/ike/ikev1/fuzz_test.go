package ikev1

import (
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
		if _, err := resp.Handle(m5); err == nil && !resp.Done() {
			t.Fatal("message 5 taken, but the exchange is not done")
		}
	})
}
