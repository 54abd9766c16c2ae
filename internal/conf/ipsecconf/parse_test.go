package ipsecconf

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"gif/internal/ipsec"
	"gif/internal/ipsec/policy"
)

// fakeFiles are files by path: key files, included files, /etc/protocols.
type fakeFiles map[string]fakeFile

type fakeFile struct {
	data string
	mode fs.FileMode
	err  error // what reading it fails with
}

func (f fakeFiles) ReadFile(path string) ([]byte, fs.FileMode, error) {
	ff, ok := f[path]
	switch {
	case !ok:
		return nil, 0, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
	case ff.err != nil:
		return nil, 0, &fs.PathError{Op: "open", Path: path, Err: ff.err}
	}
	return []byte(ff.data), ff.mode, nil
}

func randomKey(t testing.TB, n int) []byte {
	t.Helper()
	key := make([]byte, n)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return key
}

// keyFile is a key as openssl rand -hex writes it, readable by root only.
func keyFile(key []byte) fakeFile {
	return fakeFile{data: hex.EncodeToString(key) + "\n", mode: 0o600}
}

func addr(s string) netip.Addr     { return netip.MustParseAddr(s) }
func prefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// The two ipsec.conf files of gif(4)'s EXAMPLES, as written there.
const (
	bridge1Conf = `esp from 1.2.3.4 to 4.3.2.1 spi 0x4242:0x4243 \
	authkey file "auth1:auth2" enckey file "enc1:enc2"
flow esp proto etherip from 1.2.3.4 to 4.3.2.1
`
	bridge2Conf = `esp from 4.3.2.1 to 1.2.3.4 spi 0x4243:0x4242 \
	authkey file "auth2:auth1" enckey file "enc2:enc1"
flow esp proto etherip from 4.3.2.1 to 1.2.3.4
`
)

func TestParseSeedExample(t *testing.T) {
	auth1, auth2 := randomKey(t, 32), randomKey(t, 32)
	enc1, enc2 := randomKey(t, 16), randomKey(t, 16)
	files := fakeFiles{"auth1": keyFile(auth1), "auth2": keyFile(auth2), "enc1": keyFile(enc1), "enc2": keyFile(enc2)}
	b1, b2 := addr("1.2.3.4"), addr("4.3.2.1")
	sa := func(src, dst netip.Addr, spi uint32, authKey, encKey []byte) policy.SA {
		return policy.SA{File: "ipsec.conf", Line: 1, Proto: policy.ESP, Mode: ipsec.Tunnel, Src: src, Dst: dst, SPI: spi,
			Auth: "hmac-sha2-256", Enc: "aes", AuthKey: authKey, EncKey: encKey}
	}
	flow := func(dir policy.Dir, src, dst, peer netip.Addr) policy.Flow {
		return policy.Flow{File: "ipsec.conf", Line: 3, Proto: policy.ESP, Dir: dir, IPProto: 97,
			Src: netip.PrefixFrom(src, 32), Dst: netip.PrefixFrom(dst, 32), Peer: peer, Type: policy.Require}
	}
	tests := []struct {
		name, conf string
		want       policy.Config
	}{
		{"bridge1", bridge1Conf, policy.Config{
			SAs:   []policy.SA{sa(b1, b2, 0x4242, auth1, enc1), sa(b2, b1, 0x4243, auth2, enc2)},
			Flows: []policy.Flow{flow(policy.Out, b1, b2, b2), flow(policy.In, b2, b1, b2)},
		}},
		{"bridge2", bridge2Conf, policy.Config{
			SAs:   []policy.SA{sa(b2, b1, 0x4243, auth2, enc2), sa(b1, b2, 0x4242, auth1, enc1)},
			Flows: []policy.Flow{flow(policy.Out, b2, b1, b1), flow(policy.In, b1, b2, b1)},
		}},
	}
	for _, tc := range tests {
		got, err := Parse("ipsec.conf", []byte(tc.conf), files)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(*got, tc.want) {
			t.Errorf("%s: Parse gives\n%+v\nwant\n%+v", tc.name, *got, tc.want)
		}
	}
}

