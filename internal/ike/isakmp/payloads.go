package isakmp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
)

// SA is the body of a Security Association payload of the IPsec DOI (RFC
// 2408 §3.4, RFC 2407 §4.6.1):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	!              Domain of Interpretation  (DOI)                  !
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	!                           Situation                           !
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	!           Proposal payloads, each with a generic header       ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Proposals with the same Number are one proposal of several protocols
// (AH and ESP together); different numbers are alternatives, in order of
// preference.
type SA struct {
	DOI       uint32
	Situation uint32
	Proposals []Proposal
}

// Proposal is a Proposal payload (RFC 2408 §3.5):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	!  Proposal #   !  Protocol-Id  !    SPI Size   !# of Transforms!
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	!                        SPI (variable)                         !
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	!          Transform payloads, each with a generic header       ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Transforms are alternatives, in order of preference.
type Proposal struct {
	Number     uint8
	Protocol   ProtocolID
	SPI        []byte
	Transforms []Transform
}

// Transform is a Transform payload (RFC 2408 §3.6):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	!  Transform #  !  Transform-Id !           RESERVED2           !
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	!                        SA Attributes                          ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type Transform struct {
	Number     uint8
	ID         uint8
	Attributes []Attribute
}

// Attribute is a data attribute (RFC 2408 §3.3). A basic one (TV) holds a
// 2-byte value in its header; a variable one (TLV) has a length and up to
// 65535 bytes:
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	!A!       Attribute Type        !    AF=0  Attribute Length     !
//	!F!                             !    AF=1  Attribute Value      !
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	.                   AF=0  Attribute Value                       .
//	.                   AF=1  Not Transmitted                       .
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type Attribute struct {
	Type  uint16 // without the format bit
	Basic bool
	Value []byte // 2 bytes when Basic
}

const attrBasic = 0x8000

// BasicAttr returns the basic attribute t = v.
func BasicAttr(t, v uint16) Attribute {
	return Attribute{Type: t, Basic: true, Value: binary.BigEndian.AppendUint16(nil, v)}
}

// UintAttr returns the attribute t = v, basic when v fits in 2 bytes and
// otherwise variable with 4 bytes, as durations are sent.
func UintAttr(t uint16, v uint32) Attribute {
	if v <= 0xffff {
		return BasicAttr(t, uint16(v))
	}
	return Attribute{Type: t, Value: binary.BigEndian.AppendUint32(nil, v)}
}

// Uint returns the attribute's value as a number, and false when it has
// more than 8 bytes.
func (a Attribute) Uint() (uint64, bool) {
	if len(a.Value) > 8 {
		return 0, false
	}
	var v uint64
	for _, c := range a.Value {
		v = v<<8 | uint64(c)
	}
	return v, true
}

// Find returns the first attribute of type t, and whether there is one.
func (t *Transform) Find(typ uint16) (Attribute, bool) {
	for _, a := range t.Attributes {
		if a.Type == typ {
			return a, true
		}
	}
	return Attribute{}, false
}

// Value returns the value of the first attribute of type typ as a number,
// and whether there is one that fits in 8 bytes.
func (t *Transform) Value(typ uint16) (uint64, bool) {
	a, ok := t.Find(typ)
	if !ok {
		return 0, false
	}
	return a.Uint()
}

