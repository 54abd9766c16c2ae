package isakmp

import (
	"net/netip"
	"reflect"
	"testing"
)

// seeds are messages of each kind Parse meets: a Main Mode first message,
// and an Informational one with a notification, a delete and two IDs.
func seeds() [][]byte {
	info := &Message{
		Header: Header{ICookie: [8]byte{1}, RCookie: [8]byte{2}, Exchange: ExchangeInformational, MessageID: 7},
		Payloads: []Payload{
			{Type: PayloadNotify, Body: Notify{DOI: DOIIPsec, Protocol: ProtoISAKMP, Type: NotifyInitialContact, SPI: make([]byte, 16)}.Append(nil)},
			{Type: PayloadDelete, Body: Delete{DOI: DOIIPsec, Protocol: ProtoESP, SPISize: 4, SPIs: [][]byte{{1, 2, 3, 4}}}.Append(nil)},
			{Type: PayloadID, Body: AddrID(netip.MustParseAddr("1.2.3.4"), 97, 0).Append(nil)},
			{Type: PayloadID, Body: PrefixID(netip.MustParsePrefix("2001:db8::/32"), 0, 0).Append(nil)},
		},
	}
	return [][]byte{mainMode1().Append(nil), info.Append(nil), {}}
}

func FuzzParse(f *testing.F) {
	for _, s := range seeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		again, err := Parse(m.Append(nil))
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("Parse(Append(Parse(%x))) = %+v, %v; want %+v", b, again, err, m)
		}
		for _, p := range m.Payloads {
			checkBody(t, p)
		}
	})
}

// FuzzParsePayloads reads decrypted bodies, whose padding follows the last
// payload.
func FuzzParsePayloads(f *testing.F) {
	for _, s := range seeds() {
		if len(s) > HeaderLen {
			f.Add(s[16], s[HeaderLen:])
		}
	}
	f.Fuzz(func(t *testing.T, next byte, b []byte) {
		pl, rest, err := ParsePayloads(PayloadType(next), b)
		if err != nil {
			return
		}
		if n := PayloadsLen(pl); n+len(rest) != len(b) {
			t.Fatalf("payloads of %d bytes and %d after them from %d", n, len(rest), len(b))
		}
		for _, p := range pl {
			checkBody(t, p)
		}
	})
}

// checkBody parses a typed body and, when it is valid, checks that what
// Append writes of it reads back the same.
func checkBody(t *testing.T, p Payload) {
	t.Helper()
	switch p.Type {
	case PayloadSA:
		roundTrip(t, p, ParseSA, (*SA).Append)
	case PayloadID:
		id, ok := roundTrip(t, p, ParseID, ID.Append)
		if pfx, err := id.Prefix(); ok && err == nil && pfx.Bits() != pfx.Addr().BitLen() {
			re, err := PrefixID(pfx, id.Protocol, id.Port).Prefix()
			if err != nil || re != pfx {
				t.Fatalf("subnet ID %x: PrefixID(%v) reads back as %v, %v", p.Body, pfx, re, err)
			}
		}
	case PayloadNotify:
		roundTrip(t, p, ParseNotify, Notify.Append)
	case PayloadDelete:
		roundTrip(t, p, ParseDelete, Delete.Append)
	}
}

// roundTrip parses p's body and, when it is valid, fails t unless what
// appendTo writes of it parses the same; it reports whether it was valid.
func roundTrip[T any](t *testing.T, p Payload, parse func([]byte) (T, error), appendTo func(T, []byte) []byte) (T, bool) {
	t.Helper()
	v, err := parse(p.Body)
	if err != nil {
		return v, false
	}
	back, err := parse(appendTo(v, nil))
	if err != nil || !reflect.DeepEqual(back, v) {
		t.Fatalf("%v body %x: read back %+v, %v; want %+v", p.Type, p.Body, back, err, v)
	}
	return v, true
}
