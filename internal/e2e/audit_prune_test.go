package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
)

// TestAuditPrunedNotReplayed: audit entries older than the retention are
// pruned when Herald starts, and a replay of the audit stream afterwards
// sends only the entries still in the log, not the pruned ones.
func TestAuditPrunedNotReplayed(t *testing.T) {
	t.Parallel()
	retention := func(c *app.Config) { c.DeliveryRetention = 2 * time.Second }
	s := startServer(t, retention)
	rc := newReceiver(t)
	admin := s.admin()
	sink := admin.addWebhook(rc.URL, map[string]any{"on_user_created": false, "on_user_modified": false, "on_user_deleted": false,
		"on_hwkey_provision": false, "events": []string{"audit"}, "method": "POST"})
	s.anon().do("POST", "/api/v1/auth", map[string]string{"username": "admin", "password": "wrong-password"})
	admin.waitDeliveries(sink.ID, "succeeded", 1, 10*time.Second)
	s.stop()

	time.Sleep(2500 * time.Millisecond)
	// It prunes at once, beside serving (and again within seconds if that
	// fails: another test may be restarting PostgreSQL).
	s = startServerOn(t, s.DBPath, retention)
	admin = s.admin()
	var kept []auditEntry
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		admin.expect(http.StatusOK, "GET", "/api/v1/audit", nil, &kept)
		var old []auditEntry
		for _, e := range kept {
			if e.Action == "login_failed" || e.Action == "webhook_created" {
				old = append(old, e)
			}
		}
		if len(old) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("entries older than the retention still listed 20 s after the start: %+v\nthe server's log:\n%s", old, s.logs.tail(4000))
		}
	}
	var replay struct {
		Queued int `json:"queued"`
	}
	admin.expect(http.StatusAccepted, "POST", fmt.Sprintf("/api/v1/webhook/%d/replay", sink.ID), map[string]string{"since": "2000-01-01T00:00:00Z"}, &replay)
	if replay.Queued != len(kept) {
		t.Errorf("replay queued %d audit entries, want the %d still in the log", replay.Queued, len(kept))
	}
}
