package ipsecconf

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"gif/internal/ipsec"
	"gif/internal/ipsec/policy"
)

// fuzzFiles are the files a fuzzed ipsec.conf may read: keys of the
// lengths the algorithms take and some they do not, included files, one of
// which includes itself, and /etc/protocols.
var fuzzFiles = func() fakeFiles {
	files := fakeFiles{
		"inc":            {data: "gw = 192.0.2.2\nflow out from 192.0.2.1 to $gw\n", mode: 0o644},
		"loop":           {data: "\ninclude \"loop\"\n", mode: 0o644},
		"open":           {data: strings.Repeat("ab", 32), mode: 0o644},
		"/etc/protocols": {data: "ospf 89 OSPF\n", mode: 0o644},
	}
	for _, n := range []int{15, 16, 20, 24, 28, 32, 36, 48, 64} {
		files[fmt.Sprintf("k%d", n)] = keyFile(bytes.Repeat([]byte{byte(n)}, n))
	}
	return files
}()

// FuzzParse feeds Parse any text. It must not panic; an error must be an
// *Error at a line of the file it names; what it accepts must be SAs and
// flows the daemon can run as they are.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		bridge1Conf, bridge2Conf,
		"ike esp proto etherip from 1.2.3.4 to 4.3.2.1\n",
		"ike passive ah transport from { 192.0.2.0/24 2001:db8::1 } to any peer any local 192.0.2.1 main auth hmac-sha2-512 enc aes-256 group ecp384 lifetime 1h quick auth hmac-sha1 group none lifetime 90 srcid a@b dstid 192.0.2.2 psk 'k'\n",
		"ike dynamic esp from 192.0.2.1 to 192.0.2.2 quick enc aes-128-gcm group grp19 rsa\n",
		"gw = \"192.0.2\"\nesp transport from $gw.1 to $gw.2 spi 0x4242:4243 enc aesctr authkey file \"k32:k32\" enckey file \"k20:k36\"\n",
		"include \"inc\"\nflow ah in proto ospf from { 192.0.2.0/24, 2001:db8::/32 } to any peer $gw type use # c\n",
		"esp to 2001:db8::1 from 2001:db8::2 spi 01000 enc chacha20-poly1305 enckey 0x" + strings.Repeat("11", 36) + "\n",
		"ah from 192.0.2.1 to 192.0.2.2 spi 256 auth hmac-sha2-512 authkey file \"k64\"\\\n\n",
		"flow from 192.0.2.1 to 192.0.2.2 type deny\nflow esp out proto 4 from any to 198.51.100.0/24 peer any\n",
		"include \"loop\"\n", "x = 'a\\' b' \"c\\\nd\"\n", "esp from 192.0.2.1 to 192.0.2.2 spi 0x1000 authkey file \"open\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("ipsec.conf", data, fuzzFiles)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || c != nil {
				t.Fatalf("Parse(%q) = %+v, %v; want only an *Error", data, c, err)
			}
			if !atLine(data, e.File, e.Line) || !strings.HasPrefix(err.Error(), fmt.Sprintf("%s:%d: ", e.File, e.Line)) {
				t.Fatalf("Parse(%q): error %q at %s:%d", data, err, e.File, e.Line)
			}
			return
		}
		for _, sa := range c.SAs {
			if msg := checkSA(sa); msg != "" || !atLine(data, sa.File, sa.Line) {
				t.Fatalf("Parse(%q): SA %+v: %s", data, sa, msg)
			}
		}
		for _, fl := range c.Flows {
			if msg := checkFlow(fl); msg != "" || !atLine(data, fl.File, fl.Line) {
				t.Fatalf("Parse(%q): flow %+v: %s", data, fl, msg)
			}
		}
		for _, k := range c.IKE {
			if msg := checkIKE(k); msg != "" || !atLine(data, k.File, k.Line) {
				t.Fatalf("Parse(%q): ike rule %+v: %s", data, k, msg)
			}
		}
	})
}

