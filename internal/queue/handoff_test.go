package queue

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// TestHandoff follows one webhook through handoffs (handoff.go): what the
// engine is given, and from where, as it turns dirty and clean again. The
// queue's and the store's suites also run whole on SQLite with handoffs on
// (eachBackend), so ordering, caps, retries, redeliveries and deletions
// are checked there with the same expectations as without.
func TestHandoff(t *testing.T) {
	ctx := context.Background()
	h := newHandoffQueue(t)
	db := h.db
	now := time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)
	db.Now = func() time.Time { return now }
	h.sqlite.handoff.start()

	update := func(fn func(tx *store.Tx) error) {
		t.Helper()
		if err := db.Update(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	w := createHook(t, db)
	emit := func(typ, subject string) herald.Event {
		t.Helper()
		ev := herald.Event{Type: typ, Subject: subject, Actor: herald.Actor{Type: herald.ActorUser, Username: "admin"}, Payload: []byte(`{"username":"` + subject + `"}`)}
		update(func(tx *store.Tx) error { return tx.AppendEvent(ctx, &ev) })
		return ev
	}
	// claim returns the claimed events as "id" (handed off) or "id (database)".
	claim := func() ([]string, map[string]Claimed) {
		t.Helper()
		cs, err := h.Claim(ctx, Request{Limit: 100, Lease: time.Minute, PerWebhook: 100})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		byEvent := map[string]Claimed{}
		for _, c := range cs {
			byEvent[c.EventID] = c
			if c.handedOff {
				got = append(got, c.EventID)
			} else {
				got = append(got, c.EventID+" (database)")
			}
		}
		slices.Sort(got)
		return got, byEvent
	}
	want := func(what string, got []string, want ...string) {
		t.Helper()
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: claimed %q, want %q", what, got, want)
		}
	}
	record := func(c Claimed, state string, next time.Time) {
		t.Helper()
		err := h.Record(ctx, []Outcome{{DeliveryID: c.ID, WebhookID: c.WebhookID, State: state, NextAttemptAt: next,
			RoundAttempts: c.RoundAttempts + 1, Attempt: herald.Attempt{StartedAt: now, StatusCode: 200}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	fromDB := func(ev herald.Event) string { return ev.ID + " (database)" }
	// deliver claims, checks what it got, and records every claimed
	// delivery as succeeded.
	deliver := func(what string, wanted ...string) {
		t.Helper()
		got, cs := claim()
		want(what, got, wanted...)
		for _, c := range cs {
			record(c, herald.DeliverySucceeded, time.Time{})
		}
	}

	// A new webhook has nothing in the database: its first delivery comes from
	// the commit, with everything sending needs.
	a1 := emit(herald.EventUserCreated, "alice")
	got, cs := claim()
	want("a new webhook's first event", got, a1.ID)
	if c := cs[a1.ID]; c.WebhookID != w.ID || c.Webhook.URL != w.URL || c.Subject != "alice" || c.EventType != herald.EventUserCreated ||
		string(c.Payload) != string(a1.Payload) || c.Attempts != 0 {
		t.Errorf("handed off %+v", c)
	}
	inFlight := cs[a1.ID]

	// alice's next event waits in the database behind the one in flight;
	// the webhook is dirty now, so bob's goes to the database too, and is
	// claimed from there.
	a2 := emit(herald.EventUserModified, "alice")
	b1 := emit(herald.EventUserCreated, "bob")
	got, cs = claim()
	want("alice's first in flight", got, fromDB(b1))
	record(inFlight, herald.DeliverySucceeded, time.Time{})
	record(cs[b1.ID], herald.DeliverySucceeded, time.Time{})
	deliver("alice's first delivered", fromDB(a2))

	// A claim that finds the database drained makes the webhook clean again.
	got, _ = claim()
	want("all delivered", got)
	c1 := emit(herald.EventUserCreated, "carol")
	got, cs = claim()
	want("clean again", got, c1.ID)
	inFlight = cs[c1.ID]

	// A change that rolls back hands nothing off.
	err := db.Update(ctx, func(tx *store.Tx) error {
		if err := tx.AppendEvent(ctx, &herald.Event{Type: herald.EventUserCreated, Subject: "ghost", Actor: herald.Actor{Type: herald.ActorUser, Username: "admin"}, Payload: []byte("{}")}); err != nil {
			return err
		}
		return errors.New("changed my mind")
	})
	if err == nil {
		t.Fatal("the failing change committed")
	}
	got, _ = claim()
	want("after a rolled-back change", got)

	// A retry dirties the webhook: carol's next event waits for it, and
	// the retry comes from the database when it falls due.
	record(inFlight, herald.DeliveryRetrying, now.Add(time.Minute))
	c2 := emit(herald.EventUserModified, "carol")
	got, _ = claim()
	want("retry not due, its successor behind it", got)
	now = now.Add(2 * time.Minute)
	deliver("retry due", fromDB(c1))
	deliver("after the retry", fromDB(c2))
	got, _ = claim()
	want("all delivered again", got)

	// Handed off but not yet taken when the webhook turns dirty: it is
	// claimed from the database, before what came after it.
	d1 := emit(herald.EventUserCreated, "dave")
	e1 := emit(herald.EventUserCreated, "erin")
	d2 := emit(herald.EventUserModified, "dave") // dave's first is not delivered: dirty
	deliver("queued handoffs after the webhook turned dirty", fromDB(d1), fromDB(e1))
	deliver("dave's second", fromDB(d2))
	got, _ = claim()
	want("drained", got)
	g1 := emit(herald.EventUserCreated, "fay")
	deliver("clean once more: nothing claimed twice", g1.ID)

	// Stopping: what was handed off and not taken is claimed from the
	// database, by this handle or the next process.
	f1 := emit(herald.EventUserCreated, "frank")
	h.sqlite.handoff.stop()
	got, _ = claim()
	want("after handoffs stop", got, fromDB(f1))

	// A deleted webhook's queued handoffs are not sent.
	h.sqlite.handoff.start()
	w2 := herald.Webhook{URL: "https://other.example/hook", Enabled: true, Triggers: herald.Triggers{OnUserCreated: true}, Method: "POST", SigningSecret: "sealed", Events: []string{}}
	update(func(tx *store.Tx) error { return tx.CreateWebhook(ctx, &w2) })
	emit(herald.EventUserCreated, "gina") // w is dirty (a restart of handoffs), w2 clean
	update(func(tx *store.Tx) error { _, err := tx.DeleteWebhook(ctx, w2.ID); return err })
	_, cs = claim()
	for _, c := range cs {
		if c.WebhookID == w2.ID {
			t.Errorf("claimed %+v of the deleted webhook", c)
		}
	}
}

// TestHandoffCleaning: a claim may clean a webhook only if nothing dirtied
// it since the claim began, and not while the group committer's batch that
// dirtied it is still uncommitted (the claim cannot see its rows).
func TestHandoffCleaning(t *testing.T) {
	var h handoff
	h.start()
	const w = 7
	before := h.marks()
	h.cleaned(w, before)
	if !h.clean[w] {
		t.Fatal("a drained webhook with no marks since the claim began stays dirty")
	}

	before = h.marks()
	h.dirty([]int64{w}) // the committer writes a delivery it does not hand off
	h.cleaned(w, before)
	if h.clean[w] {
		t.Error("cleaned by a claim that began before the mark")
	}
	before = h.marks() // a claim that begins after the mark, before the commit
	h.cleaned(w, before)
	if h.clean[w] {
		t.Error("cleaned while the batch that dirtied it is uncommitted")
	}
	h.publish(nil, nil, []int64{w})
	h.endBatch()
	h.cleaned(w, before)
	if h.clean[w] {
		t.Error("cleaned by a claim that began before the commit was published")
	}
	before = h.marks()
	h.cleaned(w, before)
	if !h.clean[w] {
		t.Error("a claim after the commit found the database drained, yet the webhook stays dirty")
	}
}

// handoffQueue is a migrated SQLite database and its queue, for a handoff
// test; handoffs start when the test says.
type handoffQueue struct {
	*Queue
	db     *store.DB
	sqlite *sqliteQueue
}

func newHandoffQueue(t *testing.T) *handoffQueue {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "h.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	q := Open(db, nil)
	t.Cleanup(func() { q.Close() })
	return &handoffQueue{Queue: q, db: db, sqlite: q.driver.(*sqliteQueue)}
}

// testHook is a webhook for user_created and user_modified.
func testHook() herald.Webhook {
	return herald.Webhook{URL: "https://receiver.example/hook", Enabled: true, Triggers: herald.Triggers{OnUserCreated: true, OnUserModified: true},
		Method: "POST", SigningSecret: "sealed", Events: []string{}}
}

func createHook(t *testing.T, db *store.DB) herald.Webhook {
	t.Helper()
	w := testHook()
	if err := db.Update(context.Background(), func(tx *store.Tx) error { return tx.CreateWebhook(context.Background(), &w) }); err != nil {
		t.Fatal(err)
	}
	return w
}

// userEvent is an event of typ about subject, to append.
func userEvent(typ, subject string) *herald.Event {
	return &herald.Event{Type: typ, Subject: subject, Actor: herald.Actor{Type: herald.ActorUser, Username: "admin"}, Payload: []byte(`{"username":"` + subject + `"}`)}
}

func appendEvent(t *testing.T, db *store.DB, ev *herald.Event) {
	t.Helper()
	if err := db.Update(context.Background(), func(tx *store.Tx) error { return tx.AppendEvent(context.Background(), ev) }); err != nil {
		t.Fatal(err)
	}
}

func claimEverything(t *testing.T, h *handoffQueue) []Claimed {
	t.Helper()
	cs, err := h.Claim(context.Background(), Request{Limit: 100, Lease: time.Minute, PerWebhook: 100})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// holdBatch appends ev in a change that holds the group committer's batch
// open until commit is called, which waits for the commit.
func holdBatch(t *testing.T, db *store.DB, ev *herald.Event) (commit func()) {
	t.Helper()
	return holdChange(t, db, func(tx *store.Tx) error { return tx.AppendEvent(context.Background(), ev) })
}

// holdChange runs fn in a change that holds the group committer's batch
// open until commit is called, which waits for the commit.
func holdChange(t *testing.T, db *store.DB, fn func(tx *store.Tx) error) (commit func()) {
	t.Helper()
	inBatch, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- db.Update(context.Background(), func(tx *store.Tx) error {
			if err := fn(tx); err != nil {
				return err
			}
			close(inBatch)
			<-release
			return nil
		})
	}()
	<-inBatch
	return func() {
		t.Helper()
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// wantInOrder checks that first (alice's) is claimed now, and that her next
// event then waits for it.
func wantInOrder(t *testing.T, h *handoffQueue, what string, first *herald.Event) {
	t.Helper()
	if cs := claimEverything(t, h); len(cs) != 1 || cs[0].EventID != first.ID {
		t.Errorf("%s: claimed %+v, want alice's first event", what, cs)
	}
	appendEvent(t, h.db, userEvent(herald.EventUserModified, "alice"))
	if cs := claimEverything(t, h); len(cs) != 0 {
		t.Errorf("%s: claimed %+v while alice's first event is in flight", what, cs)
	}
}

// TestHandoffNewWebhookAndEventInOneBatch: a webhook created in the same
// commit as an event it gets does not turn clean over that delivery in
// the database (found by review: it was never claimed, and alice's next event
// overtook it).
func TestHandoffNewWebhookAndEventInOneBatch(t *testing.T) {
	ctx := context.Background()
	h := newHandoffQueue(t)
	h.sqlite.handoff.start()
	w := testHook()
	first := userEvent(herald.EventUserCreated, "alice")
	if err := h.db.Update(ctx, func(tx *store.Tx) error {
		if err := tx.CreateWebhook(ctx, &w); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, first)
	}); err != nil {
		t.Fatal(err)
	}
	wantInOrder(t, h, "webhook and event in one commit", first)
}

// TestHandoffClaimDuringBatch: a claim that runs while the committer's
// batch holds a delivery to a dirty webhook, and so cannot see it, does
// not clean the webhook; after the commit the delivery is claimed, and the
// subject's next event waits for it (found by review, both at start-up
// and after a retry).
func TestHandoffClaimDuringBatch(t *testing.T) {
	for _, afterRetry := range []bool{false, true} {
		h := newHandoffQueue(t)
		db := h.db
		w := createHook(t, db)
		h.sqlite.handoff.start() // w predates it: dirty
		if afterRetry {
			// Clean, then dirty again by a retry that then succeeds.
			claimEverything(t, h)
			appendEvent(t, db, userEvent(herald.EventUserCreated, "carol"))
			for _, state := range []string{herald.DeliveryRetrying, herald.DeliverySucceeded} {
				cs := claimEverything(t, h)
				if len(cs) != 1 {
					t.Fatalf("claimed %+v, want carol's delivery", cs)
				}
				if err := h.Record(context.Background(), []Outcome{{DeliveryID: cs[0].ID, WebhookID: w.ID, State: state,
					NextAttemptAt: db.Now(), Attempt: herald.Attempt{StartedAt: db.Now(), StatusCode: 500}}}); err != nil {
					t.Fatal(err)
				}
			}
		}
		first := userEvent(herald.EventUserCreated, "alice")
		commit := holdBatch(t, db, first)
		if cs := claimEverything(t, h); len(cs) != 0 {
			t.Fatalf("claimed %+v before the commit", cs)
		}
		commit()
		wantInOrder(t, h, fmt.Sprintf("after retry %v", afterRetry), first)
	}
}

// TestHandoffLimits: beyond a webhook's count or the memory budget, a
// delivery stays in the database and its webhook turns dirty; memory is
// counted back as deliveries are taken.
func TestHandoffLimits(t *testing.T) {
	var h handoff
	h.start()
	h.clean[1], h.clean[2] = true, true
	small := &freshEvent{ev: herald.Event{ID: "evt_small", Type: herald.EventUserCreated, Payload: []byte("{}")}}
	for i := range handoffPerWebhook {
		if handed, _ := h.reserve([]handedOff{{id: int64(i + 1), webhook: 1, subject: fmt.Sprint("u", i), ev: small}}); len(handed) != 1 {
			t.Fatalf("delivery %d of webhook 1 not handed off", i)
		}
	}
	handed, dirty := h.reserve([]handedOff{{id: 1 << 20, webhook: 1, subject: "one-too-many", ev: small}})
	if len(handed) != 0 || !slices.Equal(dirty, []int64{1}) || h.clean[1] {
		t.Errorf("beyond the per-webhook count: handed %v, dirty %v, clean %v", handed, dirty, h.clean[1])
	}
	if h.bytes != small.size()+handoffPerWebhook*handoffEntryBytes {
		t.Errorf("bytes = %d, want one payload and %d entries", h.bytes, handoffPerWebhook)
	}
	big := &freshEvent{ev: herald.Event{ID: "evt_big", Type: herald.EventUserCreated, Payload: make([]byte, handoffBytes)}}
	handed, dirty = h.reserve([]handedOff{{id: 1<<20 + 1, webhook: 2, subject: "big", ev: big}})
	if len(handed) != 0 || !slices.Equal(dirty, []int64{2}) {
		t.Errorf("beyond the memory budget: handed %v, dirty %v", handed, dirty)
	}
	h.endBatch()
	// Webhook 1 was dirtied, so its reservations are dropped when they
	// commit: all memory is given back.
	var all []handedOff
	for i := range handoffPerWebhook {
		all = append(all, handedOff{id: int64(i + 1), webhook: 1, subject: fmt.Sprint("u", i), ev: small, epoch: h.epoch})
	}
	h.publish(all, nil, nil)
	if h.bytes != 0 || len(h.subjects[1]) != 0 || len(h.queues[1]) != 0 {
		t.Errorf("after publishing to a dirty webhook: bytes %d, subjects %d, queued %d; want none", h.bytes, len(h.subjects[1]), len(h.queues[1]))
	}
}

// TestHandoffStartDuringBatch: handoffs that start, or start again
// (ReleaseLeases), while the committer's batch is uncommitted do not let a
// claim clean a webhook over that batch's deliveries, which carry no marks
// (found by review).
func TestHandoffStartDuringBatch(t *testing.T) {
	for _, restart := range []bool{false, true} {
		h := newHandoffQueue(t)
		db := h.db
		if restart {
			h.sqlite.handoff.start()
		}
		createHook(t, db)
		first := userEvent(herald.EventUserCreated, "alice")
		commit := holdBatch(t, db, first)
		released := make(chan error, 1)
		if restart {
			// ReleaseLeases starts handoffs again at once, then waits
			// for the committer to release leases in the database.
			go func() { _, err := h.ReleaseLeases(context.Background()); released <- err }()
			for epoch := uint64(0); epoch < 2; time.Sleep(time.Millisecond) {
				h.sqlite.handoff.mu.Lock()
				epoch = h.sqlite.handoff.epoch
				h.sqlite.handoff.mu.Unlock()
			}
		} else {
			h.sqlite.handoff.start()
			released <- nil
		}
		if cs := claimEverything(t, h); len(cs) != 0 {
			t.Fatalf("restart %v: claimed %+v before the commit", restart, cs)
		}
		commit()
		if err := <-released; err != nil {
			t.Fatal(err)
		}
		wantInOrder(t, h, fmt.Sprintf("restart %v", restart), first)
	}
}

// TestHandoffStartDuringBatchThatCreatesAWebhook: a webhook created by a
// batch that began before handoffs started is not clean over that batch's
// deliveries to it.
func TestHandoffStartDuringBatchThatCreatesAWebhook(t *testing.T) {
	ctx := context.Background()
	h := newHandoffQueue(t)
	first := userEvent(herald.EventUserCreated, "alice")
	commit := holdChange(t, h.db, func(tx *store.Tx) error {
		w := testHook()
		if err := tx.CreateWebhook(ctx, &w); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, first)
	})
	h.sqlite.handoff.start()
	commit()
	wantInOrder(t, h, "webhook created by a batch that straddled the start", first)
}
