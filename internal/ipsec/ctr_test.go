package ipsec

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"testing"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// ctrSA returns an aesctr SA with key (salt included) and a scratch whose
// nonce holds the salt and iv.
func ctrSA(t *testing.T, key, iv []byte) (*SA, *scratch) {
	t.Helper()
	sa, err := NewSA(Params{SPI: 0x4242, Src: testSrc, Dst: testDst, Auth: "hmac-sha1",
		AuthKey: make([]byte, 20), Enc: "aesctr", EncKey: key})
	if err != nil {
		t.Fatal(err)
	}
	s := sa.newScratch().(*scratch)
	copy(s.nonce[saltLen:], iv)
	return sa, s
}

// TestCTRKnownAnswers runs RFC 3686 §6 test vectors #1, #3 and #8.
func TestCTRKnownAnswers(t *testing.T) {
	cases := []struct{ key, nonce, iv, plain, cipher string }{
		{"ae6852f8121067cc4bf7a5765577f39e", "00000030", "0000000000000000",
			hex.EncodeToString([]byte("Single block msg")), "e4095d4fb7a7b3792d6175a3261311b8"},
		{"7691be035e5020a8ac6e618529f9a0dc", "00e0017b", "27777f3f4a1786f0",
			"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223",
			"c1cf48a89f2ffdd9cf4652e9efdb72d74540a42bde6d7836d59a5ceaaef3105325b2072f"},
		{"f6d66d6bd52d59bb0796365879eff886c66dd51a5b6a99744b50590c87a23884", "00faac24", "c1585ef15a43d875",
			"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
			"f05e231b3894612c49ee000b804eb2a9b8306b508f839d6a5530831d9344af1c"},
	}
	for _, c := range cases {
		sa, s := ctrSA(t, unhex(c.key+c.nonce), unhex(c.iv))
		b := unhex(c.plain)
		sa.xorCTR(s, b)
		if got := hex.EncodeToString(b); got != c.cipher {
			t.Errorf("key %s: got %s, want %s", c.key, got, c.cipher)
		}
	}
}

// TestCTRMatchesStdlib compares xorCTR, which borrows AES-GCM's counter
// mode, with crypto/cipher's CTR for every length around the block edges.
func TestCTRMatchesStdlib(t *testing.T) {
	for _, keyLen := range []int{16, 24, 32} {
		key, iv := testKey(keyLen+saltLen, 5), testKey(8, 6)
		sa, s := ctrSA(t, key, iv)
		block, err := aes.NewCipher(key[:keyLen])
		if err != nil {
			t.Fatal(err)
		}
		counter := append(append(append([]byte{}, key[keyLen:]...), iv...), 0, 0, 0, 1)
		for n := range 200 {
			want := testPayload(n)
			cipher.NewCTR(block, counter).XORKeyStream(want, want)
			got := testPayload(n)
			sa.xorCTR(s, got)
			if !bytes.Equal(got, want) {
				t.Fatalf("AES-%d, %d bytes:\n got % x\nwant % x", 8*keyLen, n, got, want)
			}
		}
	}
}
