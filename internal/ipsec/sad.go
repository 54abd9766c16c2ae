package ipsec

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
)

// saKey is how received ESP finds its SA (RFC 4303 §2.1): the SPI and the
// outer destination.
type saKey struct {
	spi uint32
	dst netip.Addr
}

// SAD is the security association database. Lookups and Open take no
// lock: writers replace an immutable map. The zero SAD is empty and
// ready.
type SAD struct {
	// Counters are the host's espstat; they outlive every SA.
	Counters Counters

	mu  sync.Mutex // serializes writers
	sas atomic.Pointer[map[saKey]*SA]
}

// Lookup returns the SA with spi and destination dst, or nil.
func (d *SAD) Lookup(spi uint32, dst netip.Addr) *SA {
	m := d.sas.Load()
	if m == nil {
		return nil
	}
	return (*m)[saKey{spi, dst.Unmap()}]
}

// All returns the SAs ordered by destination, then SPI.
func (d *SAD) All() []*SA {
	m := d.sas.Load()
	if m == nil {
		return nil
	}
	return slices.SortedFunc(maps.Values(*m), func(a, b *SA) int {
		return cmp.Or(a.params.Dst.Compare(b.params.Dst), cmp.Compare(a.params.SPI, b.params.SPI))
	})
}

// Add adds sa; an SA with the same SPI and destination is refused.
func (d *SAD) Add(sa *SA) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := d.copyLocked()
	if err := add(m, sa); err != nil {
		return err
	}
	d.sas.Store(&m)
	return nil
}

// Replace swaps the whole database for sas, or, if two of them have the
// same SPI and destination, changes nothing.
func (d *SAD) Replace(sas []*SA) error {
	m := make(map[saKey]*SA, len(sas))
	for _, sa := range sas {
		if err := add(m, sa); err != nil {
			return err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sas.Store(&m)
	return nil
}

// Delete removes the SA with spi and destination dst, and reports whether
// there was one.
func (d *SAD) Delete(spi uint32, dst netip.Addr) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := saKey{spi, dst.Unmap()}
	m := d.copyLocked()
	if _, ok := m[k]; !ok {
		return false
	}
	delete(m, k)
	d.sas.Store(&m)
	return true
}

func (d *SAD) copyLocked() map[saKey]*SA {
	if m := d.sas.Load(); m != nil {
		return maps.Clone(*m)
	}
	return make(map[saKey]*SA)
}

func add(m map[saKey]*SA, sa *SA) error {
	k := saKey{sa.params.SPI, sa.params.Dst}
	if _, ok := m[k]; ok {
		return fmt.Errorf("add SA spi 0x%08x to %v: %w", k.spi, k.dst, errExists)
	}
	m[k] = sa
	return nil
}

var errExists = errors.New("an SA with this SPI and destination exists")

// Open finds the SA of the ESP packet buf[off:off+n], which arrived for
// the outer destination dst, opens the packet with it as SA.Open does,
// and counts it in d.Counters.
func (d *SAD) Open(buf []byte, off, n int, dst netip.Addr) (sa *SA, start, length int, nextHeader uint8, err error) {
	c := &d.Counters
	c.Input.Add(1)
	if n < HeaderLen || off < 0 || off+n > len(buf) {
		c.HDrops.Add(1)
		return nil, 0, 0, 0, ErrShort
	}
	if sa = d.Lookup(Header(buf[off:]).SPI(), dst); sa == nil {
		c.NotDB.Add(1)
		return nil, 0, 0, 0, ErrNoSA
	}
	start, length, nextHeader, err = sa.Open(buf, off, n)
	if err != nil {
		c.countDrop(err)
		return sa, 0, 0, 0, err
	}
	c.IBytes.Add(uint64(length))
	return sa, start, length, nextHeader, nil
}

// Seal seals the payload buf[off:off+n] with sa as SA.Seal does, and
// counts it in d.Counters.
func (d *SAD) Seal(sa *SA, buf []byte, off, n int, nextHeader uint8) (start, length int, err error) {
	c := &d.Counters
	c.Output.Add(1)
	start, length, err = sa.Seal(buf, off, n, nextHeader)
	if err != nil {
		c.countDrop(err)
		return 0, 0, err
	}
	c.OBytes.Add(uint64(n))
	return start, length, nil
}

// Counters are OpenBSD's struct espstat, the fields gif can count, updated
// without locks. As in OpenBSD, Input and Output count every packet,
// dropped or not; IBytes and OBytes count payload bytes.
type Counters struct {
	Input   atomic.Uint64 // ESP packets received
	Output  atomic.Uint64 // ESP packets to send
	HDrops  atomic.Uint64 // shorter than the header shows
	PDrops  atomic.Uint64 // dropped by policy; counted by the caller
	NotDB   atomic.Uint64 // no SA for the SPI and destination
	BadAuth atomic.Uint64 // the ICV did not verify
	BadILen atomic.Uint64 // bad payload size or padding
	Replay  atomic.Uint64 // possibly replayed
	Wrap    atomic.Uint64 // sequence number wrapped
	IBytes  atomic.Uint64
	OBytes  atomic.Uint64
}

// countDrop counts a packet that Seal or Open refused with err.
func (c *Counters) countDrop(err error) {
	switch err {
	case ErrShort:
		c.HDrops.Add(1)
	case ErrAuth:
		c.BadAuth.Add(1)
	case ErrPadding:
		c.BadILen.Add(1)
	case ErrReplay:
		c.Replay.Add(1)
	case ErrSeqWrap:
		c.Wrap.Add(1)
	}
}

// Stats is a snapshot of Counters, named as netstat -s shows them.
type Stats struct {
	Input   uint64 `json:"input"`
	Output  uint64 `json:"output"`
	HDrops  uint64 `json:"hdrops"`
	PDrops  uint64 `json:"pdrops"`
	NotDB   uint64 `json:"notdb"`
	BadAuth uint64 `json:"badauth"`
	BadILen uint64 `json:"badilen"`
	Replay  uint64 `json:"replay"`
	Wrap    uint64 `json:"wrap"`
	IBytes  uint64 `json:"ibytes"`
	OBytes  uint64 `json:"obytes"`
}

// Snapshot reads every counter.
func (c *Counters) Snapshot() Stats {
	return Stats{
		Input: c.Input.Load(), Output: c.Output.Load(),
		HDrops: c.HDrops.Load(), PDrops: c.PDrops.Load(),
		NotDB: c.NotDB.Load(), BadAuth: c.BadAuth.Load(),
		BadILen: c.BadILen.Load(), Replay: c.Replay.Load(),
		Wrap: c.Wrap.Load(), IBytes: c.IBytes.Load(), OBytes: c.OBytes.Load(),
	}
}
