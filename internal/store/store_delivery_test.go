package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// TestClaimOrderPerSubject: only the oldest unfinished delivery of each
// (webhook, subject) is claimable; a leased one is not claimed again and
// still blocks its successors; success or failure of the head releases the
// next one; an expired lease (PostgreSQL) or a restart (SQLite) makes a
// delivery claimable again (CONTRACT 1.3 "In order per user", "At least
// once").
func TestClaimOrderPerSubject(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		c := useClock(db)
		w1, w2 := newWebhook(t, db, allUser), newWebhook(t, db, allUser)
		a1 := emit(t, db, herald.EventUserCreated, "alice")
		a2 := emit(t, db, herald.EventUserModified, "alice")
		b1 := emit(t, db, herald.EventUserCreated, "bob")
		id := func(w herald.Webhook, e herald.Event) int64 { return deliveryID(t, db, w.ID, e) }

		first := claim(t, db, claimAll)
		wantClaimed(t, "first claim: the head of every (webhook, subject)", first, id(w1, a1), id(w1, b1), id(w2, a1), id(w2, b1))
		got := findClaimed(t, first, id(w1, a1))
		if got.WebhookID != w1.ID || got.Subject != "alice" || got.EventID != a1.ID || got.EventType != herald.EventUserCreated ||
			string(got.Payload) != string(a1.Payload) || got.Attempts != 0 || got.RoundAttempts != 0 {
			t.Errorf("claimed %+v, want the user_created event for alice on webhook %d", got, w1.ID)
		}

		wantClaimed(t, "while everything is leased", claim(t, db, claimAll))
		c.Advance(30 * time.Second)
		wantClaimed(t, "before the lease runs out", claim(t, db, claimAll))

		record(t, db, outcome(findClaimed(t, first, id(w1, a1)), herald.DeliverySucceeded, 200, c.Now()))
		second := claim(t, db, claimAll)
		wantClaimed(t, "after the head succeeded on w1 (w2's head still leased)", second, id(w1, a2))

		record(t, db, outcome(findClaimed(t, first, id(w2, a1)), herald.DeliveryFailed, 500, c.Now()))
		third := claim(t, db, claimAll)
		wantClaimed(t, "after the head failed on w2", third, id(w2, a2))

		// bob's deliveries were claimed at t0 with a one-minute lease and
		// never recorded (a crashed engine): they come back after it.
		c.Advance(31 * time.Second)
		if db.Kind() == store.SQLite {
			// On SQLite the engine is this process: a lease holds until
			// its outcome (a busy writer may take longer than the lease to
			// record it), and a crash ends with the process; the next
			// start begins with ReleaseLeases.
			wantClaimed(t, "SQLite: leases do not run out", claim(t, db, claimAll))
			if _, err := db.ReleaseLeases(ctx); err != nil {
				t.Fatal(err)
			}
		}
		again := claim(t, db, claimAll)
		if db.Kind() == store.PostgreSQL {
			wantClaimed(t, "after the first leases ran out", again, id(w1, b1), id(w2, b1))
		} else {
			wantClaimed(t, "after a restart: everything in flight", again, id(w1, a2), id(w2, a2), id(w1, b1), id(w2, b1))
		}
		if got := findClaimed(t, again, id(w1, b1)); got.EventID != b1.ID || got.Attempts != 0 {
			t.Errorf("reclaimed %+v", got)
		}
	})
}

