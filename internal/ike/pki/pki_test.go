package pki

import (
	"bytes"
	"crypto/sha1"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gif/internal/ike/isakmp"
	"gif/internal/tools"
)

// openssl runs the openssl command, which the tests check gif against.
func openssl(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd, err := tools.Command(t.Context(), "openssl", args...)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func TestLocalKeyMadeOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "isakmpd")
	key, created, err := LocalKey(dir)
	if err != nil || !created {
		t.Fatalf("LocalKey in an empty directory: created %v, %v", created, err)
	}
	if key.N.BitLen() != 2048 {
		t.Errorf("made a %d-bit key, want 2048", key.N.BitLen())
	}
	for path, want := range map[string]os.FileMode{LocalKeyPath(dir): 0o600, filepath.Join(dir, "private"): 0o700 | os.ModeDir, LocalPubPath(dir): 0o644} {
		if st, err := os.Stat(path); err != nil || st.Mode() != want {
			t.Errorf("%s: mode %v, %v; want %v", path, st.Mode(), err, want)
		}
	}
	again, created, err := LocalKey(dir)
	if err != nil || created || !again.Equal(key) {
		t.Fatalf("LocalKey again: created %v, same key %v, %v", created, again.Equal(key), err)
	}
	// local.pub is the public half, as a peer reads it.
	pubPEM, err := os.ReadFile(LocalPubPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	peer := netip.MustParseAddr("192.0.2.1")
	peerPath := PeerKeyPath(dir, peer)
	if peerPath != filepath.Join(dir, "pubkeys", "ipv4", "192.0.2.1") {
		t.Errorf("PeerKeyPath = %s", peerPath)
	}
	os.MkdirAll(filepath.Dir(peerPath), 0o755)
	if err := os.WriteFile(peerPath, pubPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	pub, err := PeerKey(dir, peer, nil)
	if err != nil || !pub.Equal(&key.PublicKey) {
		t.Errorf("PeerKey = %v; want local.pub's key", err)
	}
	// openssl reads what LocalKey wrote.
	openssl(t, nil, "rsa", "-in", LocalKeyPath(dir), "-check", "-noout")
}

// TestOpenSSLKeys: keys as OpenBSD's rc makes them with openssl genrsa
// (PKCS#8 with OpenSSL 3, PKCS#1 with -traditional) and openssl rsa
// -pubout, and signatures that openssl pkeyutl makes and checks without a
// DigestInfo, as IKEv1's RSA_SIG is.
func TestOpenSSLKeys(t *testing.T) {
	for _, format := range [][]string{nil, {"-traditional"}} {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "private"), 0o700)
		keyPath := LocalKeyPath(dir)
		openssl(t, nil, append([]string{"genrsa", "-out", keyPath}, append(format, "2048")...)...)
		os.Chmod(keyPath, 0o600)
		peer := netip.MustParseAddr("2001:db8::1")
		peerPath := PeerKeyPath(dir, peer)
		os.MkdirAll(filepath.Dir(peerPath), 0o755)
		openssl(t, nil, "rsa", "-in", keyPath, "-pubout", "-out", peerPath)

		key, created, err := LocalKey(dir)
		if err != nil || created {
			t.Fatalf("%v: LocalKey of openssl's key: created %v, %v", format, created, err)
		}
		pub, err := PeerKey(dir, peer, nil)
		if err != nil || !pub.Equal(&key.PublicKey) {
			t.Fatalf("%v: PeerKey of openssl rsa -pubout: %v", format, err)
		}
		hash := sha1.Sum([]byte("HASH_I"))
		sig, err := Sign(key, hash[:])
		if err != nil {
			t.Fatal(err)
		}
		sigPath := filepath.Join(dir, "sig")
		os.WriteFile(sigPath, sig, 0o600)
		if out := openssl(t, hash[:], "pkeyutl", "-verify", "-pubin", "-inkey", peerPath, "-sigfile", sigPath); !bytes.Contains(out, []byte("Signature Verified Successfully")) {
			t.Errorf("%v: openssl pkeyutl -verify of gif's signature: %s", format, out)
		}
		theirs := openssl(t, hash[:], "pkeyutl", "-sign", "-inkey", keyPath)
		if err := Verify(pub, hash[:], theirs); err != nil {
			t.Errorf("%v: Verify of openssl's signature: %v", format, err)
		}
		other := sha1.Sum([]byte("HASH_R"))
		if err := Verify(pub, other[:], theirs); err == nil {
			t.Errorf("%v: Verify accepted a signature over another hash", format)
		}
	}
}

func TestKeyErrors(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "private"), 0o700)
	keyPath := LocalKeyPath(dir)
	for _, c := range []struct {
		data string
		mode os.FileMode
		want string
	}{
		{"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 0o644, "open to group or others (mode -rw-r--r--): it is a private key; chmod 600 it"},
		{"not a key", 0o600, "no PEM block"},
		{"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 0o600, `a PEM "CERTIFICATE" block, not an RSA private key`},
		{"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n", 0o600, keyPath + ": not a valid RSA private key"},
	} {
		if err := os.WriteFile(keyPath, []byte(c.data), c.mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(keyPath, c.mode)
		if _, _, err := LocalKey(dir); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("LocalKey of %q (mode %v) = %v, want %q", c.data, c.mode, err, c.want)
		}
	}
	if _, err := PeerKey(dir, netip.MustParseAddr("192.0.2.9"), nil); err == nil ||
		!strings.Contains(err.Error(), "no public key for peer 192.0.2.9: put its local.pub in "+filepath.Join(dir, "pubkeys/ipv4/192.0.2.9")) {
		t.Errorf("PeerKey of a peer without a file = %v", err)
	}
}

func TestPeerKeyByName(t *testing.T) {
	dir := t.TempDir()
	key, _, err := LocalKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := os.ReadFile(LocalPubPath(dir))
	id := isakmp.NamedID("bridge2.example")
	path := PeerKeyPathByID(dir, id)
	if path != filepath.Join(dir, "pubkeys", "fqdn", "bridge2.example") {
		t.Fatalf("PeerKeyPathByID = %s", path)
	}
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, pub, 0o644)
	got, err := PeerKey(dir, netip.MustParseAddr("192.0.2.2"), &id)
	if err != nil || !got.Equal(&key.PublicKey) {
		t.Errorf("PeerKey by name: %v", err)
	}
	other := isakmp.NamedID("me@bridge3.example")
	if _, err := PeerKey(dir, netip.MustParseAddr("192.0.2.3"), &other); err == nil || !strings.Contains(err.Error(), "pubkeys/ufqdn/me@bridge3.example") {
		t.Errorf("PeerKey of a user without a file = %v", err)
	}
}
