package e2e

import (
	"fmt"
	"net/http"
	"testing"
)

// Data and events survive a stop and a start on the same file.
func TestRestartKeepsDataAndEvents(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": "kept", "first_name": "K", "last_name": "K", "email": "kept@example.com", "password": "kept-pass-1",
	}, nil)
	admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "team", "members": []string{"kept"}}, nil)
	var tok struct {
		Token string `json:"token"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/user/kept/api_token", map[string]string{"name": "t"}, &tok)
	before := admin.eventsAfter(0)
	s.stop()

	s2 := startServerOn(t, s.DBPath)
	admin2 := s2.admin()
	after := admin2.eventsAfter(0)
	if len(after) != len(before) {
		t.Fatalf("%d events before restart, %d after", len(before), len(after))
	}
	for i := range before {
		if before[i].ID != after[i].ID || string(before[i].Payload) != string(after[i].Payload) || before[i].Seq != after[i].Seq {
			t.Fatalf("event %d changed across restart: %+v vs %+v", i, before[i], after[i])
		}
	}
	var u user
	admin2.expect(http.StatusOK, "GET", "/api/v1/user/kept", nil, &u)
	if len(u.Groups) != 1 || u.Groups[0] != "team" {
		t.Fatalf("user after restart = %+v", u)
	}
	s2.login("kept", "kept-pass-1")
	s2.withToken(tok.Token).expect(http.StatusOK, "GET", "/api/v1/me", nil, nil)
	// New events continue the sequence.
	admin2.expect(http.StatusNoContent, "DELETE", "/api/v1/user/kept", nil, nil)
	evs := admin2.eventsAfter(after[len(after)-1].Seq)
	if len(evs) == 0 || evs[0].Type != "user_deleted" {
		t.Fatalf("events after restart = %+v", evs)
	}
	// Exactly one admin, never a second bootstrap.
	var users []user
	admin2.expect(http.StatusOK, "GET", "/api/v1/user", nil, &users)
	if len(users) != 1 || users[0].Username != "admin" {
		t.Fatalf("users = %+v", users)
	}
}

// The event feed pages with after and limit, in commit order.
func TestEventFeedPaging(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	for _, name := range []string{"u1", "u2", "u3", "u4", "u5"} {
		admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
			"username": name, "first_name": name, "last_name": "X", "email": name + "@example.com",
		}, nil)
	}
	all := admin.eventsAfter(0)
	var page []event
	admin.expect(http.StatusOK, "GET", "/api/v1/event?limit=2", nil, &page)
	if len(page) != 2 || page[0].Seq != all[0].Seq {
		t.Fatalf("first page = %+v", page)
	}
	var seen []event
	after := int64(0)
	for {
		var p []event
		admin.expect(http.StatusOK, "GET", fmt.Sprintf("/api/v1/event?limit=3&after=%d", after), nil, &p)
		if len(p) == 0 {
			break
		}
		seen = append(seen, p...)
		after = p[len(p)-1].Seq
	}
	if len(seen) != len(all) {
		t.Fatalf("paged %d events, want %d", len(seen), len(all))
	}
	for i := range all {
		if seen[i].ID != all[i].ID {
			t.Fatalf("page order differs at %d", i)
		}
	}
	for _, q := range []string{"limit=0", "limit=x", "after=-1", "after=abc"} {
		admin.expect(http.StatusBadRequest, "GET", "/api/v1/event?"+q, nil, nil)
	}
	// Over the cap is capped, not refused.
	admin.expect(http.StatusOK, "GET", "/api/v1/event?limit=5000", nil, nil)
}
