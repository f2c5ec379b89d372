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
	var sigs []string
	for _, s := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, secretPrefix))
		if err != nil || len(key) == 0 {
			return "", errors.New("signing secret is not whsec_<base64>")
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id))
		mac.Write([]byte{'.'})
		mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
		mac.Write([]byte{'.'})
		mac.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, " "), nil
}
