package scim_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/scim"
	"github.com/heraldhq/herald/internal/store"
)

// A target answering 429 Too Many Requests is retried, not failed, with
// its Retry-After carried in the result (the engine schedules the retry
// by it), whichever call the 429 answers; the retry then goes through.
func TestApplyTooManyRequests(t *testing.T) {
	for _, tc := range []struct {
		name       string
		retryAfter string
		// mapped: alice is created at the target first, so the change is
		// a PUT to her id rather than a lookup.
		mapped bool
		typ    string
		call   string // the call the 429 answers, as the error names it
	}{
		{name: "lookup of an unmapped user", retryAfter: "7", typ: "user_created", call: "GET /Users?filter="},
		{name: "PUT of a mapped user", retryAfter: "7", mapped: true, typ: "user_modified", call: "PUT /Users/"},
		{name: "DELETE of a mapped user", retryAfter: "7", mapped: true, typ: "user_deleted", call: "DELETE /Users/"},
		{name: "without Retry-After", retryAfter: "", typ: "user_created", call: "GET /Users?filter="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eachDB(t, func(t *testing.T, db *store.DB) {
				e := newEnv(t, db)
				body := e.user("alice")
				if tc.mapped {
					e.apply("user_created", "user:alice", body, nil, scim.Done)
				}
				data, prev := userBody("alice", "Alicia"), body
				if tc.typ == "user_created" {
					data, prev = body, nil
				}
				e.p.RetryAfter(tc.retryAfter)
				e.p.FailNext(1, http.StatusTooManyRequests)
				r := e.apply(tc.typ, "user:alice", data, prev, scim.Retry)
				if r.RetryAfter != tc.retryAfter || r.Status != http.StatusTooManyRequests {
					t.Errorf("429: RetryAfter %q, status %d; want %q, 429", r.RetryAfter, r.Status, tc.retryAfter)
				}
				if !strings.Contains(r.Error, tc.call) || !strings.Contains(r.Error, "429 Too Many Requests") {
					t.Errorf("error %q does not name %q and the 429", r.Error, tc.call)
				}
				// Once the target takes requests again, the same change is done.
				if r := e.apply(tc.typ, "user:alice", data, prev, scim.Done); r.RetryAfter != "" {
					t.Errorf("a Done result carries Retry-After %q", r.RetryAfter)
				}
				_, there := e.p.User("alice")
				if want := tc.typ != "user_deleted"; there != want {
					t.Errorf("after the retry the target has alice: %v, want %v (%v)", there, want, e.p.Calls())
				}
			})
		})
	}
}