// TestClaimCaps: PerWebhook counting InFlight, Paused, Limit, and releasing
// claims.
func TestClaimCaps(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		useClock(db)
		w1, w2 := newWebhook(t, db, allUser), newWebhook(t, db, allUser)
		for i := range 5 {
			emit(t, db, herald.EventUserCreated, fmt.Sprintf("user%d", i))
		}
		release := func() {
			t.Helper()
			if _, err := db.ReleaseLeases(ctx); err != nil {
				t.Fatalf("ReleaseLeases: %v", err)
			}
		}
		for _, tc := range []struct {
			name   string
			req    store.ClaimRequest
			w1, w2 int
		}{
			{"cap 2", store.ClaimRequest{Limit: 100, Lease: time.Minute, PerWebhook: 2}, 2, 2},
			{"cap 2, w1 has 1 in flight", store.ClaimRequest{Limit: 100, Lease: time.Minute, PerWebhook: 2, InFlight: map[int64]int{w1.ID: 1}}, 1, 2},
			{"cap 2, w1 full", store.ClaimRequest{Limit: 100, Lease: time.Minute, PerWebhook: 2, InFlight: map[int64]int{w1.ID: 2, w2.ID: 0}}, 0, 2},
			{"MinRoom 2: w1 (1 in flight) waits, w2 (none) is served", store.ClaimRequest{Limit: 100, Lease: time.Minute, PerWebhook: 2, MinRoom: 2, InFlight: map[int64]int{w1.ID: 1}}, 0, 2},
			{"w2 paused", store.ClaimRequest{Limit: 100, Lease: time.Minute, PerWebhook: 100, Paused: map[int64]bool{w2.ID: true}}, 5, 0},
			{"both paused", store.ClaimRequest{Limit: 100, Lease: time.Minute, PerWebhook: 100, Paused: map[int64]bool{w1.ID: true, w2.ID: true}}, 0, 0},
			{"no cap", claimAll, 5, 5},
		} {
			cs := claim(t, db, tc.req)
			if n := perWebhook(cs); n[w1.ID] != tc.w1 || n[w2.ID] != tc.w2 {
				t.Errorf("%s: claimed %d from w1 and %d from w2, want %d and %d", tc.name, n[w1.ID], n[w2.ID], tc.w1, tc.w2)
			}
			release()
		}
		cs := claim(t, db, store.ClaimRequest{Limit: 3, Lease: time.Minute, PerWebhook: 100})
		if len(cs) != 3 {
			t.Errorf("Limit 3: claimed %d", len(cs))
		}
		// The rest are still there; ReleaseLeases frees the three again.
		if rest := claim(t, db, claimAll); len(rest) != 7 {
			t.Errorf("after a Limit 3 claim, %d more claimable, want 7", len(rest))
		}
		if n, err := db.ReleaseLeases(ctx); err != nil || n != 10 {
			t.Errorf("ReleaseLeases = %d, %v; want 10", n, err)
		}
		if all := claim(t, db, claimAll); len(all) != 10 {
			t.Errorf("after ReleaseLeases, %d claimable, want 10", len(all))
		}
		if n, err := db.ReleaseLeases(ctx); err != nil || n != 10 {
			t.Errorf("ReleaseLeases = %d, %v; want 10", n, err)
		}
	})
}

// TestClaimNotBeforeNextAttempt: a retrying delivery is not due before its
// next_attempt_at and blocks its successors meanwhile.
func TestClaimNotBeforeNextAttempt(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		c := useClock(db)
		w := newWebhook(t, db, allUser)
		e1 := emit(t, db, herald.EventUserCreated, "alice")
		e2 := emit(t, db, herald.EventUserModified, "alice")
		d1, d2 := deliveryID(t, db, w.ID, e1), deliveryID(t, db, w.ID, e2)
		cs := claim(t, db, claimAll)
		wantClaimed(t, "first", cs, d1)
		o := outcome(cs[0], herald.DeliveryRetrying, 503, t0)
		o.NextAttemptAt, o.RoundAttempts = t0.Add(10*time.Second), 1
		record(t, db, o)
		wantClaimed(t, "retrying, not yet due", claim(t, db, claimAll))
		c.Advance(10*time.Second - time.Microsecond)
		wantClaimed(t, "a microsecond early", claim(t, db, claimAll))
		c.Advance(time.Microsecond)
		cs = claim(t, db, claimAll)
		wantClaimed(t, "due", cs, d1)
		if cs[0].Attempts != 1 || cs[0].RoundAttempts != 1 {
			t.Errorf("reclaimed with Attempts %d RoundAttempts %d, want 1 and 1", cs[0].Attempts, cs[0].RoundAttempts)
		}
		record(t, db, outcome(cs[0], herald.DeliverySucceeded, 204, c.Now()))
		wantClaimed(t, "successor after success", claim(t, db, claimAll), d2)
	})
}