// ParseSA reads the body of an SA payload.
func ParseSA(b []byte) (*SA, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("SA payload: %d bytes: %w", len(b), ErrTruncated)
	}
	sa := &SA{DOI: binary.BigEndian.Uint32(b[0:4]), Situation: binary.BigEndian.Uint32(b[4:8])}
	if len(b) == 8 {
		return nil, fmt.Errorf("SA payload: no proposal: %w", ErrMalformed)
	}
	err := parseChain(b[8:], PayloadProposal, "proposal", func(body []byte) error {
		p, err := parseProposal(body)
		if err == nil {
			sa.Proposals = append(sa.Proposals, p)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("SA payload: %w", err)
	}
	return sa, nil
}

// parseChain reads the payloads of b, each with a generic header whose
// next payload is typ or, for the last, none, and hands each body to f.
func parseChain(b []byte, typ PayloadType, what string, f func(body []byte) error) error {
	for i := 1; ; i++ {
		if len(b) < genericHeaderLen {
			return fmt.Errorf("%s %d: header: %w", what, i, ErrTruncated)
		}
		next := PayloadType(b[0])
		length := int(binary.BigEndian.Uint16(b[2:4]))
		switch {
		case next != typ && next != PayloadNone:
			return fmt.Errorf("%s %d: next payload %v in a chain of %ss: %w", what, i, next, what, ErrMalformed)
		case length < genericHeaderLen:
			return fmt.Errorf("%s %d: length %d: %w", what, i, length, ErrMalformed)
		case length > len(b):
			return fmt.Errorf("%s %d: length %d, %d bytes left: %w", what, i, length, len(b), ErrTruncated)
		}
		if err := f(b[genericHeaderLen:length]); err != nil {
			return fmt.Errorf("%s %d: %w", what, i, err)
		}
		b = b[length:]
		if next == PayloadNone {
			if len(b) != 0 {
				return fmt.Errorf("%d bytes after the last %s: %w", len(b), what, ErrMalformed)
			}
			return nil
		}
	}
}

func parseProposal(b []byte) (Proposal, error) {
	var p Proposal
	if len(b) < 4 {
		return p, fmt.Errorf("%d bytes: %w", len(b), ErrTruncated)
	}
	p.Number, p.Protocol = b[0], ProtocolID(b[1])
	spiSize, count := int(b[2]), int(b[3])
	if len(b) < 4+spiSize {
		return p, fmt.Errorf("SPI of %d bytes: %w", spiSize, ErrTruncated)
	}
	p.SPI = b[4 : 4+spiSize]
	if count == 0 {
		return p, fmt.Errorf("no transform: %w", ErrMalformed)
	}
	err := parseChain(b[4+spiSize:], PayloadTransform, "transform", func(body []byte) error {
		t, err := parseTransform(body)
		if err == nil {
			p.Transforms = append(p.Transforms, t)
		}
		return err
	})
	if err != nil {
		return p, err
	}
	if len(p.Transforms) != count {
		return p, fmt.Errorf("%d transforms, the proposal says %d: %w", len(p.Transforms), count, ErrMalformed)
	}
	return p, nil
}

func parseTransform(b []byte) (Transform, error) {
	var t Transform
	if len(b) < 4 {
		return t, fmt.Errorf("%d bytes: %w", len(b), ErrTruncated)
	}
	t.Number, t.ID = b[0], b[1]
	var err error
	t.Attributes, err = ParseAttributes(b[4:])
	return t, err
}

// ParseAttributes reads a list of data attributes that fills b.
func ParseAttributes(b []byte) ([]Attribute, error) {
	var attrs []Attribute
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, fmt.Errorf("attribute: %d bytes: %w", len(b), ErrTruncated)
		}
		a := Attribute{Type: binary.BigEndian.Uint16(b[0:2]) &^ attrBasic, Basic: b[0]&0x80 != 0}
		if a.Basic {
			a.Value, b = b[2:4], b[4:]
		} else {
			n := int(binary.BigEndian.Uint16(b[2:4]))
			if len(b) < 4+n {
				return nil, fmt.Errorf("attribute %d: value of %d bytes: %w", a.Type, n, ErrTruncated)
			}
			a.Value, b = b[4:4+n], b[4+n:]
		}
		attrs = append(attrs, a)
	}
	return attrs, nil
}

// Append appends the body of an SA payload.
func (sa *SA) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, sa.DOI)
	b = binary.BigEndian.AppendUint32(b, sa.Situation)
	for i, p := range sa.Proposals {
		b = appendChained(b, i == len(sa.Proposals)-1, PayloadProposal, func(b []byte) []byte {
			b = append(b, p.Number, byte(p.Protocol), byte(len(p.SPI)), byte(len(p.Transforms)))
			b = append(b, p.SPI...)
			for j, t := range p.Transforms {
				b = appendChained(b, j == len(p.Transforms)-1, PayloadTransform, func(b []byte) []byte {
					b = append(b, t.Number, t.ID, 0, 0)
					return AppendAttributes(b, t.Attributes)
				})
			}
			return b
		})
	}
	return b
}

