package link

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"gif/internal/outer"
)

// chunk is what a transfer sends with each write.
const chunk = 1 << 20

// tapLink is two network namespaces, each with a bridge that has an
// address and a TAP device as its only member, and a copy loop between the
// two TAPs, as two gifs at the ends of a tunnel would be.
type tapLink struct {
	ns     [2]netns.NsHandle
	taps   [2]*tapDevice
	addrs  [2]netip.Addr // IPv4, on the bridges
	addrs6 [2]netip.Addr
	// Frames the copy loops read with each Read, and wrote.
	reads, frames atomic.Uint64
	loopErr       atomic.Pointer[error]
	loops         sync.WaitGroup
}

// newTAPLink builds a tapLink with TAPs with offloads or without. It leaves
// the calling goroutine locked to its thread, in the first namespace, as
// inNewNetns does.
func newTAPLink(tb testing.TB, offload bool) *tapLink {
	tb.Helper()
	runtime.LockOSThread()
	l := &tapLink{
		addrs:  [2]netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")},
		addrs6: [2]netip.Addr{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")},
	}
	for i := range 2 {
		ns, err := netns.New()
		if err != nil {
			tb.Fatalf("new network namespace: %v", err)
		}
		l.ns[i] = ns
		tb.Cleanup(func() { ns.Close() })
		tap, err := createTAP("giftest0", 1500, offload)
		if err != nil {
			tb.Fatal(err)
		}
		l.taps[i] = tap
		tb.Cleanup(func() { tap.Close() })
		if err := CreateBridge("giftestbr0"); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			if netns.Set(ns) == nil {
				DeleteBridge("giftestbr0")
			}
		})
		for _, err := range []error{
			SetMaster("giftest0", "giftestbr0"),
			AddAddr("giftestbr0", Addr{Prefix: netip.PrefixFrom(l.addrs[i], 24)}),
			AddAddr("giftestbr0", Addr{Prefix: netip.PrefixFrom(l.addrs6[i], 64)}),
			SetUp("giftest0", true),
			SetUp("giftestbr0", true),
		} {
			if err != nil {
				tb.Fatal(err)
			}
		}
		// IPv6 ignores neighbor solicitations until the bridge runs.
		for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if info, err := Info("giftestbr0"); err == nil && info.Running {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatal("timed out waiting for the bridge to run")
			}
		}
	}
	tb.Cleanup(func() {
		for _, tap := range l.taps {
			tap.Close()
		}
		l.loops.Wait()
		if err := l.loopErr.Load(); err != nil {
			tb.Errorf("copy loop: %v", *err)
		}
	})
	for i := range 2 {
		l.loops.Go(func() { l.copyFrames(l.taps[i], l.taps[1-i]) })
	}
	if err := netns.Set(l.ns[0]); err != nil {
		tb.Fatal(err)
	}
	return l
}

// copyFrames reads from src and writes to dst, as the daemon would through
// a tunnel, until src closes.
func (l *tapLink) copyFrames(src, dst *tapDevice) {
	const offset = 128
	bufs := make([][]byte, src.BatchSize())
	for i := range bufs {
		bufs[i] = make([]byte, offset+1500+18)
	}
	sizes := make([]int, len(bufs))
	frames := make([][]byte, 0, len(bufs))
	for {
		n, err := src.Read(bufs, sizes, offset)
		if errors.Is(err, os.ErrClosed) {
			return
		}
		if err != nil && !errors.Is(err, ErrTooManySegments) {
			l.loopErr.CompareAndSwap(nil, &err)
		}
		frames = frames[:0]
		for i := range n {
			frames = append(frames, bufs[i][:offset+sizes[i]])
		}
		l.reads.Add(1)
		// Counted before they are written, so that a test reading the
		// counters while a Write runs never sees more writes than frames.
		l.frames.Add(uint64(len(frames)))
		_, err = dst.Write(frames, offset)
		if err != nil && !errors.Is(err, os.ErrClosed) {
			l.loopErr.CompareAndSwap(nil, &err)
		}
	}
}

