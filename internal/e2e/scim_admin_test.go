package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/scimtest"
)

// A SCIM target added after users exist gets them by a resync, reported
// and kept as its last resync; a later change reaches it by itself; a
// second resync finds nothing to do. Its delivery log shows the resync's
// changes, and the event feed does not.
func TestSCIMTargetResyncThroughAPI(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	p := scimtest.New(t, "provider-token")
	admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": "bob", "first_name": "Bob", "last_name": "B", "email": "bob@example.com", "password": "bob-password-1",
	}, nil)
	var target herald.SCIMTarget
	admin.expect(http.StatusCreated, "POST", "/api/v1/scim_target", map[string]any{"name": "provider", "base_url": p.URL, "token": "provider-token"}, &target)
	path := fmt.Sprintf("/api/v1/scim_target/%d", target.ID)

	var report herald.SCIMResync
	admin.expect(http.StatusOK, "POST", path+"/resync", nil, &report)
	if report.Error != "" || report.Users.Created != 2 {
		t.Fatalf("first resync: %+v; want admin and bob to be created", report)
	}
	waitUntil(t, "bob and admin at the provider", func() bool {
		_, bob := p.User("bob")
		_, adm := p.User("admin")
		return bob && adm
	})
	admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": "carol", "first_name": "Carol", "last_name": "C", "email": "carol@example.com", "password": "carol-password-1",
	}, nil)
	waitUntil(t, "carol at the provider", func() bool { _, ok := p.User("carol"); return ok })

	admin.expect(http.StatusOK, "POST", path+"/resync", nil, &report)
	if report.Error != "" || report.Users.Created != 0 || report.Users.Unchanged != 3 {
		t.Fatalf("second resync: %+v; want the 3 users unchanged", report)
	}
	var got herald.SCIMTarget
	admin.expect(http.StatusOK, "GET", path, nil, &got)
	if got.LastResync == nil || got.LastResync.Users.Unchanged != 3 || !got.TokenSet {
		t.Fatalf("the target after resyncs: %+v", got)
	}
	var ds []herald.Delivery
	admin.expect(http.StatusOK, "GET", path+"/deliveries?limit=100", nil, &ds)
	syncs := 0
	for _, d := range ds {
		if d.Event == herald.EventSCIMSync {
			syncs++
		}
	}
	if syncs != 2 {
		t.Fatalf("the delivery log has %d scim_sync deliveries, want 2 (the first resync's): %+v", syncs, ds)
	}
	var events []herald.Event
	admin.expect(http.StatusOK, "GET", "/api/v1/event?after=0&limit=1000", nil, &events)
	for _, ev := range events {
		if herald.Targeted(ev.Type) {
			t.Fatalf("the event feed shows %s %s", ev.Type, ev.Subject)
		}
	}
}

// waitUntil polls cond for up to 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