// appendChained appends a payload of a chain of typ, its body written by
// body, with the generic header its place in the chain needs.
func appendChained(b []byte, last bool, typ PayloadType, body func([]byte) []byte) []byte {
	next := typ
	if last {
		next = PayloadNone
	}
	start := len(b)
	b = append(b, byte(next), 0, 0, 0)
	b = body(b)
	binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start))
	return b
}

// AppendAttributes appends attrs. A basic attribute's value must be 2
// bytes.
func AppendAttributes(b []byte, attrs []Attribute) []byte {
	for _, a := range attrs {
		if a.Basic {
			b = binary.BigEndian.AppendUint16(b, a.Type|attrBasic)
			b = append(b, a.Value[:2]...)
			continue
		}
		b = binary.BigEndian.AppendUint16(b, a.Type)
		b = binary.BigEndian.AppendUint16(b, uint16(len(a.Value)))
		b = append(b, a.Value...)
	}
	return b
}

// ID is the body of an Identification payload of the IPsec DOI (RFC 2407
// §4.6.2):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	!   ID Type     !  Protocol ID  !             Port              !
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                     Identification Data                       ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type ID struct {
	Type     IDType
	Protocol uint8 // IP protocol, 0 for any
	Port     uint16
	Data     []byte
}

// ParseID reads the body of an ID payload.
func ParseID(b []byte) (ID, error) {
	if len(b) < 4 {
		return ID{}, fmt.Errorf("ID payload: %d bytes: %w", len(b), ErrTruncated)
	}
	return ID{Type: IDType(b[0]), Protocol: b[1], Port: binary.BigEndian.Uint16(b[2:4]), Data: b[4:]}, nil
}

// Append appends the body of an ID payload.
func (id ID) Append(b []byte) []byte {
	b = append(b, byte(id.Type), id.Protocol)
	b = binary.BigEndian.AppendUint16(b, id.Port)
	return append(b, id.Data...)
}

// AddrID returns the identity of one address: IPV4_ADDR or IPV6_ADDR.
func AddrID(a netip.Addr, protocol uint8, port uint16) ID {
	t := IDIPv6
	if a.Is4() {
		t = IDIPv4
	}
	return ID{Type: t, Protocol: protocol, Port: port, Data: a.AsSlice()}
}

