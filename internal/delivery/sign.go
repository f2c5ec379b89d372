package delivery

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
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
// space-separated (several secrets during a rotation).
func Sign(secrets []string, id string, timestamp int64, body []byte) (string, error) {
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		var err error
		if keys[i], err = decodeSecret(s); err != nil {
			return "", err
		}
	}
	return signWith(keys, id, timestamp, body), nil
}

// decodeSecret returns the key of a "whsec_<base64>" signing secret.
func decodeSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil || len(key) == 0 {
		return nil, errors.New("signing secret is not whsec_<base64>")
	}
	return key, nil
}

// signWith is Sign with the keys decoded.
func signWith(keys [][]byte, id string, timestamp int64, body []byte) string {
	sigs := make([]string, len(keys))
	for i, key := range keys {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id))
		mac.Write([]byte{'.'})
		mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
		mac.Write([]byte{'.'})
		mac.Write(body)
		sigs[i] = "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	}
	return strings.Join(sigs, " ")
}
