package main

import "testing"

const goBenchOutput = `goos: linux
goarch: amd64
pkg: gif/internal/ipsec
cpu: AMD EPYC
BenchmarkSeal/aes-128-gcm-2         	  946321	      1266 ns/op	1185.42 MB/s	       0 B/op	       0 allocs/op
BenchmarkOpen/aes-2                 	  500000	      2400 ns/op	 625.00 MB/s	      48 B/op	       1 allocs/op
PASS
ok  	gif/internal/ipsec	3.1s
pkg: gif/internal/dataplane
BenchmarkDrop/esp-notdb-2   	 4277607	       243.0 ns/op	       0 B/op	       0 allocs/op
PASS
ok  	gif/internal/dataplane	2.1s
pkg: gif/internal/wire
BenchmarkChecksum-2   	10000000	       101.5 ns/op	       0 B/op	       0 allocs/op
PASS
`

func TestParseGoBench(t *testing.T) {
	got, err := parseGoBench(goBenchOutput)
	if err != nil {
		t.Fatal(err)
	}
	want := []goBench{
		{"gif/internal/ipsec", "BenchmarkSeal/aes-128-gcm", 1266, 0, 0},
		{"gif/internal/ipsec", "BenchmarkOpen/aes", 2400, 48, 1},
		{"gif/internal/dataplane", "BenchmarkDrop/esp-notdb", 243, 0, 0},
		{"gif/internal/wire", "BenchmarkChecksum", 101.5, 0, 0},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("benchmark %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, b := range got {
		if packetPathBench.MatchString(b.Name) != (b.Name != "BenchmarkChecksum") {
			t.Errorf("packet path selection of %s is wrong", b.Name)
		}
	}
	if _, err := parseGoBench("BenchmarkX-2   100   5 ns/op\n"); err == nil {
		t.Fatal("a line without -benchmem figures parsed")
	}
}
