package wire

import (
	"encoding/binary"
	"math/rand/v2"
	"strconv"
	"testing"
)

// checksumByWords is RFC 1071's algorithm as written there: 16-bit words,
// folded at the end.
func checksumByWords(b []byte, initial uint32) uint16 {
	sum := uint64(initial)
	for ; len(b) >= 2; b = b[2:] {
		sum += uint64(binary.BigEndian.Uint16(b))
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

func TestChecksumVectors(t *testing.T) {
	for _, tt := range []struct {
		name    string
		b       []byte
		initial uint32
		want    uint16
	}{
		{"empty", nil, 0, 0},
		{"RFC 1071 §3", []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}, 0, 0xddf2},
		{"odd length", []byte{0x01}, 0, 0x0100},
		{"initial", []byte{0x00, 0x01}, 0xfffe, 0xffff},
		{"initial folds", nil, 0x12345, 0x2346},
		{"all ones stays negative zero", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0, 0xffff},
		{"valid IPv4 header", fromHex(t, "45b9001c123440003f113cadc0000201c6336402"), 0, 0xffff},
	} {
		if got := Checksum(tt.b, tt.initial); got != tt.want {
			t.Errorf("%s: Checksum = %#04x, want %#04x", tt.name, got, tt.want)
		}
	}
}

func TestChecksumMatchesRFC1071(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 300)
	for n := range len(buf) {
		for range 20 {
			b := buf[:n]
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			if n%3 == 0 { // long runs of 0xff stress the carries
				for i := range b {
					b[i] = 0xff
				}
			}
			initial := rng.Uint32()
			if got, want := Checksum(b, initial), checksumByWords(b, initial); got != want {
				t.Fatalf("Checksum(% x, %#x) = %#04x, RFC 1071 gives %#04x", b, initial, got, want)
			}
		}
	}
}

func TestUpdateChecksum(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		var h [20]byte
		for i := range h {
			h[i] = byte(rng.Uint32())
		}
		h[0] = 0x45
		binary.BigEndian.PutUint16(h[10:], 0)
		binary.BigEndian.PutUint16(h[10:], ^Checksum(h[:], 0))
		old := binary.BigEndian.Uint16(h[0:])
		h[1] = byte(rng.Uint32())
		updateChecksum(h[10:], old, binary.BigEndian.Uint16(h[0:]))
		if Checksum(h[:], 0) != 0xffff {
			t.Fatalf("header % x has a bad checksum after an incremental update", h)
		}
	}
}

func BenchmarkChecksum(b *testing.B) {
	for _, n := range []int{20, 40, 1500, 9000} {
		buf := make([]byte, n)
		for i := range buf {
			buf[i] = byte(i)
		}
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				Checksum(buf, 0)
			}
		})
	}
}
