package api

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// GET /api/v1/ssh_authorized_keys without a filter lists every key, which
// Defguard's endpoint does not do; the description and the documents an
// operator reads before exposing Herald say so, and that it is public,
// rather than claiming Herald only does what Defguard does.
func TestAuthorizedKeysDocumented(t *testing.T) {
	b, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Description string `json:"description"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	desc := doc.Paths["/ssh_authorized_keys"]["get"].Description
	for _, want := range []string{"Neither gives every user's key", "where Defguard answers nothing", "without credentials"} {
		if !strings.Contains(desc, want) {
			t.Errorf("openapi.json's ssh_authorized_keys description does not say %q: %s", want, desc)
		}
	}
	for file, wants := range map[string][]string{
		"../../docs/security.md":                {"ssh_authorized_keys", "neither for every user's key", "Defguard's endpoint answers nothing", "Anyone who can reach Herald"},
		"../../docs/migrating-from-defguard.md": {"the endpoint is public", "lists every user's key rather than none"},
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Join(strings.Fields(string(b)), " ")
		for _, want := range wants {
			if !strings.Contains(text, want) {
				t.Errorf("%s does not say %q", file, want)
			}
		}
	}
}