func TestRecordOutcomes(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		c := useClock(db)
		w := newWebhook(t, db, allUser)
		e := emit(t, db, herald.EventUserCreated, "alice")
		d := deliveryID(t, db, w.ID, e)

		cs := claim(t, db, claimAll)
		wantClaimed(t, "claim", cs, d)
		wantWebhook(t, cs[0].Webhook, w) // what sending needs, read in the claim
		record(t, db, store.Outcome{DeliveryID: d, WebhookID: w.ID, State: herald.DeliveryRetrying,
			NextAttemptAt: t0.Add(5 * time.Second), RoundAttempts: 1,
			Attempt: herald.Attempt{StartedAt: t0, DurationMS: 1234, StatusCode: 503, ResponseBody: "busy", Error: "HTTP 503"}})
		got := delivery(t, db, w.ID, d)
		if got.Status != herald.DeliveryRetrying || got.Attempts != 1 || got.LastStatusCode != 503 || got.LastError != "HTTP 503" ||
			got.NextAttemptAt == nil || !got.NextAttemptAt.Equal(t0.Add(5*time.Second)) || got.CompletedAt != nil {
			t.Errorf("after a retry: %+v", got)
		}
		// The lease is gone: Redeliver would not conflict, and NextDue is the retry time.
		if next, ok, err := db.NextDue(ctx, c.Now()); err != nil || !ok || !next.Equal(t0.Add(5*time.Second)) {
			t.Errorf("NextDue = %v, %v, %v; want %v", next, ok, err, t0.Add(5*time.Second))
		}

		c.Advance(5 * time.Second)
		cs = claim(t, db, claimAll)
		wantClaimed(t, "retry", cs, d)
		record(t, db, store.Outcome{DeliveryID: d, WebhookID: w.ID, State: herald.DeliverySucceeded,
			Attempt: herald.Attempt{StartedAt: c.Now(), DurationMS: 20, StatusCode: 200, ResponseBody: `{"ok":true}`}})
		got = delivery(t, db, w.ID, d)
		if got.Status != herald.DeliverySucceeded || got.Attempts != 2 || got.LastStatusCode != 200 || got.LastError != "" ||
			got.NextAttemptAt != nil || got.CompletedAt == nil || !got.CompletedAt.Equal(c.Now()) {
			t.Errorf("after success: %+v", got)
		}
		var attempts []herald.Attempt
		view(t, db, func(tx *store.Tx) (err error) {
			attempts, err = tx.Attempts(ctx, d)
			return err
		})
		want := []herald.Attempt{
			{N: 1, StartedAt: t0, DurationMS: 1234, StatusCode: 503, ResponseBody: "busy", Error: "HTTP 503"},
			{N: 2, StartedAt: t0.Add(5 * time.Second), DurationMS: 20, StatusCode: 200, ResponseBody: `{"ok":true}`},
		}
		if len(attempts) != len(want) {
			t.Fatalf("Attempts = %+v, want %+v", attempts, want)
		}
		for i := range want {
			a, w := attempts[i], want[i]
			if a.N != w.N || !a.StartedAt.Equal(w.StartedAt) || a.DurationMS != w.DurationMS || a.StatusCode != w.StatusCode ||
				a.ResponseBody != w.ResponseBody || a.Error != w.Error {
				t.Errorf("attempt %d = %+v, want %+v", i, a, w)
			}
		}

		// Failed: completed, not retried.
		e2 := emit(t, db, herald.EventUserCreated, "bob")
		d2 := deliveryID(t, db, w.ID, e2)
		cs = claim(t, db, claimAll)
		wantClaimed(t, "bob", cs, d2)
		record(t, db, store.Outcome{DeliveryID: d2, WebhookID: w.ID, State: herald.DeliveryFailed, RoundAttempts: 11,
			Attempt: herald.Attempt{StartedAt: c.Now(), Error: "connection refused"}})
		got = delivery(t, db, w.ID, d2)
		if got.Status != herald.DeliveryFailed || got.Attempts != 1 || got.LastStatusCode != 0 || got.LastError != "connection refused" ||
			got.NextAttemptAt != nil || got.CompletedAt == nil {
			t.Errorf("after failure: %+v", got)
		}
		wantClaimed(t, "after failure", claim(t, db, claimAll))

		// A 410 disables the webhook with the reason.
		e3 := emit(t, db, herald.EventUserCreated, "carol")
		cs = claim(t, db, claimAll)
		wantClaimed(t, "carol", cs, deliveryID(t, db, w.ID, e3))
		o := outcome(cs[0], herald.DeliveryFailed, 410, c.Now())
		o.DisableReason = "the receiver answered 410 Gone"
		record(t, db, o)
		var hook herald.Webhook
		view(t, db, func(tx *store.Tx) (err error) {
			hook, err = tx.WebhookByID(ctx, w.ID)
			return err
		})
		if hook.Enabled || hook.DisabledReason != "the receiver answered 410 Gone" {
			t.Errorf("after DisableReason: enabled %v, reason %q", hook.Enabled, hook.DisabledReason)
		}
		if st, err := db.Stats(ctx); err != nil || st.WebhooksDisabled != 1 {
			t.Errorf("Stats.WebhooksDisabled = %d, %v; want 1", st.WebhooksDisabled, err)
		}
		if err := db.RecordOutcomes(ctx, nil); err != nil {
			t.Errorf("RecordOutcomes(nil): %v", err)
		}
	})
}

