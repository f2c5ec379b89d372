package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
)

func createUser(c *client, name string) {
	c.t.Helper()
	c.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": name, "first_name": name, "last_name": "X", "email": name + "@example.com",
	}, nil)
}

// A receiver that fails with 500, 503, 302 and a timeout before accepting
// gets the same webhook-id every time, and the delivery log shows each
// attempt.
func TestWebhookRetries(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *app.Config) { c.RequestTimeout = 300 * time.Millisecond })
	admin := s.admin()
	rc := newReceiver(t)
	rc.setAnswer(func(n int, r received) int {
		switch n {
		case 0:
			return http.StatusInternalServerError
		case 1:
			return http.StatusServiceUnavailable
		case 2:
			return http.StatusFound
		case 3:
			time.Sleep(600 * time.Millisecond) // past the request timeout
			return http.StatusOK
		}
		return http.StatusOK
	})
	hook := admin.addWebhook(rc.URL, nil)
	createUser(admin, "amy")
	got := rc.waitFor(5, 10*time.Second)
	for _, r := range got {
		if r.id() != got[0].id() || string(r.Body) != string(got[0].Body) {
			t.Fatalf("attempts differ: %s %s vs %s %s", r.id(), r.Body, got[0].id(), got[0].Body)
		}
	}
	ds := admin.waitDeliveries(hook.ID, "succeeded", 1, 5*time.Second)
	d := ds[0]
	if d.Attempts != 5 || d.LastStatusCode != 200 || d.Event != "user_created" || d.Subject != "user:amy" || d.EventID != got[0].id() {
		t.Fatalf("delivery = %+v", d)
	}
	var detail struct {
		Request struct {
			Method  string            `json:"method"`
			URL     string            `json:"url"`
			Headers map[string]string `json:"headers"`
			Body    json.RawMessage   `json:"body"`
		} `json:"request"`
		Attempts []struct {
			N            int    `json:"n"`
			StatusCode   int    `json:"status_code"`
			Error        string `json:"error"`
			ResponseBody string `json:"response_body"`
			DurationMS   int64  `json:"duration_ms"`
			StartedAt    string `json:"started_at"`
		} `json:"attempt_log"`
	}
	admin.expect(http.StatusOK, "GET", fmt.Sprintf("/api/v1/webhook/%d/delivery/%d", hook.ID, d.ID), nil, &detail)
	wantCodes := []int{500, 503, 302, 0, 200}
	if len(detail.Attempts) != len(wantCodes) {
		t.Fatalf("attempt log = %+v", detail.Attempts)
	}
	for i, a := range detail.Attempts {
		if a.N != i+1 || a.StatusCode != wantCodes[i] || a.StartedAt == "" {
			t.Fatalf("attempt %d = %+v, want status %d", i, a, wantCodes[i])
		}
	}
	if detail.Attempts[3].Error == "" || detail.Attempts[2].Error == "" {
		t.Fatalf("timeout and redirect attempts should say what happened: %+v", detail.Attempts)
	}
	if detail.Attempts[4].ResponseBody != "answer 200 to request 4" {
		t.Fatalf("response body = %q", detail.Attempts[4].ResponseBody)
	}
	if detail.Request.Method != "GET" || detail.Request.URL != rc.URL || detail.Request.Headers["webhook-id"] != d.EventID ||
		string(detail.Request.Body) != string(got[0].Body) {
		t.Fatalf("request = %+v", detail.Request)
	}
}

