package ikev1

import (
	"bytes"
	"encoding/hex"
	"testing"

	"gif/internal/ike/isakmp"
)

// kdfVectors are published known answers of RFC 2409's SKEYID derivation:
// NIST's CAVS vectors for the IKEv1 KDF (SP 800-135), as libreswan and NSS
// carry them in their tests.
var kdfVectors = []struct {
	name                 string
	hash                 uint16
	psk                  string // "" for signature authentication
	ckyI, ckyR, ni, nr   string
	gxy, skeyid, d, a, e string
}{
	{
		name: "CAVS ikev1_psk COUNT = 0, SHA-1 (libreswan programs/cavp/test.acvp.ikev1_psk.run)",
		hash: isakmp.HashSHA1, psk: "75",
		ckyI: "83d374c30b3b5082", ckyR: "5afc0da06c728029",
		ni:     "b9a2d0e922dc66dd",
		nr:     "2130166863b5ddef",
		gxy:    "739003ba2c11c982946c65e26acf661fbf8ebb78011a9fead79efa12fe3e71cc",
		skeyid: "62b04d112877e442fc3282fc37c076997718a0b9",
		d:      "369e5aad1bdb5faf6a3d929d500cdc236710a9ab",
		a:      "588e957d8d790d093b3a39f121473473af78e9bb",
		e:      "cd74b0c048219db81384d3fda8f6cda51e398a2b",
	},
	{
		name: "CAVS ikev1_dsa COUNT = 0, SHA-1 (libreswan programs/cavp/test.acvp.ikev1_dsa.run; NSS ike-sha1-vectors.h)",
		hash: isakmp.HashSHA1, psk: "",
		ckyI: "8c3bcd3a69831d7f", ckyR: "d2d9a7ff4fbe95a7",
		ni:     "69a62284195f1680",
		nr:     "80c94ba25c8abda5",
		gxy:    "8ba4cbc73c0187301dc19a975823854dbd641c597f637f8d053a83b9514673eb",
		skeyid: "707197817fb2d90cf54d1842606bdea59b9f4823",
		d:      "384be709a8a5e63c3ed160cfe3921c4b37d5b32d",
		a:      "48b327575abe3adba0f279849e289022a13e2b47",
		e:      "a4a415c8e0c38c0da847c356cc61c24df8025560",
	},
	{
		name: "NIST sample, SHA-256, signatures (NSS gtests/common/testvectors/ike-sha256-vectors.h)",
		hash: isakmp.HashSHA2256, psk: "",
		ckyI: "6c6beb72631ddc3d", ckyR: "b84e24b22cffbd14",
		ni:     "b1dee62505b47b223bae14ce7a5b757402ad1587511618d09f94950d47f1d8d4ce86aca12d78db9854d86019ad735757ae79d8932ac0c7db842c85060150ca875ea5d47e3cfcb2a05922ebb7959d49b9797a2289676ee79a1d9a18b790f87e4771ddaf4be3376057a553162f68fe429aca73b07234543801ba2122b1bde82251770d05df813cf556a11ca4dc43ffcb85a97dbed16e2fda6985e07e31be6364899e63c507c7c616e5eb7765a53560f76772de43918ba07badfe85244dcdcd917cb065afb60e3b7e68b54dd94bfc7c31c8b752892781ed3cc4b7f28fbc0ab9af908f5ae1f09f893f80100a7b3135993161b51fbba3bbb24b9f88c6147de82cd6f0",
		nr:     "f0acfef2ad1f7add0eaafda78c1cf1097d9fc91cb04a7c145069ac426fd164cbe661b1dd2df0fb84e19512181f0d8ea50b7860845f332757a8e56d2a3b7be436b5718a2d49baa996a4616684a208c2d611cd65e605dca6e3d3f116859b4410fe13679696bb2e23c08a40c7e1316d54b4c9c0286701c221151b3642cb4112ca1a53e0e597a7e29c634caed86ca3c31973d37b4c346134fd6784cd99913feedf3d29d89a0a02a5a750f02f5738109dcc670bb27701fb59f78e83b76860c3fec079a1fc8c937ddb58ae7500422b7e49ce63759c65b6bc439381d56bcc159edede894b073841036ebfa050a5b3e7c876a3f18def26b1768a263ac66c9d83b680eb5e",
		gxy:    "a1ff3dc6cf9b4c04709943cb4ca1f1789bcf360b03f1d027de3ae8ee039e9155",
		skeyid: "750c5c94b9c2ec20b68033e024dadf0fa87e8b48c6561b21c72478451a06583d",
		d:      "a4f7ca7de913814813e3312099e7c943bd293483f387532330237f1b20957310",
		a:      "1d4b705746c43b0a6fcbb8db33983c0f24ff6f8b6543e3779fed227c6067f004",
		e:      "03e6f16cd9ce9f64b5cdc5b34cca7163483ba5389a30afebef3d14640b0a815e",
	},
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func cookie(t *testing.T, s string) (c [8]byte) {
	copy(c[:], unhex(t, s))
	return c
}

func TestKDFVectors(t *testing.T) {
	for _, v := range kdfVectors {
		h := HashByID(v.hash)
		ni, nr, gxy := unhex(t, v.ni), unhex(t, v.nr), unhex(t, v.gxy)
		skeyid := h.SKEYIDSignature(ni, nr, gxy)
		if v.psk != "" {
			skeyid = h.SKEYIDPreShared(unhex(t, v.psk), ni, nr)
		}
		k := h.DeriveKeys(skeyid, gxy, cookie(t, v.ckyI), cookie(t, v.ckyR))
		for _, c := range []struct {
			what      string
			got, want []byte
		}{{"SKEYID", k.SKEYID, unhex(t, v.skeyid)}, {"SKEYID_d", k.D, unhex(t, v.d)}, {"SKEYID_a", k.A, unhex(t, v.a)}, {"SKEYID_e", k.E, unhex(t, v.e)}} {
			if !bytes.Equal(c.got, c.want) {
				t.Errorf("%s: %s = %x, want %x", v.name, c.what, c.got, c.want)
			}
		}
	}
}

// TestEncryptionKey: a SHA-1 SKEYID_e (20 bytes) is too short for AES-256,
// so the key is K1 | K2 cut to 32 bytes, K1 = prf(SKEYID_e, 0) and
// K2 = prf(SKEYID_e, K1) (RFC 2409 Appendix B); a long enough one is used
// as it is, cut.
func TestEncryptionKey(t *testing.T) {
	h := HashByID(isakmp.HashSHA1)
	e := unhex(t, kdfVectors[0].e)
	if got := h.EncryptionKey(e, 16); !bytes.Equal(got, e[:16]) {
		t.Errorf("16-byte key = %x, want SKEYID_e's first 16 bytes %x", got, e[:16])
	}
	k1 := h.PRF(e, []byte{0})
	k2 := h.PRF(e, k1)
	want := append(k1, k2...)[:32]
	if got := h.EncryptionKey(e, 32); !bytes.Equal(got, want) {
		t.Errorf("32-byte key = %x, want %x", got, want)
	}
}