// TestRecordOutcomeOfDeletedWebhook: the webhook was deleted while its
// delivery was in flight; its outcome is skipped, the rest of the batch is
// recorded.
func TestRecordOutcomeOfDeletedWebhook(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		useClock(db)
		gone, kept := newWebhook(t, db, allUser), newWebhook(t, db, allUser)
		e := emit(t, db, herald.EventUserCreated, "alice")
		dGone, dKept := deliveryID(t, db, gone.ID, e), deliveryID(t, db, kept.ID, e)
		cs := claim(t, db, claimAll)
		wantClaimed(t, "claim", cs, dGone, dKept)
		update(t, db, func(tx *store.Tx) error {
			n, err := tx.DeleteWebhook(ctx, gone.ID)
			if n != 1 {
				t.Errorf("DeleteWebhook dropped %d, want 1 (the leased delivery)", n)
			}
			return err
		})
		oGone := outcome(findClaimed(t, cs, dGone), herald.DeliveryFailed, 410, t0)
		oGone.DisableReason = "gone"
		if err := db.RecordOutcomes(ctx, []store.Outcome{oGone, outcome(findClaimed(t, cs, dKept), herald.DeliverySucceeded, 200, t0)}); err != nil {
			t.Fatalf("RecordOutcomes with a deleted webhook's delivery: %v", err)
		}
		if got := delivery(t, db, kept.ID, dKept); got.Status != herald.DeliverySucceeded || got.Attempts != 1 {
			t.Errorf("the other outcome of the batch: %+v", got)
		}
		view(t, db, func(tx *store.Tx) error {
			as, err := tx.Attempts(ctx, dGone)
			if err != nil || len(as) != 0 {
				t.Errorf("Attempts of the deleted delivery = %v, %v; want none", as, err)
			}
			_, err = tx.WebhookByID(ctx, gone.ID)
			wantCode(t, "deleted webhook", err, herald.ENOTFOUND)
			return nil
		})
	})
}