func checkIKE(k policy.IKE) string {
	q := k.Quick
	switch {
	case !slices.Contains([]string{"active", "passive", "dynamic"}, k.Start.String()):
		return "start"
	case k.Proto != policy.ESP && k.Proto != policy.AH:
		return "proto"
	case k.Mode != ipsec.Tunnel && k.Mode != ipsec.Transport:
		return "mode"
	case !k.Src.IsValid() || !k.Dst.IsValid() || k.Src.Addr().Is4() != k.Dst.Addr().Is4():
		return "addresses"
	case k.Src != k.Src.Masked() || k.Dst != k.Dst.Masked():
		return "host bits"
	case !slices.Contains(mainEncs, k.Main.Enc) || !slices.Contains(mainAuths, k.Main.Auth) || !slices.Contains(groups, k.Main.Group):
		return "main mode algorithms"
	case k.Proto == policy.AH && (q.Enc != "" || !slices.Contains(quickAuths, q.Auth)):
		return "ah algorithms"
	case k.Proto == policy.ESP && !slices.Contains(quickEncs, q.Enc):
		return "quick mode enc"
	case k.Proto == policy.ESP && slices.Contains(quickAEADs, q.Enc) != (q.Auth == ""):
		return "quick mode auth"
	case q.Auth != "" && !slices.Contains(quickAuths, q.Auth):
		return "quick mode auth"
	case q.Group != "none" && !slices.Contains(groups, q.Group):
		return "quick mode group"
	case k.Main.Lifetime <= 0 || q.Lifetime <= 0:
		return "lifetime"
	}
	return ""
}

// atLine reports whether line is a line of the file called name: the main
// text or a fuzzFiles file.
func atLine(data []byte, name string, line int) bool {
	if name != "ipsec.conf" {
		f, ok := fuzzFiles[name]
		if !ok {
			return false
		}
		data = []byte(f.data)
	}
	return 1 <= line && line <= bytes.Count(data, []byte("\n"))+1
}

func checkSA(sa policy.SA) string {
	switch {
	case sa.Proto != policy.ESP && sa.Proto != policy.AH:
		return "proto"
	case sa.Mode != ipsec.Tunnel && sa.Mode != ipsec.Transport:
		return "mode"
	case sa.SPI < 0x100:
		return "reserved SPI"
	case !sa.Src.IsValid() || !sa.Dst.IsValid() || sa.Src.Is4() != sa.Dst.Is4():
		return "addresses"
	case sa.Proto == policy.AH && (sa.Enc != "" || sa.EncKey != nil):
		return "ah encrypts"
	}
	if sa.Proto == policy.ESP {
		enc := findEnc(sa.Enc)
		switch {
		case enc == nil:
			return "enc"
		case !slices.Contains(enc.keyLens, len(sa.EncKey)) && !(enc.keyLens == nil && sa.EncKey == nil):
			return "enc key length"
		case enc.aead && (sa.Auth != "" || sa.AuthKey != nil):
			return "AEAD with auth"
		case enc.aead:
			return ""
		}
	}
	if auth := findAuth(sa.Auth); auth == nil || len(sa.AuthKey) != auth.keyLen {
		return "auth"
	}
	return ""
}

func checkFlow(fl policy.Flow) string {
	noPeer := fl.Type == policy.Deny || fl.Type == policy.Bypass
	switch {
	case fl.Proto != policy.ESP && fl.Proto != policy.AH:
		return "proto"
	case fl.Dir != policy.In && fl.Dir != policy.Out:
		return "dir"
	case !slices.Contains([]string{"require", "use", "acquire", "dontacq", "deny", "bypass"}, fl.Type.String()):
		return "type"
	case !fl.Src.IsValid() || !fl.Dst.IsValid() || fl.Src.Addr().Is4() != fl.Dst.Addr().Is4():
		return "addresses"
	case fl.Src != fl.Src.Masked() || fl.Dst != fl.Dst.Masked():
		return "host bits"
	case noPeer && fl.Peer != (netip.Addr{}):
		return "a peer for no SA"
	}
	return ""
}
