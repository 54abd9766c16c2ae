package ikev1

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"slices"
)

// ErrCiphertext means an encrypted body that is no whole number of cipher
// blocks.
var ErrCiphertext = errors.New("not a whole number of cipher blocks")

// Cipher encrypts the messages of one ISAKMP SA after its keys are made:
// AES-CBC with the IV chained from message to message (RFC 2409 Appendix
// B). It is not safe for concurrent use.
type Cipher struct {
	block cipher.Block
}

// NewCipher returns the AES-CBC cipher of key (16, 24 or 32 bytes).
func NewCipher(key []byte) (*Cipher, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("phase-1 cipher: %w", err)
	}
	return &Cipher{block: b}, nil
}

// BlockSize is the cipher's block size, the length of its IVs.
func (c *Cipher) BlockSize() int { return c.block.BlockSize() }

// Encrypt pads plain with zero bytes to whole blocks, as isakmpd does (the
// payload lengths tell the receiver where they end), and encrypts it with
// iv. It returns the ciphertext and the IV of the next message: the last
// block of the ciphertext.
func (c *Cipher) Encrypt(iv, plain []byte) (ct, next []byte) {
	bs := c.BlockSize()
	ct = make([]byte, (len(plain)+bs-1)/bs*bs)
	copy(ct, plain)
	cipher.NewCBCEncrypter(c.block, iv).CryptBlocks(ct, ct)
	return ct, slices.Clone(ct[len(ct)-bs:])
}

// Decrypt decrypts ct with iv. It returns the plain text, padding
// included, and the IV of the next message.
func (c *Cipher) Decrypt(iv, ct []byte) (plain, next []byte, err error) {
	bs := c.BlockSize()
	if len(ct) == 0 || len(ct)%bs != 0 {
		return nil, nil, fmt.Errorf("encrypted body of %d bytes: %w", len(ct), ErrCiphertext)
	}
	next = slices.Clone(ct[len(ct)-bs:])
	plain = make([]byte, len(ct))
	cipher.NewCBCDecrypter(c.block, iv).CryptBlocks(plain, ct)
	return plain, next, nil
}
