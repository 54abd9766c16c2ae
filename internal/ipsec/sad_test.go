package ipsec

import (
	"math"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
)

func newTestSA(t *testing.T, spi uint32, dst string) *SA {
	t.Helper()
	p := testParams(transform{"hmac-sha2-256", "aes", 16}, spi)
	p.Dst = netip.MustParseAddr(dst)
	if p.Dst.Is6() {
		p.Src = netip.MustParseAddr("2001:db8::1")
	}
	sa, err := NewSA(p)
	if err != nil {
		t.Fatal(err)
	}
	return sa
}

func TestSAD(t *testing.T) {
	var d SAD
	if d.Lookup(0x4242, testDst) != nil || d.All() != nil || d.Delete(0x4242, testDst) {
		t.Fatal("zero SAD not empty")
	}
	a := newTestSA(t, 0x4243, "198.51.100.2")
	b := newTestSA(t, 0x4242, "198.51.100.2")
	c := newTestSA(t, 0x4242, "2001:db8::2")
	for _, sa := range []*SA{a, b, c} {
		if err := d.Add(sa); err != nil {
			t.Fatal(err)
		}
	}
	err := d.Add(newTestSA(t, 0x4242, "198.51.100.2"))
	if err == nil || !strings.Contains(err.Error(), "add SA spi 0x00004242 to 198.51.100.2: an SA with this SPI and destination exists") {
		t.Fatalf("duplicate: got %v", err)
	}
	if got := d.All(); !slices.Equal(got, []*SA{b, a, c}) {
		t.Fatalf("All: got %v", got)
	}
	if d.Lookup(0x4242, testDst) != b || d.Lookup(0x4242, netip.MustParseAddr("::ffff:198.51.100.2")) != b {
		t.Fatal("Lookup did not find the SA")
	}
	if d.Lookup(0x4242, netip.MustParseAddr("198.51.100.3")) != nil || d.Lookup(0x4244, testDst) != nil {
		t.Fatal("Lookup found an SA for another SPI or destination")
	}
	if !d.Delete(0x4242, testDst) || d.Delete(0x4242, testDst) || d.Lookup(0x4242, testDst) != nil {
		t.Fatal("Delete")
	}

	err = d.Replace([]*SA{b, newTestSA(t, 0x4242, "198.51.100.2")})
	if err == nil || !slices.Equal(d.All(), []*SA{a, c}) {
		t.Fatalf("Replace with duplicates: got %v, SAD %v", err, d.All())
	}
	if err := d.Replace([]*SA{b}); err != nil || !slices.Equal(d.All(), []*SA{b}) {
		t.Fatalf("Replace: got %v, SAD %v", err, d.All())
	}
	if err := d.Replace(nil); err != nil || len(d.All()) != 0 {
		t.Fatalf("Replace(nil): got %v, SAD %v", err, d.All())
	}
}

// TestSADCounters drops one packet for each reason and checks espstat.
func TestSADCounters(t *testing.T) {
	var d SAD
	tr := transform{"hmac-sha2-256", "aes", 16}
	out, in := testPair(t, tr)
	if err := d.Add(in); err != nil {
		t.Fatal(err)
	}
	sealed := func(n int) []byte {
		buf := make([]byte, 64+n+64)
		start, length, err := d.Seal(out, buf, 64, n, 4)
		if err != nil {
			t.Fatal(err)
		}
		return buf[start : start+length]
	}
	opened := func(pkt []byte, dst netip.Addr) error {
		buf := slices.Clone(pkt)
		sa, start, length, _, err := d.Open(buf, 0, len(buf), dst)
		if err == nil && (sa != in || length != 100 || start != 8+16) {
			t.Fatalf("Open: SA %p start %d length %d", sa, start, length)
		}
		return err
	}

	good := sealed(100)
	if err := opened(good, testDst); err != nil {
		t.Fatal(err)
	}
	if err := opened(good, testDst); err != ErrReplay {
		t.Fatalf("replayed: %v", err)
	}
	if err := opened(good[:5], testDst); err != ErrShort {
		t.Fatalf("truncated: %v", err)
	}
	if err := opened(good[:30], testDst); err != ErrShort {
		t.Fatalf("truncated: %v", err)
	}
	if err := opened(sealed(100), netip.MustParseAddr("198.51.100.9")); err != ErrNoSA {
		t.Fatalf("unknown destination: %v", err)
	}
	forged := sealed(100)
	forged[30] ^= 1
	if err := opened(forged, testDst); err != ErrAuth {
		t.Fatalf("forged: %v", err)
	}
	padded := craft(testParams(tr, 0x4242), 1000, make([]byte, 16), append(make([]byte, 30), 5, 4)) // zeros, not 1 to 5
	if err := opened(padded, testDst); err != ErrPadding {
		t.Fatalf("bad padding: %v", err)
	}
	if err := opened(craft(testParams(tr, 0x4242), 0, make([]byte, 16), append(make([]byte, 14), 0, 4)), testDst); err != ErrSeqWrap {
		t.Fatalf("seq 0: %v", err)
	}
	out.seq.Store(math.MaxUint32)
	if _, _, err := d.Seal(out, make([]byte, 300), 64, 100, 4); err != ErrSeqWrap {
		t.Fatalf("seal after 2³²-1: %v", err)
	}
	d.Counters.PDrops.Add(1)

	want := Stats{Input: 8, Output: 4, HDrops: 2, PDrops: 1, NotDB: 1, BadAuth: 1, BadILen: 1,
		Replay: 1, Wrap: 2, IBytes: 100, OBytes: 300}
	if got := d.Counters.Snapshot(); got != want {
		t.Fatalf("counters:\n got %+v\nwant %+v", got, want)
	}
}

// TestConcurrent seals and opens from several goroutines, for the race
// detector and the replay window: each goroutine opens every packet, and
// every packet is accepted exactly once.
func TestConcurrent(t *testing.T) {
	out, in := testPair(t, transform{"hmac-sha2-256", "aes", 16})
	const goroutines, each = 4, 200
	pkts := make(chan []byte, goroutines*each)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				pkts <- seal(t, out, testPayload(100), 4)
			}
		})
	}
	wg.Wait()
	close(pkts)
	var all [][]byte
	for p := range pkts {
		all = append(all, p)
	}
	// In order, each packet is opened before any goroutine moves the window
	// past it.
	slices.SortFunc(all, func(a, b []byte) int { return int(Header(a).Seq()) - int(Header(b).Seq()) })
	var mu sync.Mutex
	accepted := 0
	for range goroutines {
		wg.Go(func() {
			for _, p := range all {
				if _, _, err := open(in, p); err == nil {
					mu.Lock()
					accepted++
					mu.Unlock()
				} else if err != ErrReplay {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if accepted != len(all) {
		t.Fatalf("%d of %d packets accepted", accepted, len(all))
	}
}
