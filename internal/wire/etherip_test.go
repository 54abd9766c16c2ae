package wire

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseEtherIP(t *testing.T) {
	frame := fromHex(t, "ffffffffffff 020000000001 0806")
	for _, tt := range []struct {
		name   string
		b      []byte
		err    error
		legacy bool
	}{
		{"RFC 3378", append([]byte{0x30, 0x00}, frame...), nil, false},
		{"legacy", append([]byte{0x03, 0x00}, frame...), nil, true},
		{"header only", []byte{0x30, 0x00}, nil, false},
		{"empty", nil, ErrTruncated, false},
		{"one byte", []byte{0x30}, ErrTruncated, false},
		{"version 4", []byte{0x40, 0x00}, ErrVersion, false},
		{"legacy version 4", []byte{0x04, 0x00}, ErrVersion, false},
		{"reserved bits in byte 1", []byte{0x30, 0x01}, ErrVersion, false},
		{"reserved bits in byte 0", []byte{0x31, 0x00}, ErrVersion, false},
		{"both nibbles", []byte{0x33, 0x00}, ErrVersion, false},
		{"EoIPv6 tunnel ID", []byte{0x43, 0xd2}, ErrVersion, false},
	} {
		e, err := ParseEtherIP(tt.b)
		if !errors.Is(err, tt.err) {
			t.Errorf("%s: ParseEtherIP(% x) error %v, want %v", tt.name, tt.b, err, tt.err)
		}
		if _, bare := CheckEtherIP(tt.b); bare != tt.err {
			t.Errorf("%s: CheckEtherIP error %v, want bare %v", tt.name, bare, tt.err)
		}
		if err != nil {
			detail := fmt.Sprintf("%d bytes", len(tt.b))
			if tt.err == ErrVersion {
				detail = fmt.Sprintf("header % x", tt.b[:2])
			}
			if !strings.Contains(err.Error(), detail) {
				t.Errorf("%s: error %q does not show the header", tt.name, err)
			}
			continue
		}
		if e.Legacy() != tt.legacy || !bytes.Equal(e.Payload(), tt.b[2:]) {
			t.Errorf("%s: Legacy %v, payload % x", tt.name, e.Legacy(), e.Payload())
		}
	}
}

func TestPutEtherIPHeader(t *testing.T) {
	b := []byte{0xff, 0xff, 0xaa}
	PutEtherIPHeader(b)
	if !bytes.Equal(b, []byte{0x30, 0x00, 0xaa}) {
		t.Errorf("PutEtherIPHeader wrote % x", b)
	}
	e, err := ParseEtherIP(b)
	if err != nil || e.Legacy() || !bytes.Equal(e.Payload(), []byte{0xaa}) {
		t.Errorf("ParseEtherIP(PutEtherIPHeader) = % x, %v", e, err)
	}
}
