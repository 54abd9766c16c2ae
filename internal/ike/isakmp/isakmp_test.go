package isakmp

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

// mainMode1 returns the first message of a Main Mode that proposes
// ipsecctl's phase-1 defaults: AES-128, SHA1, MODP-3072, RSA signatures,
// 3600 seconds.
func mainMode1() *Message {
	sa := SA{DOI: DOIIPsec, Situation: SituationIdentityOnly, Proposals: []Proposal{{
		Number: 1, Protocol: ProtoISAKMP,
		Transforms: []Transform{{Number: 1, ID: TransformKeyIKE, Attributes: []Attribute{
			BasicAttr(P1Encryption, EncAES),
			BasicAttr(P1KeyLength, 128),
			BasicAttr(P1Hash, HashSHA1),
			BasicAttr(P1AuthMethod, AuthRSASig),
			BasicAttr(P1Group, GroupMODP3072),
			BasicAttr(P1LifeType, LifeSeconds),
			UintAttr(P1LifeDuration, 3600),
		}}},
	}}}
	return &Message{
		Header: Header{ICookie: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, Exchange: ExchangeMain},
		Payloads: []Payload{
			{Type: PayloadSA, Body: sa.Append(nil)},
			{Type: PayloadVendorID, Body: []byte("gif test vendor")},
		},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	m := mainMode1()
	b := m.Append(nil)
	if len(b) != HeaderLen+PayloadsLen(m.Payloads) {
		t.Fatalf("Append wrote %d bytes, want %d", len(b), HeaderLen+PayloadsLen(m.Payloads))
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(Append(m)): %v", err)
	}
	want := *m
	want.Next = PayloadSA
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("Parse(Append(m)) = %+v, want %+v", *got, want)
	}
	body, ok := got.Find(PayloadSA)
	if !ok {
		t.Fatal("Find(SA) found none")
	}
	sa, err := ParseSA(body)
	if err != nil {
		t.Fatalf("ParseSA: %v", err)
	}
	tr := sa.Proposals[0].Transforms[0]
	for _, c := range []struct {
		typ  uint16
		want uint64
	}{{P1Encryption, EncAES}, {P1KeyLength, 128}, {P1Group, GroupMODP3072}, {P1LifeDuration, 3600}} {
		a, ok := tr.Find(c.typ)
		if v, _ := a.Uint(); !ok || v != c.want {
			t.Errorf("attribute %d = %d (found %v), want %d", c.typ, v, ok, c.want)
		}
	}
	if !bytes.Equal(sa.Append(nil), body) {
		t.Errorf("SA.Append(ParseSA(b)) differs from b")
	}
}

func TestUintAttr(t *testing.T) {
	for _, c := range []struct {
		v     uint32
		basic bool
		wire  []byte
	}{
		{3600, true, []byte{0x80, 12, 0x0e, 0x10}},
		{86400, false, []byte{0, 12, 0, 4, 0, 1, 0x51, 0x80}},
	} {
		a := UintAttr(P1LifeDuration, c.v)
		wire := AppendAttributes(nil, []Attribute{a})
		if a.Basic != c.basic || !bytes.Equal(wire, c.wire) {
			t.Errorf("UintAttr(%d) = %x (basic %v), want %x", c.v, wire, a.Basic, c.wire)
		}
		back, err := ParseAttributes(wire)
		if v, _ := back[0].Uint(); err != nil || v != uint64(c.v) {
			t.Errorf("ParseAttributes(%x) = %v, %v", wire, back, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	good := mainMode1().Append(nil)
	with := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for _, c := range []struct {
		name string
		b    []byte
		want error
	}{
		{"short header", good[:27], ErrTruncated},
		{"IKEv2", with(func(b []byte) []byte { b[17] = 0x20; return b }), ErrVersion},
		{"length beyond the datagram", with(func(b []byte) []byte { b[27]++; return b }), ErrTruncated},
		{"length below the header", with(func(b []byte) []byte { b[24], b[25], b[26], b[27] = 0, 0, 0, 27; return b }), ErrMalformed},
		{"encrypted", with(func(b []byte) []byte { b[19] |= byte(FlagEncryption); return b }), ErrMalformed},
		{"payload length 3", with(func(b []byte) []byte { b[HeaderLen+2], b[HeaderLen+3] = 0, 3; return b }), ErrMalformed},
		{"payload beyond the message", with(func(b []byte) []byte { b[HeaderLen+2] = 0xff; return b }), ErrTruncated},
		{"next payload after the last", with(func(b []byte) []byte { b[len(b)-len("gif test vendor")-4] = byte(PayloadNonce); return b }), ErrTruncated},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Parse(c.b); !errors.Is(err, c.want) {
				t.Errorf("Parse = %v, want %v", err, c.want)
			}
		})
	}
	// A message's length field may be shorter than the datagram; what
	// follows it is not the message's.
	long := append(bytes.Clone(good), 0, 0, 0, 0)
	if _, err := Parse(long); err != nil {
		t.Errorf("Parse with 4 bytes after the message: %v", err)
	}
}

func TestParsePayloadsPadding(t *testing.T) {
	pl := []Payload{{Type: PayloadHash, Body: []byte{1, 2, 3}}, {Type: PayloadNonce, Body: []byte{4}}}
	b := append(AppendPayloads(nil, pl), 0, 0, 0, 7)
	got, rest, err := ParsePayloads(PayloadHash, b)
	if err != nil || !reflect.DeepEqual(got, pl) || !bytes.Equal(rest, []byte{0, 0, 0, 7}) {
		t.Fatalf("ParsePayloads = %v, rest %x, %v", got, rest, err)
	}
}

func TestParseSAErrors(t *testing.T) {
	good := mainMode1()
	body, _ := good.Find(PayloadSA)
	with := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(body)) }
	const prop = 8          // the proposal's generic header
	const tr = prop + 4 + 4 // the transform's generic header
	for _, c := range []struct {
		name string
		b    []byte
		want error
	}{
		{"short", body[:7], ErrTruncated},
		{"no proposal", body[:8], ErrMalformed},
		{"proposal followed by a KE", with(func(b []byte) []byte { b[prop] = byte(PayloadKE); return b }), ErrMalformed},
		{"two transforms announced", with(func(b []byte) []byte { b[prop+7] = 2; return b }), ErrMalformed},
		{"no transform announced", with(func(b []byte) []byte { b[prop+7] = 0; return b }), ErrMalformed},
		{"SPI beyond the proposal", with(func(b []byte) []byte { b[prop+6] = 200; return b }), ErrTruncated},
		{"transform length beyond", with(func(b []byte) []byte { b[tr+3] += 4; return b }), ErrTruncated},
		{"attribute cut", with(func(b []byte) []byte {
			b[tr+3] -= 2
			b[prop+3] -= 2
			return b[:len(b)-2]
		}), ErrTruncated},
		{"bytes after the last proposal", append(bytes.Clone(body), 0), ErrMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ParseSA(c.b); !errors.Is(err, c.want) {
				t.Errorf("ParseSA = %v, want %v", err, c.want)
			}
		})
	}
}

