package secretbox

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	b, err := New("a secret key of enough length")
	if err != nil {
		t.Fatal(err)
	}
	sealed := b.Seal("whsec_abc")
	if strings.Contains(sealed, "whsec_abc") || !strings.HasPrefix(sealed, "v1:") {
		t.Fatalf("sealed value %q shows the secret or lacks the format prefix", sealed)
	}
	if sealed == b.Seal("whsec_abc") {
		t.Fatal("two seals of one value are equal: nonce reused")
	}
	got, err := b.Open(sealed)
	if err != nil || got != "whsec_abc" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if b.Seal("") != "" {
		t.Fatal("empty value should stay empty")
	}
	other, _ := New("another key of enough length")
	if _, err := other.Open(sealed); err == nil {
		t.Fatal("opened with the wrong key")
	}
	// Flip one bit of the ciphertext itself (replacing trailing text could
	// leave the decoded bytes unchanged now and then).
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(sealed, "v1:"))
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-1] ^= 1
	tampered := "v1:" + base64.RawStdEncoding.EncodeToString(raw)
	if _, err := b.Open(tampered); err == nil {
		t.Fatal("opened a tampered value")
	}
	if _, err := New("short"); err == nil {
		t.Fatal("accepted a short key")
	}
}

// A missing key file is reported, not created behind the caller's back;
// a created one is readable by its owner only and reads back the same;
// an existing one is never overwritten.
func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db.key")
	if k, exists, err := ReadKeyFile(path); err != nil || exists || k != "" {
		t.Fatalf("read a missing file: %q %v %v", k, exists, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("reading a missing key file created it: %v", err)
	}
	k1, err := CreateKeyFile(path)
	if err != nil || len(k1) < 32 {
		t.Fatalf("create: %q %v", k1, err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	k2, exists, err := ReadKeyFile(path)
	if err != nil || !exists || k2 != k1 {
		t.Fatalf("reload: %q %v %v", k2, exists, err)
	}
	if _, err := CreateKeyFile(path); err == nil {
		t.Fatal("CreateKeyFile overwrote an existing key file")
	}
	if k3, _, _ := ReadKeyFile(path); k3 != k1 {
		t.Fatal("the key file changed")
	}
	if err := os.WriteFile(path, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadKeyFile(path); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Fatalf("a truncated key file: %v", err)
	}
}
