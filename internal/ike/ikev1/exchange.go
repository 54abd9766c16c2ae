package ikev1

import (
	"bytes"

	"gif/internal/ike/isakmp"
)

// exchange is what Main Mode and each Quick Mode keep alike: the CBC IV
// their encrypted messages chain (RFC 2409 Appendix B), and the last
// message each way, so that a message the peer sends again gets the same
// answer.
type exchange struct {
	iv       []byte
	lastSent []byte
	lastGot  []byte
}

// LastSent is the last message this side sent, to send again when the
// peer's answer does not come or the peer repeats itself.
func (x *exchange) LastSent() []byte { return x.lastSent }

// seal encrypts pl under c with the IV, chains the IV on, and keeps the
// message, whose header is h with the encryption flag.
func (x *exchange) seal(c *Cipher, h isakmp.Header, pl []isakmp.Payload) []byte {
	ct, next := c.Encrypt(x.iv, isakmp.AppendPayloads(nil, pl))
	x.iv = next
	h.Next, h.Flags = pl[0].Type, h.Flags|isakmp.FlagEncryption
	x.lastSent = append(isakmp.AppendHeader(nil, h, len(ct)), ct...)
	return x.lastSent
}

// take hands a message to handle, unless it is the last one taken again:
// that gets the answer it had. A message that fails, forged or garbled,
// does not move the IV on, so that the peer's genuine one may still come.
func (x *exchange) take(raw []byte, handle func([]byte) ([]byte, error)) ([]byte, error) {
	if bytes.Equal(raw, x.lastGot) {
		return x.lastSent, nil
	}
	iv := x.iv
	reply, err := handle(raw)
	if err != nil {
		x.iv = iv
		return nil, err
	}
	x.lastGot = bytes.Clone(raw)
	return reply, nil
}