// TestParseSeedDynamicKeying: the seed's ike lines, with ipsecctl's
// defaults.
func TestParseSeedDynamicKeying(t *testing.T) {
	got, err := Parse("ipsec.conf", []byte("# bridge1\nike esp proto etherip from 1.2.3.4 to 4.3.2.1\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []policy.IKE{{
		File: "ipsec.conf", Line: 2, Start: policy.Active, Proto: policy.ESP, Mode: ipsec.Tunnel, IPProto: 97,
		Src: prefix("1.2.3.4/32"), Dst: prefix("4.3.2.1/32"), Peer: addr("4.3.2.1"),
		Main:  policy.IKEPhase{Auth: "hmac-sha1", Enc: "aes", Group: "modp3072", Lifetime: time.Hour},
		Quick: policy.IKEPhase{Auth: "hmac-sha2-256", Enc: "aes", Group: "modp3072", Lifetime: 20 * time.Minute},
	}}
	if !reflect.DeepEqual(got.IKE, want) || len(got.SAs)+len(got.Flows) != 0 {
		t.Errorf("Parse gives\n%+v\nwant\n%+v", *got, want)
	}
}

func TestParseIKE(t *testing.T) {
	tests := []struct {
		conf string
		want []policy.IKE // File and Line aside
	}{
		// Every item, the ones after the hosts in another order than
		// ipsecctl's.
		{`ike passive esp transport proto tcp from 192.0.2.1 to 192.0.2.2 psk "a secret" srcid me@gif.example dstid peer.example quick group none enc aes-256-gcm lifetime 20m main auth hmac-sha2-256 enc aes-256 group grp14 lifetime 1H local 192.0.2.1`,
			[]policy.IKE{{Start: policy.Passive, Proto: policy.ESP, Mode: ipsec.Transport, IPProto: 6,
				Src: prefix("192.0.2.1/32"), Dst: prefix("192.0.2.2/32"), Local: addr("192.0.2.1"), Peer: addr("192.0.2.2"),
				Main:  policy.IKEPhase{Auth: "hmac-sha2-256", Enc: "aes-256", Group: "modp2048", Lifetime: time.Hour},
				Quick: policy.IKEPhase{Enc: "aes-256-gcm", Group: "none", Lifetime: 20 * time.Minute},
				SrcID: "me@gif.example", DstID: "peer.example", PSK: "a secret"}}},
		// Networks: the peer is given, or none (any peer).
		{"ike dynamic from 192.0.2.0/24 to 198.51.100.0/24 peer 198.51.100.1 quick lifetime 30\n" +
			"ike from { 192.0.2.0/24, 2001:db8::/32 } to any peer any rsa",
			[]policy.IKE{
				{Start: policy.Dynamic, Proto: policy.ESP, Mode: ipsec.Tunnel, Src: prefix("192.0.2.0/24"), Dst: prefix("198.51.100.0/24"),
					Peer: addr("198.51.100.1"), Main: defaultMain,
					Quick: policy.IKEPhase{Auth: "hmac-sha2-256", Enc: "aes", Group: "modp3072", Lifetime: 30 * time.Second}},
				{Start: policy.Active, Proto: policy.ESP, Mode: ipsec.Tunnel, Src: prefix("192.0.2.0/24"), Dst: prefix("0.0.0.0/0"),
					Main: defaultMain, Quick: defaultQuick},
				{Start: policy.Active, Proto: policy.ESP, Mode: ipsec.Tunnel, Src: prefix("2001:db8::/32"), Dst: prefix("::/0"),
					Main: defaultMain, Quick: defaultQuick},
			}},
		// ah negotiates no encryption.
		{"ike ah to 2001:db8::2 from 2001:db8::1 quick auth hmac-sha2-512",
			[]policy.IKE{{Start: policy.Active, Proto: policy.AH, Mode: ipsec.Tunnel, Src: prefix("2001:db8::1/128"), Dst: prefix("2001:db8::2/128"),
				Peer: addr("2001:db8::2"), Main: defaultMain,
				Quick: policy.IKEPhase{Auth: "hmac-sha2-512", Group: "modp3072", Lifetime: 20 * time.Minute}}}},
	}
	for _, tc := range tests {
		got, err := Parse("ipsec.conf", []byte(tc.conf), nil)
		if err != nil {
			t.Errorf("%s: %v", tc.conf, err)
			continue
		}
		for i := range got.IKE {
			got.IKE[i].File, got.IKE[i].Line = "", 0
		}
		if !reflect.DeepEqual(got.IKE, tc.want) {
			t.Errorf("%s: Parse gives\n%+v\nwant\n%+v", tc.conf, got.IKE, tc.want)
		}
	}
}