func TestIDPrefix(t *testing.T) {
	for _, c := range []struct {
		id   ID
		want string
	}{
		{AddrID(netip.MustParseAddr("1.2.3.4"), 97, 0), "1.2.3.4/32"},
		{AddrID(netip.MustParseAddr("2001:db8::1"), 0, 0), "2001:db8::1/128"},
		{PrefixID(netip.MustParsePrefix("192.0.2.0/24"), 0, 0), "192.0.2.0/24"},
		{PrefixID(netip.MustParsePrefix("1.2.3.4/32"), 97, 0), "1.2.3.4/32"},
		{PrefixID(netip.MustParsePrefix("2001:db8::/33"), 6, 22), "2001:db8::/33"},
		{PrefixID(netip.MustParsePrefix("0.0.0.0/0"), 0, 0), "0.0.0.0/0"},
	} {
		back, err := ParseID(c.id.Append(nil))
		if err != nil {
			t.Fatalf("ParseID(%v): %v", c.id, err)
		}
		p, err := back.Prefix()
		if err != nil || p.String() != c.want || back.Protocol != c.id.Protocol || back.Port != c.id.Port {
			t.Errorf("%v: Prefix() = %v, %v; protocol %d port %d", c.id, p, err, back.Protocol, back.Port)
		}
	}
	for _, id := range []ID{
		{Type: IDIPv4Subnet, Data: []byte{192, 0, 2, 0, 255, 0, 255, 0}},
		{Type: IDIPv4, Data: []byte{192, 0, 2}},
		{Type: IDIPv6Subnet, Data: make([]byte, 16)},
		{Type: IDFQDN, Data: []byte("gif.example")},
	} {
		if p, err := id.Prefix(); err == nil {
			t.Errorf("%v %x: Prefix() = %v, want an error", id.Type, id.Data, p)
		}
	}
	if _, err := ParseID([]byte{1, 97, 0}); !errors.Is(err, ErrTruncated) {
		t.Errorf("ParseID of 3 bytes = %v, want ErrTruncated", err)
	}
}

func TestNotifyDelete(t *testing.T) {
	n := Notify{DOI: DOIIPsec, Protocol: ProtoESP, Type: NotifyInitialContact, SPI: []byte{1, 2, 3, 4}, Data: []byte{9}}
	got, err := ParseNotify(n.Append(nil))
	if err != nil || !reflect.DeepEqual(got, n) {
		t.Errorf("ParseNotify(Append(%+v)) = %+v, %v", n, got, err)
	}
	if _, err := ParseNotify([]byte{0, 0, 0, 1, 3, 4, 0, 14, 1}); !errors.Is(err, ErrTruncated) {
		t.Errorf("ParseNotify with a cut SPI = %v, want ErrTruncated", err)
	}
	d := Delete{DOI: DOIIPsec, Protocol: ProtoESP, SPISize: 4, SPIs: [][]byte{{1, 2, 3, 4}, {5, 6, 7, 8}}}
	gotD, err := ParseDelete(d.Append(nil))
	if err != nil || !reflect.DeepEqual(gotD, d) {
		t.Errorf("ParseDelete(Append(%+v)) = %+v, %v", d, gotD, err)
	}
	bad := d.Append(nil)
	if _, err := ParseDelete(bad[:len(bad)-1]); !errors.Is(err, ErrMalformed) {
		t.Errorf("ParseDelete with a short SPI = %v, want ErrMalformed", err)
	}
}

func TestNames(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{ExchangeQuick.String(), "Quick Mode"},
		{NotifyNoProposalChosen.String(), "NO-PROPOSAL-CHOSEN"},
		{PayloadType(99).String(), "99"},
		{IDIPv4Subnet.String(), "IPV4_ADDR_SUBNET"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestNamedID(t *testing.T) {
	for s, want := range map[string]IDType{"192.0.2.1": IDIPv4, "2001:db8::1": IDIPv6, "gif.example": IDFQDN, "me@gif.example": IDUserFQDN} {
		if got := NamedID(s); got.Type != want {
			t.Errorf("NamedID(%q) is %v, want %v", s, got.Type, want)
		}
	}
	if id := NamedID("gif.example"); string(id.Data) != "gif.example" {
		t.Errorf("NamedID data %q", id.Data)
	}
}