// 25 users created, modified twice and deleted concurrently, against a
// receiver that fails a third of the time: every user's events arrive in
// order, none missing.
func TestWebhookOrderPerUser(t *testing.T) {
	t.Parallel()
	// Enough quick retries that no delivery runs out of them by bad luck.
	s := startServer(t, func(c *app.Config) {
		c.RetrySchedule = []time.Duration{0}
		for range 30 {
			c.RetrySchedule = append(c.RetrySchedule, 20*time.Millisecond)
		}
	})
	admin := s.admin()
	rc := newReceiver(t)
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(1, 2))
	rc.setAnswer(func(n int, r received) int {
		mu.Lock()
		defer mu.Unlock()
		if rng.IntN(3) == 0 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	admin.addWebhook(rc.URL, nil)
	var wg sync.WaitGroup
	for i := range 25 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("user%02d", i)
			createUser(admin, name)
			admin.expect(http.StatusOK, "PATCH", "/api/v1/user/"+name, map[string]string{"phone": "1"}, nil)
			admin.expect(http.StatusOK, "PATCH", "/api/v1/user/"+name, map[string]string{"phone": "2"}, nil)
			admin.expect(http.StatusNoContent, "DELETE", "/api/v1/user/"+name, nil, nil)
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for len(rc.succeeded()) < 100 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	ok := rc.succeeded()
	if len(ok) != 100 {
		t.Fatalf("receiver accepted %d events, want 100", len(ok))
	}
	perUser := map[string][]string{}
	for _, r := range ok {
		var b struct {
			Username string `json:"username"`
			Phone    string `json:"phone"`
		}
		if err := json.Unmarshal(r.Body, &b); err != nil {
			t.Fatal(err)
		}
		perUser[b.Username] = append(perUser[b.Username], r.event()+":"+b.Phone)
	}
	want := "[user_created: user_modified:1 user_modified:2 user_deleted:]"
	for i := range 25 {
		name := fmt.Sprintf("user%02d", i)
		if got := fmt.Sprint(perUser[name]); got != want {
			t.Errorf("%s got %s, want %s", name, got, want)
		}
	}
	if len(rc.all()) == len(ok) {
		t.Fatal("the receiver never failed: the test did not test retries")
	}
}

// A user created and then changed while the receiver is down: user_created
// still carries the values at creation.
func TestWebhookSnapshotAtChange(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	rc := newReceiver(t)
	var mu sync.Mutex
	down := true
	rc.setAnswer(func(n int, r received) int {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	admin.addWebhook(rc.URL, nil)
	createUser(admin, "snap")
	rc.waitFor(2, 5*time.Second) // failing for sure
	admin.expect(http.StatusOK, "PATCH", "/api/v1/user/snap", map[string]string{"first_name": "Changed", "phone": "555"}, nil)
	mu.Lock()
	down = false
	mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for len(rc.succeeded()) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	ok := rc.succeeded()
	if len(ok) != 2 {
		t.Fatalf("accepted %d, want 2", len(ok))
	}
	if ok[0].event() != "user_created" || string(ok[0].Body) != `{"email":"snap@example.com","first_name":"snap","last_name":"X","groups":[],"is_admin":false,"pgp_cert_id":"","pgp_key":"","phone":"","ssh_key":"","username":"snap"}` {
		t.Fatalf("user_created = %s", ok[0].Body)
	}
	if ok[1].event() != "user_modified" || string(ok[1].Body) != `{"email":"snap@example.com","first_name":"Changed","last_name":"X","groups":[],"is_admin":false,"pgp_cert_id":"","pgp_key":"","phone":"555","ssh_key":"","username":"snap"}` {
		t.Fatalf("user_modified = %s", ok[1].Body)
	}
}

// 410 disables the webhook; a disabled or deleted webhook gets nothing new;
// triggers filter what a webhook gets.
func TestWebhookGoneDisabledDeletedTriggers(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	gone := newReceiver(t)
	gone.setAnswer(func(int, received) int { return http.StatusGone })
	goneHook := admin.addWebhook(gone.URL, nil)
	onlyDeleted := newReceiver(t)
	admin.expect(http.StatusCreated, "POST", "/api/v1/webhook", map[string]any{
		"url": onlyDeleted.URL, "description": "deletions only", "on_user_deleted": true,
	}, nil)
	paused := newReceiver(t)
	pausedHook := admin.addWebhook(paused.URL, nil)
	admin.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/webhook/%d", pausedHook.ID), map[string]any{"enabled": false}, nil)
	deleted := newReceiver(t)
	deletedHook := admin.addWebhook(deleted.URL, nil)
	admin.expect(http.StatusNoContent, "DELETE", fmt.Sprintf("/api/v1/webhook/%d", deletedHook.ID), nil, nil)
	admin.expect(http.StatusNotFound, "GET", fmt.Sprintf("/api/v1/webhook/%d", deletedHook.ID), nil, nil)

	createUser(admin, "tom")
	admin.waitDeliveries(goneHook.ID, "failed", 1, 5*time.Second)
	var w webhook
	admin.expect(http.StatusOK, "GET", fmt.Sprintf("/api/v1/webhook/%d", goneHook.ID), nil, &w)
	if w.Enabled {
		t.Fatal("410 Gone did not disable the webhook")
	}
	if n := len(gone.all()); n != 1 {
		t.Fatalf("gone receiver got %d requests, want 1 (no retry after 410)", n)
	}
	// The audit log says who turned it off, and why.
	disabled := admin.audit(fmt.Sprintf("action=webhook_disabled&target=webhook:%d", goneHook.ID))
	if len(disabled) != 1 || disabled[0].Actor.Type != "system" || disabled[0].Target != fmt.Sprintf("webhook:%d", goneHook.ID) ||
		disabled[0].Detail != "the receiver answered 410 Gone" || disabled[0].Client != "" {
		t.Fatalf("audit log of webhook_disabled = %+v; want one entry by the system for webhook:%d with the reason", disabled, goneHook.ID)
	}
	admin.expect(http.StatusNoContent, "DELETE", "/api/v1/user/tom", nil, nil)
	got := onlyDeleted.waitFor(1, 5*time.Second)
	if got[0].event() != "user_deleted" {
		t.Fatalf("deletions-only webhook got %s", got[0].event())
	}
	// Let the engine settle, then check nobody else heard anything.
	time.Sleep(300 * time.Millisecond)
	if n := len(onlyDeleted.all()); n != 1 {
		t.Fatalf("deletions-only webhook got %d requests, want 1", n)
	}
	if n := len(gone.all()); n != 1 {
		t.Fatalf("disabled (410) webhook got %d requests after it was disabled", n-1)
	}
	if n := len(paused.all()); n != 0 {
		t.Fatalf("disabled webhook got %d requests", n)
	}
	if n := len(deleted.all()); n != 0 {
		t.Fatalf("deleted webhook got %d requests", n)
	}
	// Enabled again, it gets new events.
	admin.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/webhook/%d", pausedHook.ID), map[string]any{"enabled": true}, nil)
	createUser(admin, "una")
	paused.waitFor(1, 5*time.Second)
}

// A webhook to the cloud metadata address is never contacted, and its
// delivery says why.
func TestWebhookEgressGuard(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	hook := admin.addWebhook("http://169.254.169.254/latest/meta-data/", nil)
	createUser(admin, "eve")
	d := admin.waitDeliveries(hook.ID, "failed", 1, 5*time.Second)[0]
	if d.LastStatusCode != 0 || !containsAll(d.LastError, "169.254.169.254", "blocked") {
		t.Fatalf("delivery = %+v", d)
	}
	var outcome map[string]any
	admin.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/webhook/%d/test", hook.ID), nil, &outcome)
	if outcome["success"] != false || !containsAll(fmt.Sprint(outcome["error"]), "blocked") {
		t.Fatalf("test outcome = %v", outcome)
	}
}

// With webhook_deny_private, loopback receivers are refused too.
func TestWebhookDenyPrivate(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *app.Config) { c.WebhookDenyPrivate = true })
	admin := s.admin()
	rc := newReceiver(t)
	hook := admin.addWebhook(rc.URL, nil)
	createUser(admin, "lou")
	d := admin.waitDeliveries(hook.ID, "failed", 1, 5*time.Second)[0]
	if !containsAll(d.LastError, "127.0.0.1", "blocked") || len(rc.all()) != 0 {
		t.Fatalf("delivery = %+v, receiver got %d", d, len(rc.all()))
	}
}

// Which webhooks get an event (docs/receivers.md, "Events"): a webhook
// disabled after an event still finishes that delivery; a deleted one
// drops its pending deliveries, and the log says so.
func TestWebhookDisabledFinishesDeletedDrops(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *app.Config) {
		c.RetrySchedule = []time.Duration{0, 50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond,
			50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond}
	})
	admin := s.admin()
	var mu sync.Mutex
	down := true
	answer := func(int, received) int {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
	kept, dropped := newReceiver(t), newReceiver(t)
	kept.setAnswer(answer)
	dropped.setAnswer(answer)
	keptHook := admin.addWebhook(kept.URL, nil)
	droppedHook := admin.addWebhook(dropped.URL, nil)
	createUser(admin, "pending1")
	kept.waitFor(1, 5*time.Second)
	dropped.waitFor(1, 5*time.Second)

	admin.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/webhook/%d", keptHook.ID), map[string]any{"enabled": false}, nil)
	admin.expect(http.StatusNoContent, "DELETE", fmt.Sprintf("/api/v1/webhook/%d", droppedHook.ID), nil, nil)
	createUser(admin, "after-disable") // the disabled webhook is not given this one
	mu.Lock()
	down = false
	mu.Unlock()

	admin.waitDeliveries(keptHook.ID, "succeeded", 1, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	for _, r := range kept.succeeded() {
		if r.username() != "pending1" {
			t.Fatalf("the disabled webhook got %s for %s", r.event(), r.username())
		}
	}
	if n := len(dropped.succeeded()); n != 0 {
		t.Fatalf("the deleted webhook's receiver accepted %d deliveries", n)
	}
	if !containsAll(s.logs.String(), "webhook deleted", fmt.Sprintf("webhook_id=%d", droppedHook.ID), "dropped_pending_deliveries=1") {
		t.Fatal("the log does not say the deleted webhook's pending delivery was dropped")
	}
}
