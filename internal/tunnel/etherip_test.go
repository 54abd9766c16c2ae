package tunnel

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"reflect"
	"sync/atomic"
	"testing"

	"gif/internal/wire"
)

// frame returns an Ethernet frame carrying packet as etherType behind the
// VLAN tags given by their TPIDs, outermost first.
func frame(etherType uint16, packet []byte, tpids ...uint16) []byte {
	b := []byte{0x02, 0, 0, 0, 0, 0xaa, 0x02, 0, 0, 0, 0, 0xbb}
	for i, tpid := range tpids {
		b = binary.BigEndian.AppendUint16(b, tpid)
		b = binary.BigEndian.AppendUint16(b, uint16(100+i)) // VLAN ID
	}
	b = binary.BigEndian.AppendUint16(b, etherType)
	return append(b, packet...)
}

func TestEncapEtherIP(t *testing.T) {
	for _, tt := range []struct {
		name    string
		ttl     int
		df, ecn bool
		wantTTL uint8
	}{
		{"default", DefaultTTL, false, true, 64},
		{"set", 1, true, true, 1},
		{"max", 255, false, false, 255},
		{"copy has nothing to copy", TTLCopy, true, true, DefaultTTL},
	} {
		c := NewConfig("gif0")
		c.TTL, c.DF, c.ECN = tt.ttl, tt.df, tt.ecn
		want := Outer{Proto: wire.ProtoEtherIP, TOS: 0, TTL: tt.wantTTL, DF: tt.df}
		if got := EncapEtherIP(&c); got != want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, want)
		}
	}
}

func TestDecapEtherIP(t *testing.T) {
	withHeader := func(h0, h1 byte, frame []byte) []byte { return append([]byte{h0, h1}, frame...) }
	arp := frame(0x0806, make([]byte, 28))
	bare := arp[:wire.EthernetHeaderLen]
	for _, tt := range []struct {
		name    string
		payload []byte
		want    Drop
	}{
		{"30 00", withHeader(0x30, 0x00, arp), DropNone},
		{"legacy 03 00", withHeader(0x03, 0x00, arp), DropNone},
		{"exactly the headers", withHeader(0x30, 0x00, bare), DropNone},
		{"31 00", withHeader(0x31, 0x00, arp), DropVersion},
		{"30 01", withHeader(0x30, 0x01, arp), DropVersion},
		{"00 00", withHeader(0x00, 0x00, arp), DropVersion},
		{"13 00", withHeader(0x13, 0x00, arp), DropVersion},
		{"03 01", withHeader(0x03, 0x01, arp), DropVersion},
		{"40 00", withHeader(0x40, 0x00, arp), DropVersion},
		{"one byte short", withHeader(0x30, 0x00, bare[:wire.EthernetHeaderLen-1]), DropShort},
		{"short before bad version", withHeader(0x40, 0x00, bare[:wire.EthernetHeaderLen-1]), DropShort},
		{"header only", []byte{0x30, 0x00}, DropShort},
		{"one byte", []byte{0x30}, DropShort},
		{"empty", nil, DropShort},
	} {
		off, drop := DecapEtherIP(tt.payload)
		if drop != tt.want {
			t.Errorf("%s: drop %v, want %v", tt.name, drop, tt.want)
			continue
		}
		if drop != DropNone {
			if off != 0 {
				t.Errorf("%s: dropped with offset %d", tt.name, off)
			}
			continue
		}
		if got, want := tt.payload[off:], tt.payload[wire.EtherIPHeaderLen:]; !bytes.Equal(got, want) {
			t.Errorf("%s: frame % x, want % x", tt.name, got, want)
		}
	}
}

