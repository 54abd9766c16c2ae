package ipsecconf

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

type authAlg struct {
	name   string
	keyLen int // bytes
}

var authAlgs = []authAlg{
	{"hmac-sha1", 20},
	{"hmac-sha2-256", 32},
	{"hmac-sha2-384", 48},
	{"hmac-sha2-512", 64},
}

type encAlg struct {
	name    string
	keyLens []int // bytes, salt included; none for null
	salt    bool  // whether a key ends in a 4-byte salt
	aead    bool  // whether it authenticates too
}

var encAlgs = []encAlg{
	{name: "aes", keyLens: []int{16, 24, 32}},
	{name: "aes-128", keyLens: []int{16}},
	{name: "aes-192", keyLens: []int{24}},
	{name: "aes-256", keyLens: []int{32}},
	{name: "aesctr", keyLens: []int{20, 28, 36}, salt: true},
	{name: "aes-128-gcm", keyLens: []int{20}, salt: true, aead: true},
	{name: "aes-256-gcm", keyLens: []int{36}, salt: true, aead: true},
	{name: "chacha20-poly1305", keyLens: []int{36}, salt: true, aead: true},
	{name: "null"},
}

func findAuth(name string) *authAlg {
	for i := range authAlgs {
		if authAlgs[i].name == name {
			return &authAlgs[i]
		}
	}
	return nil
}

func findEnc(name string) *encAlg {
	for i := range encAlgs {
		if encAlgs[i].name == name {
			return &encAlgs[i]
		}
	}
	return nil
}

func authNames() string {
	var names []string
	for _, a := range authAlgs {
		names = append(names, a.name)
	}
	return strings.Join(names, ", ")
}

func encNames() string {
	var names []string
	for _, a := range encAlgs {
		names = append(names, a.name)
	}
	return strings.Join(names, ", ")
}

// takes says what keys the algorithm takes, and how to make one.
func (a *encAlg) takes() string {
	lens := make([]string, len(a.keyLens))
	for i, n := range a.keyLens {
		lens[i] = fmt.Sprint(n)
	}
	s := lens[0]
	if n := len(lens); n > 1 {
		s = strings.Join(lens[:n-1], ", ") + " or " + lens[n-1]
	}
	s += " bytes"
	if a.salt {
		s += ", a key and a 4-byte salt"
	}
	return fmt.Sprintf("%s: openssl rand -hex %d", s, a.keyLens[0])
}

// keySpec is an authkey or enckey: one key, or two, the second for the SA
// the other way.
type keySpec struct {
	keyword token
	value   token    // the keys in hex, or the names of the files after file
	files   []string // the files, when read from files
	keys    [][]byte
}

func (k *keySpec) count() int {
	if k == nil {
		return 0
	}
	return len(k.keys)
}

func (k *keySpec) key(i int) []byte {
	if k == nil || i >= len(k.keys) {
		return nil
	}
	return k.keys[i]
}

// errorToken is what an error about a key is near: the names of its files,
// or its keyword, so that no error shows a key.
func (k *keySpec) errorToken() token {
	if k.files != nil {
		return k.value
	}
	return k.keyword
}

// describe names key i.
func (k *keySpec) describe(i int) string {
	switch {
	case k.files != nil:
		return fmt.Sprintf("%s file %s", k.keyword.text, k.files[i])
	case len(k.keys) == 1:
		return k.keyword.text
	case i == 0:
		return "the first " + k.keyword.text
	default:
		return "the second " + k.keyword.text
	}
}

// keySpec reads HEX[:HEX] or file "NAME[:NAME]" after the keyword kw.
func (p *parser) keySpec(r *rule, kw token) (*keySpec, error) {
	k := &keySpec{keyword: kw}
	fromFiles := r.peek().is("file")
	if fromFiles {
		r.next()
	}
	t := r.next()
	if !t.isValue() {
		if fromFiles {
			return nil, r.errorf(t, "expected the name of the key file, or two: \"OUT:IN\"")
		}
		return nil, r.errorf(t, "expected a key in hex, or file \"NAME\"")
	}
	k.value = t
	first, second, two := strings.Cut(t.text, ":")
	texts := []string{first}
	if two {
		texts = append(texts, second)
	}
	if fromFiles {
		k.files = texts
	}
	k.keys = make([][]byte, len(texts))
	for i, text := range texts {
		if fromFiles {
			data, mode, err := p.files.ReadFile(text)
			if err != nil {
				return nil, r.errorf(t, "cannot read %s: %w", k.describe(i), unwrapPath(err))
			}
			if err := CheckSecret(text, mode); err != nil {
				return nil, r.errorf(t, "%s file %w", kw.text, err)
			}
			text = strings.TrimSpace(string(data))
		}
		key, err := decodeKey(text)
		if err != nil {
			return nil, r.errorf(k.errorToken(), "%s %w", k.describe(i), err)
		}
		k.keys[i] = key
	}
	return k, nil
}

// decodeKey reads a key in hex, after an optional 0x. Its errors do not
// show the key.
func decodeKey(s string) ([]byte, error) {
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		s = s[2:]
	}
	switch {
	case s == "":
		return nil, errors.New("is empty")
	case len(s)%2 != 0:
		return nil, errors.New("has an odd number of hex digits")
	}
	key, err := hex.DecodeString(s)
	if err != nil {
		return nil, errors.New("is not all hex digits")
	}
	return key, nil
}
