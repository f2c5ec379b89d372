package delivery

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/queue"
	"github.com/heraldhq/herald/internal/scim"
	"github.com/heraldhq/herald/internal/scimtest"
	"github.com/heraldhq/herald/internal/secretbox"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/storetest"
)

// scimEnv is an engine with a real SQLite database as its SCIM store, and
// a SCIM target (a webhook row of kind scim) pointing at a provider on
// loopback.
type scimEnv struct {
	t    *testing.T
	e    *Engine
	db   *store.DB
	p    *scimtest.Provider
	hook herald.Webhook
}

func newSCIMEnv(t *testing.T, configure ...func(*Config)) *scimEnv {
	t.Helper()
	box, err := secretbox.New(strings.Repeat("k", 32))
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.SQLite(t)
	p := scimtest.New(t, "s3cret-token")
	row := storetest.NewWebhook(t, db)
	hook := herald.Webhook{ID: row.ID, Kind: herald.WebhookKindSCIM, URL: p.URL, Enabled: true, Format: herald.FormatEnvelope,
		Token: box.Seal("s3cret-token"), SigningSecret: box.Seal(NewSigningSecret()), Deprovision: scim.DeprovisionDelete}
	cfg := Config{RetrySchedule: []time.Duration{0, 10 * time.Second, time.Minute}, SCIM: db}
	for _, c := range configure {
		c(&cfg)
	}
	e := New(nil, box, cfg, slog.New(slog.DiscardHandler))
	return &scimEnv{t: t, e: e, db: db, p: p, hook: hook}
}

// deliver sends one event to the target as the engine does once it has
// claimed it, and returns the outcome the engine would record. Its slot
// and its sender must be free again by then.
func (s *scimEnv) deliver(typ, subject string, data, previous []byte) queue.Outcome {
	s.t.Helper()
	ev := herald.Event{ID: "evt_1", Type: typ, Subject: subject, Payload: data, Previous: previous, OccurredAt: time.Now()}
	c := queue.Claimed{ID: 1, WebhookID: s.hook.ID, Subject: subject, EventID: ev.ID, EventType: typ,
		Payload: ev.Body(herald.FormatEnvelope), Webhook: &s.hook}
	s.e.taken([]queue.Claimed{c})
	s.e.deliver(c, s.e.open(s.hook))
	o := <-s.e.outcomes
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	if n := s.e.inflight[s.hook.ID]; n != 0 || s.e.sending != 0 {
		s.t.Errorf("after %s of %s: %d in flight and %d senders busy, want 0 and 0 (each freed once)", typ, subject, n, s.e.sending)
	}
	return o
}

func user(name, first string) []byte {
	b, _ := json.Marshal(map[string]any{"username": name, "first_name": first, "last_name": "L", "email": name + "@example.com",
		"phone": "", "groups": []string{}, "is_admin": false, "ssh_key": "", "pgp_key": "", "pgp_cert_id": ""})
	return b
}