func TestLoopsFrame(t *testing.T) {
	gif0 := tunnelConfig("192.0.2.1", "198.51.100.1")
	gif1 := tunnelConfig("192.0.2.1", "198.51.100.2")
	gif6 := tunnelConfig("2001:db8::1", "2001:db8::2")
	user4 := ipPacket(0, 64, protoUDP, innerSrc4, innerDst4, udpPayload)
	user6 := ipPacket(0, 64, protoUDP, innerSrc6, innerDst6, udpPayload)
	looping4 := encapsulate(gif0, wire.ProtoEtherIP, etherIP(wire.EtherTypeIPv4, user4))
	looping6 := encapsulate(gif6, wire.ProtoEtherIP, etherIP(wire.EtherTypeIPv6, user6))
	unset := NewConfig("gif2")
	for _, tt := range []struct {
		name  string
		c     *Config
		frame []byte
		want  bool
	}{
		{"IPv4", gif0, frame(wire.EtherTypeIPv4, looping4), true},
		{"IPv6", gif6, frame(wire.EtherTypeIPv6, looping6), true},
		{"IP-in-IP of the tunnel", gif0, frame(wire.EtherTypeIPv4, encapsulate(gif0, wire.ProtoIPv4, user4)), true},
		{"nested in another tunnel", gif0, frame(wire.EtherTypeIPv4, encapsulate(gif1, wire.ProtoEtherIP,
			etherIP(wire.EtherTypeIPv4, looping4))), true},
		{"802.1Q", gif0, frame(wire.EtherTypeIPv4, looping4, etherTypeVLAN), true},
		{"802.1ad", gif0, frame(wire.EtherTypeIPv4, looping4, etherTypeQinQ), true},
		{"QinQ", gif0, frame(wire.EtherTypeIPv4, looping4, etherTypeQinQ, etherTypeVLAN), true},
		{"QinQ, IPv6", gif6, frame(wire.EtherTypeIPv6, looping6, etherTypeVLAN, etherTypeVLAN), true},

		{"three tags", gif0, frame(wire.EtherTypeIPv4, looping4, etherTypeQinQ, etherTypeVLAN, etherTypeVLAN), false},
		{"other tunnel", gif1, frame(wire.EtherTypeIPv4, looping4), false},
		{"user traffic", gif0, frame(wire.EtherTypeIPv4, user4), false},
		{"user traffic, tagged", gif0, frame(wire.EtherTypeIPv4, user4, etherTypeVLAN), false},
		{"ARP type", gif0, frame(0x0806, looping4), false},
		{"IPv6 type, IPv4 packet", gif0, frame(wire.EtherTypeIPv6, looping4), true}, // Loops goes by the version
		{"unknown type behind a tag", gif0, frame(0x88cc, looping4, etherTypeVLAN), false},
		{"tag cut", gif0, frame(etherTypeVLAN, []byte{0, 100, 0x08}), false},
		{"tag without payload", gif0, frame(wire.EtherTypeIPv4, nil, etherTypeVLAN), false},
		{"header cut", gif0, frame(wire.EtherTypeIPv4, nil)[:wire.EthernetHeaderLen-1], false},
		{"empty", gif0, nil, false},
		{"no tunnel", &unset, frame(wire.EtherTypeIPv4, looping4), false},
	} {
		if got := LoopsFrame(tt.c, tt.frame); got != tt.want {
			t.Errorf("%s: LoopsFrame = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestEtherIPDoesNotAllocate(t *testing.T) {
	c := tunnelConfig("192.0.2.1", "198.51.100.1")
	user := ipPacket(0, 64, protoUDP, innerSrc4, innerDst4, udpPayload)
	good := etherIP(wire.EtherTypeIPv4, user)
	bad := append([]byte{0x40, 0}, good[2:]...)
	looping := frame(wire.EtherTypeIPv4, encapsulate(c, wire.ProtoEtherIP, good), etherTypeQinQ, etherTypeVLAN)
	if n := testing.AllocsPerRun(100, func() {
		EncapEtherIP(c)
		DecapEtherIP(good)
		DecapEtherIP(bad)
		DecapEtherIP(good[:3])
		LoopsFrame(c, looping)
		LoopsFrame(c, good[2:])
	}); n != 0 {
		t.Errorf("EtherIP rules allocate %v times", n)
	}
}

func TestDropVersionString(t *testing.T) {
	if got := DropVersion.String(); got != "version" {
		t.Errorf("DropVersion.String() = %q, want %q", got, "version")
	}
}

func TestEtherIPCountersSnapshot(t *testing.T) {
	var c EtherIPCounters
	// Give every counter its own value, so that a field read into the
	// wrong place or not at all shows.
	v := reflect.ValueOf(&c).Elem()
	for i := range v.NumField() {
		v.Field(i).Addr().Interface().(*atomic.Uint64).Store(uint64(i + 1))
	}
	b, err := json.Marshal(c.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]uint64
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	// The order of struct etheripstat.
	want := map[string]uint64{
		"hdrops": 1, "qfull": 2, "noifdrops": 3, "pdrops": 4, "adrops": 5,
		"ipackets": 6, "opackets": 7, "ibytes": 8, "obytes": 9,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("snapshot %v, want %v", got, want)
	}
}

func FuzzDecapEtherIP(f *testing.F) {
	c := tunnelConfig("192.0.2.1", "198.51.100.1")
	user := ipPacket(0, 64, protoUDP, innerSrc4, innerDst4, udpPayload)
	f.Add(etherIP(wire.EtherTypeIPv4, encapsulate(c, wire.ProtoEtherIP, etherIP(wire.EtherTypeIPv4, user))))
	f.Add(append([]byte{0x03, 0}, frame(etherTypeVLAN, []byte{0, 1, 0x08, 0})...))
	f.Add([]byte{0x30, 0x00, 1, 2, 3})
	f.Add([]byte{0x13, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14})
	f.Fuzz(func(t *testing.T, payload []byte) {
		off, drop := DecapEtherIP(payload)
		short := len(payload) < wire.EtherIPHeaderLen+wire.EthernetHeaderLen
		switch drop {
		case DropNone:
			if short || len(payload[off:]) < wire.EthernetHeaderLen {
				t.Fatalf("accepted % x with a frame of %d bytes", payload, len(payload)-off)
			}
			if !(payload[0] == 0x30 || payload[0] == 0x03) || payload[1] != 0 {
				t.Fatalf("accepted header % x", payload[:2])
			}
			LoopsFrame(c, payload[off:])
		case DropShort:
			if !short {
				t.Fatalf("%d bytes called short", len(payload))
			}
		case DropVersion:
			if short {
				t.Fatalf("%d bytes called a bad version", len(payload))
			}
		default:
			t.Fatalf("drop %v", drop)
		}
	})
}
