package ui

import "testing"

func TestSafeNext(t *testing.T) {
	tests := []struct{ next, want string }{
		{"/", "/"},
		{"/users/alice", "/users/alice"},
		{"/webhooks/1?status=failed&before=10", "/webhooks/1?status=failed&before=10"},
		{"/users/j%C3%B6rg", "/users/j%C3%B6rg"},
		{"/search?q=a%20b", "/search?q=a%20b"},
		{"", "/"},
		{"users", "/"},
		{"//evil.example", "/"},
		{"///evil.example", "/"},
		{"/\\evil.example", "/"},
		{"\\\\evil.example", "/"},
		{"/users\\evil", "/"},
		{"/\t/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"/\r/evil.example", "/"},
		{"/\x00/evil.example", "/"},
		{"/\x7f/evil.example", "/"},
		{" /users", "/"},
		{"/users /x", "/"},
		{"/%09/evil.example", "/"},
		{"/%0A/evil.example", "/"},
		{"/%2F/evil.example", "/"},
		{"/%2f%2fevil.example", "/"},
		{"/%5Cevil.example", "/"},
		{"/%252F/evil.example", "/"},
		{"/%25252F/evil.example", "/"},
		{"/%zz", "/"},
		{"https://evil.example", "/"},
		{"https:/evil.example", "/"},
		{"http:evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"/ünïcode", "/"}, // not how a browser sends a path: encode it
	}
	for _, tt := range tests {
		if got := safeNext(tt.next); got != tt.want {
			t.Errorf("safeNext(%q) = %q, want %q", tt.next, got, tt.want)
		}
	}
}
