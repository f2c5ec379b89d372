package password

import (
	"strings"
	"testing"
)

func TestHashVerify(t *testing.T) {
	h := Hash("correct horse")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not an argon2id PHC string with the expected parameters", h)
	}
	if h == Hash("correct horse") {
		t.Fatal("two hashes of the same password are equal: salt is not random")
	}
	tests := []struct {
		name string
		hash string
		pw   string
		want bool
	}{
		{"right password", h, "correct horse", true},
		{"wrong password", h, "correct horsE", false},
		{"empty password", h, "", false},
		{"empty hash", "", "correct horse", false},
		{"other algorithm", strings.Replace(h, "argon2id", "argon2i", 1), "correct horse", false},
		{"truncated", h[:len(h)-10], "correct horse", false},
		{"bad params", strings.Replace(h, "m=19456", "m=x", 1), "correct horse", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Verify(tt.hash, tt.pw); got != tt.want {
				t.Fatalf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
}
