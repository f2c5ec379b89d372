package queue_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/queue"
	"github.com/heraldhq/herald/internal/store"
)

func TestRedeliver(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB, q *queue.Queue) {
		c := useClock(db)
		w := newWebhook(t, db, allUser)
		other := newWebhook(t, db)
		e := emit(t, db, herald.EventUserCreated, "alice")
		d := deliveryID(t, db, w.ID, e)
		redeliver := func(hook, id int64) error {
			return db.Update(ctx, func(tx *store.Tx) error { return tx.Redeliver(ctx, hook, id) })
		}
		cs := claim(t, q, claimAll)
		wantClaimed(t, "claim", cs, d)
		wantCode(t, "Redeliver while leased", redeliver(w.ID, d), herald.ECONFLICT)
		record(t, q, outcome(cs[0], herald.DeliverySucceeded, 200, t0))
		wantCode(t, "Redeliver through another webhook", redeliver(other.ID, d), herald.ENOTFOUND)
		wantCode(t, "Redeliver(missing)", redeliver(w.ID, 99999), herald.ENOTFOUND)

		c.Advance(time.Hour)
		if db.Kind() == store.PostgreSQL {
			time.Sleep(100 * time.Millisecond)
		}
		drain(db)
		if err := redeliver(w.ID, d); err != nil {
			t.Fatalf("Redeliver: %v", err)
		}
		wantWakeup(t, "after Redeliver", db)
		got := delivery(t, db, w.ID, d)
		if got.Status != herald.DeliveryPending || got.CompletedAt != nil || got.NextAttemptAt == nil ||
			!got.NextAttemptAt.Equal(c.Now()) || got.Attempts != 1 || got.EventID != e.ID {
			t.Errorf("after Redeliver: %+v", got)
		}
		cs = claim(t, q, claimAll)
		wantClaimed(t, "after Redeliver", cs, d)
		if cs[0].Attempts != 1 || cs[0].RoundAttempts != 0 || cs[0].EventID != e.ID {
			t.Errorf("redelivered claim %+v, want Attempts 1, RoundAttempts 0, same event id", cs[0])
		}
		// A failed delivery can be redelivered too, and a redelivered head
		// holds its subject's later events back again.
		o := outcome(cs[0], herald.DeliveryFailed, 500, c.Now())
		o.RoundAttempts = 11
		record(t, q, o)
		e2 := emit(t, db, herald.EventUserModified, "alice")
		if err := redeliver(w.ID, d); err != nil {
			t.Fatalf("Redeliver(failed): %v", err)
		}
		cs = claim(t, q, claimAll)
		wantClaimed(t, "redelivered failed head before its successor", cs, d)
		record(t, q, outcome(cs[0], herald.DeliverySucceeded, 200, c.Now()))
		wantClaimed(t, "successor", claim(t, q, claimAll), deliveryID(t, db, w.ID, e2))
		if got := delivery(t, db, w.ID, d); got.Attempts != 3 || got.Status != herald.DeliverySucceeded {
			t.Errorf("after three attempts: %+v", got)
		}
	})
}

func TestReplay(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB, q *queue.Queue) {
		c := useClock(db)
		e1 := emit(t, db, herald.EventUserCreated, "alice")
		t1 := c.Advance(time.Hour)
		e2 := emit(t, db, herald.EventUserCreated, "bob") // exactly at since: included
		c.Advance(time.Second)
		emit(t, db, herald.EventUserModified, "bob") // not wanted
		e4 := emit(t, db, herald.EventGroupCreated, "devs")
		emit(t, db, herald.EventGroupDeleted, "ops")      // not wanted
		emit(t, db, herald.EventWebhookTest, "webhook:1") // never replayed
		e7 := emit(t, db, herald.EventUserCreated, "alice")
		c.Advance(time.Minute)

		// Created after the events: it has no deliveries of them yet.
		w := newWebhook(t, db, func(w *herald.Webhook) {
			w.OnUserCreated = true
			w.Events = []string{herald.EventGroupCreated}
		})
		if db.Kind() == store.PostgreSQL {
			time.Sleep(100 * time.Millisecond)
		}
		drain(db)
		replay := func(hook int64, since time.Time) (int, error) {
			var n int
			err := db.Update(ctx, func(tx *store.Tx) (err error) {
				n, err = tx.Replay(ctx, hook, since)
				return err
			})
			return n, err
		}
		n, err := replay(w.ID, t1)
		if err != nil || n != 3 {
			t.Fatalf("Replay(since t1) = %d, %v; want 3", n, err)
		}
		wantWakeup(t, "after Replay", db)
		ds := deliveries(t, db, w.ID) // newest first
		wantEventOrder(t, "Replay(since t1)", ds, e7, e4, e2)
		for _, d := range ds {
			if d.Status != herald.DeliveryPending || d.Attempts != 0 || d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(c.Now()) {
				t.Errorf("replayed delivery %+v", d)
			}
		}

		n, err = replay(w.ID, t0)
		if err != nil || n != 4 {
			t.Fatalf("Replay(since t0) = %d, %v; want 4", n, err)
		}
		ds = deliveries(t, db, w.ID)
		wantEventOrder(t, "after a second Replay", ds, e7, e4, e2, e1, e7, e4, e2)

		// Claims follow event order per subject: alice's first event (e1 of
		// the second replay) waits behind e7 of the first.
		cs := claim(t, q, claimAll)
		var claimedEvents []string
		for _, c := range cs {
			claimedEvents = append(claimedEvents, c.EventID)
		}
		want := []string{e2.ID, e4.ID, e7.ID}
		if !sameSet(claimedEvents, want) {
			t.Errorf("claimed events %v after replay, want %v (the oldest per subject)", claimedEvents, want)
		}

		if n, err := replay(w.ID, c.Now().Add(time.Hour)); err != nil || n != 0 {
			t.Errorf("Replay(future) = %d, %v; want 0", n, err)
		}
		none := newWebhook(t, db)
		if n, err := replay(none.ID, t0); err != nil || n != 0 {
			t.Errorf("Replay(webhook without triggers) = %d, %v; want 0", n, err)
		}
		_, err = replay(99999, t0)
		wantCode(t, "Replay(missing webhook)", err, herald.ENOTFOUND)
	})
}

