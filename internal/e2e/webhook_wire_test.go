package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// Every event type reaches a receiver with exactly the headers and body
// docs/receivers.md ("Headers", "Events") gives, signed so that a verifier
// written from the Standard Webhooks spec accepts it.
func TestWebhookWireContract(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	rc := newReceiver(t)
	hook := admin.addWebhook(rc.URL, map[string]any{"token": "s3cret-token",
		"events": []string{"group_created", "group_modified", "group_deleted"}})
	if hook.Method != "GET" || !hook.Enabled || !strings.HasPrefix(hook.SigningSecret, "whsec_") || hook.Token != "s3cret-token" {
		t.Fatalf("created webhook = %+v", hook)
	}
	start := admin.lastSeq()

	admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": "jdoe", "first_name": "jane", "last_name": "doe", "email": "janedoe@email.pl", "phone": "123456789",
	}, nil)
	admin.expect(http.StatusOK, "PATCH", "/api/v1/user/jdoe", map[string]string{"last_name": "Doe"}, nil)
	var tok struct {
		Token string `json:"token"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/worker/token", map[string]string{"worker": "st"}, &tok)
	var job struct {
		ID int64 `json:"id"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/worker/job", map[string]string{"username": "jdoe", "worker": "st"}, &job)
	station := s.withToken(tok.Token)
	station.expect(http.StatusOK, "GET", "/api/v1/worker/job?worker=st", nil, nil)
	sshKey := testdata(t, "ssh_rsa.pub")
	station.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/worker/job/%d/done", job.ID), map[string]any{"success": true, "ssh_key": sshKey, "serial": "42"}, nil)
	admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "devs", "members": []string{"jdoe"}}, nil)
	admin.expect(http.StatusOK, "PUT", "/api/v1/group/devs", map[string]any{"members": []string{"jdoe"}, "is_admin": true}, nil)
	admin.expect(http.StatusNoContent, "DELETE", "/api/v1/group/devs", nil, nil)
	admin.expect(http.StatusNoContent, "DELETE", "/api/v1/user/jdoe", nil, nil)

	user := func(lastName, groups string, isAdmin bool, ssh string) string {
		return `{"email":"janedoe@email.pl","first_name":"jane","last_name":"` + lastName + `","groups":` + groups +
			`,"is_admin":` + fmt.Sprint(isAdmin) + `,"pgp_cert_id":"","pgp_key":"","phone":"123456789","ssh_key":` + jsonString(ssh) + `,"username":"jdoe"}`
	}
	want := []struct{ event, body string }{
		{"user_created", user("doe", "[]", false, "")},
		{"user_modified", user("Doe", "[]", false, "")},
		{"user_keys", strings.Replace(user("Doe", "[]", false, sshKey), `,"ssh_key"`, `,"serial":"42","ssh_key"`, 1)},
		{"group_created", `{"name":"devs","members":["jdoe"],"is_admin":false}`},
		{"user_modified", user("Doe", `["devs"]`, false, sshKey)},
		{"group_modified", `{"name":"devs","members":["jdoe"],"is_admin":true}`},
		{"user_modified", user("Doe", `["devs"]`, true, sshKey)},
		{"group_deleted", `{"name":"devs","members":["jdoe"],"is_admin":true}`},
		{"user_modified", user("Doe", "[]", false, sshKey)},
		{"user_deleted", `{"username":"jdoe"}`},
	}
	events := admin.eventsAfter(start)
	got := rc.waitFor(len(want), 10*time.Second)
	if len(got) != len(want) || len(events) != len(want) {
		t.Fatalf("receiver got %d requests, feed has %d events, want %d", len(got), len(events), len(want))
	}
	// Order across subjects is not promised; match by webhook-id.
	byID := map[string]received{}
	for _, r := range got {
		byID[r.id()] = r
	}
	for i, w := range want {
		ev := events[i]
		r, ok := byID[ev.ID]
		if !ok {
			t.Fatalf("event %d (%s %s) never reached the receiver", i, ev.Type, ev.ID)
		}
		checkRequest(t, r, hook, "GET", "Bearer s3cret-token", w.event, w.body)
	}

	// The test action sends webhook_test now and reports the outcome.
	var outcome map[string]any
	admin.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/webhook/%d/test", hook.ID), nil, &outcome)
	if outcome["success"] != true || outcome["status_code"] != float64(200) {
		t.Fatalf("test outcome = %v", outcome)
	}
	got = rc.waitFor(len(want)+1, 5*time.Second)
	checkRequest(t, got[len(got)-1], hook, "GET", "Bearer s3cret-token", "webhook_test",
		fmt.Sprintf(`{"webhook_id":%d,"message":"test event from Herald"}`, hook.ID))
}

// checkRequest asserts every header and every byte of one request.
func checkRequest(t *testing.T, r received, hook webhook, method, auth, event, body string) {
	t.Helper()
	if r.Method != method {
		t.Errorf("%s: method %s, want %s", event, r.Method, method)
	}
	h := r.Header
	for name, want := range map[string]string{
		"X-Defguard-Event": event,
		"Authorization":    auth,
		"Content-Type":     "application/json",
		"User-Agent":       "Herald/" + herald.Version,
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: header %s = %q, want %q", event, name, got, want)
		}
	}
	if _, present := h["Authorization"]; auth == "" && present {
		t.Errorf("%s: Authorization sent although the webhook has no token", event)
	}
	if !strings.HasPrefix(h.Get("webhook-id"), "evt_") {
		t.Errorf("%s: webhook-id = %q", event, h.Get("webhook-id"))
	}
	if string(r.Body) != body {
		t.Errorf("%s: body\n got %s\nwant %s", event, r.Body, body)
	}
	if err := verifySignature(hook.SigningSecret, h, r.Body); err != nil {
		t.Errorf("%s: signature: %v", event, err)
	}
}

// POST when chosen, and no Authorization header when the token is empty.
func TestWebhookPostWithoutToken(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	rc := newReceiver(t)
	hook := admin.addWebhook(rc.URL, map[string]any{"method": "POST"})
	if hook.Method != "POST" || hook.Token != "" || hook.Events == nil || len(hook.Events) != 0 {
		t.Fatalf("webhook = %+v", hook)
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": "amy", "first_name": "Amy", "last_name": "A", "email": "amy@example.com",
	}, nil)
	got := rc.waitFor(1, 5*time.Second)
	checkRequest(t, got[0], hook, "POST", "", "user_created",
		`{"email":"amy@example.com","first_name":"Amy","last_name":"A","groups":[],"is_admin":false,"pgp_cert_id":"","pgp_key":"","phone":"","ssh_key":"","username":"amy"}`)
}
