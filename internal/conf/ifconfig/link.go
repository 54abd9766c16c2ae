package ifconfig

import (
	"fmt"

	"gif/internal/tunnel"
)

// The MTU range gif passes on to the kernel for an interface that is
// neither a gif nor a bridge: IPv4's minimum (RFC 791) and the largest an
// IPv4 packet can use. The kernel checks the device's own limits.
const (
	minLinkMTU = 68
	maxLinkMTU = 65535
)

// linkGrammar is what gif takes for any other Linux interface, such as the
// internal Ethernet interface of a bridge.
var linkGrammar = grammar{
	params: []param{
		{"up", plain(tunnel.OpUp)},
		{"down", plain(tunnel.OpDown)},
		{"mtu", number(tunnel.OpMTU, fmt.Sprintf("a number %d..%d", minLinkMTU, maxLinkMTU),
			func(n uint64) bool { return minLinkMTU <= n && n <= maxLinkMTU })},
	},
	other: (*parser).linkOther,
}

func (p *parser) linkOther(w string) (tunnel.Op, error) {
	reason := fmt.Sprintf("gif sets only up, down and mtu on %s, which is neither a gif nor a bridge", p.ifname)
	switch {
	case isAddressWord(w):
		reason += "; assign addresses with ip(8)"
	case w == "create" || w == "destroy":
		reason += "; it creates and destroys only gif0 .. gif9999 and bridge0 .. bridge9999"
	default:
		reason += p.grammar.suggestion(w)
	}
	return tunnel.Op{}, p.errorf("%s", reason)
}