func TestNextDue(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		c := useClock(db)
		wantNext := func(what string, want time.Time) {
			t.Helper()
			next, ok, err := db.NextDue(ctx, c.Now())
			if err != nil {
				t.Fatalf("%s: NextDue: %v", what, err)
			}
			if want.IsZero() {
				if ok {
					t.Errorf("%s: NextDue = %v, want none", what, next)
				}
				return
			}
			if !ok || !next.Equal(want) {
				t.Errorf("%s: NextDue = %v, %v; want %v", what, next, ok, want)
			}
		}
		wantNext("empty", time.Time{})
		w := newWebhook(t, db, allUser)
		emit(t, db, herald.EventUserCreated, "alice")
		emit(t, db, herald.EventUserModified, "alice") // due now, but waits behind the first
		wantNext("everything already due", time.Time{})

		cs := claim(t, db, claimAll)
		// A lease is not a due time (the engine wakes once a lease on a
		// shared database anyway).
		wantNext("leased", time.Time{})
		o := outcome(cs[0], herald.DeliveryRetrying, 500, t0)
		o.NextAttemptAt = t0.Add(30 * time.Second)
		record(t, db, o)
		wantNext("retrying", t0.Add(30*time.Second))

		// Another subject leased: the retry is still the next due time.
		emit(t, db, herald.EventUserCreated, "bob")
		claim(t, db, store.ClaimRequest{Limit: 10, Lease: time.Hour, PerWebhook: 10})
		wantNext("retry beside another lease", t0.Add(30*time.Second))

		// The engine claimed at t0; by the time it asks, the retry is due.
		// It must hear of it (and claim again at once), not sleep past it.
		c.Advance(30 * time.Second)
		if next, ok, err := db.NextDue(ctx, t0); err != nil || !ok || !next.Equal(t0.Add(30*time.Second)) {
			t.Errorf("retry fell due after the claim: NextDue = %v, %v, %v; want %v", next, ok, err, t0.Add(30*time.Second))
		}
		wantNext("retry now due, other lease pending", time.Time{})
		c.Advance(time.Hour)
		wantNext("everything due again", time.Time{})
		if db.Kind() == store.SQLite {
			// SQLite leases hold until the outcome or a restart.
			if _, err := db.ReleaseLeases(ctx); err != nil {
				t.Fatal(err)
			}
		}

		// Finished deliveries are never due.
		for _, c2 := range claim(t, db, claimAll) {
			record(t, db, outcome(c2, herald.DeliverySucceeded, 200, c.Now()))
		}
		for _, c2 := range claim(t, db, claimAll) {
			record(t, db, outcome(c2, herald.DeliverySucceeded, 200, c.Now()))
		}
		for _, d := range deliveries(t, db, w.ID) {
			if d.Status != herald.DeliverySucceeded {
				t.Errorf("delivery %d (%s %s) still %s", d.ID, d.Event, d.Subject, d.Status)
			}
		}
		wantNext("all finished", time.Time{})
	})
}

func TestRedeliver(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		c := useClock(db)
		w := newWebhook(t, db, allUser)
		other := newWebhook(t, db)
		e := emit(t, db, herald.EventUserCreated, "alice")
		d := deliveryID(t, db, w.ID, e)
		redeliver := func(hook, id int64) error {
			return db.Update(ctx, func(tx *store.Tx) error { return tx.Redeliver(ctx, hook, id) })
		}
		cs := claim(t, db, claimAll)
		wantClaimed(t, "claim", cs, d)
		wantCode(t, "Redeliver while leased", redeliver(w.ID, d), herald.ECONFLICT)
		record(t, db, outcome(cs[0], herald.DeliverySucceeded, 200, t0))
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
		cs = claim(t, db, claimAll)
		wantClaimed(t, "after Redeliver", cs, d)
		if cs[0].Attempts != 1 || cs[0].RoundAttempts != 0 || cs[0].EventID != e.ID {
			t.Errorf("redelivered claim %+v, want Attempts 1, RoundAttempts 0, same event id", cs[0])
		}
		// A failed delivery can be redelivered too, and a redelivered head
		// holds its subject's later events back again.
		o := outcome(cs[0], herald.DeliveryFailed, 500, c.Now())
		o.RoundAttempts = 11
		record(t, db, o)
		e2 := emit(t, db, herald.EventUserModified, "alice")
		if err := redeliver(w.ID, d); err != nil {
			t.Fatalf("Redeliver(failed): %v", err)
		}
		cs = claim(t, db, claimAll)
		wantClaimed(t, "redelivered failed head before its successor", cs, d)
		record(t, db, outcome(cs[0], herald.DeliverySucceeded, 200, c.Now()))
		wantClaimed(t, "successor", claim(t, db, claimAll), deliveryID(t, db, w.ID, e2))
		if got := delivery(t, db, w.ID, d); got.Attempts != 3 || got.Status != herald.DeliverySucceeded {
			t.Errorf("after three attempts: %+v", got)
		}
	})
}

