package hostname

import (
	"net/netip"
	"strconv"
	"strings"

	"gif/internal/conf/ifconfig"
	"gif/internal/tunnel"
)

// Running returns the configuration in s as hostname.if files, keyed by
// file name: hostname.gifN for each gif and hostname.bridgeN for each
// bridge. Applying the files' ops to an empty state, the gifs before the
// bridges, gives s back (its sysctl variables aside). A file holds only
// what differs from a new interface's defaults, and ends with up or down.
// A line break in a description, which no line can hold, is written as a
// space.
func Running(s tunnel.State) map[string][]byte {
	files := make(map[string][]byte, len(s.Interfaces)+len(s.Bridges))
	for _, c := range s.Interfaces {
		files["hostname."+c.Name] = render(gifOps(c))
	}
	for _, b := range s.Bridges {
		files["hostname."+b.Name] = render(bridgeOps(b))
	}
	return files
}

func gifOps(c tunnel.Config) []tunnel.Op {
	var ops []tunnel.Op
	def := tunnel.NewConfig(c.Name)
	if c.Description != "" {
		ops = append(ops, description(c.Description))
	}
	if c.HasTunnel() {
		ops = append(ops, tunnel.Op{Kind: tunnel.OpTunnel, Src: c.Src, Dst: c.Dst})
	}
	if c.MTU != def.MTU {
		ops = append(ops, tunnel.Op{Kind: tunnel.OpMTU, Int: c.MTU})
	}
	if c.TTL != def.TTL {
		ops = append(ops, tunnel.Op{Kind: tunnel.OpTunnelTTL, Int: c.TTL})
	}
	if c.DF != def.DF {
		ops = append(ops, tunnel.Op{Kind: tunnel.OpTunnelDF, Bool: c.DF})
	}
	if c.ECN != def.ECN {
		ops = append(ops, tunnel.Op{Kind: tunnel.OpTunnelECN, Bool: c.ECN})
	}
	if c.Domain != def.Domain {
		ops = append(ops, tunnel.Op{Kind: tunnel.OpTunnelDomain, Int: c.Domain})
	}
	if c.NoFastpath != def.NoFastpath {
		ops = append(ops, tunnel.Op{Kind: tunnel.OpFastpath, Bool: !c.NoFastpath})
	}
	for _, a := range c.Addrs {
		ops = append(ops, tunnel.Op{Kind: tunnel.OpAddAddr, Addr: a})
	}
	if c.NoInet6 {
		ops = append(ops, tunnel.Op{Kind: tunnel.OpNoInet6})
	}
	if !c.LLAddr.IsZero() {
		ops = append(ops, tunnel.Op{Kind: tunnel.OpLLAddr, LLAddr: c.LLAddr})
	}
	// Last, as setting the tunnel brings the interface up.
	return append(ops, upOrDown(c.Up))
}

func bridgeOps(b tunnel.BridgeConfig) []tunnel.Op {
	var ops []tunnel.Op
	if b.Description != "" {
		ops = append(ops, description(b.Description))
	}
	for _, m := range b.Members {
		ops = append(ops, tunnel.Op{Kind: tunnel.OpBridgeAdd, Text: m})
	}
	for n, on := range b.Link {
		if on {
			ops = append(ops, tunnel.Op{Kind: tunnel.OpLinkFlag, Int: n, Bool: true})
		}
	}
	return append(ops, upOrDown(b.Up))
}

func description(text string) tunnel.Op {
	return tunnel.Op{Kind: tunnel.OpDescription, Text: strings.ReplaceAll(text, "\n", " ")}
}

func upOrDown(up bool) tunnel.Op {
	if up {
		return tunnel.Op{Kind: tunnel.OpUp}
	}
	return tunnel.Op{Kind: tunnel.OpDown}
}

// render writes ops as the lines of a hostname.if file that ParseFile
// reads back into the same ops, Token aside: an address in the packed
// format, "inet ADDR NETMASK" or "inet6 ADDR PREFIXLEN", with its
// destination on a dest line, as a file must write it; anything else as
// ifconfig.Format writes it, one op a line.
func render(ops []tunnel.Op) []byte {
	var b strings.Builder
	for _, op := range ops {
		for _, line := range opLines(op) {
			for i, w := range line {
				if i > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(fileWord(w))
			}
			b.WriteByte('\n')
		}
	}
	return []byte(b.String())
}

func opLines(op tunnel.Op) [][]string {
	if op.Kind != tunnel.OpAddAddr && op.Kind != tunnel.OpDeleteAddr {
		return [][]string{ifconfig.Format([]tunnel.Op{op})}
	}
	p := op.Addr.Prefix
	line := []string{"inet6", p.Addr().String(), strconv.Itoa(p.Bits())}
	if !op.Addr.Is6() {
		line = []string{"inet", p.Addr().String(), netmask(p.Bits()).String()}
		if op.Kind == tunnel.OpDeleteAddr {
			line = append(line, "NONE") // no broadcast address: options follow
		}
	}
	if op.Kind == tunnel.OpDeleteAddr {
		line = append(line, "delete")
	}
	lines := [][]string{line}
	if op.Addr.Peer.IsValid() {
		lines = append(lines, []string{"dest", op.Addr.Peer.String()})
	}
	return lines
}

// netmask returns the IPv4 netmask of a prefix length.
func netmask(bits int) netip.Addr {
	m := ^uint32(0) << (32 - bits)
	return netip.AddrFrom4([4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)})
}
