package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// The bench's SCIM endpoint answers as a SCIM provider would and records
// one creation per userName; a wrong token is refused and not recorded.
func TestSCIMEndpoint(t *testing.T) {
	ep, err := newSCIMEndpoint()
	if err != nil {
		t.Fatal(err)
	}
	defer ep.close()
	do := func(method, path, token, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, ep.url()+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", scimJSON)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if st, out := do("GET", `/Users?filter=userName+eq+"s0000001"`, ep.token, ""); st != 200 || out["totalResults"] != 0.0 {
		t.Errorf("filtered GET: %d %v", st, out)
	}
	st, out := do("POST", "/Users", ep.token, `{"userName":"s0000001"}`)
	if st != 201 || out["id"] == nil || out["userName"] != "s0000001" {
		t.Errorf("POST /Users: %d %v", st, out)
	}
	if st, _ := do("PUT", "/Users/"+out["id"].(string), ep.token, `{"userName":"s0000001"}`); st != 200 {
		t.Errorf("PUT: %d", st)
	}
	if st, _ := do("POST", "/Users", "wrong", `{"userName":"s0000002"}`); st != 401 {
		t.Errorf("wrong token: %d", st)
	}
	if got := ep.creations("s"); len(got) != 1 || got["s0000001"].IsZero() {
		t.Errorf("creations = %v, want s0000001 only", got)
	}
}
