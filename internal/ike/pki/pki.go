// Package pki keeps the RSA keys of IKEv1 signature authentication where
// OpenBSD's isakmpd(8) keeps them, under one directory (DefaultDir):
//
//	private/local.key      this host's private key, PEM, mode 0600; made on
//	                       first use (2048 bits), as OpenBSD's rc(8) does
//	local.pub              its public key, PEM: what each peer stores
//	pubkeys/ipv4/ADDRESS   a peer's public key, by its IPv4 address
//	pubkeys/ipv6/ADDRESS   by its IPv6 address (RFC 5952 form, 2001:db8::1)
//
// and signs as IKEv1's RSA_SIG does: PKCS#1 v1.5 over the bare HASH_I or
// HASH_R, without the DigestInfo of a named hash (strongSwan's
// RSA_EMSA_PKCS1_NULL).
package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"

	"gif/internal/ike/isakmp"
	"gif/internal/state"
)

// DefaultDir is gif's counterpart of /etc/isakmpd.
const DefaultDir = "/etc/gif/isakmpd"

// localKeyBits is the size of a key LocalKey makes, as OpenBSD's rc does.
const localKeyBits = 2048

// LocalKeyPath and LocalPubPath are where dir keeps this host's keys.
func LocalKeyPath(dir string) string { return filepath.Join(dir, "private", "local.key") }
func LocalPubPath(dir string) string { return filepath.Join(dir, "local.pub") }

// PeerKeyPath is where dir keeps the public key of the peer at addr.
func PeerKeyPath(dir string, addr netip.Addr) string {
	family := "ipv6"
	if addr.Is4() {
		family = "ipv4"
	}
	return filepath.Join(dir, "pubkeys", family, addr.Unmap().String())
}

// PeerKeyPathByID is where dir keeps the public key of a peer known by a
// host name (pubkeys/fqdn/NAME) or a user@host name (pubkeys/ufqdn/NAME),
// as isakmpd keeps them; "" for an address, which PeerKeyPath places.
func PeerKeyPathByID(dir string, id isakmp.ID) string {
	switch id.Type {
	case isakmp.IDFQDN:
		return filepath.Join(dir, "pubkeys", "fqdn", string(id.Data))
	case isakmp.IDUserFQDN:
		return filepath.Join(dir, "pubkeys", "ufqdn", string(id.Data))
	}
	return ""
}

// LocalKey returns this host's private key, making it (and local.pub) when
// dir has none; created says whether it did.
func LocalKey(dir string) (key *rsa.PrivateKey, created bool, err error) {
	path := LocalKeyPath(dir)
	key, err = readPrivate(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	if key, err = rsa.GenerateKey(rand.Reader, localKeyBits); err != nil {
		return nil, false, fmt.Errorf("make %s: %w", path, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, false, fmt.Errorf("make %s: %w", path, err)
	}
	if err := state.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, false, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, false, fmt.Errorf("make %s: %w", LocalPubPath(dir), err)
	}
	if err := state.WriteFile(LocalPubPath(dir), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		return nil, false, err
	}
	return key, true, nil
}

// PeerKey returns the public key of the peer at addr, or of the one
// known by id when id is a name.
func PeerKey(dir string, addr netip.Addr, id *isakmp.ID) (*rsa.PublicKey, error) {
	path, who := PeerKeyPath(dir, addr), addr.String()
	if id != nil {
		if byID := PeerKeyPathByID(dir, *id); byID != "" {
			path, who = byID, string(id.Data)
		}
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no public key for peer %s: put its local.pub in %s", who, path)
	}
	if err != nil {
		return nil, err
	}
	return parsePublic(path, data)
}

// Sign signs the hash as IKEv1's RSA_SIG does.
func Sign(key *rsa.PrivateKey, hash []byte) ([]byte, error) {
	return rsa.SignPKCS1v15(rand.Reader, key, crypto.Hash(0), hash)
}

// Verify checks a signature Sign made over hash.
func Verify(pub *rsa.PublicKey, hash, sig []byte) error {
	return rsa.VerifyPKCS1v15(pub, crypto.Hash(0), hash, sig)
}

// readPrivate reads a PEM private key, PKCS#1 ("RSA PRIVATE KEY", what
// older openssl genrsa writes) or PKCS#8 ("PRIVATE KEY"), refusing a file
// that group or others may open.
func readPrivate(path string) (*rsa.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is open to group or others (mode %v): it is a private key; chmod 600 it", path, st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block: want an RSA private key as openssl genrsa writes it", path)
	}
	var key any
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%s: a PEM %q block, not an RSA private key", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: not a valid RSA private key: %w", path, err)
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: a %T, not an RSA key: isakmpd's keys are RSA", path, key)
	}
	return rsaKey, nil
}

// parsePublic reads a PEM public key, PKIX ("PUBLIC KEY", what openssl rsa
// -pubout writes) or PKCS#1 ("RSA PUBLIC KEY").
func parsePublic(path string, data []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block: want an RSA public key as openssl rsa -pubout writes it", path)
	}
	var key any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%s: a PEM %q block, not an RSA public key", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: not a valid RSA public key: %w", path, err)
	}
	rsaKey, ok := key.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s: a %T, not an RSA key: isakmpd's keys are RSA", path, key)
	}
	return rsaKey, nil
}
