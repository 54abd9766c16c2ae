package ipsecconf

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	k32, k20, k16 := hexKey(32, 0x11), hexKey(20, 0x22), hexKey(16, 0x33)
	files := fakeFiles{
		"k32":    keyFile([]byte(strings.Repeat("x", 32))),
		"e16":    keyFile([]byte(strings.Repeat("y", 16))),
		"e20":    keyFile([]byte(strings.Repeat("z", 20))),
		"open":   {data: k32, mode: 0o644},
		"secret": {err: fs.ErrPermission},
		"junk":   {data: "not hex!\n", mode: 0o600},
	}
	const (
		sa   = "esp from 192.0.2.1 to 192.0.2.2 spi 0x1000 "
		flow = "flow out from 192.0.2.1 to 192.0.2.2 "
	)
	keys := "authkey " + k32 + " enckey " + k16
	tests := []struct{ conf, want string }{
		// Tokens and macros.
		{`flow out from "192.0.2.1 to 192.0.2.2`, `1: near "\"": the quoted string that starts here does not end`},
		{"flow out from $gw to 192.0.2.2", `1: near "$gw": macro gw is not defined`},
		{"flow out from $ to 192.0.2.2", `1: near "$": a $ must be followed by the name of a macro`},
		{"a = \"$b\"\nflow out from $a to 192.0.2.2", `2: near "$": expected an address, ADDR/LEN, any or a { list }`},
		{"esp = \"x\"", `1: near "esp": esp is a reserved word: no macro's name`},
		{"1a = x", `1: near "1a": a macro's name is a letter and then letters, digits and _`},
		{"\n\na =", `3: near "=": expected the macro's value`},
		{"a = x { y", `1: near "{": a macro's value is words and quoted strings`},

		// Rules.
		{"# c\nfoo bar", `2: near "foo": expected a rule: esp, ah, flow, ike, include or NAME = VALUE`},
		{"{ flow", `1: near "{": expected a rule: esp, ah, flow, ike, include or NAME = VALUE`},
		{"ipcomp from 192.0.2.1 to 192.0.2.2", `1: near "ipcomp": ipcomp rules are not supported: gif does esp and ah`},
		{"tcpmd5 from 192.0.2.1 to 192.0.2.2", `1: near "tcpmd5": tcpmd5 rules are not supported: gif does esp and ah`},
		{"flow out\\\n from 192.0.2.1 \\\n to 192.0.2.2\nike passive esp from 192.0.2.1 to 192.0.2.2 psk",
			`4: near "psk": expected the pre-shared key`},

		// ike rules.
		{"ike aggressive from 192.0.2.1 to 192.0.2.2", `1: near "aggressive": expected from`},
		{"ike from 192.0.2.1 to 192.0.2.2 aggressive", `1: near "aggressive": aggressive mode is refused: it sends the identities in the clear, and with a psk lets an eavesdropper guess the key offline; use main mode (the default)`},
		{"ike ipcomp from 192.0.2.1 to 192.0.2.2", `1: near "ipcomp": ike ipcomp is not supported: gif negotiates esp and ah`},
		{"ike interface sec0", `1: near "interface": ike interface rules (sec(4) interfaces) are not supported`},
		{"ike from 192.0.2.1 to 192.0.2.2 main enc aes-128-gcm", `1: near "aes-128-gcm": unknown or unsupported encryption algorithm; gif has aes, aes-128, aes-192, aes-256`},
		{"ike from 192.0.2.1 to 192.0.2.2 main auth hmac-md5", `1: near "hmac-md5": unknown or unsupported authentication algorithm; gif has hmac-sha1, hmac-sha2-256, hmac-sha2-384, hmac-sha2-512`},
		{"ike from 192.0.2.1 to 192.0.2.2 main group none", `1: near "none": phase 1 needs a Diffie-Hellman group: none is for quick mode, without PFS`},
		{"ike from 192.0.2.1 to 192.0.2.2 quick group modp768", `1: near "modp768": unknown or unsupported group; gif has modp1024, modp1536, modp2048, modp3072, modp4096, modp6144, modp8192, ecp256, ecp384, ecp521, and none in quick mode`},
		{"ike from 192.0.2.1 to 192.0.2.2 quick enc chacha20-poly1305", `1: near "chacha20-poly1305": unknown or unsupported encryption algorithm; gif has aes, aes-128, aes-192, aes-256, aesctr, aes-128-ctr, aes-192-ctr, aes-256-ctr, aes-128-gcm, aes-256-gcm, null`},
		{"ike from 192.0.2.1 to 192.0.2.2 quick auth hmac-sha1 enc aes-256-gcm", `1: near "hmac-sha1": authentication is implicit for aes-256-gcm: it takes no auth`},
		{"ike ah from 192.0.2.1 to 192.0.2.2 quick enc aes", `1: near "aes": ah does not encrypt: its quick mode takes no enc`},
		{"ike from 192.0.2.1 to 192.0.2.2 quick enc aes enc aes", `1: near "enc": enc is given twice`},
		{"ike from 192.0.2.1 to 192.0.2.2 quick comp deflate", `1: near "comp": comp is not supported: gif does no IPcomp`},
		{"ike from 192.0.2.1 to 192.0.2.2 main lifetime 0", `1: near "0": a lifetime of 0 would end the SA at once`},
		{"ike from 192.0.2.1 to 192.0.2.2 main lifetime 20d", `1: near "20d": expected a lifetime: seconds, or minutes or hours such as 20m or 1h`},
		{"ike from 192.0.2.1 to 192.0.2.2 main lifetime", `1: near "lifetime": expected a value for lifetime`},
		{"ike from 192.0.2.1 to 192.0.2.2 quick quick", `1: near "quick": quick is given twice`},
		{"ike from 192.0.2.1 to 192.0.2.2 psk a rsa", `1: near "rsa": rsa or psk is given twice`},
		{`ike from 192.0.2.1 to 192.0.2.2 psk ""`, `1: near "psk": the pre-shared key is empty`},
		{"ike from 192.0.2.1 to 192.0.2.2 peer", `1: near "peer": expected the peer's address, or any`},
		{"ike from 192.0.2.1 to 192.0.2.2 local any", `1: near "any": expected the local address`},
		{"ike from 192.0.2.1 to 192.0.2.2 tag foo", `1: near "tag": tag is not supported: gif has no pf(4) to match tags`},
		{"ike from 192.0.2.1 to 192.0.2.2 type require", `1: near "type": unexpected: an ike rule goes on with peer, local, main, quick, srcid, dstid, rsa and psk`},
		{"ike from 192.0.2.1 to 2001:db8::1", `1: near "2001:db8::1": from and to are of different address families`},
		{"include", `1: near "include": expected the name of the file to include`},
		{`include "x" "y"`, `1: near "y": expected the end of the rule: include takes one file`},
		{`include "missing"`, `1: near "missing": cannot include missing: file does not exist`},

		// Addresses.
		{"flow esp out 192.0.2.1 to 192.0.2.2", `1: near "192.0.2.1": expected from`},
		{"flow out from 192.0.2.1 192.0.2.2", `1: near "192.0.2.2": expected to`},
		{"flow out to 192.0.2.1 to 192.0.2.2", `1: near "to": expected from`},
		{"flow out from 192.0.2.1", `1: near "192.0.2.1": expected to`},
		{"flow out from gw.example.org to 192.0.2.2", `1: near "gw.example.org": not an IP address: gif looks up no host or interface names`},
		{"flow out from fe80::1%eth0 to fe80::2", `1: near "fe80::1%eth0": not an IP address: gif looks up no host or interface names`},
		{"flow out from 192.0.2.0/33 to 192.0.2.2", `1: near "33": expected a prefix length, 0 to 32`},
		{"flow out from 2001:db8::/+3 to 2001:db8::1", `1: near "+": expected a prefix length, 0 to 128`},
		{"flow out from 192.0.2.0/ to 192.0.2.2", `1: near "to": expected a prefix length, 0 to 32`},
		{"flow out from 192.0.2.1 port 22 to 192.0.2.2", `1: near "port": ports are not supported: gif's flows match addresses and protocols`},
		{"flow out from { } to 192.0.2.2", `1: near "{": the list is empty`},
		{"flow out from { 192.0.2.1 to 192.0.2.2", `1: near "to": expected an address, ADDR/LEN, any or a { list }`},
		{"flow out from 192.0.2.1 (192.0.2.9) to 192.0.2.2", `1: near "(": flow NAT is not supported`},
		{"flow out from 192.0.2.1 to 2001:db8::1", `1: near "2001:db8::1": from and to are of different address families`},

		// Flows.
		{"flow ipip from 192.0.2.1 to 192.0.2.2", `1: near "ipip": flow ipip is not supported: gif's flows are esp or ah`},
		{"flow out proto bogus from 192.0.2.1 to 192.0.2.2", `1: near "bogus": unknown protocol: neither gif nor /etc/protocols knows it`},
		{"flow out proto 256 from 192.0.2.1 to 192.0.2.2", `1: near "256": protocol numbers go from 0 to 255`},
		{"flow out proto { from 192.0.2.1 to 192.0.2.2", `1: near "{": expected a protocol's name or number`},
		{"flow out from 192.0.2.0/24 to 198.51.100.0/24", `1: near "198.51.100.0": 198.51.100.0/24 is a network: the flow needs a peer ADDR`},
		{"flow in from 192.0.2.0/24 to 198.51.100.1", `1: near "192.0.2.0": 192.0.2.0/24 is a network: the flow needs a peer ADDR`},
		{"flow from 198.51.100.1 to any", `1: near "any": 0.0.0.0/0 is a network: the flow needs a peer ADDR`},
		{flow + "peer", `1: near "peer": expected the peer's address, or any`},
		{flow + "peer 192.0.2.0/24", `1: near "/": unexpected: a flow rule ends with peer ADDR and type TYPE`},
		{flow + "type foo", `1: near "foo": expected a type: require, use, acquire, dontacq, deny, bypass`},
		{flow + "peer 192.0.2.9 peer 192.0.2.8", `1: near "peer": peer is given twice`},
		{flow + "local 192.0.2.1", `1: near "local": local is not supported`},
		{flow + "srcid gw.example.org", `1: near "srcid": srcid is not supported`},
		{flow + "extra", `1: near "extra": unexpected: a flow rule ends with peer ADDR and type TYPE`},

		// SAs.
		{"esp from 192.0.2.1 to 192.0.2.2 " + keys, `1: near "authkey": expected spi`},
		{"esp from 192.0.2.1 to 192.0.2.2 spi", `1: near "spi": expected an SPI, OUT or OUT:IN`},
		{"esp from 192.0.2.1 to 192.0.2.2 spi 0x " + keys, `1: near "0x": "0x" is not an SPI: one is a number up to 0xffffffff`},
		{"esp from 192.0.2.1 to 192.0.2.2 spi 0x100000000 " + keys, `1: near "0x100000000": "0x100000000" is not an SPI: one is a number up to 0xffffffff`},
		{"esp from 192.0.2.1 to 192.0.2.2 spi 0999 " + keys, `1: near "0999": "0999" is not an SPI: one is a number up to 0xffffffff`},
		{"esp from 192.0.2.1 to 192.0.2.2 spi 0 " + keys, `1: near "0": SPI 0 means none: give one from 0x100 up`},
		{"esp from 192.0.2.1 to 192.0.2.2 spi 255 " + keys, `1: near "255": SPIs 1 to 255 are reserved; 255 is one`},
		{"esp from 192.0.2.1 to 192.0.2.2 spi 0x1000:0xff " + keys, `1: near "0x1000:0xff": SPIs 1 to 255 are reserved; 0xff is one`},
		{sa + "auth hmac-md5 " + keys, `1: near "hmac-md5": unknown authentication algorithm; gif has hmac-sha1, hmac-sha2-256, hmac-sha2-384, hmac-sha2-512`},
		{sa + "enc 3des-cbc " + keys, `1: near "3des-cbc": unknown encryption algorithm; gif has aes, aes-128, aes-192, aes-256, aesctr, aes-128-gcm, aes-256-gcm, chacha20-poly1305, null`},
		{sa + "auth hmac-sha1 auth hmac-sha1", `1: near "auth": auth is given twice`},
		{sa + keys + " authkey " + k32, `1: near "authkey": authkey is given twice`},
		{sa + "enc", `1: near "enc": expected the name of an algorithm`},
		{sa + "udpencap", `1: near "udpencap": udpencap is not supported`},
		{sa + "comp deflate", `1: near "comp": unexpected: an SA rule goes on with auth, enc, authkey and enckey`},
		{sa + "enckey " + k16, `1: near "esp": no authkey: hmac-sha2-256 takes 32 bytes: openssl rand -hex 32`},
		{"\\\n" + sa + "authkey " + k32, `2: near "esp": no enckey: aes takes 16, 24 or 32 bytes: openssl rand -hex 16`},
		{sa + "enc null " + keys, `1: near "enckey": null encryption takes no enckey`},
		{sa + "auth hmac-sha2-256 enc aes-128-gcm enckey " + k20, `1: near "hmac-sha2-256": aes-128-gcm authenticates by itself: it takes no auth`},
		{sa + "enc aes-128-gcm enckey " + k20 + " authkey " + k32, `1: near "authkey": aes-128-gcm authenticates by itself: it takes no authkey`},
		{"ah from 192.0.2.1 to 192.0.2.2 spi 0x1000 enc aes " + keys, `1: near "aes": ah does not encrypt: it takes no enc`},
		{"ah from 192.0.2.1 to 192.0.2.2 spi 0x1000 " + keys, `1: near "enckey": ah does not encrypt: it takes no enckey`},
		{sa + "authkey " + k32 + ":" + k32 + " enckey " + k16 + ":" + k16,
			`1: near "0x1000": a second key is for the SA the other way, which needs an SPI too: spi OUT:IN`},
		{"esp from 192.0.2.1 to 192.0.2.2 spi 0x1000:0x1001 authkey " + k32 + " enckey " + k16 + ":" + k16,
			`1: near "authkey": the SA the other way (spi 0x1001) needs a second authkey: authkey OUT:IN`},
		{"esp from 192.0.2.1 to 192.0.2.2 spi 0x1000:0x1001 " + keys,
			`1: near "authkey": the SA the other way (spi 0x1001) needs a second authkey: authkey OUT:IN`},
		{"esp from 192.0.2.0/24 to 192.0.2.2 spi 0x1000 " + keys, `1: near "192.0.2.0": an SA is between two addresses, not any or a network`},
		{"esp from 192.0.2.1 to any spi 0x1000 " + keys, `1: near "any": an SA is between two addresses, not any or a network`},
		{"esp from 192.0.2.1 to 2001:db8::1 spi 0x1000 " + keys, `1: near "2001:db8::1": from and to are of different address families`},
		{sa + keys + "\n\n" + "esp from 198.51.100.1 to 192.0.2.2 spi 4096 " + keys,
			`3: near "4096": ipsec.conf:1 has an SA esp to 192.0.2.2 with SPI 0x1000 already`},
		{"esp from 192.0.2.1 to 192.0.2.2 spi 0x1000:0x1000 authkey " + k32 + ":" + k32 + " enckey " + k16 + ":" + k16, ""},
		{"esp from 192.0.2.1 to 192.0.2.1 spi 0x1000:0x1000 authkey " + k32 + ":" + k32 + " enckey " + k16 + ":" + k16,
			`1: near "0x1000:0x1000": ipsec.conf:1 has an SA esp to 192.0.2.1 with SPI 0x1000 already`},

		// Keys, which no error shows.
		{sa + "authkey 0xzz" + k32[4:] + " enckey " + k16, `1: near "authkey": authkey is not all hex digits`},
		{sa + "authkey " + k32[1:] + " enckey " + k16, `1: near "authkey": authkey has an odd number of hex digits`},
		{sa + "authkey 0x enckey " + k16, `1: near "authkey": authkey is empty`},
		{sa + "authkey " + k32 + ": enckey " + k16, `1: near "authkey": the second authkey is empty`},
		{sa + "authkey " + k32 + ":" + k20 + " enckey " + k16 + ":" + k16 + "\n",
			`1: near "0x1000": a second key is for the SA the other way, which needs an SPI too: spi OUT:IN`},
		{"esp from 192.0.2.1 to 192.0.2.2 spi 0x1000:0x1001 authkey " + k32 + ":" + k20 + " enckey " + k16 + ":" + k16 + "\n",
			`1: near "authkey": the second authkey is 20 bytes; hmac-sha2-256 takes 32 bytes: openssl rand -hex 32`},
		{sa + "authkey file", `1: near "file": expected the name of the key file, or two: "OUT:IN"`},
		{sa + "authkey {", `1: near "{": expected a key in hex, or file "NAME"`},
		{sa + `authkey file "nokey" enckey file "e16"`, `1: near "nokey": cannot read authkey file nokey: file does not exist`},
		{sa + `authkey file "k32:secret" enckey file "e16"`, `1: near "k32:secret": cannot read authkey file secret: permission denied`},
		{sa + `authkey file "open" enckey file "e16"`, `1: near "open": authkey file open is open to group or others (mode -rw-r--r--): it holds keys; chmod 600 it`},
		{sa + `authkey file "junk" enckey file "e16"`, `1: near "junk": authkey file junk is not all hex digits`},
		{sa + `enc aes-128 authkey file "k32" enckey file "e20"`, `1: near "e20": enckey file e20 is 20 bytes; aes-128 takes 16 bytes: openssl rand -hex 16`},
		{sa + `enc aesctr authkey file "k32" enckey file "e16"`, `1: near "e16": enckey file e16 is 16 bytes; aesctr takes 20, 28 or 36 bytes, a key and a 4-byte salt: openssl rand -hex 20`},
	}
	for _, tc := range tests {
		c, err := Parse("ipsec.conf", []byte(tc.conf), files)
		if tc.want == "" {
			if err != nil {
				t.Errorf("Parse(%q): %v", tc.conf, err)
			}
			continue
		}
		var e *Error
		switch {
		case err == nil:
			t.Errorf("Parse(%q) = %+v, want error %s", tc.conf, c, tc.want)
		case !errors.As(err, &e) || c != nil || e.File != "ipsec.conf":
			t.Errorf("Parse(%q) = %v, %v (%T); want only an *Error", tc.conf, c, err, err)
		case err.Error() != "ipsec.conf:"+tc.want:
			t.Errorf("Parse(%q):\n got %s\nwant ipsec.conf:%s", tc.conf, err, tc.want)
		case strings.Contains(err.Error(), k32) || strings.Contains(err.Error(), k32[4:]):
			t.Errorf("Parse(%q): %s shows a key", tc.conf, err)
		}
	}
}

// TestParseErrorInInclude: an error in an included file names that file and
// its line.
func TestParseErrorInInclude(t *testing.T) {
	files := fakeFiles{"inc.conf": {data: "\n\nflow out from 192.0.2.1 to nowhere\n", mode: 0o644}}
	_, err := Parse("ipsec.conf", []byte("# main\ninclude \"inc.conf\"\n"), files)
	var e *Error
	if !errors.As(err, &e) || e.File != "inc.conf" || e.Line != 3 || e.Token != "nowhere" {
		t.Errorf("Parse: %v, want an error at inc.conf:3 near \"nowhere\"", err)
	}
}
