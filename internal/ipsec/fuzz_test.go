package ipsec

import (
	"bytes"
	"testing"
)

// FuzzOpen mutates packets that Seal made, for every transform: Open must
// not panic, and must refuse every packet that differs from the sealed one.
// Open also gets the fuzzer's bytes as they are.
func FuzzOpen(f *testing.F) {
	transforms := allTransforms()
	for i := range transforms {
		f.Add(uint8(i), []byte{1}, uint16(i*7), int16(0))
	}
	f.Add(uint8(0), []byte{}, uint16(0), int16(-1))
	f.Add(uint8(3), []byte{0, 0}, uint16(0), int16(16))
	f.Fuzz(func(t *testing.T, which uint8, mutation []byte, at uint16, resize int16) {
		tr := transforms[int(which)%len(transforms)]
		out, in := testPair(t, tr)
		pkt := seal(t, out, testPayload(40), 4)

		mutated := bytes.Clone(pkt)
		for i, b := range mutation {
			mutated[(int(at)+i)%len(mutated)] ^= b
		}
		switch {
		case resize < 0:
			mutated = mutated[:max(0, len(mutated)+int(resize))]
		case resize > 0:
			mutated = append(mutated, make([]byte, resize)...)
		}
		if _, _, err := open(in, mutated); err == nil && !bytes.Equal(mutated, pkt) {
			t.Fatalf("%v accepted a mutated packet:\n% x\nsealed:\n% x", tr, mutated, pkt)
		}
		in.Open(mutation, 0, len(mutation))
	})
}
