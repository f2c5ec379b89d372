package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
)

// envelopeBody is the envelope format's body, each part kept as sent.
type envelopeBody struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	OccurredAt string          `json:"occurred_at"`
	Actor      json.RawMessage `json:"actor"`
	Data       json.RawMessage `json:"data"`
	Previous   json.RawMessage `json:"previous"`
	Changed    []string        `json:"changed"`
}

func parseEnvelope(t *testing.T, r received) envelopeBody {
	t.Helper()
	var e envelopeBody
	dec := json.NewDecoder(strings.NewReader(string(r.Body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("not an envelope: %s: %v", r.Body, err)
	}
	return e
}

// feedTimes returns the occurred_at of every event by id, as the feed
// gives it.
func feedTimes(c *client) map[string]string {
	c.t.Helper()
	var evs []struct {
		ID         string `json:"id"`
		OccurredAt string `json:"occurred_at"`
	}
	c.expect(http.StatusOK, "GET", "/api/v1/event?limit=1000", nil, &evs)
	out := map[string]string{}
	for _, e := range evs {
		out[e.ID] = e.OccurredAt
	}
	return out
}

// Two webhooks, one of each format, hear the same changes: the envelope's
// data is byte for byte the defguard body; previous and changed say what
// the change was, for a creation, a group join (seen on the user and on the
// group), a group rename, a group's is_admin flip and deletions; the whole
// body is exactly as documented.
func TestEnvelopeBodies(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	plain, env := newReceiver(t), newReceiver(t)
	all := map[string]any{"method": "POST", "events": []string{"group_created", "group_modified", "group_deleted"}}
	admin.addWebhook(plain.URL, all)
	all["format"] = "envelope"
	hook := admin.addWebhook(env.URL, all)
	if hook.Format != "envelope" {
		t.Fatalf("webhook format %q", hook.Format)
	}

	start := admin.lastSeq()
	createUser(admin, "jdoe")
	admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "devs"}, nil)
	admin.expect(http.StatusOK, "POST", "/api/v1/group/devs", map[string]string{"username": "jdoe"}, nil)
	admin.expect(http.StatusOK, "PUT", "/api/v1/group/devs", map[string]any{"name": "ops", "members": []string{"jdoe"}, "is_admin": false}, nil)
	admin.expect(http.StatusOK, "PUT", "/api/v1/group/ops", map[string]any{"name": "ops", "members": []string{"jdoe"}, "is_admin": true}, nil)
	admin.expect(http.StatusNoContent, "DELETE", "/api/v1/group/ops", nil, nil)
	admin.expect(http.StatusNoContent, "DELETE", "/api/v1/user/jdoe", nil, nil)

	user := func(groups string, isAdmin bool) string {
		return fmt.Sprintf(`{"email":"jdoe@example.com","first_name":"jdoe","last_name":"X","groups":%s,"is_admin":%v,"pgp_cert_id":"","pgp_key":"","phone":"","ssh_key":"","username":"jdoe"}`, groups, isAdmin)
	}
	allUserKeys := `["email","first_name","groups","is_admin","last_name","pgp_cert_id","pgp_key","phone","ssh_key","username"]`
	want := []struct{ typ, data, previous, changed string }{
		{"user_created", user(`[]`, false), `null`, allUserKeys},
		{"group_created", `{"name":"devs","members":[],"is_admin":false}`, `null`, `["is_admin","members","name"]`},
		// A join: the group's members, the user's groups.
		{"group_modified", `{"name":"devs","members":["jdoe"],"is_admin":false}`, `{"name":"devs","members":[],"is_admin":false}`, `["members"]`},
		{"user_modified", user(`["devs"]`, false), user(`[]`, false), `["groups"]`},
		// A rename.
		{"group_modified", `{"name":"ops","members":["jdoe"],"is_admin":false}`, `{"name":"devs","members":["jdoe"],"is_admin":false}`, `["name"]`},
		{"user_modified", user(`["ops"]`, false), user(`["devs"]`, false), `["groups"]`},
		// is_admin flipped.
		{"group_modified", `{"name":"ops","members":["jdoe"],"is_admin":true}`, `{"name":"ops","members":["jdoe"],"is_admin":false}`, `["is_admin"]`},
		{"user_modified", user(`["ops"]`, true), user(`["ops"]`, false), `["is_admin"]`},
		// The group deleted: data is the group as it was.
		{"group_deleted", `{"name":"ops","members":["jdoe"],"is_admin":true}`, `{"name":"ops","members":["jdoe"],"is_admin":true}`, `[]`},
		{"user_modified", user(`[]`, false), user(`["ops"]`, true), `["groups","is_admin"]`},
		// The user deleted: every key but username is gone.
		{"user_deleted", `{"username":"jdoe"}`, user(`[]`, false), `["email","first_name","groups","is_admin","last_name","pgp_cert_id","pgp_key","phone","ssh_key"]`},
	}
	// Requests about different subjects may come in any order: they are
	// matched to the feed's events (in commit order) by webhook-id.
	byID := func(rs []received) map[string]received {
		m := map[string]received{}
		for _, r := range rs {
			m[r.id()] = r
		}
		return m
	}
	gotPlain := byID(plain.waitFor(len(want), 10*time.Second))
	gotEnv := byID(env.waitFor(len(want), 10*time.Second))
	times := feedTimes(admin)
	evs := admin.eventsAfter(start)
	if len(evs) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(evs), len(want), evs)
	}
	for i, w := range want {
		p, e := gotPlain[evs[i].ID], gotEnv[evs[i].ID]
		if p.event() != w.typ || e.event() != w.typ || string(p.Body) != w.data {
			t.Fatalf("request %d: defguard %s %s, envelope %s; want %s %s", i, p.event(), p.Body, e.event(), w.typ, w.data)
		}
		b := parseEnvelope(t, e)
		wantBody := fmt.Sprintf(`{"id":%q,"type":%q,"occurred_at":%q,"actor":{"type":"user","username":"admin"},"data":%s,"previous":%s,"changed":%s}`,
			e.id(), w.typ, times[e.id()], w.data, w.previous, w.changed)
		if string(e.Body) != wantBody || b.ID != p.id() {
			t.Errorf("request %d (%s):\n got %s\nwant %s", i, w.typ, e.Body, wantBody)
		}
		if err := verifySignature(hook.SigningSecret, e.Header, e.Body); err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
}

