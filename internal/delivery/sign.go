package delivery

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"strconv"
	"strings"
	"sync"
)

// secretPrefix starts every signing secret, as in Standard Webhooks.
const secretPrefix = "whsec_"

// NewSigningSecret returns a new signing secret: "whsec_" and the base64 of
// 32 random bytes.
func NewSigningSecret() string {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return secretPrefix + base64.StdEncoding.EncodeToString(key)
}

// Sign returns the webhook-signature header for a message per the Standard
// Webhooks spec: for each secret "v1,<base64 HMAC-SHA256 of id.timestamp.body>",
// space-separated (several secrets during a rotation). It returns an error
// when a secret is not "whsec_<base64>".
func Sign(secrets []string, id string, timestamp int64, body []byte) (string, error) {
	signers := make([]*signer, len(secrets))
	for i, s := range secrets {
		key, err := decodeSecret(s)
		if err != nil {
			return "", err
		}
		signers[i] = newSigner(key)
	}
	return signWith(signers, id, strconv.FormatInt(timestamp, 10), body), nil
}

// decodeSecret returns the key of a "whsec_<base64>" signing secret.
func decodeSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil || len(key) == 0 {
		return nil, errors.New("signing secret is not whsec_<base64>")
	}
	return key, nil
}

// signer signs with one key. Making an HMAC hashes its key into two
// SHA-256 states; a signer keeps the HMACs it made and resets them, which
// restores those states instead of hashing the key again (hmac.New was 3 %
// of Herald's CPU in a profile of the bench's api scenario). The pool lets
// the engine's senders sign for one webhook at once.
type signer struct {
	macs sync.Pool // of hash.Hash, each an HMAC-SHA256 of the key, reset
}

func newSigner(key []byte) *signer {
	s := &signer{}
	s.macs.New = func() any { return hmac.New(sha256.New, key) }
	return s
}

// sign returns "v1," and the base64 of the HMAC of id.timestamp.body.
func (s *signer) sign(id, timestamp string, body []byte) string {
	mac := s.macs.Get().(hash.Hash)
	var head [96]byte
	mac.Write(append(append(append(append(head[:0], id...), '.'), timestamp...), '.'))
	mac.Write(body)
	var sum [sha256.Size]byte
	sig := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(sum[:0]))
	mac.Reset()
	s.macs.Put(mac)
	return sig
}

// signWith is Sign with each secret's signer and the timestamp as sent
// in webhook-timestamp.
func signWith(signers []*signer, id, timestamp string, body []byte) string {
	if len(signers) == 1 {
		return signers[0].sign(id, timestamp, body)
	}
	sigs := make([]string, len(signers))
	for i, s := range signers {
		sigs[i] = s.sign(id, timestamp, body)
	}
	return strings.Join(sigs, " ")
}
