package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// espSuite is an ESP transform of the benchmark, with the lengths that
// decide how much it adds to a packet (RFC 4303 section 2, RFC 3602,
// RFC 4106, RFC 4868).
type espSuite struct {
	Name       string // for the configuration's name
	About      string
	Rule       string // the transform's words in an ipsec.conf SA rule
	EncKeyLen  int    // bytes, the 4-byte salt included for GCM
	AuthKeyLen int    // bytes; 0 for an AEAD
	IVLen      int
	BlockLen   int // the payload, pad length and next header are padded to a multiple of it
	ICVLen     int
}

var (
	espGCM = espSuite{Name: "esp-gcm", About: "ESP aes-128-gcm", Rule: "enc aes-128-gcm",
		EncKeyLen: 20, IVLen: 8, BlockLen: 4, ICVLen: 16}
	// espDefault is ipsecctl's default transform: an SA rule without auth
	// or enc.
	espDefault = espSuite{Name: "esp-cbc", About: "ESP aes-cbc + hmac-sha2-256 (ipsecctl's default)",
		EncKeyLen: 16, AuthKeyLen: 32, IVLen: 16, BlockLen: 16, ICVLen: 16}
)

// ESP's fixed parts: the header (SPI, sequence number) and the trailer's
// pad length and next header bytes.
const (
	espHeaderLen  = 8
	espTrailerLen = 2
)

// espPacketLen returns the length of a tunnel-mode ESP packet over IPv4 that
// carries an IP packet of length payload: the outer IPv4 header, ESP
// header, IV, payload padded with the trailer to the block size, ICV.
func espPacketLen(payload int, s espSuite) int {
	padded := (payload + espTrailerLen + s.BlockLen - 1) / s.BlockLen * s.BlockLen
	return ipv4HeaderLen + espHeaderLen + s.IVLen + padded + s.ICVLen
}

// espKeys are the keys of one SA pair: index 0 for the SA from the rule's
// source, 1 for the reverse.
type espKeys struct {
	enc, auth [2][]byte
}

func newESPKeys(s espSuite) espKeys {
	var k espKeys
	for i := range 2 {
		k.enc[i] = make([]byte, s.EncKeyLen)
		k.auth[i] = make([]byte, s.AuthKeyLen)
		rand.Read(k.enc[i])
		rand.Read(k.auth[i])
	}
	return k
}

// ipsecConf returns the ipsec.conf of the host at local: the SA pair with
// the host at peer, SPIs spi[0] from a to b and spi[1] back, and the flow
// that protects outer packets of the IP protocol proto. reverse says the
// host is b, which writes the rule from its side.
func ipsecConf(s espSuite, local, peer, proto string, spi [2]uint32, k espKeys, reverse bool) string {
	out, in := 0, 1
	if reverse {
		out, in = 1, 0
	}
	var b strings.Builder
	fmt.Fprintf(&b, "esp from %s to %s spi 0x%x:0x%x", local, peer, spi[out], spi[in])
	if s.Rule != "" {
		fmt.Fprintf(&b, " %s", s.Rule)
	}
	if s.AuthKeyLen > 0 {
		fmt.Fprintf(&b, " authkey 0x%x:0x%x", k.auth[out], k.auth[in])
	}
	fmt.Fprintf(&b, " enckey 0x%x:0x%x\n", k.enc[out], k.enc[in])
	fmt.Fprintf(&b, "flow esp proto %s from %s to %s\n", proto, local, peer)
	return b.String()
}

// espSPIs are the SPIs of the benchmark's SA pair.
var espSPIs = [2]uint32{0x1001, 0x1002}

// protect loads an SA pair and a flow for the outer packets of proto
// between a and b, over IPv4, with gif ipsecctl -f.
func protect(ctx context.Context, p *pair, s espSuite, proto string) error {
	keys := newESPKeys(s)
	for _, end := range []struct {
		n           *node
		local, peer string
		reverse     bool
	}{{p.a, underA4, underB4, false}, {p.b, underB4, underA4, true}} {
		file := filepath.Join(end.n.stateDir, "bench-ipsec.conf")
		conf := ipsecConf(s, end.local, end.peer, proto, espSPIs, keys, end.reverse)
		if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
			return fmt.Errorf("write ipsec.conf of %s: %w", end.n, err)
		}
		if _, err := end.n.gif(ctx, "ipsecctl", "-f", file); err != nil {
			return err
		}
	}
	return nil
}

// checkESP fails unless b has received ESP: a flow that covered nothing
// would measure the clear tunnel.
func checkESP(ctx context.Context, p *pair) error {
	out, err := p.b.gif(ctx, "netstat", "-s", "-p", "esp")
	if err != nil {
		return err
	}
	n, err := statLine(out, "input ESP packets?")
	if err != nil {
		return fmt.Errorf("espstat of %s: %w", p.b, err)
	}
	if n == 0 {
		return fmt.Errorf("%s received no ESP packet after pings through the tunnel:\n%s", p.b, out)
	}
	return nil
}

// statLine returns the number of the line of `gif netstat -s` whose words
// match the regular expression what.
func statLine(out, what string) (uint64, error) {
	m := regexp.MustCompile(`(?m)^\s*(\d+) ` + what + `$`).FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no line %q in %q", what, out)
	}
	return strconv.ParseUint(m[1], 10, 64)
}
