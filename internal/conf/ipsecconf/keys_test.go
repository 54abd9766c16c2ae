package ipsecconf

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gif/internal/ipsec/policy"
)

// TestKeyLengths tries each algorithm with keys of every length up to 70
// bytes, from files, both ways: only the lengths of the package comment's
// table pass, and an error names the file and line, the key, the
// algorithm and the length it takes.
func TestKeyLengths(t *testing.T) {
	encLens := map[string][]int{
		"aes": {16, 24, 32}, "aes-128": {16}, "aes-192": {24}, "aes-256": {32},
		"aesctr": {20, 28, 36}, "aes-128-gcm": {20}, "aes-256-gcm": {36}, "chacha20-poly1305": {36},
	}
	authLens := map[string]int{"hmac-sha1": 20, "hmac-sha2-256": 32, "hmac-sha2-384": 48, "hmac-sha2-512": 64}
	aead := map[string]bool{"aes-128-gcm": true, "aes-256-gcm": true, "chacha20-poly1305": true}

	files := fakeFiles{}
	for n := 1; n <= 70; n++ {
		files[fmt.Sprint(n)] = keyFile(randomKey(t, n))
	}
	parse := func(rule string) (*policy.Config, error) {
		return Parse("ipsec.conf", []byte("# keys\n"+rule), files)
	}

	for enc, lens := range encLens {
		auth := "authkey file \"32:32\" "
		if aead[enc] {
			auth = ""
		}
		for n := 1; n <= 70; n++ {
			rule := fmt.Sprintf("esp from 192.0.2.1 to 192.0.2.2 spi 0x1000:0x1001 enc %s %senckey file \"%d:%d\"", enc, auth, lens[0], n)
			c, err := parse(rule)
			if slices.Contains(lens, n) {
				if err != nil {
					t.Errorf("%s: %v", rule, err)
				} else if k, _, _ := files.ReadFile(fmt.Sprint(n)); len(c.SAs) != 2 || c.SAs[1].Enc != enc || !bytes.Equal(c.SAs[1].EncKey, decoded(t, k)) {
					t.Errorf("%s: SAs %+v", rule, c.SAs)
				}
				continue
			}
			want := fmt.Sprintf(`ipsec.conf:2: near "%d:%d": enckey file %d is %d bytes; %s takes `, lens[0], n, n, n, enc)
			if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), fmt.Sprint(lens[len(lens)-1])) {
				t.Errorf("%s: %v, want %s...", rule, err, want)
			}
		}
	}
	for auth, want := range authLens {
		for n := 1; n <= 70; n++ {
			rule := fmt.Sprintf("ah from 192.0.2.1 to 192.0.2.2 spi 0x1000 auth %s authkey file \"%d\"", auth, n)
			c, err := parse(rule)
			if n == want {
				if err != nil || len(c.SAs) != 1 || c.SAs[0].Auth != auth || len(c.SAs[0].AuthKey) != n || c.SAs[0].Enc != "" {
					t.Errorf("%s: %+v, %v", rule, c, err)
				}
				continue
			}
			msg := fmt.Sprintf(`ipsec.conf:2: near "%d": authkey file %d is %d bytes; %s takes %d bytes: openssl rand -hex %[5]d`, n, n, n, auth, want)
			if err == nil || err.Error() != msg {
				t.Errorf("%s: %v, want %s", rule, err, msg)
			}
		}
	}
	// null takes no key at all.
	c, err := parse("esp from 192.0.2.1 to 192.0.2.2 spi 0x1000 enc null authkey file \"32\"")
	if err != nil || c.SAs[0].EncKey != nil || c.SAs[0].Enc != "null" {
		t.Errorf("enc null: %+v, %v", c, err)
	}
}

