package api_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
)

// TestWebhookLifecycle: an admin creates, reads, replaces, rotates the
// secret of and deletes a webhook through the API, with the status each
// step promises; the list shows it while it exists.
func TestWebhookLifecycle(t *testing.T) {
	f := newFixture(t)
	hook := func(a answer) (h struct {
		ID            int64  `json:"id"`
		Description   string `json:"description"`
		SigningSecret string `json:"signing_secret"`
	}) {
		t.Helper()
		if err := json.Unmarshal([]byte(a.body), &h); err != nil {
			t.Fatalf("not a webhook: %q", a.body)
		}
		return h
	}
	a := f.do(t, "POST", "/api/v1/webhook", f.admin, `{"url":"https://hooks.example.com/in","description":"first","on_user_created":true}`)
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d %s, want 201", a.status, a.msg)
	}
	created := hook(a)
	path := "/api/v1/webhook/" + strconv.FormatInt(created.ID, 10)
	if created.SigningSecret == "" {
		t.Errorf("created without a signing secret: %s", a.body)
	}
	if a := f.do(t, "GET", path, f.admin, ""); a.status != http.StatusOK || hook(a).Description != "first" {
		t.Errorf("GET: %d %s", a.status, a.body)
	}
	if a := f.do(t, "PUT", path, f.admin, `{"url":"https://hooks.example.com/in","description":"second","on_user_created":true}`); a.status != http.StatusOK || hook(a).Description != "second" {
		t.Errorf("PUT: %d %s, want 200 with the new description", a.status, a.body)
	}
	if a := f.do(t, "POST", path+"/rotate_secret", f.admin, ""); a.status != http.StatusOK || hook(a).SigningSecret == created.SigningSecret {
		t.Errorf("rotate_secret: %d %s, want 200 with a new secret", a.status, a.body)
	}
	var list []json.RawMessage
	if a := f.do(t, "GET", "/api/v1/webhook", f.admin, ""); a.status != http.StatusOK || json.Unmarshal([]byte(a.body), &list) != nil || len(list) != 2 {
		t.Errorf("list: %d %s, want the fixture's webhook and this one", a.status, a.body)
	}
	if a := f.do(t, "DELETE", path, f.admin, ""); a.status != http.StatusNoContent || a.body != "" {
		t.Errorf("DELETE: %d %q, want 204 and no body", a.status, a.body)
	}
	for _, m := range []string{"GET", "DELETE"} {
		if a := f.do(t, m, path, f.admin, ""); a.status != http.StatusNotFound {
			t.Errorf("%s after delete: %d, want 404", m, a.status)
		}
	}
	if a := f.do(t, "PUT", path, f.admin, `{"url":"https://hooks.example.com/in","description":"third","on_user_created":true}`); a.status != http.StatusNotFound {
		t.Errorf("PUT after delete: %d %q, want 404", a.status, a.msg)
	}
}
