package ipsec

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"

	"gif/internal/tools"
	"gif/internal/wire"
)

// scapyNames are scapy's names (scapy.layers.ipsec CRYPT_ALGOS and
// AUTH_ALGOS) for the transforms.
var scapyNames = map[string]string{
	"aes": "AES-CBC", "aes-128": "AES-CBC", "aes-192": "AES-CBC", "aes-256": "AES-CBC",
	"aesctr": "AES-CTR", "aes-128-ctr": "AES-CTR", "aes-192-ctr": "AES-CTR", "aes-256-ctr": "AES-CTR",
	"aes-128-gcm": "AES-GCM", "aes-192-gcm": "AES-GCM", "aes-256-gcm": "AES-GCM",
	"chacha20-poly1305": "CHACHA20-POLY1305",
	"null":              "NULL",
	"":                  "NULL",
	"hmac-sha1":         "HMAC-SHA1-96",
	"hmac-sha2-256":     "SHA2-256-128",
	"hmac-sha2-384":     "SHA2-384-192",
	"hmac-sha2-512":     "SHA2-512-256",
}

// scapyCase is one request to testdata/scapy_esp.py.
type scapyCase struct {
	Op      string `json:"op"`
	Mode    string `json:"mode"`
	SPI     uint32 `json:"spi"`
	Src     string `json:"src"`
	Dst     string `json:"dst"`
	Crypt   string `json:"crypt"`
	CKey    string `json:"ckey"`
	Auth    string `json:"auth"`
	AKey    string `json:"akey"`
	Packet  string `json:"packet,omitempty"`
	Payload string `json:"payload,omitempty"`
	NH      uint8  `json:"nh,omitempty"`
	Seq     uint32 `json:"seq,omitempty"`
}

type scapyResult struct {
	Packet  string `json:"packet"`
	Payload string `json:"payload"`
	NH      uint8  `json:"nh"`
	Error   string `json:"error"`
}

// scapyCheck is what the Go side expects of one case.
type scapyCheck struct {
	name    string
	in      *SA // opens what scapy encrypted
	payload []byte
	nh      uint8
}

// TestScapy has scapy's ESP decrypt what Seal made and encrypt what Open
// must accept, for every transform, in tunnel and transport mode.
func TestScapy(t *testing.T) {
	check, err := tools.Command(t.Context(), tools.ScapyPython, "-c", "import scapy.layers.ipsec")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("no scapy for %s (apt-get install python3-scapy): %v\n%s", tools.ScapyPython, err, out)
	}
	var cases []scapyCase
	var checks []scapyCheck
	for _, tr := range allTransforms() {
		for _, mode := range []Mode{Tunnel, Transport} {
			p := testParams(tr, 0x4242)
			p.Mode = mode
			out, err := NewSA(p)
			if err != nil {
				t.Fatal(err)
			}
			in, err := NewSA(p)
			if err != nil {
				t.Fatal(err)
			}
			payload, nh := innerIPv4(41), uint8(wire.ProtoIPv4)
			if mode == Transport {
				payload, nh = testPayload(61), wire.ProtoEtherIP
			}
			c := scapyCase{Mode: mode.String(), SPI: p.SPI, Src: p.Src.String(), Dst: p.Dst.String(),
				Crypt: scapyNames[tr.enc], CKey: hex.EncodeToString(p.EncKey),
				Auth: scapyNames[tr.auth], AKey: hex.EncodeToString(p.AuthKey)}
			name := fmt.Sprintf("%v %v", tr, mode)

			c.Op, c.Packet = "decrypt", hex.EncodeToString(sealIPv4(t, out, payload, nh))
			cases = append(cases, c)
			checks = append(checks, scapyCheck{name + " sealed by Go", nil, payload, nh})

			c.Op, c.Packet, c.Payload, c.NH, c.Seq = "encrypt", "", hex.EncodeToString(payload), nh, 7
			cases = append(cases, c)
			checks = append(checks, scapyCheck{name + " sealed by scapy", in, payload, nh})
		}
	}
	results := runScapy(t, cases)
	for i, r := range results {
		ch := checks[i]
		if r.Error != "" {
			t.Errorf("%s: scapy: %s", ch.name, r.Error)
			continue
		}
		payload, nh := unhex(r.Payload), r.NH
		if ch.in != nil {
			var err error
			if payload, nh, err = openIPv4(ch.in, unhex(r.Packet)); err != nil {
				t.Errorf("%s: %v", ch.name, err)
				continue
			}
		}
		if !bytes.Equal(payload, ch.payload) || nh != ch.nh {
			t.Errorf("%s: got next header %d, payload\n% x\nwant %d,\n% x", ch.name, nh, payload, ch.nh, ch.payload)
		}
	}
}

func runScapy(t *testing.T, cases []scapyCase) []scapyResult {
	t.Helper()
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := tools.Command(t.Context(), tools.ScapyPython, "testdata/scapy_esp.py")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scapy_esp.py: %v\n%s", err, stderr.Bytes())
	}
	var results []scapyResult
	if err := json.Unmarshal(out, &results); err != nil || len(results) != len(cases) {
		t.Fatalf("scapy_esp.py: %d results for %d cases, %v:\n%s", len(results), len(cases), err, out)
	}
	return results
}

// innerIPv4 returns an IPv4 packet with n bytes of payload, for tunnel mode.
func innerIPv4(n int) []byte {
	pkt := make([]byte, wire.IPv4MinHeaderLen+n)
	wire.IPv4(pkt).Encode(wire.IPv4Fields{TotalLength: uint16(len(pkt)), TTL: 64, Protocol: 253,
		Src: netipMust("203.0.113.1"), Dst: netipMust("203.0.113.2")})
	copy(pkt[wire.IPv4MinHeaderLen:], testPayload(n))
	return pkt
}

// sealIPv4 seals payload with sa and puts it in an outer IPv4 header.
func sealIPv4(t *testing.T, sa *SA, payload []byte, nextHeader uint8) []byte {
	t.Helper()
	head, tail := sa.Overhead()
	off := wire.IPv4MinHeaderLen + head
	buf := make([]byte, off+len(payload)+tail)
	copy(buf[off:], payload)
	start, length, err := sa.Seal(buf, off, len(payload), nextHeader)
	if err != nil {
		t.Fatal(err)
	}
	pkt := buf[start-wire.IPv4MinHeaderLen : start+length]
	wire.IPv4(pkt).Encode(wire.IPv4Fields{TotalLength: uint16(len(pkt)), TTL: 64, Protocol: ProtoESP,
		Src: sa.Src(), Dst: sa.Dst()})
	return pkt
}

// openIPv4 opens the ESP packet inside the IPv4 packet pkt.
func openIPv4(sa *SA, pkt []byte) ([]byte, uint8, error) {
	ip, err := wire.ParseIPv4(pkt)
	if err != nil {
		return nil, 0, err
	}
	if ip.Protocol() != ProtoESP || ip.Dst() != sa.Dst() {
		return nil, 0, fmt.Errorf("protocol %d to %v", ip.Protocol(), ip.Dst())
	}
	start, length, nh, err := sa.Open(pkt, ip.HeaderLen(), len(ip)-ip.HeaderLen())
	if err != nil {
		return nil, 0, err
	}
	return pkt[start : start+length], nh, nil
}

func netipMust(s string) netip.Addr { return netip.MustParseAddr(s) }
