package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// Every event names who caused it as an object: a user with a session, a
// user's API token with its id, a station; the feed and the UI's events
// page both show it.
func TestEventActors(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	start := admin.lastSeq()
	admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": "jdoe", "first_name": "jane", "last_name": "doe", "email": "jdoe@example.com", "password": "jdoe-pass-1"}, nil)
	var tok struct {
		ID    int64  `json:"id"`
		Token string `json:"token"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/user/admin/api_token", map[string]string{"name": "sync"}, &tok)
	s.withToken(tok.Token).expect(http.StatusOK, "PATCH", "/api/v1/user/jdoe", map[string]string{"phone": "555"}, nil)
	jdoe := s.login("jdoe", "jdoe-pass-1")
	jdoe.expect(http.StatusOK, "PATCH", "/api/v1/user/jdoe", map[string]string{"phone": "556"}, nil)

	evs := admin.eventsAfter(start)
	want := []actor{
		{Type: "user", Username: "admin"},
		{Type: "api_token", Username: "admin", TokenID: tok.ID},
		{Type: "user", Username: "jdoe"},
	}
	if len(evs) != len(want) {
		t.Fatalf("events: %+v", evs)
	}
	for i, e := range evs {
		if e.Actor != want[i] {
			t.Errorf("event %d (%s): actor %+v, want %+v", i, e.Type, e.Actor, want[i])
		}
	}
	// On the wire: token_id only for a token, no empty keys.
	r := admin.expect(http.StatusOK, "GET", fmt.Sprintf("/api/v1/event?after=%d&limit=3", start), nil, nil)
	if !strings.Contains(string(r.Body), fmt.Sprintf(`"actor":{"type":"api_token","username":"admin","token_id":%d}`, tok.ID)) ||
		!strings.Contains(string(r.Body), `"actor":{"type":"user","username":"jdoe"}`) {
		t.Fatalf("feed: %s", r.Body)
	}

	// The events page shows them.
	resp := admin.do("GET", "/events", nil)
	if resp.Status != http.StatusOK || !containsAll(string(resp.Body), "user:jdoe", fmt.Sprintf("api_token:%d (admin)", tok.ID), "user:admin") {
		t.Fatalf("events page (%d): %s", resp.Status, resp.Body)
	}
}
