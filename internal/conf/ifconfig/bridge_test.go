package ifconfig

import (
	"strings"

	"gif/internal/tunnel"
)

func textOp(kind tunnel.OpKind, token, text string) tunnel.Op {
	return tunnel.Op{Kind: kind, Token: token, Text: text}
}

func linkOp(token string, n int, on bool) tunnel.Op {
	return tunnel.Op{Kind: tunnel.OpLinkFlag, Token: token, Int: n, Bool: on}
}

var bridgeCases = []parseCase{
	same(op(tunnel.OpCreate, "create")),
	same(op(tunnel.OpDestroy, "destroy")),
	same(op(tunnel.OpUp, "up")),
	same(op(tunnel.OpDown, "down")),
	same(textOp(tunnel.OpBridgeAdd, "add gif0", "gif0")),
	same(textOp(tunnel.OpBridgeAdd, "add eth1", "eth1")),
	same(textOp(tunnel.OpBridgeAdd, "add gif9999", "gif9999")),
	same(textOp(tunnel.OpBridgeAdd, "add abcdefghijklmno", "abcdefghijklmno")),
	// Any name Linux takes, even one that looks like a word of ifconfig;
	// the model says whether it exists and may join.
	same(textOp(tunnel.OpBridgeAdd, "add up", "up")),
	same(textOp(tunnel.OpBridgeAdd, "add -x", "-x")),
	same(textOp(tunnel.OpBridgeAdd, "add é", "é")),
	same(textOp(tunnel.OpBridgeAdd, "add a\x85b", "a\x85b")),
	same(textOp(tunnel.OpBridgeAdd, "add bridge1", "bridge1")),
	same(textOp(tunnel.OpBridgeDel, "del gif0", "gif0")),
	same(textOp(tunnel.OpBridgeDel, "del fxp1", "fxp1")),
	same(linkOp("link0", 0, true)),
	same(linkOp("link1", 1, true)),
	same(linkOp("link2", 2, true)),
	same(linkOp("-link0", 0, false)),
	same(linkOp("-link1", 1, false)),
	same(linkOp("-link2", 2, false)),
	same(textOp(tunnel.OpDescription, "description lan", "lan")),
	same(textOp(tunnel.OpDescription, "descr lan", "lan")),
	same(op(tunnel.OpDescription, "-description")),
	same(op(tunnel.OpDescription, "-descr")),
	{[]string{"description", "two LANs, one bridge"},
		[]tunnel.Op{textOp(tunnel.OpDescription, "description two LANs, one bridge", "two LANs, one bridge")}},

	{nil, nil},
	// The seed's example.
	{strings.Fields("add gif0 add fxp1"),
		[]tunnel.Op{textOp(tunnel.OpBridgeAdd, "add gif0", "gif0"), textOp(tunnel.OpBridgeAdd, "add fxp1", "fxp1")}},
	{strings.Fields("up link2"), []tunnel.Op{op(tunnel.OpUp, "up"), linkOp("link2", 2, true)}},
	{strings.Fields("create add gif0 add eth1 del eth1 -link2 link0 description x up"),
		[]tunnel.Op{
			op(tunnel.OpCreate, "create"),
			textOp(tunnel.OpBridgeAdd, "add gif0", "gif0"),
			textOp(tunnel.OpBridgeAdd, "add eth1", "eth1"),
			textOp(tunnel.OpBridgeDel, "del eth1", "eth1"),
			linkOp("-link2", 2, false),
			linkOp("link0", 0, true),
			textOp(tunnel.OpDescription, "description x", "x"),
			op(tunnel.OpUp, "up"),
		}},
}

const (
	noBridgeAddress = "gif sets no address on a bridge; assign addresses with ip(8), as in \"ip address add ADDR dev bridge0\""
	notOnBridge     = "an OpenBSD parameter not supported by gif's bridges"
	gifOnly         = "a gif parameter, which a bridge does not take"
)

