// Package storetest is what the store's conformance suite and the
// queue's share: a fresh database of each kind, a settable clock, and
// webhooks, events, claims and outcomes made in one line each. It is
// imported by tests only.
package storetest

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/queue"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/testdb"
)

var ctx = context.Background()

// Backends names the databases every test runs on.
var Backends = []string{"sqlite", "postgres"}

// EachDSN runs test once per backend, in parallel, with the address of a
// fresh, empty database (testdb.Postgres: skipped without a server, a
// failure under CI=true).
func EachDSN(t *testing.T, test func(t *testing.T, dsn string)) {
	t.Helper()
	for _, b := range Backends {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			test(t, DSN(t, b))
		})
	}
}

// DSN returns the address of a fresh, empty database of backend b.
func DSN(t *testing.T, b string) string {
	t.Helper()
	if b == "sqlite" {
		return filepath.Join(t.TempDir(), "herald.db")
	}
	return testdb.Postgres(t)
}

// Open opens a handle on dsn, closed when the test ends.
func Open(t *testing.T, dsn string) *store.DB {
	t.Helper()
	db, err := store.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return db
}

// OpenMigrated is Open, and migrates.
func OpenMigrated(t *testing.T, dsn string) *store.DB {
	t.Helper()
	db := Open(t, dsn)
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

// SQLite opens a fresh, migrated SQLite file in the test's temporary
// directory, with its queue open as in Herald (Queue): a database for
// tests of the layers above the store.
func SQLite(t *testing.T) *store.DB {
	t.Helper()
	db := OpenMigrated(t, filepath.Join(t.TempDir(), "herald.db"))
	Queue(t, db)
	return db
}

// queues holds the queue of each handle (Queue).
var queues sync.Map // *store.DB -> *queue.Queue

// Queue returns db's delivery queue, opened at the first call and closed
// when the test ends: one per handle, as in Herald (on SQLite it follows
// the handle's commits, and its lock is the handle's).
func Queue(t *testing.T, db *store.DB) *queue.Queue {
	t.Helper()
	if q, ok := queues.Load(db); ok {
		return q.(*queue.Queue)
	}
	q := queue.Open(db, nil)
	queues.Store(db, q)
	t.Cleanup(func() {
		queues.Delete(db)
		if err := q.Close(); err != nil {
			t.Errorf("close the queue: %v", err)
		}
	})
	return q
}

// T0 is where test clocks start: whole seconds, so stored microseconds
// round-trip exactly.
var T0 = time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)