// A SCIM change goes out through the engine's client with the target's
// token, and its attempt logs every call; the provider's answers decide
// the outcome, as for a webhook.
func TestDeliverSCIM(t *testing.T) {
	s := newSCIMEnv(t)
	storetest.CreateUser(t, s.db, "alice")
	o := s.deliver(herald.EventUserCreated, "user:alice", user("alice", "Alice"), nil)
	if o.State != herald.DeliverySucceeded || o.Attempt.StatusCode != 201 || !strings.Contains(o.Attempt.ResponseBody, "POST /Users\n{") {
		t.Fatalf("user_created: %+v", o)
	}
	u, ok := s.p.User("alice")
	if id, _, _ := s.db.RemoteID(context.Background(), s.hook.ID, scim.KindUser, "alice"); !ok || id != u.ID {
		t.Fatalf("provider %v, stored id %q", s.p.Users(), id)
	}
	if strings.Contains(o.Attempt.ResponseBody, "s3cret") {
		t.Error("the token is in the delivery log")
	}

	s.p.RetryAfter("30")
	s.p.FailNext(1, 503)
	before := time.Now()
	o = s.deliver(herald.EventUserModified, "user:alice", user("alice", "Alicia"), user("alice", "Alice"))
	if o.State != herald.DeliveryRetrying || o.Attempt.StatusCode != 503 || o.NextAttemptAt.Sub(before) < 29*time.Second {
		t.Errorf("503 with Retry-After: %+v", o)
	}
	o = s.deliver(herald.EventUserModified, "user:alice", user("alice", "Alicia"), user("alice", "Alice"))
	if u, _ := s.p.User("alice"); o.State != herald.DeliverySucceeded || u.Sub("name", "givenName") != "Alicia" {
		t.Errorf("the retry: %+v, provider %+v", o, u)
	}

	s.p.FailNext(1, 400)
	if o = s.deliver(herald.EventUserModified, "user:alice", user("alice", "A"), nil); o.State != herald.DeliveryFailed || o.DisableReason != "" ||
		!strings.Contains(o.Attempt.Error, "scimType invalidValue") {
		t.Errorf("400: %+v", o)
	}
	s.p.FailNext(1, 410)
	if o = s.deliver(herald.EventUserModified, "user:alice", user("alice", "A"), nil); o.State != herald.DeliveryFailed || o.DisableReason == "" {
		t.Errorf("410: %+v", o)
	}
	o = s.deliver(herald.EventUserDeleted, "user:alice", []byte(`{"username":"alice"}`), user("alice", "A"))
	if _, there := s.p.User("alice"); o.State != herald.DeliverySucceeded || there {
		t.Errorf("user_deleted: %+v, still there: %v", o, there)
	}
	// Done without a 2xx (nothing to delete: a 404 counts as done) is
	// recorded as 204, so the target's health reads it as a success.
	id := s.p.AddUser(map[string]any{"userName": "zed"})
	if err := s.db.SetRemoteID(context.Background(), s.hook.ID, scim.KindUser, "zed", id+"-gone"); err != nil {
		t.Fatal(err)
	}
	o = s.deliver(herald.EventUserDeleted, "user:zed", []byte(`{"username":"zed"}`), nil)
	if o.State != herald.DeliverySucceeded || o.Attempt.StatusCode != 204 || !strings.Contains(o.Attempt.ResponseBody, "→ 404") {
		t.Errorf("DELETE answered 404: %+v", o)
	}
}

// A target whose token the key cannot open waits, as a webhook does; a
// resync goes through the same client.
func TestSCIMTokenAndResync(t *testing.T) {
	s := newSCIMEnv(t)
	storetest.CreateUser(t, s.db, "bob")
	s.p.AddUser(map[string]any{"userName": "bob"})
	rep, changes, err := s.e.ResyncSCIM(context.Background(), s.hook, scim.Local{Users: []scim.LocalResource{{Name: "bob", Data: user("bob", "Bob")}}})
	if err != nil || rep.Error != "" || rep.Users.Adopted != 1 || len(changes) != 1 || changes[0].Type != scim.ChangeSync {
		t.Errorf("resync: %+v, %+v, %v", rep, changes, err)
	}

	// It signs nothing: a signing secret that does not open is no matter.
	odd := s.hook
	odd.SigningSecret = "not sealed"
	if o := s.e.open(odd); o.err != "" || o.target.hook.Token != "s3cret-token" {
		t.Errorf("a SCIM target with an unreadable signing secret: %+v", o)
	}

	broken := s.hook
	broken.Token = "not sealed"
	s.hook = broken
	if o := s.deliver(herald.EventUserCreated, "user:bob", user("bob", "Bob"), nil); o.State != herald.DeliveryRetrying || !strings.Contains(o.Attempt.Error, "SCIM target is saved with a token") {
		t.Errorf("unreadable token: %+v", o)
	}
	if rep, _, _ := s.e.ResyncSCIM(context.Background(), broken, scim.Local{}); rep.Error == "" {
		t.Error("a resync with an unreadable token reported no error")
	}
}