// hexKey is a key of n bytes in hex, each byte b.
func hexKey(n int, b byte) string { return strings.Repeat(hex.EncodeToString([]byte{b}), n) }

func TestParseSAs(t *testing.T) {
	a32, b32 := hexKey(32, 0xa1), hexKey(32, 0xb1)
	a16, b16 := hexKey(16, 0xa2), hexKey(16, 0xb2)
	key := func(n int, b byte) []byte { k, _ := hex.DecodeString(hexKey(n, b)); return k }
	tests := []struct {
		conf string
		want []policy.SA // File and Line aside
	}{
		// One way only: no second SPI or key.
		{"esp from 192.0.2.1 to 192.0.2.2 spi 0x1000 authkey 0x" + a32 + " enckey " + a16, []policy.SA{
			{Proto: policy.ESP, Mode: ipsec.Tunnel, Src: addr("192.0.2.1"), Dst: addr("192.0.2.2"), SPI: 0x1000,
				Auth: "hmac-sha2-256", Enc: "aes", AuthKey: key(32, 0xa1), EncKey: key(16, 0xa2)},
		}},
		// Both ways, inline keys, decimal SPIs, settings in another order.
		{"esp transport from 2001:db8::1 to 2001:db8::2 spi 4096:4097 enckey 0X" + a16 + ":" + b16 +
			" enc aes-128 authkey " + a32 + ":" + b32 + " auth hmac-sha2-256", []policy.SA{
			{Proto: policy.ESP, Mode: ipsec.Transport, Src: addr("2001:db8::1"), Dst: addr("2001:db8::2"), SPI: 4096,
				Auth: "hmac-sha2-256", Enc: "aes-128", AuthKey: key(32, 0xa1), EncKey: key(16, 0xa2)},
			{Proto: policy.ESP, Mode: ipsec.Transport, Src: addr("2001:db8::2"), Dst: addr("2001:db8::1"), SPI: 4097,
				Auth: "hmac-sha2-256", Enc: "aes-128", AuthKey: key(32, 0xb1), EncKey: key(16, 0xb2)},
		}},
		// to ... from ..., octal SPI, AEAD without auth.
		{"esp to 192.0.2.2 from 192.0.2.1 spi 010000 enc aes-256-gcm enckey " + hexKey(36, 7), []policy.SA{
			{Proto: policy.ESP, Mode: ipsec.Tunnel, Src: addr("192.0.2.1"), Dst: addr("192.0.2.2"), SPI: 0o10000,
				Enc: "aes-256-gcm", EncKey: key(36, 7)},
		}},
		// ah, both ways.
		{"ah from 192.0.2.1 to 192.0.2.2 spi 0x300:0x301 auth hmac-sha1 authkey " + hexKey(20, 1) + ":" + hexKey(20, 2), []policy.SA{
			{Proto: policy.AH, Mode: ipsec.Tunnel, Src: addr("192.0.2.1"), Dst: addr("192.0.2.2"), SPI: 0x300,
				Auth: "hmac-sha1", AuthKey: key(20, 1)},
			{Proto: policy.AH, Mode: ipsec.Tunnel, Src: addr("192.0.2.2"), Dst: addr("192.0.2.1"), SPI: 0x301,
				Auth: "hmac-sha1", AuthKey: key(20, 2)},
		}},
		// null encryption takes no enckey; the satype esp is the default.
		{"from 192.0.2.1 to 192.0.2.2 spi 0xffffffff enc null authkey " + a32, []policy.SA{
			{Proto: policy.ESP, Mode: ipsec.Tunnel, Src: addr("192.0.2.1"), Dst: addr("192.0.2.2"), SPI: 0xffffffff,
				Auth: "hmac-sha2-256", Enc: "null", AuthKey: key(32, 0xa1)},
		}},
		// A list: one SA each way per pair of the same family.
		{"esp from 192.0.2.1 to { 192.0.2.2, 192.0.2.3 2001:db8::9 } spi 0x500 authkey " + a32 + " enckey " + a16, []policy.SA{
			{Proto: policy.ESP, Mode: ipsec.Tunnel, Src: addr("192.0.2.1"), Dst: addr("192.0.2.2"), SPI: 0x500,
				Auth: "hmac-sha2-256", Enc: "aes", AuthKey: key(32, 0xa1), EncKey: key(16, 0xa2)},
			{Proto: policy.ESP, Mode: ipsec.Tunnel, Src: addr("192.0.2.1"), Dst: addr("192.0.2.3"), SPI: 0x500,
				Auth: "hmac-sha2-256", Enc: "aes", AuthKey: key(32, 0xa1), EncKey: key(16, 0xa2)},
		}},
	}
	for _, tc := range tests {
		got, err := Parse("ipsec.conf", []byte(tc.conf), nil)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.conf, err)
			continue
		}
		for i := range got.SAs {
			if got.SAs[i].File != "ipsec.conf" || got.SAs[i].Line != 1 {
				t.Errorf("Parse(%q): SA %d at %s:%d", tc.conf, i, got.SAs[i].File, got.SAs[i].Line)
			}
			got.SAs[i].File, got.SAs[i].Line = "", 0
		}
		if !reflect.DeepEqual(got.SAs, tc.want) || got.Flows != nil {
			t.Errorf("Parse(%q) gives\n%+v\nwant SAs\n%+v", tc.conf, *got, tc.want)
		}
	}
}

