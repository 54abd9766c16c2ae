package ifconfig

import (
	"strings"

	"gif/internal/tunnel"
)

var linkCases = []parseCase{
	same(op(tunnel.OpUp, "up")),
	same(op(tunnel.OpDown, "down")),
	same(intOp(tunnel.OpMTU, "mtu 68", 68)),
	same(intOp(tunnel.OpMTU, "mtu 1500", 1500)),
	same(intOp(tunnel.OpMTU, "mtu 65535", 65535)),
	{nil, nil},
	{strings.Fields("mtu 9000 up"), []tunnel.Op{intOp(tunnel.OpMTU, "mtu 9000", 9000), op(tunnel.OpUp, "up")}},
}

const onlyLink = "gif sets only up, down and mtu on eth1, which is neither a gif nor a bridge"

var linkErrors = []errorCase{
	{strings.Fields("mtu"), `argument 1 "mtu": missing value (want a number 68..65535)`},
	{strings.Fields("up mtu 67"), `argument 2 "mtu 67": "67" is not a number 68..65535`},
	{strings.Fields("mtu 65536"), `argument 1 "mtu 65536": "65536" is not a number 68..65535`},
	{strings.Fields("mtu 0"), `argument 1 "mtu 0": "0" is not a number 68..65535`},
	{strings.Fields("mtu jumbo"), `argument 1 "mtu jumbo": "jumbo" is not a number 68..65535`},

	{strings.Fields("inet 192.0.2.1/24"), `argument 1 "inet": ` + onlyLink + `; assign addresses with ip(8)`},
	{strings.Fields("up 2001:db8::1"), `argument 2 "2001:db8::1": ` + onlyLink + `; assign addresses with ip(8)`},
	{strings.Fields("create"), `argument 1 "create": ` + onlyLink + `; it creates and destroys only gif0 .. gif9999 and bridge0 .. bridge9999`},
	{strings.Fields("destroy"), `argument 1 "destroy": ` + onlyLink + `; it creates and destroys only gif0 .. gif9999 and bridge0 .. bridge9999`},
	{strings.Fields("tunnel 192.0.2.1 198.51.100.1"), `argument 1 "tunnel": ` + onlyLink},
	{strings.Fields("add gif0"), `argument 1 "add": ` + onlyLink},
	{strings.Fields("description lan"), `argument 1 "description": ` + onlyLink},
	{strings.Fields("link2"), `argument 1 "link2": ` + onlyLink},
	{strings.Fields("dwon"), `argument 1 "dwon": ` + onlyLink + ` (did you mean "down"?)`},
	{strings.Fields("mtuu 1500"), `argument 1 "mtuu": ` + onlyLink + ` (did you mean "mtu"?)`},
	{[]string{""}, `argument 1 "": ` + onlyLink},
}