// transfer sends chunks times chunk bytes of TCP from the first namespace
// to the second, to the address dst. It checks that they arrive intact if
// verify is set, and only counts them otherwise.
func (l *tapLink) transfer(tb testing.TB, dst netip.Addr, chunks int, verify bool) {
	tb.Helper()
	if err := netns.Set(l.ns[1]); err != nil {
		tb.Fatal(err)
	}
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(dst, 0)))
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	if err := netns.Set(l.ns[0]); err != nil {
		tb.Fatal(err)
	}
	received := make(chan error, 1)
	sent, got := sha256.New(), sha256.New()
	if !verify {
		sent, got = nil, nil
	}
	go func() {
		ln.SetDeadline(time.Now().Add(10 * time.Second))
		conn, err := ln.Accept()
		if err != nil {
			received <- err
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(time.Minute))
		w := io.Discard
		if verify {
			w = got
		}
		n, err := io.Copy(w, conn)
		if err == nil && n != int64(chunks*chunk) {
			err = fmt.Errorf("received %d bytes, want %d", n, chunks*chunk)
		}
		received <- err
	}()
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	data := make([]byte, chunk)
	random := rand.NewChaCha8([32]byte{})
	random.Read(data)
	for range chunks {
		if verify {
			random.Read(data)
			sent.Write(data)
		}
		if _, err := conn.Write(data); err != nil {
			tb.Fatalf("send: %v", err)
		}
	}
	conn.Close()
	if err := <-received; err != nil {
		tb.Fatal(err)
	}
	if verify && !bytes.Equal(sent.Sum(nil), got.Sum(nil)) {
		tb.Fatalf("received data with SHA-256 %x, want %x", got.Sum(nil), sent.Sum(nil))
	}
}

// TestTAPOffloadTCP sends TCP over IPv4 and IPv6 between two bridges
// joined by TAP devices with offloads, and checks that the TAPs moved
// super-frames.
func TestTAPOffloadTCP(t *testing.T) {
	l := newTAPLink(t, true)
	for _, dst := range []netip.Addr{l.addrs[1], l.addrs6[1]} {
		l.transfer(t, dst, 8, true)
	}
	sent, acked := l.taps[0], l.taps[1]
	t.Logf("Read split %d super-frames; %d frames in %d Reads; Write made %d write(2) calls",
		sent.splits.Load(), l.frames.Load(), l.reads.Load(), sent.writes.Load()+acked.writes.Load())
	if sent.splits.Load() == 0 {
		t.Error("Read split no super-frame: the kernel handed over no TCP super-frames")
	}
	if writes := acked.writes.Load() + sent.writes.Load(); writes*2 > l.frames.Load() {
		t.Errorf("Write made %d write(2) calls for %d frames, want fewer than half as many", writes, l.frames.Load())
	}
}

// BenchmarkTAPCopyLoop measures TCP through two bridges joined by a copy
// loop between their TAP devices, with offloads and without.
func BenchmarkTAPCopyLoop(b *testing.B) {
	for _, mode := range []struct {
		name    string
		offload bool
	}{{"plain", false}, {"offload", true}} {
		b.Run(mode.name, func(b *testing.B) {
			l := newTAPLink(b, mode.offload)
			b.SetBytes(chunk)
			b.ResetTimer()
			l.transfer(b, l.addrs[1], b.N, false)
			b.StopTimer()
			b.ReportMetric(float64(l.frames.Load())/float64(l.taps[0].writes.Load()+l.taps[1].writes.Load()), "frames/write")
		})
	}
}

// TestTAPPlainTCP sends TCP through TAP devices without offloads, as
// where the kernel refuses them: one frame per read(2) and write(2).
func TestTAPPlainTCP(t *testing.T) {
	l := newTAPLink(t, false)
	l.transfer(t, l.addrs[1], 2, true)
	writes := l.taps[0].writes.Load() + l.taps[1].writes.Load()
	frames := l.frames.Load()
	// The copy loops may still be writing their last batches.
	if splits := l.taps[0].splits.Load() + l.taps[1].splits.Load(); splits != 0 || writes > frames || frames-writes > 2*outer.BatchSize {
		t.Errorf("%d super-frames split, %d write(2) calls for %d frames; want none and one each", splits, writes, frames)
	}
}