func TestReplay(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
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
		cs := claim(t, db, claimAll)
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
	eachBackend(t, func(t *testing.T, db *store.DB) {
		useClock(db)
		w, other := newWebhook(t, db, allUser), newWebhook(t, db, allUser)
		a1 := emit(t, db, herald.EventUserCreated, "a")
		a2 := emit(t, db, herald.EventUserModified, "a")
		b := emit(t, db, herald.EventUserCreated, "b")
		cEv := emit(t, db, herald.EventUserCreated, "c")
		cs := claim(t, db, claimAll)
		record(t, db,
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
		st, err := db.Stats(ctx)
		if err != nil || st.Pending != 4 {
			// other: a1, b, c leased and a2 waiting; none of w's.
			t.Errorf("Stats.Pending = %d, %v; want 4", st.Pending, err)
		}
		// A successor of the deleted webhook's queue never resurfaces.
		for _, c := range claim(t, db, store.ClaimRequest{Limit: 100, Lease: time.Minute, PerWebhook: 100}) {
			if c.WebhookID == w.ID {
				t.Errorf("claimed delivery %d of the deleted webhook", c.ID)
			}
		}
	})
}

// TestPrune: old attempts and finished deliveries go; unfinished deliveries
// stay however old.
func TestPrune(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		c := useClock(db)
		w := newWebhook(t, db, allUser)
		ev := map[string]herald.Event{}
		for _, s := range []string{"a", "b", "c", "d"} {
			ev[s] = emit(t, db, herald.EventUserCreated, s)
		}
		ev["c2"] = emit(t, db, herald.EventUserModified, "c") // waits behind c throughout
		id := func(s string) int64 { return deliveryID(t, db, w.ID, ev[s]) }
		cs := claim(t, db, claimAll)
		wantClaimed(t, "heads", cs, id("a"), id("b"), id("c"), id("d"))
		retry := outcome(findClaimed(t, cs, id("c")), herald.DeliveryRetrying, 500, t0)
		retry.NextAttemptAt = t0.Add(2 * time.Hour)
		record(t, db,
			outcome(findClaimed(t, cs, id("a")), herald.DeliverySucceeded, 200, t0),
			outcome(findClaimed(t, cs, id("b")), herald.DeliveryFailed, 500, t0),
			retry)
		// d stays leased and unrecorded until its lease runs out (on
		// SQLite until a restart).
		t2 := c.Advance(2 * time.Hour)
		if db.Kind() == store.SQLite {
			if _, err := db.ReleaseLeases(ctx); err != nil {
				t.Fatal(err)
			}
		}
		cs = claim(t, db, claimAll)
		wantClaimed(t, "later", cs, id("c"), id("d"))
		retry = outcome(findClaimed(t, cs, id("c")), herald.DeliveryRetrying, 500, t2)
		retry.NextAttemptAt = t2.Add(time.Hour)
		record(t, db, retry, outcome(findClaimed(t, cs, id("d")), herald.DeliverySucceeded, 200, t2))

		attempts, dels, err := db.Prune(ctx, t0.Add(time.Hour))
		if err != nil || attempts != 3 || dels != 2 {
			t.Errorf("Prune(t0+1h) = %d attempts, %d deliveries, %v; want 3 and 2", attempts, dels, err)
		}
		left := map[int64]herald.Delivery{}
		for _, d := range deliveries(t, db, w.ID) {
			left[d.ID] = d
		}
		for _, s := range []string{"c", "c2", "d"} {
			if _, ok := left[id(s)]; !ok {
				t.Errorf("Prune deleted delivery %s", s)
			}
		}
		if len(left) != 3 {
			t.Errorf("after Prune %d deliveries left, want 3 (c, c2, d)", len(left))
		}
		var as []herald.Attempt
		view(t, db, func(tx *store.Tx) (err error) {
			as, err = tx.Attempts(ctx, id("c"))
			return err
		})
		if len(as) != 1 || as[0].N != 2 || !as[0].StartedAt.Equal(t2) {
			t.Errorf("attempts of c after Prune: %+v, want only the second", as)
		}

		// Everything finished before the cutoff goes; c and c2 never do.
		c.Advance(24 * time.Hour)
		attempts, dels, err = db.Prune(ctx, c.Now())
		if err != nil || attempts != 2 || dels != 1 {
			t.Errorf("Prune(now) = %d attempts, %d deliveries, %v; want 2 and 1", attempts, dels, err)
		}
		left = map[int64]herald.Delivery{}
		for _, d := range deliveries(t, db, w.ID) {
			left[d.ID] = d
		}
		if _, ok := left[id("c")]; !ok || len(left) != 2 {
			t.Errorf("after the second Prune: %v, want c and c2", left)
		}
		if _, ok := left[id("c2")]; !ok {
			t.Errorf("Prune deleted the pending c2")
		}
		// The next attempt of c is numbered on.
		cs = claim(t, db, claimAll)
		wantClaimed(t, "c again", cs, id("c"))
		record(t, db, outcome(cs[0], herald.DeliverySucceeded, 200, c.Now()))
		view(t, db, func(tx *store.Tx) (err error) {
			as, err = tx.Attempts(ctx, id("c"))
			return err
		})
		if len(as) != 1 || as[0].N != 3 {
			t.Errorf("attempts of c: %+v, want one numbered 3", as)
		}
	})
}