func decoded(t *testing.T, hexText []byte) []byte {
	t.Helper()
	key, err := decodeKey(strings.TrimSpace(string(hexText)))
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// TestKeyFileFormat: a key file holds hex, 0x before it and blanks around
// it allowed.
func TestKeyFileFormat(t *testing.T) {
	want := bytes.Repeat([]byte{0xab}, 16)
	for _, data := range []string{
		strings.Repeat("ab", 16), strings.Repeat("AB", 16) + "\n", "  0x" + strings.Repeat("aB", 16) + "\r\n\n",
	} {
		files := fakeFiles{"a": keyFile(bytes.Repeat([]byte{1}, 32)), "e": {data: data, mode: 0o400}}
		c, err := Parse("ipsec.conf", []byte(`esp from 192.0.2.1 to 192.0.2.2 spi 0x1000 authkey file "a" enckey file "e"`), files)
		if err != nil || !bytes.Equal(c.SAs[0].EncKey, want) {
			t.Errorf("key file %q: %+v, %v", data, c, err)
		}
	}
}

func TestKeyFilePermissions(t *testing.T) {
	for _, tc := range []struct {
		mode fs.FileMode
		err  error // what reading fails with
		ok   bool
	}{
		{mode: 0o600, ok: true},
		{mode: 0o400, ok: true},
		{mode: 0o700, ok: true},
		{mode: 0o640},
		{mode: 0o620},
		{mode: 0o610},
		{mode: 0o604},
		{mode: 0o602},
		{mode: 0o601},
		{mode: 0o644},
		{mode: 0o666},
		{err: fs.ErrPermission},
		{err: fs.ErrNotExist},
	} {
		files := fakeFiles{
			"/etc/ipsec/auth": keyFile(bytes.Repeat([]byte{1}, 32)),
			"/etc/ipsec/enc":  {data: strings.Repeat("ab", 16), mode: tc.mode, err: tc.err},
		}
		_, err := Parse("ipsec.conf", []byte(`esp from 192.0.2.1 to 192.0.2.2 spi 0x1000 authkey file "/etc/ipsec/auth" enckey file "/etc/ipsec/enc"`), files)
		switch {
		case tc.ok && err != nil:
			t.Errorf("mode %v: %v", tc.mode, err)
		case tc.ok:
		case err == nil:
			t.Errorf("mode %v, error %v: key file accepted", tc.mode, tc.err)
		case tc.err != nil && (!errors.Is(err, tc.err) || !strings.Contains(err.Error(), "cannot read enckey file /etc/ipsec/enc: ")):
			t.Errorf("error %v: got %v", tc.err, err)
		case tc.err == nil && !strings.Contains(err.Error(), fmt.Sprintf("enckey file /etc/ipsec/enc is open to group or others (mode %v)", tc.mode)):
			t.Errorf("mode %v: got %v", tc.mode, err)
		}
	}
}

// TestOSFiles reads key and included files from a directory, as gif
// ipsecctl does.
func TestOSFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string, mode fs.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return path
	}
	auth := write("auth", strings.Repeat("01", 32)+"\n", 0o600)
	enc := write("enc", strings.Repeat("02", 16)+"\n", 0o600)
	inc := write("inc.conf", fmt.Sprintf("keys = 'authkey file \"%s\" enckey file \"%s\"'\n", auth, enc), 0o644)
	conf := fmt.Sprintf("include %q\nesp from 192.0.2.1 to 192.0.2.2 spi 0x1000 $keys\n", inc)
	c, err := Parse("ipsec.conf", []byte(conf), OSFiles{})
	if err != nil || len(c.SAs) != 1 || !bytes.Equal(c.SAs[0].EncKey, bytes.Repeat([]byte{2}, 16)) {
		t.Fatalf("Parse: %+v, %v", c, err)
	}

	if err := os.Chmod(enc, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := Parse("ipsec.conf", []byte(conf), OSFiles{}); err == nil || !strings.Contains(err.Error(), enc+" is open to group or others (mode -rw-r-----)") {
		t.Errorf("group-readable key file: %v", err)
	}
	if _, _, err := (OSFiles{}).ReadFile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("ReadFile(a directory): %v", err)
	}
	if _, _, err := (OSFiles{}).ReadFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(missing): %v", err)
	}
	if data, mode, err := (OSFiles{}).ReadFile(inc); err != nil || mode.Perm() != 0o644 || !strings.HasPrefix(string(data), "keys = ") {
		t.Errorf("ReadFile(%s) = %q, %v, %v", inc, data, mode, err)
	}
}