// A SCIM target's requests go out as a webhook's do: the egress guard
// refuses a target on a private address when asked to (the delivery
// fails, nothing reaches the target), and a proxy, when set, carries
// every request (one that does not answer keeps them from the target).
func TestSCIMEgressGuardAndProxy(t *testing.T) {
	t.Run("guard", func(t *testing.T) {
		s := newSCIMEnv(t, func(c *Config) { c.DenyPrivate = true })
		storetest.CreateUser(t, s.db, "alice")
		o := s.deliver(herald.EventUserCreated, "user:alice", user("alice", "Alice"), nil)
		if o.State != herald.DeliveryFailed || !strings.Contains(o.Attempt.Error, "is blocked") {
			t.Errorf("a target on loopback with private addresses denied: %+v", o)
		}
		if n := s.p.Requests(); n != 0 {
			t.Errorf("the target got %d requests past the guard", n)
		}
	})
	t.Run("proxy", func(t *testing.T) {
		dead, err := url.Parse("http://127.0.0.1:1") // nothing listens: the proxy cannot be reached
		if err != nil {
			t.Fatal(err)
		}
		s := newSCIMEnv(t, func(c *Config) { c.Proxy = viaProxy(dead) })
		storetest.CreateUser(t, s.db, "alice")
		o := s.deliver(herald.EventUserCreated, "user:alice", user("alice", "Alice"), nil)
		if o.State != herald.DeliveryRetrying || o.Attempt.Error == "" {
			t.Errorf("through a proxy that does not answer: %+v, want a retry", o)
		}
		if n := s.p.Requests(); n != 0 {
			t.Errorf("the target got %d requests around the proxy", n)
		}
	})
}

// slotStore notes how many of its target's requests the engine counts in
// flight, and how many senders busy, when an id the target gave is stored
// or forgotten.
type slotStore struct {
	scim.Store
	e       *Engine
	target  int64
	seen    []int
	sending []int
}

func (s *slotStore) note() {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	s.seen = append(s.seen, s.e.inflight[s.target])
	s.sending = append(s.sending, s.e.sending)
}

func (s *slotStore) SetRemoteID(ctx context.Context, target int64, kind, name, id string) error {
	s.note()
	return s.Store.SetRemoteID(ctx, target, kind, name, id)
}

func (s *slotStore) DeleteRemoteID(ctx context.Context, target int64, kind, name string) error {
	s.note()
	return s.Store.DeleteRemoteID(ctx, target, kind, name)
}

// A SCIM target's cap counts requests in flight, as a webhook's does: a
// user's creation frees its slot once its calls are over, before the id
// the target gave is stored (its outcome is recorded after), so the next
// change need not wait for that commit; so does a deletion before the id
// is forgotten. The sender stays busy until the attempt ends. With
// sync_groups a new user joins its groups after its id is stored, so the
// slot is held until then.
func TestSCIMSlotFreedWhenCallsAreOver(t *testing.T) {
	slots := &slotStore{}
	s := newSCIMEnv(t, func(c *Config) { slots.Store, c.SCIM = c.SCIM, slots })
	slots.e, slots.target = s.e, s.hook.ID
	storetest.CreateUser(t, s.db, "alice")
	if o := s.deliver(herald.EventUserCreated, "user:alice", user("alice", "Alice"), nil); o.State != herald.DeliverySucceeded {
		t.Fatalf("user_created: %+v", o)
	}
	storetest.CreateUser(t, s.db, "bob")
	s.hook.SyncGroups = true
	if o := s.deliver(herald.EventUserCreated, "user:bob", user("bob", "Bob"), nil); o.State != herald.DeliverySucceeded {
		t.Fatalf("user_created with sync_groups: %+v", o)
	}
	if o := s.deliver(herald.EventUserDeleted, "user:alice", []byte(`{"username":"alice"}`), user("alice", "Alice")); o.State != herald.DeliverySucceeded {
		t.Fatalf("user_deleted: %+v", o)
	}
	if !slices.Equal(slots.seen, []int{0, 1, 0}) {
		t.Errorf("requests in flight while the ids were stored or forgotten: %v, want [0 1 0] (freed, held for the joins, freed)", slots.seen)
	}
	if !slices.Equal(slots.sending, []int{1, 1, 1}) {
		t.Errorf("senders busy meanwhile: %v, want [1 1 1]: claims never exceed the free senders", slots.sending)
	}
}
