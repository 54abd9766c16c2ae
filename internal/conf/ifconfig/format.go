package ifconfig

import (
	"strconv"

	"gif/internal/tunnel"
)

// Format returns arguments that Parse, given a name of the interface kind
// the ops are for, turns back into ops. Each op is written in one canonical
// form ("inet ADDR/LEN [DEST]", "tunneldf" or "-tunneldf", "add IF", ...),
// so the ops Parse returns equal ops except for Token, which holds Format's
// words. An op Parse could not have produced comes out as words Parse
// rejects.
func Format(ops []tunnel.Op) []string {
	var args []string
	for _, op := range ops {
		args = append(args, formatOp(op)...)
	}
	return args
}

func formatOp(op tunnel.Op) []string {
	switch op.Kind {
	case tunnel.OpMTU:
		return []string{"mtu", strconv.Itoa(op.Int)}
	case tunnel.OpDescription:
		if op.Text == "" {
			return []string{"-description"}
		}
		return []string{"description", op.Text}
	case tunnel.OpTunnel:
		return []string{"tunnel", op.Src.String(), op.Dst.String()}
	case tunnel.OpAddAddr, tunnel.OpDeleteAddr:
		args := []string{"inet", op.Addr.Prefix.String()}
		if op.Addr.Is6() {
			args[0] = "inet6"
		}
		if op.Addr.Peer.IsValid() {
			args = append(args, op.Addr.Peer.String())
		}
		if op.Kind == tunnel.OpDeleteAddr {
			args = append(args, "delete")
		}
		return args
	case tunnel.OpTunnelTTL:
		return []string{"tunnelttl", tunnel.TTLString(op.Int)}
	case tunnel.OpTunnelDF:
		return []string{flagWord("tunneldf", op.Bool)}
	case tunnel.OpTunnelECN:
		return []string{flagWord("tunnelecn", op.Bool)}
	case tunnel.OpFastpath:
		return []string{flagWord("fastpath", op.Bool)}
	case tunnel.OpTunnelDomain:
		if op.Int == 0 {
			return []string{"-tunneldomain"}
		}
		return []string{"tunneldomain", strconv.Itoa(op.Int)}
	case tunnel.OpLLAddr:
		if op.LLAddr.IsZero() {
			return []string{"lladdr", "random"}
		}
		return []string{"lladdr", op.LLAddr.String()}
	case tunnel.OpBridgeAdd:
		return []string{"add", op.Text}
	case tunnel.OpBridgeDel:
		return []string{"del", op.Text}
	case tunnel.OpLinkFlag:
		return []string{flagWord("link"+strconv.Itoa(op.Int), op.Bool)}
	}
	// create, destroy, up, down, -tunnel and -inet6 are their own words.
	return []string{string(op.Kind)}
}

// flagWord returns name when on and -name when off.
func flagWord(name string, on bool) string {
	if on {
		return name
	}
	return "-" + name
}
