package ipsecconf

import (
	"strconv"
	"strings"
)

// builtinProtocols are the IP protocols known even where /etc/protocols
// lacks them or is missing, as in many containers; ipsecctl reads only
// /etc/protocols. ipip is 4, not /etc/protocols' 94: see the package
// comment.
var builtinProtocols = map[string]uint8{
	"ip": 0, "icmp": 1, "igmp": 2, "ipencap": 4, "ipip": 4, "ipv4": 4,
	"tcp": 6, "udp": 17, "ipv6": 41, "ipv6-route": 43, "ipv6-frag": 44,
	"gre": 47, "esp": 50, "ah": 51, "ipv6-icmp": 58, "icmp6": 58,
	"ipv6-nonxt": 59, "ipv6-opts": 60, "etherip": 97, "sctp": 132,
}

// protocolsFile is where protocol names beyond builtinProtocols are looked
// up, through Files.
const protocolsFile = "/etc/protocols"

// protocol reads the protocol after proto: a name, a number, or the
// keywords esp, ah and ipip.
func (p *parser) protocol(r *rule, t token) (uint8, error) {
	switch {
	case t.is("ipip", "esp", "ah"):
		return builtinProtocols[t.text], nil
	case !t.isValue():
		return 0, r.errorf(t, "expected a protocol's name or number")
	case isDigits(t.text):
		n, err := strconv.ParseUint(t.text, 10, 8)
		if err != nil {
			return 0, r.errorf(t, "protocol numbers go from 0 to 255")
		}
		return uint8(n), nil
	}
	if n, ok := builtinProtocols[t.text]; ok {
		return n, nil
	}
	if !p.readProtocols {
		p.readProtocols = true
		if data, _, err := p.files.ReadFile(protocolsFile); err == nil {
			p.protocols = parseProtocols(data)
		}
	}
	if n, ok := p.protocols[t.text]; ok {
		return n, nil
	}
	return 0, r.errorf(t, "unknown protocol: neither gif nor %s knows it", protocolsFile)
}

// parseProtocols reads protocols(5): NAME NUMBER ALIAS... # comment. The
// first line with a name wins, as in getprotobyname(3).
func parseProtocols(data []byte) map[string]uint8 {
	m := map[string]uint8{}
	for line := range strings.Lines(string(data)) {
		line, _, _ = strings.Cut(line, "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		n, err := strconv.ParseUint(fields[1], 10, 8)
		if err != nil {
			continue
		}
		for i, name := range fields {
			if _, ok := m[name]; !ok && i != 1 {
				m[name] = uint8(n)
			}
		}
	}
	return m
}