var bridgeErrors = []errorCase{
	{strings.Fields("add"), `argument 1 "add": missing interface (want add IF)`},
	{strings.Fields("add gif0 del"), `argument 3 "del": missing interface (want del IF)`},
	{[]string{"add", ""}, `argument 1 "add ": interface name "": empty`},
	{strings.Fields("add abcdefghijklmnop"), `argument 1 "add abcdefghijklmnop": interface name "abcdefghijklmnop": 16 bytes, more than Linux's 15`},
	{strings.Fields("add ."), `argument 1 "add .": interface name ".": Linux refuses "." and ".." as names`},
	{strings.Fields("del .."), `argument 1 "del ..": interface name "..": Linux refuses "." and ".." as names`},
	{strings.Fields("add a/b"), `argument 1 "add a/b": interface name "a/b": contains "/"; Linux interface names have no '/', ':', '%', white space or NUL`},
	{strings.Fields("add eth0:1"), `argument 1 "add eth0:1": interface name "eth0:1": contains ":"; Linux interface names have no '/', ':', '%', white space or NUL`},
	{strings.Fields("add eth%d"), `argument 1 "add eth%d": interface name "eth%d": contains "%"; Linux interface names have no '/', ':', '%', white space or NUL`},
	{[]string{"add", "a b"}, `argument 1 "add a b": interface name "a b": contains " "; Linux interface names have no '/', ':', '%', white space or NUL`},
	{[]string{"add", "a\tb"}, "argument 1 \"add a\\tb\": interface name \"a\\tb\": contains \"\\t\"; Linux interface names have no '/', ':', '%', white space or NUL"},
	{[]string{"add", "a\x00b"}, `argument 1 "add a\x00b": interface name "a\x00b": contains "\x00"; Linux interface names have no '/', ':', '%', white space or NUL`},
	// The kernel's isspace counts 0xa0, so U+00A0 (c2 a0) is refused too.
	{[]string{"add", "a\u00a0b"}, `argument 1 "add a\u00a0b": interface name "a\u00a0b": contains "\xa0"; Linux interface names have no '/', ':', '%', white space or NUL`},
	{strings.Fields("add gif01"), `argument 1 "add gif01": interface name "gif01": not a gif interface (want gif0 .. gif9999, without leading zeros)`},
	{strings.Fields("add gif10000"), `argument 1 "add gif10000": interface name "gif10000": not a gif interface (want gif0 .. gif9999, without leading zeros)`},
	{strings.Fields("del bridge00"), `argument 1 "del bridge00": interface name "bridge00": not a bridge (want bridge0 .. bridge9999, without leading zeros)`},

	{strings.Fields("inet 192.0.2.1/24"), `argument 1 "inet": ` + noBridgeAddress},
	{strings.Fields("up inet6 2001:db8::1"), `argument 2 "inet6": ` + noBridgeAddress},
	{strings.Fields("192.0.2.1"), `argument 1 "192.0.2.1": ` + noBridgeAddress},
	{strings.Fields("fe80::1"), `argument 1 "fe80::1": ` + noBridgeAddress},
	{strings.Fields("-inet6"), `argument 1 "-inet6": ` + noBridgeAddress},
	{strings.Fields("-inet"), `argument 1 "-inet": ` + noBridgeAddress},
	{strings.Fields("netmask 255.255.255.0"), `argument 1 "netmask": ` + noBridgeAddress},
	{strings.Fields("alias"), `argument 1 "alias": ` + noBridgeAddress},

	{strings.Fields("mtu 1500"), `argument 1 "mtu": a Linux bridge takes the smallest MTU of its members; set theirs, as in "ifconfig gif0 mtu 1500"`},
	{strings.Fields("add gif0 tunnel 192.0.2.1 198.51.100.1"), `argument 3 "tunnel": ` + gifOnly},
	{strings.Fields("-tunnel"), `argument 1 "-tunnel": ` + gifOnly},
	{strings.Fields("tunnelttl 64"), `argument 1 "tunnelttl": ` + gifOnly},
	{strings.Fields("tunneldf"), `argument 1 "tunneldf": ` + gifOnly},

	{strings.Fields("learn eth1"), `argument 1 "learn": ` + notOnBridge},
	{strings.Fields("add eth1 -learn eth1"), `argument 3 "-learn": ` + notOnBridge},
	{strings.Fields("discover eth1"), `argument 1 "discover": ` + notOnBridge},
	{strings.Fields("blocknonip eth1"), `argument 1 "blocknonip": ` + notOnBridge},
	{strings.Fields("stp eth1"), `argument 1 "stp": ` + notOnBridge},
	{strings.Fields("span eth2"), `argument 1 "span": ` + notOnBridge},
	{strings.Fields("static eth1 00:00:5e:00:53:01"), `argument 1 "static": ` + notOnBridge},
	{strings.Fields("deladdr 00:00:5e:00:53:01"), `argument 1 "deladdr": ` + notOnBridge},
	{strings.Fields("flush"), `argument 1 "flush": ` + notOnBridge},
	{strings.Fields("maxaddr 100"), `argument 1 "maxaddr": ` + notOnBridge},
	{strings.Fields("timeout 240"), `argument 1 "timeout": ` + notOnBridge},
	{strings.Fields("rule block in on eth1"), `argument 1 "rule": ` + notOnBridge},
	{strings.Fields("protect eth1 1"), `argument 1 "protect": ` + notOnBridge},

	{strings.Fields("description"), `argument 1 "description": missing value (want one argument; quote text with spaces)`},
	{[]string{"description", longDescription}, `argument 1 "description ` + longDescription + `": description is 64 bytes, more than 63`},
	{strings.Fields("lnk2"), `argument 1 "lnk2": unknown parameter (did you mean "link2"?)`},
	{strings.Fields("link3"), `argument 1 "link3": unknown parameter (did you mean "link0"?)`},
	{strings.Fields("ad gif0"), `argument 1 "ad": unknown parameter (did you mean "add"?)`},
	{strings.Fields("add gif0 dell gif0"), `argument 3 "dell": unknown parameter (did you mean "del"?)`},
	{strings.Fields("xyzzy"), `argument 1 "xyzzy": unknown parameter`},
	// Suggestions come from the bridge's words only.
	{strings.Fields("tunel 192.0.2.1 198.51.100.1"), `argument 1 "tunel": unknown parameter`},
	{[]string{""}, `argument 1 "": unknown parameter`},
}
