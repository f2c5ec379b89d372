package e2e

import (
	"bytes"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
)

// Redelivery sends a delivery again with the same webhook-id; replay
// re-sends every matching event since a time.
func TestWebhookRedeliverAndReplay(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	rc := newReceiver(t)
	hook := admin.addWebhook(rc.URL, map[string]any{"on_user_modified": false})
	before := time.Now().UTC() // after the admin's own user_created
	createUser(admin, "ray")
	admin.expect(http.StatusOK, "PATCH", "/api/v1/user/ray", map[string]string{"phone": "1"}, nil) // not subscribed
	createUser(admin, "sue")
	ds := admin.waitDeliveries(hook.ID, "succeeded", 2, 5*time.Second)
	first := rc.waitFor(2, 5*time.Second)

	admin.expect(http.StatusAccepted, "POST", fmt.Sprintf("/api/v1/webhook/%d/delivery/%d/redeliver", hook.ID, ds[1].ID), nil, nil)
	got := rc.waitFor(3, 5*time.Second)
	byID := map[string]received{first[0].id(): first[0], first[1].id(): first[1]}
	if orig, ok := byID[got[2].id()]; !ok || got[2].id() != ds[1].EventID || string(got[2].Body) != string(orig.Body) {
		t.Fatalf("redelivery sent %s %s, want delivery %s again", got[2].id(), got[2].Body, ds[1].EventID)
	}
	var detail struct {
		Attempts []struct {
			N int `json:"n"`
		} `json:"attempt_log"`
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(detail.Attempts) < 2 && time.Now().Before(deadline) {
		admin.expect(http.StatusOK, "GET", fmt.Sprintf("/api/v1/webhook/%d/delivery/%d", hook.ID, ds[1].ID), nil, &detail)
		time.Sleep(20 * time.Millisecond)
	}
	if len(detail.Attempts) != 2 {
		t.Fatalf("after redelivery the log shows %d attempts, want 2", len(detail.Attempts))
	}

	var replay struct {
		Queued int `json:"queued"`
	}
	admin.expect(http.StatusAccepted, "POST", fmt.Sprintf("/api/v1/webhook/%d/replay", hook.ID),
		map[string]string{"since": before.Format(time.RFC3339Nano)}, &replay)
	// user_created of ray and sue; the user_modified is not subscribed.
	if replay.Queued != 2 {
		t.Fatalf("replay queued %d, want 2", replay.Queued)
	}
	got = rc.waitFor(5, 5*time.Second)
	if _, ok := byID[got[3].id()]; !ok || got[3].id() == got[4].id() {
		t.Fatalf("replay sent %s, %s; want %s and %s", got[3].id(), got[4].id(), first[0].id(), first[1].id())
	}
	if _, ok := byID[got[4].id()]; !ok {
		t.Fatalf("replay sent %s, not one of the original events", got[4].id())
	}
	admin.expect(http.StatusAccepted, "POST", fmt.Sprintf("/api/v1/webhook/%d/replay", hook.ID),
		map[string]string{"since": time.Now().UTC().Add(-time.Millisecond).Format(time.RFC3339Nano)}, &replay)
	if replay.Queued != 0 {
		t.Fatalf("replay since now queued %d", replay.Queued)
	}
}

// Rotation: requests are signed with both secrets, the new one first.
func TestWebhookSecretRotation(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	rc := newReceiver(t)
	hook := admin.addWebhook(rc.URL, nil)
	var rotated webhook
	admin.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/webhook/%d/rotate_secret", hook.ID), nil, &rotated)
	if rotated.SigningSecret == hook.SigningSecret || !strings.HasPrefix(rotated.SigningSecret, "whsec_") {
		t.Fatalf("rotation kept the secret: %q", rotated.SigningSecret)
	}
	createUser(admin, "rot")
	r := rc.waitFor(1, 5*time.Second)[0]
	sigs := strings.Fields(r.Header.Get("webhook-signature"))
	if len(sigs) != 2 {
		t.Fatalf("webhook-signature = %q, want two signatures", r.Header.Get("webhook-signature"))
	}
	if err := verifySignature(rotated.SigningSecret, r.Header, r.Body); err != nil {
		t.Fatalf("new secret: %v", err)
	}
	if err := verifySignature(hook.SigningSecret, r.Header, r.Body); err != nil {
		t.Fatalf("old secret: %v", err)
	}
	// Editing the webhook keeps its secret.
	var edited webhook
	rotated.Description = "renamed"
	admin.expect(http.StatusOK, "PUT", fmt.Sprintf("/api/v1/webhook/%d", hook.ID), rotated, &edited)
	if edited.SigningSecret != rotated.SigningSecret || edited.Description != "renamed" {
		t.Fatalf("after PUT: %+v", edited)
	}
}

// Tokens and signing secrets are encrypted in the database file and never
// written to the log.
func TestWebhookSecretsAtRest(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	rc := newReceiver(t)
	token := "tok-" + strings.Repeat("x", 20) + "-unique"
	hook := admin.addWebhook(rc.URL, map[string]any{"token": token})
	createUser(admin, "sec")
	rc.waitFor(1, 5*time.Second)
	var list []webhook
	admin.expect(http.StatusOK, "GET", "/api/v1/webhook", nil, &list)
	if len(list) != 1 || list[0].Token != token || list[0].SigningSecret != hook.SigningSecret {
		t.Fatalf("list = %+v", list)
	}
	logs := s.logs.String()
	secrets := []string{token, hook.SigningSecret, strings.TrimPrefix(hook.SigningSecret, "whsec_")}
	if onPostgres() {
		// Read every stored webhook column back as text.
		db, err := sql.Open("pgx", s.DBPath)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var dump string
		if err := db.QueryRow(`SELECT string_agg(w::text, ' ') FROM webhooks w`).Scan(&dump); err != nil {
			t.Fatal(err)
		}
		for _, secret := range secrets {
			if strings.Contains(dump, secret) {
				t.Fatal("the webhooks table holds a secret in the clear")
			}
		}
	} else {
		// The key file sits beside the database, readable by its owner only.
		st, err := os.Stat(s.DBPath + ".key")
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("key file: %v %v", st, err)
		}
		s.stop()
		files, _ := filepath.Glob(s.DBPath + "*")
		for _, f := range files {
			if strings.HasSuffix(f, ".key") {
				continue
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range secrets {
				if bytes.Contains(data, []byte(secret)) {
					t.Fatalf("%s contains a secret in the clear", filepath.Base(f))
				}
			}
		}
	}
	for _, secret := range []string{token, hook.SigningSecret, adminPassword} {
		if strings.Contains(logs, secret) {
			t.Fatalf("the log contains a secret: %q", secret)
		}
	}
	if !strings.Contains(logs, "webhook created") {
		t.Fatal("the log captured nothing; the check above proves nothing")
	}
}

// /metrics reports attempts by outcome and deliveries by final state
// apart, attempt latency, pending deliveries in all and per webhook, the
// oldest pending delivery per webhook and disabled webhooks. Outcomes are
// counted once recorded, which may be just after the receiver answered:
// the test reads /metrics until the figures arrive.
func TestWebhookMetrics(t *testing.T) {
	t.Parallel()
	// A retry after 20 ms, then not for an hour: the failing receiver's
	// delivery stays pending after its second attempt.
	s := startServer(t, func(c *app.Config) { c.RetrySchedule = []time.Duration{0, 20 * time.Millisecond, time.Hour} })
	admin := s.admin()
	ok := newReceiver(t)
	admin.addWebhook(ok.URL, nil)
	down := newReceiver(t)
	down.setAnswer(func(int, received) int { return http.StatusServiceUnavailable })
	downHook := admin.addWebhook(down.URL, nil)
	gone := newReceiver(t)
	gone.setAnswer(func(int, received) int { return http.StatusGone }) // fails at once, and disables its webhook
	admin.addWebhook(gone.URL, nil)
	off := admin.addWebhook(ok.URL, nil)
	admin.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/webhook/%d", off.ID), map[string]any{"enabled": false}, nil)
	createUser(admin, "met")
	want := []string{
		`herald_webhook_attempts_total{outcome="succeeded"} 1`,
		`herald_webhook_attempts_total{outcome="retrying"} 2`,
		`herald_webhook_attempts_total{outcome="failed"} 1`,
		`herald_webhook_deliveries_total{state="succeeded"} 1`,
		`herald_webhook_deliveries_total{state="failed"} 1`,
		`herald_webhook_attempt_duration_seconds_count 4`,
		`herald_webhook_deliveries_pending 1`,
		fmt.Sprintf(`herald_webhook_pending_deliveries{webhook_id="%d"} 1`, downHook.ID),
		fmt.Sprintf(`herald_webhook_oldest_pending_seconds{webhook_id="%d"}`, downHook.ID),
		`herald_webhooks_disabled 2`,
		`go_goroutines`,
	}
	awaitMetrics(t, s.URL+"/metrics", want)
}

// URLs and tokens that could never work, or would keep a password in the
// clear, are refused when the webhook is saved.
func TestWebhookRefusesUnusableSettings(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"url": "http://127.0.0.1:99999/h", "description": "x"}, "url"},
		{map[string]any{"url": "http://host/h#", "description": "x"}, "url"},
		{map[string]any{"url": "http://user:pw@host/h", "description": "x"}, "url"},
		{map[string]any{"url": "http://host/h", "description": "x", "token": "a\u0000b"}, "token"},
		{map[string]any{"url": "http://host/h", "description": "x", "token": "a\tb"}, "token"},
		{map[string]any{"url": "http://host/h", "description": "x", "on_user_created": false, "events": []string{}}, "events"},
	} {
		r := admin.expect(http.StatusBadRequest, "POST", "/api/v1/webhook", tc.body, nil)
		if !strings.HasPrefix(r.msg(), tc.field+":") {
			t.Errorf("%v: msg %q does not name %s", tc.body, r.msg(), tc.field)
		}
		if tc.field == "events" && !strings.Contains(r.msg(), "at least one trigger or event") {
			t.Errorf("a webhook with no trigger: msg %q does not say one is needed", r.msg())
		}
	}
	var hooks []webhook
	admin.expect(http.StatusOK, "GET", "/api/v1/webhook", nil, &hooks)
	if len(hooks) != 0 {
		t.Fatalf("refused webhooks were stored: %+v", hooks)
	}
}
