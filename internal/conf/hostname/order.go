package hostname

import (
	"cmp"
	"slices"
	"strings"

	"gif/internal/tunnel"
)

// Order returns names, without repeats, in the order netstart starts their
// interfaces: every interface that is neither a gif nor a bridge first, by
// name; then the gifs, then the bridges, each by unit number. OpenBSD's
// netstart (r1.180, 2017) starts the physical interfaces first, and
// later, "delayed because they require routes", ifmstart "pppoe tun gif
// gre bridge switch pflow": gifs before bridges. A bridge's members are
// thus configured before it, so the seed's example works in any file
// order. (Since r1.229 netstart creates every pseudo-interface first and
// no longer delays bridges; gif's bridges create their gif members
// themselves, and the r1.180 order keeps bridges last.)
func Order(names []string) []string {
	out := slices.Clone(names)
	slices.SortFunc(out, func(a, b string) int {
		ka, ua := orderKey(a)
		kb, ub := orderKey(b)
		return cmp.Or(cmp.Compare(ka, kb), cmp.Compare(ua, ub), strings.Compare(a, b))
	})
	return slices.Compact(out)
}

// orderKey returns the class of an interface name, 0 for plain interfaces,
// 1 for gifs and 2 for bridges, and its unit number within the class.
func orderKey(name string) (class, unit int) {
	if u, ok := tunnel.Unit(name); ok {
		return 1, u
	}
	if u, ok := tunnel.BridgeUnit(name); ok {
		return 2, u
	}
	return 0, 0
}
