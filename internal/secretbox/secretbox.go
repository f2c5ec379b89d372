// Package secretbox encrypts the secrets Herald must be able to read back
// (webhook tokens and signing secrets) with AES-256-GCM under the secret
// key, so a copy of the database alone does not reveal them.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// prefix marks the format of a sealed value, so it can change later.
const prefix = "v1:"

// Box seals and opens secrets under one key.
type Box struct {
	aead cipher.AEAD
}

// New returns a Box for the secret key (any string of at least 16
// characters; it is hashed to an AES-256 key).
func New(secretKey string) (*Box, error) {
	if len(secretKey) < 16 {
		return nil, errors.New("secret_key: must be at least 16 characters (for example 32 random bytes in base64)")
	}
	key := sha256.Sum256([]byte(secretKey))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plain. The empty string stays empty, so "no token" needs
// no decryption.
func (b *Box) Seal(plain string) string {
	if plain == "" {
		return ""
	}
	nonce := make([]byte, b.aead.NonceSize())
	_, _ = rand.Read(nonce)
	sealed := b.aead.Seal(nonce, nonce, []byte(plain), nil)
	return prefix + base64.RawStdEncoding.EncodeToString(sealed)
}

// Open decrypts a value made by Seal. It fails if the value was sealed
// under another key or altered.
func (b *Box) Open(sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	rest, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		return "", errors.New("secretbox: unknown format")
	}
	raw, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return "", errors.New("secretbox: corrupt value")
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], nil)
	if err != nil {
		return "", errors.New("secretbox: cannot decrypt; was the secret key changed?")
	}
	return string(plain), nil
}

// ReadKeyFile returns the key stored in path, and exists = false (with no
// error) if there is no such file. Whether a missing file may be created
// is the caller's decision: a new key cannot open what the old one sealed.
func ReadKeyFile(path string) (key string, exists bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	key = strings.TrimSpace(string(data))
	if len(key) < 16 {
		return "", true, fmt.Errorf("secret key file %s is too short; restore it from backup", path)
	}
	return key, true, nil
}

// CreateKeyFile writes a new random key to path, readable by its owner
// only, and returns it. It fails if the file exists.
func CreateKeyFile(path string) (string, error) {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	key := base64.StdEncoding.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("create secret key file: %w", err)
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", err
	}
	return key, f.Close()
}