func TestParseFlows(t *testing.T) {
	files := fakeFiles{"/etc/protocols": {data: "# names\nospf\t89\tOSPFIGP\t# open shortest path\nip 0 IP\nbad x\n", mode: 0o644}}
	tests := []struct {
		conf string
		want []policy.Flow // File and Line aside
	}{
		// ipsec.conf(5)'s examples.
		{"flow esp from 192.168.3.14 to 192.168.3.100", []policy.Flow{
			{Proto: policy.ESP, Dir: policy.Out, Src: prefix("192.168.3.14/32"), Dst: prefix("192.168.3.100/32"), Peer: addr("192.168.3.100"), Type: policy.Require},
			{Proto: policy.ESP, Dir: policy.In, Src: prefix("192.168.3.100/32"), Dst: prefix("192.168.3.14/32"), Peer: addr("192.168.3.100"), Type: policy.Require},
		}},
		{"flow esp in  from 192.168.3.100 to 192.168.3.14", []policy.Flow{
			{Proto: policy.ESP, Dir: policy.In, Src: prefix("192.168.3.100/32"), Dst: prefix("192.168.3.14/32"), Peer: addr("192.168.3.100"), Type: policy.Require},
		}},
		{"flow esp out from 192.168.7.0/24 to 192.168.8.0/24 peer 192.168.3.12", []policy.Flow{
			{Proto: policy.ESP, Dir: policy.Out, Src: prefix("192.168.7.0/24"), Dst: prefix("192.168.8.0/24"), Peer: addr("192.168.3.12"), Type: policy.Require},
		}},
		// Defaults, the reverse flow, protocols by keyword, name and number.
		{"flow proto ipip from 192.0.2.1 to 192.0.2.2 type use", []policy.Flow{
			{Proto: policy.ESP, Dir: policy.Out, IPProto: 4, Src: prefix("192.0.2.1/32"), Dst: prefix("192.0.2.2/32"), Peer: addr("192.0.2.2"), Type: policy.Use},
			{Proto: policy.ESP, Dir: policy.In, IPProto: 4, Src: prefix("192.0.2.2/32"), Dst: prefix("192.0.2.1/32"), Peer: addr("192.0.2.2"), Type: policy.Use},
		}},
		{"flow ah out proto ipv6 from 192.0.2.1 to 192.0.2.2", []policy.Flow{
			{Proto: policy.AH, Dir: policy.Out, IPProto: 41, Src: prefix("192.0.2.1/32"), Dst: prefix("192.0.2.2/32"), Peer: addr("192.0.2.2"), Type: policy.Require},
		}},
		{"flow out proto 132 from 192.0.2.1 to 192.0.2.2", []policy.Flow{
			{Proto: policy.ESP, Dir: policy.Out, IPProto: 132, Src: prefix("192.0.2.1/32"), Dst: prefix("192.0.2.2/32"), Peer: addr("192.0.2.2"), Type: policy.Require},
		}},
		{`flow out proto "esp" from 192.0.2.1 to 192.0.2.2`, []policy.Flow{
			{Proto: policy.ESP, Dir: policy.Out, IPProto: 50, Src: prefix("192.0.2.1/32"), Dst: prefix("192.0.2.2/32"), Peer: addr("192.0.2.2"), Type: policy.Require},
		}},
		{"flow out proto ospf from 192.0.2.1 to 192.0.2.2\nflow out proto OSPFIGP from 192.0.2.1 to 192.0.2.2", []policy.Flow{
			{Proto: policy.ESP, Dir: policy.Out, IPProto: 89, Src: prefix("192.0.2.1/32"), Dst: prefix("192.0.2.2/32"), Peer: addr("192.0.2.2"), Type: policy.Require},
			{Proto: policy.ESP, Dir: policy.Out, IPProto: 89, Src: prefix("192.0.2.1/32"), Dst: prefix("192.0.2.2/32"), Peer: addr("192.0.2.2"), Type: policy.Require},
		}},
		// A /32 is one address; host bits are masked off.
		{"flow out from 192.0.2.1/32 to 198.51.100.7/24", nil},
		{"flow out from 192.0.2.1/24 to 198.51.100.7/32 type deny", []policy.Flow{
			{Proto: policy.ESP, Dir: policy.Out, Src: prefix("192.0.2.0/24"), Dst: prefix("198.51.100.7/32"), Type: policy.Deny},
		}},
		// any is both families, each with the other side's own.
		{"flow out from any to 2001:db8::/32 type bypass peer 2001:db8::1", []policy.Flow{
			{Proto: policy.ESP, Dir: policy.Out, Src: prefix("::/0"), Dst: prefix("2001:db8::/32"), Type: policy.Bypass},
		}},
		{"flow in from any to any peer any type dontacq", []policy.Flow{
			{Proto: policy.ESP, Dir: policy.In, Src: prefix("0.0.0.0/0"), Dst: prefix("0.0.0.0/0"), Type: policy.DontAcq},
			{Proto: policy.ESP, Dir: policy.In, Src: prefix("::/0"), Dst: prefix("::/0"), Type: policy.DontAcq},
		}},
		{"flow from { 192.0.2.0 / 24 2001:db8::1 } to 2001:db8::2 type acquire", []policy.Flow{
			{Proto: policy.ESP, Dir: policy.Out, Src: prefix("2001:db8::1/128"), Dst: prefix("2001:db8::2/128"), Peer: addr("2001:db8::2"), Type: policy.Acquire},
			{Proto: policy.ESP, Dir: policy.In, Src: prefix("2001:db8::2/128"), Dst: prefix("2001:db8::1/128"), Peer: addr("2001:db8::2"), Type: policy.Acquire},
		}},
		// IPv6 through an IPv4 peer.
		{"flow esp out from 2001:db8:1::/48 to 2001:db8:2::/48 peer 192.0.2.2", []policy.Flow{
			{Proto: policy.ESP, Dir: policy.Out, Src: prefix("2001:db8:1::/48"), Dst: prefix("2001:db8:2::/48"), Peer: addr("192.0.2.2"), Type: policy.Require},
		}},
	}
	for _, tc := range tests {
		got, err := Parse("ipsec.conf", []byte(tc.conf), files)
		if tc.want == nil {
			if err == nil {
				t.Errorf("Parse(%q) = %+v, want an error", tc.conf, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.conf, err)
			continue
		}
		for i := range got.Flows {
			got.Flows[i].File, got.Flows[i].Line = "", 0
		}
		if !reflect.DeepEqual(got.Flows, tc.want) || got.SAs != nil {
			t.Errorf("Parse(%q) gives\n%+v\nwant flows\n%+v", tc.conf, *got, tc.want)
		}
	}
}

// TestParseProtocolsFile: names beyond the built-in ones come from
// /etc/protocols, read once, and etherip is known without it.
func TestParseProtocolsFile(t *testing.T) {
	counting := &countingFiles{fakeFiles: fakeFiles{"/etc/protocols": {data: "ospf 89\n", mode: 0o644}}}
	conf := "flow out proto etherip from 192.0.2.1 to 192.0.2.2\n" +
		"flow out proto ospf from 192.0.2.1 to 192.0.2.2\nflow out proto ospf from 192.0.2.1 to 192.0.2.2\n"
	c, err := Parse("ipsec.conf", []byte(conf), counting)
	if err != nil {
		t.Fatal(err)
	}
	if got := []uint8{c.Flows[0].IPProto, c.Flows[1].IPProto, c.Flows[2].IPProto}; !reflect.DeepEqual(got, []uint8{97, 89, 89}) {
		t.Errorf("protocols %v, want 97 89 89", got)
	}
	if counting.reads != 1 {
		t.Errorf("/etc/protocols read %d times, want 1", counting.reads)
	}
	if _, err := Parse("ipsec.conf", []byte("flow out proto ospf from 192.0.2.1 to 192.0.2.2\n"), nil); err == nil {
		t.Error("proto ospf without /etc/protocols: no error")
	}
}

type countingFiles struct {
	fakeFiles
	reads int
}

func (c *countingFiles) ReadFile(path string) ([]byte, fs.FileMode, error) {
	c.reads++
	return c.fakeFiles.ReadFile(path)
}

func TestParseMacros(t *testing.T) {
	auth, enc := randomKey(t, 32), randomKey(t, 16)
	files := fakeFiles{"a": keyFile(auth), "e": keyFile(enc)}
	conf := `# macros as ipsec.conf(5) has them
remote_gw = "192.168.3.12"
flow esp from 192.168.7.0/24 to 192.168.8.0/24 peer $remote_gw
net="192.0.2"   # no blanks needed around =
gw = $net.1    # a macro's value joins what follows, and one macro may use another
keys = "authkey file a" 'enckey file e'
esp from $gw to $remote_gw spi 0x1000 $keys
lan_proto=etherip
flow out proto $lan_proto from $net.0/24 to "$net.9"
`
	_, err := Parse("ipsec.conf", []byte(conf), files)
	// Macros are not expanded inside quotes, so "$net.9" is no address.
	var e *Error
	if !errors.As(err, &e) || e.Line != 9 || e.Token != "$net.9" {
		t.Fatalf("Parse: %v, want an error at line 9 near \"$net.9\"", err)
	}
	conf = strings.Replace(conf, `"$net.9"`, "$net.9", 1)
	c, err := Parse("ipsec.conf", []byte(conf), files)
	if err != nil {
		t.Fatal(err)
	}
	want := policy.Config{
		SAs: []policy.SA{{File: "ipsec.conf", Line: 7, Proto: policy.ESP, Mode: ipsec.Tunnel, Src: addr("192.0.2.1"), Dst: addr("192.168.3.12"),
			SPI: 0x1000, Auth: "hmac-sha2-256", Enc: "aes", AuthKey: auth, EncKey: enc}},
		Flows: []policy.Flow{
			{File: "ipsec.conf", Line: 3, Proto: policy.ESP, Dir: policy.Out, Src: prefix("192.168.7.0/24"), Dst: prefix("192.168.8.0/24"), Peer: addr("192.168.3.12"), Type: policy.Require},
			{File: "ipsec.conf", Line: 3, Proto: policy.ESP, Dir: policy.In, Src: prefix("192.168.8.0/24"), Dst: prefix("192.168.7.0/24"), Peer: addr("192.168.3.12"), Type: policy.Require},
			{File: "ipsec.conf", Line: 9, Proto: policy.ESP, Dir: policy.Out, IPProto: 97, Src: prefix("192.0.2.0/24"), Dst: prefix("192.0.2.9/32"), Peer: addr("192.0.2.9"), Type: policy.Require},
		},
	}
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("Parse gives\n%+v\nwant\n%+v", *c, want)
	}
}

