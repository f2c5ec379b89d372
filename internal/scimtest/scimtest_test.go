package scimtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/scimtest"
)

func call(t *testing.T, p *scimtest.Provider, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, p.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

const user = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice"}`

// The provider checks the token, refuses a second userName (409
// uniqueness), filters, pages, patches members, and honours its knobs.
func TestProvider(t *testing.T) {
	p := scimtest.New(t, "tok")
	if code, _ := call(t, p, "bad", "GET", "/Users", ""); code != 401 {
		t.Errorf("wrong token: %d", code)
	}
	code, u := call(t, p, "tok", "POST", "/Users", user)
	if code != 201 {
		t.Fatalf("POST: %d %v", code, u)
	}
	if code, e := call(t, p, "tok", "POST", "/Users", strings.Replace(user, "alice", "ALICE", 1)); code != 409 || e["scimType"] != "uniqueness" {
		t.Errorf("second alice: %d %v", code, e)
	}
	call(t, p, "tok", "POST", "/Users", strings.Replace(user, "alice", "bob", 1))
	if code, l := call(t, p, "tok", "GET", `/Users?filter=userName%20eq%20%22Alice%22`, ""); code != 200 || l["totalResults"] != 1.0 {
		t.Errorf("filter: %d %v", code, l)
	}
	p.PageSize(1)
	if _, l := call(t, p, "tok", "GET", "/Users?startIndex=2&count=100", ""); l["totalResults"] != 2.0 || len(l["Resources"].([]any)) != 1 {
		t.Errorf("page 2: %v", l)
	}
	_, g := call(t, p, "tok", "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"ops","members":[]}`)
	patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"` + u["id"].(string) + `"}]}]}`
	for range 2 {
		if code, _ := call(t, p, "tok", "PATCH", "/Groups/"+g["id"].(string), patch); code != 200 {
			t.Errorf("PATCH: %d", code)
		}
	}
	if grp, _ := p.Group("ops"); !slices.Equal(grp.Members(), []string{u["id"].(string)}) {
		t.Errorf("members %v", grp.Members())
	}
	p.FailNext(2, 503)
	for range 2 {
		if code, _ := call(t, p, "tok", "GET", "/Users", ""); code != 503 {
			t.Errorf("FailNext: %d", code)
		}
	}
	p.Lose()
	if code, _ := call(t, p, "tok", "GET", "/Users/"+u["id"].(string), ""); code != 404 || len(p.Users()) != 0 {
		t.Errorf("after Lose: %d, %v", code, p.Users())
	}
	if n := p.Requests(); n != 12 || p.Calls()[0] != "GET /Users" {
		t.Errorf("%d requests: %q", n, p.Calls())
	}
}
