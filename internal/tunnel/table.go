package tunnel

import (
	"iter"
	"maps"
	"net/netip"
)

// Pair is the key of the demultiplexing table: a received outer packet's
// destination (our tunnel source) and source (our tunnel destination).
type Pair struct {
	Local, Remote netip.Addr
}

// Table maps an outer address pair to the interface that receives its
// packets. It is built whole after each configuration change and never
// changed, so the receive path reads it without locks.
type Table[T any] struct {
	byPair map[Pair]T
}

// NewTable indexes ifaces by tunnel pair. Only interfaces that are up and
// have a tunnel receive; when several share a pair, the one with the lowest
// unit number receives all its traffic (gif(4) BUGS).
func NewTable[T any](ifaces []T, config func(T) *Config) *Table[T] {
	t := &Table[T]{byPair: make(map[Pair]T)}
	lowest := make(map[Pair]int)
	for _, iface := range ifaces {
		c := config(iface)
		if !c.Up || !c.HasTunnel() {
			continue
		}
		p := Pair{Local: c.Src, Remote: c.Dst}
		unit := unitOf(c.Name)
		if u, ok := lowest[p]; ok && u < unit {
			continue
		}
		lowest[p] = unit
		t.byPair[p] = iface
	}
	return t
}

// Lookup returns the interface for a packet from remote to local. A nil
// Table, a data plane's before it has a view, holds none.
func (t *Table[T]) Lookup(local, remote netip.Addr) (T, bool) {
	if t == nil {
		var none T
		return none, false
	}
	iface, ok := t.byPair[Pair{Local: local, Remote: remote}]
	return iface, ok
}

// Len returns how many pairs the table holds.
func (t *Table[T]) Len() int { return len(t.byPair) }

// All yields each pair with the interface that receives it.
func (t *Table[T]) All() iter.Seq2[Pair, T] {
	if t == nil {
		return func(func(Pair, T) bool) {}
	}
	return maps.All(t.byPair)
}
