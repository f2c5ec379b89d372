package scim_test

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/heraldhq/herald/internal/scim"
	"github.com/heraldhq/herald/internal/store"
)

// conflictProvider is a SCIM provider that does not list a user its
// filter should find until a POST of it was refused 409 (uniqueness): as
// one whose account was made meanwhile, or whose filter missed it. After
// the 409 its filter lists listed; a PUT to a listed user answers
// putStatus (http.StatusOK: the user as sent), any other call 404.
type conflictProvider struct {
	listed    []map[string]any
	putStatus int

	mu      sync.Mutex
	posted  bool
	calls   []string
	putBody map[string]any
}

func (p *conflictProvider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	call := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		call += "?" + r.URL.RawQuery
	}
	p.calls = append(p.calls, call)
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/scim+json")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/Users":
		list := []map[string]any{}
		if p.posted {
			list = p.listed
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"schemas":      []string{"urn:ietf:params:scim:api:messages:2.0:ListResponse"},
			"totalResults": len(list), "startIndex": 1, "itemsPerPage": len(list), "Resources": list})
	case r.Method == http.MethodPost && r.URL.Path == "/Users":
		p.posted = true
		w.WriteHeader(http.StatusConflict)
		_, _ = io.WriteString(w, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"userName gus is taken"}`)
	case r.Method == http.MethodPut && p.has(strings.TrimPrefix(r.URL.Path, "/Users/")):
		_ = json.Unmarshal(body, &p.putBody)
		if p.putStatus != http.StatusOK {
			w.WriteHeader(p.putStatus)
			_, _ = io.WriteString(w, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"500","detail":"down"}`)
			return
		}
		out := maps.Clone(p.putBody)
		out["id"] = strings.TrimPrefix(r.URL.Path, "/Users/")
		_ = json.NewEncoder(w).Encode(out)
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"404","detail":"no such resource"}`)
	}
}

// has reports whether the provider lists a user of that id (after the 409).
func (p *conflictProvider) has(id string) bool {
	if !p.posted {
		return false
	}
	return slices.ContainsFunc(p.listed, func(u map[string]any) bool { return u["id"] == id })
}

// A POST /Users refused 409 uniqueness means the provider has the
// account after all: it is looked up again and adopted (PUT to its id,
// the id kept). When the second lookup still finds nothing, or the PUT
// fails, nothing is stored and the change is not Done.
func TestApplyAdoptsOnConflict(t *testing.T) {
	const (
		lookup = `GET /Users?filter=userName%20eq%20%22gus%22`
		post   = "POST /Users"
		put    = "PUT /Users/u-7"
	)
	gus := map[string]any{"id": "u-7", "userName": "gus", "active": false}
	for _, tc := range []struct {
		name      string
		listed    []map[string]any
		putStatus int
		verdict   scim.Verdict
		stored    string
		calls     []string
		errHas    []string
	}{
		{name: "found after the 409: adopted", listed: []map[string]any{gus}, putStatus: 200,
			verdict: scim.Done, stored: "u-7", calls: []string{lookup, post, lookup, put}},
		{name: "found, case aside: adopted", listed: []map[string]any{{"id": "u-7", "userName": "GUS"}}, putStatus: 200,
			verdict: scim.Done, stored: "u-7", calls: []string{lookup, post, lookup, put}},
		{name: "still not found: the 409 fails the change", listed: nil,
			verdict: scim.Failed, calls: []string{lookup, post, lookup},
			errHas: []string{"POST /Users", "409", "scimType uniqueness", "userName gus is taken"}},
		{name: "another user only: the 409 fails the change", listed: []map[string]any{{"id": "u-8", "userName": "gustav"}},
			verdict: scim.Failed, calls: []string{lookup, post, lookup}, errHas: []string{"409", "uniqueness"}},
		{name: "found, but the PUT fails: retried, not stored", listed: []map[string]any{gus}, putStatus: 500,
			verdict: scim.Retry, calls: []string{lookup, post, lookup, put}, errHas: []string{put, "500"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eachDB(t, func(t *testing.T, db *store.DB) {
				e := newEnv(t, db)
				p := &conflictProvider{listed: tc.listed, putStatus: tc.putStatus}
				srv := httptest.NewServer(p)
				t.Cleanup(srv.Close)
				e.tg.BaseURL = srv.URL

				r := e.apply("user_created", "user:gus", e.user("gus"), nil, tc.verdict)
				p.mu.Lock()
				calls, putBody := slices.Clone(p.calls), p.putBody
				p.mu.Unlock()
				if !slices.Equal(calls, tc.calls) {
					t.Errorf("calls %q, want %q", calls, tc.calls)
				}
				if got := e.remoteID(scim.KindUser, "gus"); got != tc.stored {
					t.Errorf("stored id %q, want %q", got, tc.stored)
				}
				for _, s := range tc.errHas {
					if !strings.Contains(r.Error, s) {
						t.Errorf("error %q does not say %q", r.Error, s)
					}
				}
				if tc.verdict == scim.Done {
					// The adopted account is made Herald's user: active,
					// with its attributes.
					if putBody["userName"] != "gus" || putBody["active"] != true || putBody["externalId"] == nil {
						t.Errorf("the PUT to u-7 sent %v", putBody)
					}
					if r.Error != "" || r.Status != 200 {
						t.Errorf("result %+v", r)
					}
				}
			})
		})
	}
}