// TestParseContinuation: a backslash at the end of a line joins it to the
// next anywhere, and lines count on.
func TestParseContinuation(t *testing.T) {
	conf := "# a comment goes on \\\nflow out from 192.0.2.1 to 192.0.2.9\n" +
		"flow out from 192.0.2.1 \\\n  to 192.0.\\\n2.2 type re\\\nquire peer \"198.51.\\\n100.1\"\r\n" +
		"flow out from 192.0.2.1 to 192.0.2.3 \\\n\n" +
		"flow out from 192.0.2.1 to 192.0.2.4\n"
	c, err := Parse("ipsec.conf", []byte(conf), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range c.Flows {
		got = append(got, fmt.Sprintf("%s %s %s line %d", f.Dst, f.Type, f.Peer, f.Line))
	}
	want := []string{
		"192.0.2.2/32 require 198.51.100.1 line 3",
		"192.0.2.3/32 require 192.0.2.3 line 8",
		"192.0.2.4/32 require 192.0.2.4 line 10",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("flows %q, want %q", got, want)
	}
}

func TestParseInclude(t *testing.T) {
	auth, enc := randomKey(t, 32), randomKey(t, 16)
	files := fakeFiles{
		"k1": keyFile(auth), "k2": keyFile(enc),
		"/etc/ipsec.d/peer.conf": {data: "\n\npeer_ip = 192.0.2.2\ninclude \"/etc/ipsec.d/keys.conf\"\nflow esp out from 192.0.2.1 to $peer_ip", mode: 0o644},
		"/etc/ipsec.d/keys.conf": {data: "keys = \"authkey file k1 enckey file k2\"\n", mode: 0o644},
	}
	conf := "include \"/etc/ipsec.d/peer.conf\"\nesp from 192.0.2.1 to $peer_ip spi 0x1000 $keys\n"
	c, err := Parse("ipsec.conf", []byte(conf), files)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Flows) != 1 || c.Flows[0].File != "/etc/ipsec.d/peer.conf" || c.Flows[0].Line != 5 ||
		len(c.SAs) != 1 || c.SAs[0].File != "ipsec.conf" || c.SAs[0].Line != 2 || !reflect.DeepEqual(c.SAs[0].EncKey, enc) {
		t.Errorf("Parse gives %+v", *c)
	}

	// A file may be included twice, one after the other, but not in itself.
	files["twice"] = fakeFile{data: "include \"/etc/ipsec.d/keys.conf\"\ninclude \"/etc/ipsec.d/keys.conf\"\n"}
	if _, err := Parse("ipsec.conf", []byte("include twice"), files); err != nil {
		t.Errorf("including a file twice: %v", err)
	}
	files["a"] = fakeFile{data: "# a\ninclude \"b\"\n"}
	files["b"] = fakeFile{data: "include \"./a\"\n"}
	_, err = Parse("ipsec.conf", []byte("include \"a\""), files)
	if want := `b:1: near "./a": ./a is being read already: it would include itself`; err == nil || err.Error() != want {
		t.Errorf("include loop: %v, want %s", err, want)
	}
	_, err = Parse("a", []byte("include \"a\""), files)
	if want := `a:1: near "a": a is being read already: it would include itself`; err == nil || err.Error() != want {
		t.Errorf("including itself: %v, want %s", err, want)
	}
}
