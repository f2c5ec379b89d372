package secretbox

import (
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
	tampered := sealed[:len(sealed)-2] + "AA"
	if _, err := b.Open(tampered); err == nil {
		t.Fatal("opened a tampered value")
	}
	if _, err := New("short"); err == nil {
		t.Fatal("accepted a short key")
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db.key")
	k1, created, err := LoadOrCreateKeyFile(path)
	if err != nil || !created || len(k1) < 32 {
		t.Fatalf("create: %q %v %v", k1, created, err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	k2, created, err := LoadOrCreateKeyFile(path)
	if err != nil || created || k2 != k1 {
		t.Fatalf("reload: %q %v %v", k2, created, err)
	}
}
