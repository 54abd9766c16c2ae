package ipsec

import "testing"

// benchTransforms are ipsecctl's default (aes with hmac-sha2-256) and one
// of each other kind of transform.
var benchTransforms = []transform{
	{"hmac-sha2-256", "aes", 16},
	{"hmac-sha1", "aes", 16},
	{"hmac-sha2-512", "aes-256", 32},
	{"hmac-sha2-256", "aesctr", 20},
	{"", "aes-128-gcm", 20},
	{"", "aes-256-gcm", 36},
	{"", "chacha20-poly1305", 36},
	{"hmac-sha2-256", "null", 0},
}

const benchPayload = 1400

func BenchmarkSeal(b *testing.B) {
	for _, tr := range benchTransforms {
		b.Run(tr.String(), func(b *testing.B) {
			out, _ := testPair(b, tr)
			head, tail := out.Overhead()
			buf := make([]byte, head+benchPayload+tail)
			b.SetBytes(benchPayload)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := out.Seal(buf, head, benchPayload, 4); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, tr := range benchTransforms {
		b.Run(tr.String(), func(b *testing.B) {
			out, in := testPair(b, tr)
			sealed := seal(b, out, testPayload(benchPayload), 4)
			buf := make([]byte, len(sealed))
			b.SetBytes(benchPayload)
			b.ReportAllocs()
			for b.Loop() {
				copy(buf, sealed)
				in.replay.top, in.replay.bitmap = 0, 0 // the same packet again
				if _, _, _, err := in.Open(buf, 0, len(buf)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
