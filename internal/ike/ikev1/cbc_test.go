package ikev1

import (
	"bytes"
	"errors"
	"testing"
)

func TestCipherChaining(t *testing.T) {
	c, err := NewCipher(bytes.Repeat([]byte{7}, 16))
	if err != nil {
		t.Fatal(err)
	}
	iv := bytes.Repeat([]byte{1}, 16)
	plain := []byte("a payload chain of 37 bytes, or so..")
	ct, next := c.Encrypt(iv, plain)
	if len(ct) != 48 || !bytes.Equal(next, ct[32:]) {
		t.Fatalf("Encrypt: %d bytes, next IV %x; want 48 and the last block", len(ct), next)
	}
	back, nextR, err := c.Decrypt(iv, ct)
	if err != nil || !bytes.Equal(back[:len(plain)], plain) || !bytes.Equal(back[len(plain):], make([]byte, 48-len(plain))) {
		t.Fatalf("Decrypt = %q, %v; want the text and zero padding", back, err)
	}
	if !bytes.Equal(nextR, next) {
		t.Errorf("the receiver's next IV %x differs from the sender's %x", nextR, next)
	}
	// The next message chains from the last block: decrypting it with
	// the first IV garbles its first block only.
	ct2, _ := c.Encrypt(next, plain)
	wrong, _, _ := c.Decrypt(iv, ct2)
	if bytes.Equal(wrong[:16], plain[:16]) || !bytes.Equal(wrong[16:32], plain[16:32]) {
		t.Errorf("chaining: decrypting with the wrong IV gave %q", wrong)
	}
	for _, n := range []int{0, 15, 33} {
		if _, _, err := c.Decrypt(iv, make([]byte, n)); !errors.Is(err, ErrCiphertext) {
			t.Errorf("Decrypt of %d bytes = %v, want ErrCiphertext", n, err)
		}
	}
	if _, err := NewCipher(make([]byte, 20)); err == nil {
		t.Error("NewCipher took a 20-byte key")
	}
}