func TestStats(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		c := useClock(db)
		st, err := db.Stats(ctx)
		if err != nil || st.Pending != 0 || len(st.OldestPendingAge) != 0 || st.WebhooksDisabled != 0 {
			t.Errorf("empty Stats = %+v, %v", st, err)
		}
		w1, w2 := newWebhook(t, db, allUser), newWebhook(t, db, allUser)
		newWebhook(t, db, func(w *herald.Webhook) { w.Enabled = false })
		w4 := newWebhook(t, db)
		update(t, db, func(tx *store.Tx) error { return tx.DisableWebhook(ctx, w4.ID, "") })

		emit(t, db, herald.EventUserCreated, "a")
		c.Advance(10 * time.Minute)
		emit(t, db, herald.EventUserCreated, "b")
		cs := claim(t, db, claimAll)
		var outs []store.Outcome
		for _, cl := range cs {
			switch {
			case cl.WebhookID == w2.ID:
				outs = append(outs, outcome(cl, herald.DeliverySucceeded, 200, c.Now()))
			case cl.Subject == "a":
				o := outcome(cl, herald.DeliveryRetrying, 500, c.Now())
				o.NextAttemptAt = c.Now().Add(time.Minute)
				outs = append(outs, o)
			}
		}
		record(t, db, outs...)
		c.Advance(5 * time.Minute)
		st, err = db.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// w1: a retrying (created t0), b leased (pending); w2: nothing left.
		if st.Pending != 2 || len(st.OldestPendingAge) != 1 || st.OldestPendingAge[w1.ID] != 15*time.Minute || st.WebhooksDisabled != 2 {
			t.Errorf("Stats = %+v; want 2 pending, oldest 15m on webhook %d only, 2 disabled", st, w1.ID)
		}
	})
}

// TestClaimSeesWebhookChanges: a claim hands each delivery its webhook as
// it is now, right after a change to it commits (SQLite claims keep the
// webhook list between changes).
func TestClaimSeesWebhookChanges(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		w := newWebhook(t, db, allUser)
		emit(t, db, herald.EventUserCreated, "alice")
		cs := claim(t, db, claimAll)
		if len(cs) != 1 || cs[0].Webhook.URL != w.URL {
			t.Fatalf("claimed %+v, want one delivery to %s", cs, w.URL)
		}
		record(t, db, outcome(cs[0], herald.DeliverySucceeded, 200, t0))

		w.URL = "https://moved.example/hook"
		update(t, db, func(tx *store.Tx) error { return tx.UpdateWebhook(ctx, &w) })
		emit(t, db, herald.EventUserCreated, "bob")
		cs = claim(t, db, claimAll)
		if len(cs) != 1 || cs[0].Webhook.URL != w.URL {
			t.Errorf("after the update: claimed %+v, want one delivery to %s", cs, w.URL)
		}
		record(t, db, outcome(cs[0], herald.DeliverySucceeded, 200, t0))

		later := newWebhook(t, db, allUser)
		emit(t, db, herald.EventUserCreated, "carol")
		cs = claim(t, db, claimAll)
		if got := perWebhook(cs); got[w.ID] != 1 || got[later.ID] != 1 {
			t.Errorf("after a new webhook: claimed %v per webhook, want one each", got)
		}
	})
}

// perWebhook counts claimed deliveries by webhook.
func perWebhook(cs []store.Claimed) map[int64]int {
	n := map[int64]int{}
	for _, c := range cs {
		n[c.WebhookID]++
	}
	return n
}
