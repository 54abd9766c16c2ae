// Package ipsecconf reads OpenBSD's ipsec.conf(5), the file ipsecctl(8)
// loads, into the policy model of internal/ipsec/policy: the SAs, flows
// and ike rules that gif's userspace IPsec runs. It does no I/O of its own: key files, included files and /etc/protocols are read
// through a Files.
//
// The grammar is ipsecctl's (parse.y r1.158 to r1.183), for manual keying:
//
//	[esp|ah] [tunnel|transport] from SRC to DST spi OUT[:IN]
//	    [auth ALG] [enc ALG] [authkey KEYSPEC] [enckey KEYSPEC]
//	flow [esp|ah] [in|out] [proto NAME|NUMBER] from SRC to DST
//	    [peer ADDR|any] [type require|use|acquire|dontacq|deny|bypass]
//	ike [active|passive|dynamic] [esp|ah] [tunnel|transport]
//	    [proto NAME|NUMBER] from SRC to DST [peer ADDR|any] [local ADDR]
//	    [main [auth A] [enc E] [group G] [lifetime T]]
//	    [quick [auth A] [enc E] [group G] [lifetime T]]
//	    [srcid ID] [dstid ID] [rsa | psk STRING]
//	NAME = VALUE ...
//	include "FILE"
//
// KEYSPEC is HEX[:HEX] (each with an optional 0x) or file "FILE[:FILE]",
// and a file holds the key in hex, blanks and newlines around it allowed
// (openssl rand -hex 32 > FILE). An SA rule makes the SA from SRC to DST
// with SPI OUT and the first keys and, when it gives a second SPI or key,
// the SA from DST to SRC with SPI IN and the second keys. A flow rule with
// neither in nor out makes the out flow and its reverse in flow. SRC and
// DST are an address, ADDR/LEN, any, or a { list }, and a rule is made for
// each source and destination of the same family. An ike rule, one for
// each source and destination too, is read whole into a policy.IKE, with
// ipsecctl's defaults (ike.c r1.85): active, main mode aes (128-bit),
// hmac-sha1, modp3072 for 3600 s, quick mode aes, hmac-sha2-256, PFS with
// modp3072 for 1200 s, RSA signatures unless psk, and the peer DST when it
// is one address. T is seconds, or minutes or hours with m or h after
// them (20m, 1h).
//
// Defaults are ipsecctl's: an SA is tunnel mode, auth hmac-sha2-256 and enc
// aes; a flow is esp, type require, and its peer is DST for an out flow and
// SRC for an in flow when that is one address. Keys must have the length
// of their algorithm, in bytes:
//
//	hmac-sha1 20, hmac-sha2-256 32, hmac-sha2-384 48, hmac-sha2-512 64
//	aes 16, 24 or 32; aes-128 16; aes-192 24; aes-256 32
//	aesctr 20, 28 or 36; aes-128-gcm 20; aes-256-gcm 36;
//	chacha20-poly1305 36 (a key and a 4-byte salt); null none
//
// aes-128-gcm, aes-256-gcm and chacha20-poly1305 authenticate by themselves
// and take neither auth nor authkey.
//
// Where this package is not ipsecctl, it decides:
//   - aesctr, the GCM algorithms and chacha20-poly1305 are accepted with
//     manual keys, which ipsecctl refuses: with a key that never changes,
//     whoever sends must never use an IV twice, across reloads too.
//   - aes takes 16, 24 or 32 bytes, the AES key sizes (ipsecctl lets any
//     length from 16 to 32 through to the kernel).
//   - Algorithm names are exact (ipsecctl takes any prefix: "hmac-sha2").
//   - Addresses are IP addresses: host names and interface names are not
//     looked up. An ADDR/32 or ADDR/128 is one address, so it needs no peer
//     (ipsecctl wants one for any ADDR/LEN).
//   - proto ipip means 4, IP in IP, as ipsecctl's ipip SAs and flows do;
//     /etc/protocols calls 94 ipip, but ipsecctl cannot read that word after
//     proto, it being a keyword.
//   - Key files readable, writable or executable by group or others are
//     refused (ipsecctl of OpenBSD 7 lets the group read them); their owner is
//     not checked.
//   - Two SAs with the same protocol, destination and SPI are refused.
//   - auth, enc, authkey and enckey may come in any order, and so may peer
//     and type; a rule ends at the end of its file; CR is a blank.
//   - Ports, local, srcid, dstid, flow NAT, udpencap, bundle, ipcomp,
//     tcpmd5 and ipip rules are refused with an error that says so; so are
//     in ike rules aggressive mode, tag, comp, sec(4) interfaces and the
//     algorithms gif's IKE cannot negotiate or its ESP cannot run (3des,
//     blowfish, cast128, hmac-md5, hmac-ripemd160, gmac, modp768, ecp224,
//     the brainpool groups). The items of an ike rule after DST may come in
//     any order.
//
// Parse returns the first error only, an *Error.
package ipsecconf