// PrefixID returns the identity of a network: IPV4_ADDR_SUBNET or
// IPV6_ADDR_SUBNET, the address and its mask.
func PrefixID(p netip.Prefix, protocol uint8, port uint16) ID {
	p = p.Masked()
	t := IDIPv6Subnet
	if p.Addr().Is4() {
		t = IDIPv4Subnet
	}
	addr := p.Addr().AsSlice()
	mask := make([]byte, len(addr))
	for i := range p.Bits() {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	return ID{Type: t, Protocol: protocol, Port: port, Data: append(addr, mask...)}
}

// NamedID returns the identity ipsecctl makes of a srcid or dstid (parse.y
// get_id_type): an IPv4 or IPv6 address, USER_FQDN when it has an @, FQDN
// otherwise.
func NamedID(s string) ID {
	if a, err := netip.ParseAddr(s); err == nil {
		return AddrID(a, 0, 0)
	}
	t := IDFQDN
	if strings.Contains(s, "@") {
		t = IDUserFQDN
	}
	return ID{Type: t, Data: []byte(s)}
}

// Prefix returns the addresses an address or subnet identity names; a
// subnet's mask must be contiguous. Other types are refused.
func (id ID) Prefix() (netip.Prefix, error) {
	size := 4
	switch id.Type {
	case IDIPv6, IDIPv6Subnet:
		size = 16
	case IDIPv4, IDIPv4Subnet:
	default:
		return netip.Prefix{}, fmt.Errorf("ID of type %v: not an address or subnet", id.Type)
	}
	subnet := id.Type == IDIPv4Subnet || id.Type == IDIPv6Subnet
	want := size
	if subnet {
		want = 2 * size
	}
	if len(id.Data) != want {
		return netip.Prefix{}, fmt.Errorf("%v ID of %d bytes, not %d: %w", id.Type, len(id.Data), want, ErrMalformed)
	}
	addr, _ := netip.AddrFromSlice(id.Data[:size])
	if !subnet {
		return netip.PrefixFrom(addr, addr.BitLen()), nil
	}
	bits, ok := maskBits(id.Data[size:])
	if !ok {
		return netip.Prefix{}, fmt.Errorf("%v ID: mask %x is not contiguous: %w", id.Type, id.Data[size:], ErrMalformed)
	}
	return netip.PrefixFrom(addr, bits).Masked(), nil
}

// maskBits returns the length of a contiguous mask.
func maskBits(mask []byte) (int, bool) {
	bits := 0
	for bits < 8*len(mask) && mask[bits/8]&(0x80>>(bits%8)) != 0 {
		bits++
	}
	for i := bits; i < 8*len(mask); i++ {
		if mask[i/8]&(0x80>>(i%8)) != 0 {
			return 0, false
		}
	}
	return bits, true
}

// Notify is the body of a Notification payload (RFC 2408 §3.14):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	!              Domain of Interpretation  (DOI)                  !
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	!  Protocol-ID  !   SPI Size    !      Notify Message Type      !
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                Security Parameter Index (SPI)                 ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                       Notification Data                       ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type Notify struct {
	DOI      uint32
	Protocol ProtocolID
	Type     NotifyType
	SPI      []byte
	Data     []byte
}

// ParseNotify reads the body of a Notification payload.
func ParseNotify(b []byte) (Notify, error) {
	if len(b) < 8 {
		return Notify{}, fmt.Errorf("notification payload: %d bytes: %w", len(b), ErrTruncated)
	}
	n := Notify{DOI: binary.BigEndian.Uint32(b[0:4]), Protocol: ProtocolID(b[4]), Type: NotifyType(binary.BigEndian.Uint16(b[6:8]))}
	spiSize := int(b[5])
	if len(b) < 8+spiSize {
		return Notify{}, fmt.Errorf("notification payload: SPI of %d bytes: %w", spiSize, ErrTruncated)
	}
	n.SPI, n.Data = b[8:8+spiSize], b[8+spiSize:]
	return n, nil
}

// Append appends the body of a Notification payload.
func (n Notify) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, n.DOI)
	b = append(b, byte(n.Protocol), byte(len(n.SPI)))
	b = binary.BigEndian.AppendUint16(b, uint16(n.Type))
	b = append(b, n.SPI...)
	return append(b, n.Data...)
}

// Delete is the body of a Delete payload (RFC 2408 §3.15): the SAs of one
// protocol, each named by an SPI of SPISize bytes (16 for ISAKMP: the two
// cookies).
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	!              Domain of Interpretation  (DOI)                  !
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	!  Protocol-Id  !   SPI Size    !           # of SPIs           !
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~               Security Parameter Index(es) (SPI)              ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type Delete struct {
	DOI      uint32
	Protocol ProtocolID
	SPISize  uint8
	SPIs     [][]byte
}

// ParseDelete reads the body of a Delete payload.
func ParseDelete(b []byte) (Delete, error) {
	if len(b) < 8 {
		return Delete{}, fmt.Errorf("delete payload: %d bytes: %w", len(b), ErrTruncated)
	}
	d := Delete{DOI: binary.BigEndian.Uint32(b[0:4]), Protocol: ProtocolID(b[4]), SPISize: b[5]}
	count, size := int(binary.BigEndian.Uint16(b[6:8])), int(d.SPISize)
	switch {
	case size == 0 || count == 0:
		return Delete{}, fmt.Errorf("delete payload: %d SPIs of %d bytes: %w", count, size, ErrMalformed)
	case len(b)-8 != count*size:
		return Delete{}, fmt.Errorf("delete payload: %d bytes for %d SPIs of %d bytes: %w", len(b)-8, count, size, ErrMalformed)
	}
	for i := range count {
		d.SPIs = append(d.SPIs, b[8+i*size:8+(i+1)*size])
	}
	return d, nil
}

// Append appends the body of a Delete payload. Each SPI must have SPISize
// bytes.
func (d Delete) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, d.DOI)
	b = append(b, byte(d.Protocol), d.SPISize)
	b = binary.BigEndian.AppendUint16(b, uint16(len(d.SPIs)))
	for _, spi := range d.SPIs {
		b = append(b, spi...)
	}
	return b
}