// Two changes to one user commit back to back while the receiver refuses
// the first: every retry of the first still sends its own previous state
// and data, byte for byte, and the second follows with the first's data as
// its previous.
func TestEnvelopeRetriesSendStoredBytes(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *app.Config) {
		c.RetrySchedule = []time.Duration{0, 30 * time.Millisecond, 30 * time.Millisecond, 30 * time.Millisecond, 30 * time.Millisecond}
	})
	admin := s.admin()
	createUser(admin, "jdoe")
	rc := newReceiver(t)
	var mu sync.Mutex
	refuse := 3
	rc.setAnswer(func(n int, r received) int {
		mu.Lock()
		defer mu.Unlock()
		if refuse > 0 {
			refuse--
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	admin.addWebhook(rc.URL, map[string]any{"format": "envelope"})
	admin.expect(http.StatusOK, "PATCH", "/api/v1/user/jdoe", map[string]string{"phone": "111"}, nil)
	admin.expect(http.StatusOK, "PATCH", "/api/v1/user/jdoe", map[string]string{"phone": "222"}, nil)
	got := rc.waitFor(5, 10*time.Second)
	first := got[0]
	for i := 1; i < 4; i++ {
		if got[i].id() != first.id() || string(got[i].Body) != string(first.Body) {
			t.Fatalf("attempt %d of the first change differs:\n%s\n%s", i+1, got[i].Body, first.Body)
		}
	}
	a, b := parseEnvelope(t, first), parseEnvelope(t, got[4])
	if got[4].id() == first.id() || !strings.Contains(string(a.Previous), `"phone":""`) || !strings.Contains(string(a.Data), `"phone":"111"`) ||
		string(b.Previous) != string(a.Data) || !strings.Contains(string(b.Data), `"phone":"222"`) ||
		strings.Join(a.Changed, ",") != "phone" || strings.Join(b.Changed, ",") != "phone" {
		t.Fatalf("first %s\nsecond %s", first.Body, got[4].Body)
	}
	// The delivery log shows the envelope as it is sent.
	ds := admin.deliveries(rc.hookID(t, admin), "")
	var detail struct {
		Request struct {
			Body json.RawMessage `json:"body"`
		} `json:"request"`
	}
	admin.expect(http.StatusOK, "GET", fmt.Sprintf("/api/v1/webhook/%d/delivery/%d", rc.hookID(t, admin), ds[len(ds)-1].ID), nil, &detail)
	if string(detail.Request.Body) != string(first.Body) {
		t.Fatalf("delivery log body %s, sent %s", detail.Request.Body, first.Body)
	}
}

// hookID finds the webhook that sends to this receiver.
func (rc *receiver) hookID(t *testing.T, c *client) int64 {
	t.Helper()
	var hooks []webhook
	c.expect(http.StatusOK, "GET", "/api/v1/webhook", nil, &hooks)
	for _, h := range hooks {
		if h.URL == rc.URL {
			return h.ID
		}
	}
	t.Fatalf("no webhook sends to %s", rc.URL)
	return 0
}

// The envelope of user_keys (previous with serial "") and of the test
// action (data the test body, previous null), and audit_entry in an
// envelope (data the entry).
func TestEnvelopeKeysTestAndAudit(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	createUser(admin, "jdoe")
	rc := newReceiver(t)
	hook := admin.addWebhook(rc.URL, map[string]any{"format": "envelope", "on_user_created": false, "on_user_modified": false,
		"on_user_deleted": false, "events": []string{"audit"}})
	var st struct {
		Token string `json:"token"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/worker/token", map[string]string{"worker": "desk-1"}, &st)
	var job struct {
		ID int64 `json:"id"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/worker/job", map[string]string{"username": "jdoe", "worker": "desk-1"}, &job)
	station := s.withToken(st.Token)
	station.expect(http.StatusOK, "GET", "/api/v1/worker/job?worker=desk-1", nil, nil)
	sshKey := testdata(t, "ssh_ed25519.pub")
	station.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/worker/job/%d/done", job.ID), map[string]any{"success": true, "ssh_key": sshKey, "serial": "77"}, nil)

	// webhook_created (the audit entry of this very webhook, in its
	// transaction) and station_token_created, in this order (one
	// subject), and user_keys.
	got := rc.waitFor(3, 10*time.Second)
	byType := map[string]envelopeBody{}
	for _, r := range got[:3] {
		byType[r.event()] = parseEnvelope(t, r) // the last audit_entry wins
	}
	keys := byType["user_keys"]
	user := func(ssh, serial string) string {
		return fmt.Sprintf(`{"email":"jdoe@example.com","first_name":"jdoe","last_name":"X","groups":[],"is_admin":false,"pgp_cert_id":"","pgp_key":"","phone":"","serial":%q,"ssh_key":%s,"username":"jdoe"}`, serial, ssh)
	}
	if string(keys.Data) != user(jsonString(sshKey), "77") || string(keys.Previous) != user(`""`, "") ||
		strings.Join(keys.Changed, ",") != "serial,ssh_key" || string(keys.Actor) != `{"type":"station","station":"desk-1"}` {
		t.Errorf("user_keys envelope: %+v", keys)
	}
	audit := byType["audit_entry"]
	var entry auditEntry
	if err := json.Unmarshal(audit.Data, &entry); err != nil || entry.Action != "station_token_created" || string(audit.Previous) != "null" ||
		string(audit.Actor) != `{"type":"user","username":"admin"}` {
		t.Errorf("audit_entry envelope: %+v (%v)", audit, err)
	}

	var res struct {
		Success bool `json:"success"`
	}
	admin.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/webhook/%d/test", hook.ID), nil, &res)
	last := rc.all()[len(rc.all())-1]
	test := parseEnvelope(t, last)
	if !res.Success || last.event() != "webhook_test" || test.Type != "webhook_test" || test.ID != last.id() ||
		string(test.Data) != fmt.Sprintf(`{"webhook_id":%d,"message":"test event from Herald"}`, hook.ID) || string(test.Previous) != "null" {
		t.Errorf("webhook_test envelope: %s", last.Body)
	}
	if err := verifySignature(hook.SigningSecret, last.Header, last.Body); err != nil {
		t.Error(err)
	}
	// Byte for byte: the envelope's keys in their documented order, with
	// the event's own id and time (the only parts not known beforehand);
	// with no previous state every key of data counts as changed.
	if want := fmt.Sprintf(`{"id":%q,"type":"webhook_test","occurred_at":%q,"actor":{"type":"user","username":"admin"},"data":{"webhook_id":%d,"message":"test event from Herald"},"previous":null,"changed":["message","webhook_id"]}`,
		last.id(), test.OccurredAt, hook.ID); string(last.Body) != want {
		t.Errorf("webhook_test envelope:\n got %s\nwant %s", last.Body, want)
	}
	audits := 0
	for _, r := range got[:3] {
		if r.event() != "audit_entry" {
			continue
		}
		audits++
		e := parseEnvelope(t, r)
		var entry auditEntry
		if err := json.Unmarshal(e.Data, &entry); err != nil {
			t.Fatal(err)
		}
		target := map[string]string{"webhook_created": fmt.Sprintf("webhook:%d", hook.ID), "station_token_created": "station_token:1"}[entry.Action]
		data := fmt.Sprintf(`{"id":%d,"at":%q,"action":%q,"actor":{"type":"user","username":"admin"},"client":"127.0.0.1","target":%q,"detail":%q}`,
			entry.ID, e.OccurredAt, entry.Action, target, map[string]string{"webhook_created": "test receiver", "station_token_created": "for station desk-1"}[entry.Action])
		if want := fmt.Sprintf(`{"id":%q,"type":"audit_entry","occurred_at":%q,"actor":{"type":"user","username":"admin"},"data":%s,"previous":null,"changed":["action","actor","at","client","detail","id","target"]}`,
			r.id(), e.OccurredAt, data); string(r.Body) != want {
			t.Errorf("audit_entry envelope:\n got %s\nwant %s", r.Body, want)
		}
	}
	if audits != 2 {
		t.Errorf("%d audit_entry requests among the first three, want 2 (webhook_created, station_token_created)", audits)
	}
}
