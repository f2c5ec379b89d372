package api_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestSCIMTargets: an admin creates, reads, replaces, resyncs and deletes
// a SCIM target through the API; its token is never shown, a PUT without
// it keeps it, it is no webhook to the webhook API, bad input names its
// field, and others are refused before their input is read.
func TestSCIMTargets(t *testing.T) {
	f := newFixture(t)
	if a := f.do(t, "POST", "/api/v1/group", f.admin, `{"name":"staff"}`); a.status != http.StatusCreated {
		t.Fatalf("create group: %d %s", a.status, a.msg)
	}
	a := f.do(t, "POST", "/api/v1/scim_target", f.admin,
		`{"name":"App","base_url":"https://app.example.com/scim/v2","token":"bearer-s3cret","only_groups":["staff"],"sync_groups":true}`)
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d %s", a.status, a.msg)
	}
	var created map[string]any
	if err := json.Unmarshal([]byte(a.body), &created); err != nil {
		t.Fatal(err)
	}
	id := strconv.FormatFloat(created["id"].(float64), 'f', 0, 64)
	path := "/api/v1/scim_target/" + id
	if _, shown := created["token"]; shown || created["token_set"] != true || created["deprovision"] != "deactivate" || created["enabled"] != true {
		t.Errorf("created: %s; want no token, token_set, deactivate by default, enabled", a.body)
	}

	for _, p := range []string{path, "/api/v1/scim_target"} {
		a := f.do(t, "GET", p, f.admin, "")
		if a.status != http.StatusOK || strings.Contains(a.body, "bearer-s3cret") || !strings.Contains(a.body, `"token_set":true`) {
			t.Errorf("GET %s: %d %s; want the target without its token", p, a.status, a.body)
		}
	}
	// A SCIM target is no webhook, and a webhook no SCIM target.
	for _, p := range []string{"/api/v1/webhook/" + id, "/api/v1/scim_target/" + f.webhookID} {
		if a := f.do(t, "GET", p, f.admin, ""); a.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, a.status)
		}
	}
	if a := f.do(t, "DELETE", "/api/v1/webhook/"+id, f.admin, ""); a.status != http.StatusNotFound {
		t.Errorf("DELETE the target as a webhook: %d, want 404", a.status)
	}
	if a := f.do(t, "GET", "/api/v1/webhook", f.admin, ""); strings.Contains(a.body, "app.example.com") {
		t.Errorf("the webhook list shows the SCIM target: %s", a.body)
	}

	// What GET returned may be sent back: the token stays.
	get := f.do(t, "GET", path, f.admin, "")
	back := strings.Replace(get.body, `"deactivate"`, `"delete"`, 1)
	if a := f.do(t, "PUT", path, f.admin, back); a.status != http.StatusOK || !strings.Contains(a.body, `"token_set":true`) ||
		!strings.Contains(a.body, `"deprovision":"delete"`) {
		t.Errorf("PUT what GET returned: %d %s", a.status, a.body)
	}
	if a := f.do(t, "PUT", path, f.admin, `{"name":"App","base_url":"https://app.example.com/scim/v2","token":""}`); !strings.Contains(a.body, `"token_set":false`) {
		t.Errorf(`PUT "token": "": %d %s; want the token removed`, a.status, a.body)
	}

	for _, tt := range []struct{ name, method, path, body, says string }{
		{"unknown field", "POST", "/api/v1/scim_target", `{"name":"x","base_url":"https://a.example","tokn":"x"}`, `"tokn"`},
		{"no name", "POST", "/api/v1/scim_target", `{"base_url":"https://a.example"}`, "name"},
		{"bad base_url", "POST", "/api/v1/scim_target", `{"name":"x","base_url":"ftp://a.example"}`, "base_url"},
		{"bad deprovision", "POST", "/api/v1/scim_target", `{"name":"x","base_url":"https://a.example","deprovision":"purge"}`, "deprovision"},
		{"no such group", "POST", "/api/v1/scim_target", `{"name":"x","base_url":"https://a.example","only_groups":["ghosts"]}`, "only_groups"},
		{"bad before", "GET", path + "/deliveries?before=x", "", "before"},
	} {
		if a := f.do(t, tt.method, tt.path, f.admin, tt.body); a.status != http.StatusBadRequest || !strings.Contains(a.msg, tt.says) {
			t.Errorf("%s: %d %q, want 400 naming %q", tt.name, a.status, a.msg, tt.says)
		}
	}
	for _, p := range []string{"/api/v1/scim_target", path, path + "/deliveries"} {
		if a := f.do(t, "GET", p, f.bob, ""); a.status != http.StatusForbidden {
			t.Errorf("bob GET %s: %d, want 403", p, a.status)
		}
	}
	if a := f.do(t, "POST", path+"/resync", f.bob, `{`); a.status != http.StatusForbidden {
		t.Errorf("bob resync: %d, want 403", a.status)
	}

	// No engine in this handler: a resync is refused as unavailable; a
	// disabled target's resync names why.
	if a := f.do(t, "POST", path+"/resync", f.admin, ""); a.status != http.StatusServiceUnavailable {
		t.Errorf("resync without an engine: %d %s, want 503", a.status, a.msg)
	}
	if a := f.do(t, "PUT", path, f.admin, `{"name":"App","base_url":"https://app.example.com/scim/v2","enabled":false}`); a.status != http.StatusOK {
		t.Fatalf("disable: %d %s", a.status, a.msg)
	}
	if a := f.do(t, "POST", path+"/resync", f.admin, ""); a.status != http.StatusBadRequest || !strings.Contains(a.msg, "disabled") {
		t.Errorf("resync of a disabled target: %d %q, want 400 saying disabled", a.status, a.msg)
	}
	if a := f.do(t, "GET", path+"/deliveries", f.admin, ""); a.status != http.StatusOK || a.body != "[]\n" && a.body != "[]" {
		t.Errorf("deliveries: %d %q, want an empty list", a.status, a.body)
	}
	if a := f.do(t, "DELETE", path, f.admin, ""); a.status != http.StatusNoContent {
		t.Errorf("delete: %d %s", a.status, a.msg)
	}
	if a := f.do(t, "GET", path, f.admin, ""); a.status != http.StatusNotFound {
		t.Errorf("after delete: %d, want 404", a.status)
	}
}
