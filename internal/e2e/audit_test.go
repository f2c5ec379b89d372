package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
)

// auditEntry is an entry of GET /api/v1/audit and the body of audit_entry.
type auditEntry struct {
	ID     int64  `json:"id"`
	At     string `json:"at"`
	Action string `json:"action"`
	Actor  actor  `json:"actor"`
	Client string `json:"client"`
	Target string `json:"target"`
	Detail string `json:"detail"`
}

func (c *client) audit(query string) []auditEntry {
	c.t.Helper()
	var out []auditEntry
	c.expect(http.StatusOK, "GET", "/api/v1/audit?limit=1000&"+query, nil, &out)
	return out
}

// Each audited action leaves one entry, with its actor, the client's
// address and its target; the log filters by action, actor and target;
// a webhook subscribed to "audit" gets each entry as an audit_entry event;
// the UI shows the log.
func TestAuditLog(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	rc := newReceiver(t)
	admin := s.admin()
	sink := admin.addWebhook(rc.URL, map[string]any{"on_user_created": false, "on_user_modified": false, "on_user_deleted": false,
		"on_hwkey_provision": false, "events": []string{"audit"}, "method": "POST"})
	admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": "jdoe", "first_name": "j", "last_name": "d", "email": "jdoe@example.com", "password": "jdoe-pass-1"}, nil)

	if r := s.anon().do("POST", "/api/v1/auth", map[string]string{"username": "jdoe", "password": "wrong-pass"}); r.Status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", r.Status)
	}
	s.anon().do("POST", "/api/v1/auth", map[string]string{"username": "nobody", "password": "hunter2-secret"})
	jdoe := s.login("jdoe", "jdoe-pass-1")
	var tok struct {
		ID int64 `json:"id"`
	}
	jdoe.expect(http.StatusCreated, "POST", "/api/v1/user/jdoe/api_token", map[string]string{"name": "ci"}, &tok)
	jdoe.expect(http.StatusNoContent, "DELETE", fmt.Sprintf("/api/v1/user/jdoe/api_token/%d", tok.ID), nil, nil)
	jdoe.expect(http.StatusNoContent, "PUT", "/api/v1/user/jdoe/password", map[string]string{"old_password": "jdoe-pass-1", "new_password": "jdoe-pass-2"}, nil)
	jdoe.expect(http.StatusNoContent, "POST", "/api/v1/auth/logout", nil, nil)
	var st struct {
		ID int64 `json:"id"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/worker/token", map[string]string{"worker": "desk-1"}, &st)
	var stations []struct {
		ID int64 `json:"id"`
	}
	admin.expect(http.StatusOK, "GET", "/api/v1/worker/token", nil, &stations)
	admin.expect(http.StatusNoContent, "DELETE", fmt.Sprintf("/api/v1/worker/token/%d", stations[0].ID), nil, nil)
	other := newReceiver(t)
	hook := admin.addWebhook(other.URL, nil)
	hookPath := fmt.Sprintf("/api/v1/webhook/%d", hook.ID)
	admin.expect(http.StatusOK, "PUT", hookPath, map[string]any{"url": other.URL, "description": "renamed", "on_user_modified": true}, nil)
	admin.expect(http.StatusOK, "POST", hookPath, map[string]bool{"enabled": false}, nil)
	admin.expect(http.StatusOK, "POST", hookPath, map[string]bool{"enabled": true}, nil)
	admin.expect(http.StatusOK, "POST", hookPath+"/rotate_secret", nil, nil)
	admin.expect(http.StatusOK, "PATCH", "/api/v1/user/jdoe", map[string]string{"phone": "1"}, nil)
	ds := admin.waitDeliveries(hook.ID, "succeeded", 1, 10*time.Second)
	admin.expect(http.StatusAccepted, "POST", fmt.Sprintf("%s/delivery/%d/redeliver", hookPath, ds[0].ID), nil, nil)
	admin.expect(http.StatusAccepted, "POST", hookPath+"/replay", map[string]string{"since": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}, nil)
	admin.expect(http.StatusNoContent, "DELETE", hookPath, nil, nil)

	adminUser := actor{Type: "user", Username: "admin"}
	jdoeUser := actor{Type: "user", Username: "jdoe"}
	wh := fmt.Sprintf("webhook:%d", hook.ID)
	want := []struct {
		action string
		by     actor
		target string
	}{
		{"login_succeeded", adminUser, "user:admin"},
		{"webhook_created", adminUser, fmt.Sprintf("webhook:%d", sink.ID)},
		{"login_failed", actor{Type: "system"}, "user:jdoe"},
		{"login_failed", actor{Type: "system"}, ""}, // no such user: what was typed is not kept
		{"login_succeeded", jdoeUser, "user:jdoe"},
		{"api_token_created", jdoeUser, fmt.Sprintf("api_token:%d", tok.ID)},
		{"api_token_revoked", jdoeUser, fmt.Sprintf("api_token:%d", tok.ID)},
		{"password_changed", jdoeUser, "user:jdoe"},
		{"logout", jdoeUser, "user:jdoe"},
		{"station_token_created", adminUser, fmt.Sprintf("station_token:%d", st.ID)},
		{"station_token_revoked", adminUser, fmt.Sprintf("station_token:%d", st.ID)},
		{"webhook_created", adminUser, wh},
		{"webhook_updated", adminUser, wh},
		{"webhook_disabled", adminUser, wh},
		{"webhook_enabled", adminUser, wh},
		{"webhook_secret_rotated", adminUser, wh},
		{"delivery_redelivered", adminUser, wh},
		{"webhook_replayed", adminUser, wh},
		{"webhook_deleted", adminUser, wh},
	}
	log := admin.audit("")
	if len(log) != len(want) {
		t.Fatalf("%d entries, want %d: %+v", len(log), len(want), log)
	}
	for i, w := range want {
		e := log[i]
		if e.Action != w.action || e.Actor != w.by || e.Target != w.target || e.Client != "127.0.0.1" || e.At == "" || (i > 0 && e.ID <= log[i-1].ID) {
			t.Errorf("entry %d: %+v, want %s by %+v on %q from 127.0.0.1", i, e, w.action, w.by, w.target)
		}
	}
	if body, _ := json.Marshal(log); strings.Contains(string(body), "hunter2") || strings.Contains(string(body), "nobody") || strings.Contains(string(body), "whsec_") {
		t.Errorf("the log holds what it must not: %s", body)
	}

	// Filters.
	for _, tc := range []struct {
		query string
		n     int
	}{
		{"action=login_failed", 2},
		{"actor=user:jdoe", 5},
		{"actor=system", 2},
		{"target=" + url.QueryEscape(wh), 8},
		{"action=webhook_updated&target=" + url.QueryEscape(wh), 1},
		{fmt.Sprintf("after=%d", log[len(log)-3].ID), 2},
	} {
		if got := admin.audit(tc.query); len(got) != tc.n {
			t.Errorf("?%s: %d entries, want %d", tc.query, len(got), tc.n)
		}
	}
	for _, q := range []string{"action=reboot", "actor=jdoe", "after=-1", "limit=0"} {
		if r := admin.do("GET", "/api/v1/audit?"+q, nil); r.Status != http.StatusBadRequest {
			t.Errorf("?%s: %d %s", q, r.Status, r.Body)
		}
	}
	if r := s.login("jdoe", "jdoe-pass-2").do("GET", "/api/v1/audit", nil); r.Status != http.StatusForbidden {
		t.Errorf("a user who is not an admin reads the audit log: %d", r.Status)
	}

	// The stream: every entry from the sink's own creation on, as the API
	// gives it.
	all := admin.audit("")[1:]
	streamed := map[int64]string{}
	for _, r := range rc.waitFor(len(all), 10*time.Second) {
		if r.event() != "audit_entry" {
			t.Fatalf("sink got %s", r.event())
		}
		var e auditEntry
		if err := json.Unmarshal(r.Body, &e); err != nil {
			t.Fatal(err)
		}
		streamed[e.ID] = string(r.Body)
	}
	for _, e := range all {
		b, _ := json.Marshal(e)
		var again auditEntry
		_ = json.Unmarshal([]byte(streamed[e.ID]), &again)
		if again != e {
			t.Errorf("entry %d streamed as %s, listed as %s", e.ID, streamed[e.ID], b)
		}
	}

	// The UI page, filtered.
	page := admin.do("GET", "/audit?action=password_changed", nil)
	if page.Status != http.StatusOK || !containsAll(string(page.Body), "<code>password_changed</code>", "user:jdoe", "127.0.0.1") || strings.Contains(string(page.Body), "<code>webhook_replayed</code>") {
		t.Errorf("audit page (%d): %s", page.Status, page.Body)
	}
}

// Throttled logins are audited, once a minute per address, and behind a
// trusted proxy the client is the address the proxy names.
func TestAuditThrottledBehindProxy(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *app.Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
	admin := s.admin()
	c := s.anon()
	c.header.Set("X-Forwarded-For", "203.0.113.9")
	statuses := []int{}
	for range 7 {
		statuses = append(statuses, c.do("POST", "/api/v1/auth", map[string]string{"username": "admin", "password": "wrong-pass"}).Status)
	}
	if !slices.Contains(statuses, http.StatusTooManyRequests) {
		t.Fatalf("never throttled: %v", statuses)
	}
	var failed, throttled int
	for _, e := range admin.audit("actor=system") {
		if e.Client != "203.0.113.9" {
			t.Errorf("entry %+v: client is not the one the proxy names", e)
		}
		switch e.Action {
		case "login_failed":
			failed++
		case "login_throttled":
			throttled++
		}
	}
	refused := 0
	for _, st := range statuses {
		if st == http.StatusTooManyRequests {
			refused++
		}
	}
	if refused < 2 {
		t.Fatalf("refused %d logins, want at least 2 to see that only one is logged (statuses %v)", refused, statuses)
	}
	if failed != len(statuses)-refused || throttled != 1 {
		t.Errorf("%d failed and %d throttled logins audited, want %d and 1 (statuses %v)", failed, throttled, len(statuses)-refused, statuses)
	}
}