func wantEventOrder(t *testing.T, what string, ds []herald.Delivery, want ...herald.Event) {
	t.Helper()
	var got, w []string
	for _, d := range ds {
		got = append(got, d.EventID)
	}
	for _, e := range want {
		w = append(w, e.ID)
	}
	if fmt.Sprint(got) != fmt.Sprint(w) {
		t.Errorf("%s: deliveries newest first are of events %v, want %v", what, got, w)
	}
	for i := 1; i < len(ds); i++ {
		if ds[i].ID >= ds[i-1].ID {
			t.Errorf("%s: deliveries not newest first: %d then %d", what, ds[i-1].ID, ds[i].ID)
		}
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

func TestDeleteWebhook(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB, q *queue.Queue) {
		useClock(db)
		w, other := newWebhook(t, db, allUser), newWebhook(t, db, allUser)
		a1 := emit(t, db, herald.EventUserCreated, "a")
		a2 := emit(t, db, herald.EventUserModified, "a")
		b := emit(t, db, herald.EventUserCreated, "b")
		cEv := emit(t, db, herald.EventUserCreated, "c")
		cs := claim(t, q, claimAll)
		record(t, q,
			outcome(findClaimed(t, cs, deliveryID(t, db, w.ID, b)), herald.DeliverySucceeded, 200, t0),
			outcome(findClaimed(t, cs, deliveryID(t, db, w.ID, cEv)), herald.DeliveryFailed, 500, t0))
		// Unfinished for w: a1 (leased) and a2 (pending behind it).
		dB := deliveryID(t, db, w.ID, b)
		var dropped int
		update(t, db, func(tx *store.Tx) (err error) {
			dropped, err = tx.DeleteWebhook(ctx, w.ID)
			return err
		})
		if dropped != 2 {
			t.Errorf("DeleteWebhook dropped %d, want 2 unfinished deliveries", dropped)
		}
		view(t, db, func(tx *store.Tx) error {
			ds, err := tx.ListDeliveries(ctx, w.ID, "", 0, 100)
			if err != nil || len(ds) != 0 {
				t.Errorf("deliveries of the deleted webhook: %v, %v", ds, err)
			}
			as, err := tx.Attempts(ctx, dB)
			if err != nil || len(as) != 0 {
				t.Errorf("attempts of the deleted webhook's delivery: %v, %v", as, err)
			}
			_, err = tx.WebhookByID(ctx, w.ID)
			wantCode(t, "WebhookByID(deleted)", err, herald.ENOTFOUND)
			// Events stay: they are the log.
			evs, err := tx.ListEvents(ctx, 0, 100)
			if err != nil || len(evs) != 4 {
				t.Errorf("events after DeleteWebhook: %d, %v; want 4", len(evs), err)
			}
			return nil
		})
		err := db.Update(ctx, func(tx *store.Tx) error {
			_, err := tx.DeleteWebhook(ctx, w.ID)
			return err
		})
		wantCode(t, "DeleteWebhook twice", err, herald.ENOTFOUND)
		if ds := deliveries(t, db, other.ID); len(ds) != 4 {
			t.Errorf("the other webhook has %d deliveries, want 4", len(ds))
		}
		for _, e := range []herald.Event{a1, a2} {
			if d := delivery(t, db, other.ID, deliveryID(t, db, other.ID, e)); d.Status != herald.DeliveryPending {
				t.Errorf("the other webhook's delivery of %s %s is %s, want pending", e.Type, e.Subject, d.Status)
			}
		}
		st, err := q.Stats(ctx)
		if err != nil || st.Pending != 4 {
			// other: a1, b, c leased and a2 waiting; none of w's.
			t.Errorf("Stats.Pending = %d, %v; want 4", st.Pending, err)
		}
		// A successor of the deleted webhook's queue never resurfaces.
		for _, c := range claim(t, q, queue.Request{Limit: 100, Lease: time.Minute, PerWebhook: 100}) {
			if c.WebhookID == w.ID {
				t.Errorf("claimed delivery %d of the deleted webhook", c.ID)
			}
		}
	})
}