// Clock is a settable time source for a handle's Now.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// UseClock makes db's clock a Clock at T0.
func UseClock(db *store.DB) *Clock {
	c := &Clock{t: T0}
	db.Now = c.Now
	return c
}

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Update runs fn in db.Update and fails the test on an error.
func Update(t *testing.T, db *store.DB, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := db.Update(ctx, fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

// View runs fn in db.View and fails the test on an error.
func View(t *testing.T, db *store.DB, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := db.View(ctx, fn); err != nil {
		t.Fatalf("view: %v", err)
	}
}

// WantCode checks that err carries the herald error code want.
func WantCode(t *testing.T, what string, err error, want string) {
	t.Helper()
	if got := herald.ErrorCode(err); err == nil || got != want {
		t.Errorf("%s: err = %v (code %q), want code %q", what, err, got, want)
	}
}

// CreateUser creates a user named username.
func CreateUser(t *testing.T, db *store.DB, username string) herald.User {
	t.Helper()
	u := herald.User{Username: username, FirstName: "First " + username, LastName: "Last", Email: username + "@example.com"}
	Update(t, db, func(tx *store.Tx) error { return tx.CreateUser(ctx, &u, "") })
	return u
}

// AllUser subscribes a webhook to the seed's events: every trigger.
func AllUser(w *herald.Webhook) {
	for _, et := range herald.TriggerTypes() {
		*et.Flag(&w.Triggers) = true
	}
}

// NewWebhook creates an enabled webhook with no triggers, adjusted by mods.
func NewWebhook(t *testing.T, db *store.DB, mods ...func(*herald.Webhook)) herald.Webhook {
	t.Helper()
	w := herald.Webhook{URL: "https://receiver.example/hook", Description: "test hook", Enabled: true,
		Method: "POST", SigningSecret: "sealed-secret", Events: []string{}}
	for _, m := range mods {
		m(&w)
	}
	Update(t, db, func(tx *store.Tx) error { return tx.CreateWebhook(ctx, &w) })
	return w
}

// Emit appends an event of typ about subject in its own transaction.
func Emit(t *testing.T, db *store.DB, typ, subject string) herald.Event {
	t.Helper()
	payload, _ := json.Marshal(map[string]string{"username": subject, "type": typ})
	ev := herald.Event{Type: typ, Subject: subject, Actor: herald.Actor{Type: herald.ActorUser, Username: "admin"}, Payload: payload}
	Update(t, db, func(tx *store.Tx) error { return tx.AppendEvent(ctx, &ev) })
	return ev
}

// Deliveries returns a webhook's deliveries, newest first.
func Deliveries(t *testing.T, db *store.DB, hookID int64) []herald.Delivery {
	t.Helper()
	var ds []herald.Delivery
	View(t, db, func(tx *store.Tx) (err error) {
		ds, err = tx.ListDeliveries(ctx, hookID, "", 0, 1000)
		return err
	})
	return ds
}

// DeliveryID returns the id of the one delivery of event to webhook.
func DeliveryID(t *testing.T, db *store.DB, hookID int64, ev herald.Event) int64 {
	t.Helper()
	var found []int64
	for _, d := range Deliveries(t, db, hookID) {
		if d.EventID == ev.ID {
			found = append(found, d.ID)
		}
	}
	if len(found) != 1 {
		t.Fatalf("webhook %d has %d deliveries of event %s (%s %s), want 1", hookID, len(found), ev.ID, ev.Type, ev.Subject)
	}
	return found[0]
}

// Delivery returns one delivery of a webhook.
func Delivery(t *testing.T, db *store.DB, hookID, id int64) herald.Delivery {
	t.Helper()
	var d herald.Delivery
	View(t, db, func(tx *store.Tx) (err error) {
		d, _, err = tx.DeliveryByID(ctx, hookID, id)
		return err
	})
	return d
}

// WantWebhook checks that got is want as stored.
func WantWebhook(t *testing.T, got, want herald.Webhook) {
	t.Helper()
	if !got.CreatedAt.Equal(want.CreatedAt) || !got.PreviousSecretUntil.Equal(want.PreviousSecretUntil) {
		t.Errorf("webhook %d: CreatedAt %v PreviousSecretUntil %v; want %v %v", want.ID, got.CreatedAt, got.PreviousSecretUntil, want.CreatedAt, want.PreviousSecretUntil)
	}
	if got.Events == nil || !slices.Equal(got.Events, want.Events) {
		t.Errorf("webhook %d: Events %#v, want %#v", want.ID, got.Events, want.Events)
	}
	g, w := got, want
	g.CreatedAt, g.PreviousSecretUntil, g.Events = time.Time{}, time.Time{}, nil
	w.CreatedAt, w.PreviousSecretUntil, w.Events = time.Time{}, time.Time{}, nil
	if !equalWebhooks(g, w) {
		t.Errorf("webhook read back as\n%+v\nwant\n%+v", g, w)
	}
}

func equalWebhooks(a, b herald.Webhook) bool {
	return a.ID == b.ID && a.URL == b.URL && a.Description == b.Description && a.Token == b.Token && a.Enabled == b.Enabled &&
		a.Triggers == b.Triggers && a.Method == b.Method && a.SigningSecret == b.SigningSecret &&
		a.DisabledReason == b.DisabledReason && a.PreviousSecret == b.PreviousSecret && formatOf(a) == formatOf(b) &&
		slices.Equal(a.Events, b.Events) && slices.Equal(a.IgnoreActors, b.IgnoreActors) && slices.Equal(a.OnlyGroups, b.OnlyGroups)
}

// formatOf is a webhook's format as stored ("" is stored as defguard).
func formatOf(w herald.Webhook) string {
	if w.Format == "" {
		return herald.FormatDefguard
	}
	return w.Format
}

// Drain empties a Wakeups channel.
func Drain(db *store.DB) {
	for {
		select {
		case <-db.Wakeups():
		default:
			return
		}
	}
}

// WantWakeup waits for a signal on db's Wakeups.
func WantWakeup(t *testing.T, what string, db *store.DB) {
	t.Helper()
	select {
	case <-db.Wakeups():
	case <-time.After(5 * time.Second):
		t.Errorf("%s: no signal on Wakeups", what)
	}
}

// ClaimAll asks for everything due, with a one-minute lease.
var ClaimAll = queue.Request{Limit: 100, Lease: time.Minute, PerWebhook: 100}

// Claim claims from q and fails the test on an error.
func Claim(t *testing.T, q *queue.Queue, req queue.Request) []queue.Claimed {
	t.Helper()
	cs, err := q.Claim(ctx, req)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	return cs
}

// ClaimedIDs returns the ids of cs, sorted.
func ClaimedIDs(cs []queue.Claimed) []int64 {
	ids := make([]int64, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	slices.Sort(ids)
	return ids
}

// WantClaimed checks that exactly the deliveries want were claimed.
func WantClaimed(t *testing.T, what string, cs []queue.Claimed, want ...int64) {
	t.Helper()
	want = slices.Clone(want)
	slices.Sort(want)
	if got := ClaimedIDs(cs); !slices.Equal(got, want) {
		t.Errorf("%s: claimed %v, want %v", what, got, want)
	}
}

// FindClaimed returns the claimed delivery id.
func FindClaimed(t *testing.T, cs []queue.Claimed, id int64) queue.Claimed {
	t.Helper()
	for _, c := range cs {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("delivery %d not among the claimed %v", id, ClaimedIDs(cs))
	return queue.Claimed{}
}

// Outcome is an outcome of c: state, after an answer with status at at.
func Outcome(c queue.Claimed, state string, status int, at time.Time) queue.Outcome {
	return queue.Outcome{DeliveryID: c.ID, WebhookID: c.WebhookID, State: state,
		Attempt: herald.Attempt{StartedAt: at, DurationMS: 7, StatusCode: status, ResponseBody: "body"}}
}

// Record records outs in q and fails the test on an error.
func Record(t *testing.T, q *queue.Queue, outs ...queue.Outcome) {
	t.Helper()
	if err := q.Record(ctx, outs); err != nil {
		t.Fatalf("Record: %v", err)
	}
}