import (
	"fmt"
	"gif/internal/conf/conffile"
	"io/fs"
	"net/netip"
	"path/filepath"

	"gif/internal/ipsec/policy"
)

// Error is what is wrong with a rule, at the line of the token it is near.
type Error struct {
	File  string
	Line  int
	Token string // "" when no token fits
	Err   error
}

func (e *Error) Error() string {
	if e.Token == "" {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s:%d: near %q: %v", e.File, e.Line, e.Token, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Files gives the parser what it reads besides the main text: key files,
// included files and /etc/protocols. Relative paths are as written in the
// rules, so relative to the working directory with OSFiles, as ipsecctl
// reads them.
type Files interface {
	ReadFile(path string) (data []byte, mode fs.FileMode, err error)
}

// OSFiles reads regular files from the file system.
type OSFiles struct{}

// ReadFile returns the file's contents and the mode of the file it read,
// which it stats through the same descriptor.
func (OSFiles) ReadFile(path string) ([]byte, fs.FileMode, error) { return conffile.Read(path) }

// CheckSecret refuses a file that holds keys, given its mode, if its group
// or others may read, write or execute it. ipsecctl checks ipsec.conf
// itself so, and its key files.
func CheckSecret(path string, mode fs.FileMode) error {
	if mode.Perm()&0o077 != 0 {
		return fmt.Errorf("%s is open to group or others (mode %v): it holds keys; chmod 600 it", path, mode.Perm())
	}
	return nil
}

// noFiles is the Files of a nil Files: nothing to read.
type noFiles struct{}

func (noFiles) ReadFile(path string) ([]byte, fs.FileMode, error) {
	return nil, 0, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
}

// maxIncludeDepth bounds files including files, however their names are
// spelled.
const maxIncludeDepth = 16

// Parse reads the ipsec.conf text data, called name in errors, reading key
// files and included files through files (nothing when nil). On error it
// returns only the first, an *Error.
func Parse(name string, data []byte, files Files) (*policy.Config, error) {
	if files == nil {
		files = noFiles{}
	}
	p := &parser{
		files:  files,
		macros: map[string]string{},
		saAt:   map[saID]string{},
	}
	if err := p.parseFile(name, data); err != nil {
		return nil, err
	}
	return &p.cfg, nil
}

type parser struct {
	files  Files
	cfg    policy.Config
	macros map[string]string
	// including are the files being read, the outermost first, cleaned.
	including []string
	// protocols are /etc/protocols' names, read when a name needs them.
	protocols     map[string]uint8
	readProtocols bool
	// saAt is where each SA was made, as FILE:LINE.
	saAt map[saID]string
}

// saID is what identifies an SA: an ESP or AH packet names it by its SPI
// and destination.
type saID struct {
	proto policy.Proto
	dst   netip.Addr
	spi   uint32
}

func (p *parser) parseFile(name string, data []byte) error {
	p.including = append(p.including, filepath.Clean(name))
	defer func() { p.including = p.including[:len(p.including)-1] }()

	lx := lexer{file: name, data: data, line: 1, macros: p.macros}
	for {
		toks, end, err := lx.rule()
		if err != nil {
			return err
		}
		if len(toks) > 0 {
			r := &rule{file: name, toks: toks, end: end}
			if err := p.rule(r); err != nil {
				return err
			}
		}
		if end.kind == tokEOF {
			return nil
		}
	}
}
