package queue_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/queue"
	"github.com/heraldhq/herald/internal/store"
)

func TestRecordOutcomes(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB, q *queue.Queue) {
		c := useClock(db)
		w := newWebhook(t, db, allUser)
		e := emit(t, db, herald.EventUserCreated, "alice")
		d := deliveryID(t, db, w.ID, e)

		cs := claim(t, q, claimAll)
		wantClaimed(t, "claim", cs, d)
		wantWebhook(t, *cs[0].Webhook, w) // what sending needs, read in the claim
		record(t, q, queue.Outcome{DeliveryID: d, WebhookID: w.ID, State: herald.DeliveryRetrying,
			NextAttemptAt: t0.Add(5 * time.Second), RoundAttempts: 1,
			Attempt: herald.Attempt{StartedAt: t0, DurationMS: 1234, StatusCode: 503, ResponseBody: "busy", Error: "HTTP 503"}})
		got := delivery(t, db, w.ID, d)
		if got.Status != herald.DeliveryRetrying || got.Attempts != 1 || got.LastStatusCode != 503 || got.LastError != "HTTP 503" ||
			got.NextAttemptAt == nil || !got.NextAttemptAt.Equal(t0.Add(5*time.Second)) || got.CompletedAt != nil {
			t.Errorf("after a retry: %+v", got)
		}
		// The lease is gone: Redeliver would not conflict, and NextDue is the retry time.
		if next, ok, err := q.NextDue(ctx, c.Now()); err != nil || !ok || !next.Equal(t0.Add(5*time.Second)) {
			t.Errorf("NextDue = %v, %v, %v; want %v", next, ok, err, t0.Add(5*time.Second))
		}

		c.Advance(5 * time.Second)
		cs = claim(t, q, claimAll)
		wantClaimed(t, "retry", cs, d)
		record(t, q, queue.Outcome{DeliveryID: d, WebhookID: w.ID, State: herald.DeliverySucceeded,
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
		cs = claim(t, q, claimAll)
		wantClaimed(t, "bob", cs, d2)
		record(t, q, queue.Outcome{DeliveryID: d2, WebhookID: w.ID, State: herald.DeliveryFailed, RoundAttempts: 11,
			Attempt: herald.Attempt{StartedAt: c.Now(), Error: "connection refused"}})
		got = delivery(t, db, w.ID, d2)
		if got.Status != herald.DeliveryFailed || got.Attempts != 1 || got.LastStatusCode != 0 || got.LastError != "connection refused" ||
			got.NextAttemptAt != nil || got.CompletedAt == nil {
			t.Errorf("after failure: %+v", got)
		}
		wantClaimed(t, "after failure", claim(t, q, claimAll))

		// A 410 disables the webhook with the reason.
		e3 := emit(t, db, herald.EventUserCreated, "carol")
		cs = claim(t, q, claimAll)
		wantClaimed(t, "carol", cs, deliveryID(t, db, w.ID, e3))
		o := outcome(cs[0], herald.DeliveryFailed, 410, c.Now())
		o.DisableReason = "the receiver answered 410 Gone"
		record(t, q, o)
		var hook herald.Webhook
		view(t, db, func(tx *store.Tx) (err error) {
			hook, err = tx.WebhookByID(ctx, w.ID)
			return err
		})
		if hook.Enabled || hook.DisabledReason != "the receiver answered 410 Gone" {
			t.Errorf("after DisableReason: enabled %v, reason %q", hook.Enabled, hook.DisabledReason)
		}
		wantAudit(t, db, herald.AuditEntry{Action: herald.AuditWebhookDisabled, Actor: herald.Actor{Type: herald.ActorSystem},
			Target: fmt.Sprintf("webhook:%d", w.ID), Detail: "the receiver answered 410 Gone"})
		if st, err := q.Stats(ctx); err != nil || st.WebhooksDisabled != 1 {
			t.Errorf("Stats.WebhooksDisabled = %d, %v; want 1", st.WebhooksDisabled, err)
		}
		if err := q.Record(ctx, nil); err != nil {
			t.Errorf("Record(nil): %v", err)
		}
	})
}

// TestRecordOutcomeOfDeletedWebhook: the webhook was deleted while its
// delivery was in flight; its outcome is skipped, the rest of the batch is
// recorded.
func TestRecordOutcomeOfDeletedWebhook(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB, q *queue.Queue) {
		useClock(db)
		gone, kept := newWebhook(t, db, allUser), newWebhook(t, db, allUser)
		e := emit(t, db, herald.EventUserCreated, "alice")
		dGone, dKept := deliveryID(t, db, gone.ID, e), deliveryID(t, db, kept.ID, e)
		cs := claim(t, q, claimAll)
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
		if err := q.Record(ctx, []queue.Outcome{oGone, outcome(findClaimed(t, cs, dKept), herald.DeliverySucceeded, 200, t0)}); err != nil {
			t.Fatalf("Record with a deleted webhook's delivery: %v", err)
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
		wantAudit(t, db) // nothing was disabled
	})
}

func TestNextDue(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB, q *queue.Queue) {
		c := useClock(db)
		wantNext := func(what string, want time.Time) {
			t.Helper()
			next, ok, err := q.NextDue(ctx, c.Now())
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

		cs := claim(t, q, claimAll)
		// A lease is not a due time (the engine wakes once a lease on a
		// shared database anyway).
		wantNext("leased", time.Time{})
		o := outcome(cs[0], herald.DeliveryRetrying, 500, t0)
		o.NextAttemptAt = t0.Add(30 * time.Second)
		record(t, q, o)
		wantNext("retrying", t0.Add(30*time.Second))

		// Another subject leased: the retry is still the next due time.
		emit(t, db, herald.EventUserCreated, "bob")
		claim(t, q, queue.Request{Limit: 10, Lease: time.Hour, PerWebhook: 10})
		wantNext("retry beside another lease", t0.Add(30*time.Second))

		// The engine claimed at t0; by the time it asks, the retry is due.
		// It must hear of it (and claim again at once), not sleep past it.
		c.Advance(30 * time.Second)
		if next, ok, err := q.NextDue(ctx, t0); err != nil || !ok || !next.Equal(t0.Add(30*time.Second)) {
			t.Errorf("retry fell due after the claim: NextDue = %v, %v, %v; want %v", next, ok, err, t0.Add(30*time.Second))
		}
		wantNext("retry now due, other lease pending", time.Time{})
		c.Advance(time.Hour)
		wantNext("everything due again", time.Time{})
		if !q.LeasesExpire() {
			// SQLite leases hold until the outcome or a restart.
			if _, err := q.ReleaseLeases(ctx); err != nil {
				t.Fatal(err)
			}
		}

		// Finished deliveries are never due.
		for _, c2 := range claim(t, q, claimAll) {
			record(t, q, outcome(c2, herald.DeliverySucceeded, 200, c.Now()))
		}
		for _, c2 := range claim(t, q, claimAll) {
			record(t, q, outcome(c2, herald.DeliverySucceeded, 200, c.Now()))
		}
		for _, d := range deliveries(t, db, w.ID) {
			if d.Status != herald.DeliverySucceeded {
				t.Errorf("delivery %d (%s %s) still %s", d.ID, d.Event, d.Subject, d.Status)
			}
		}
		wantNext("all finished", time.Time{})
	})
}

// TestPrune: old attempts and finished deliveries go; unfinished deliveries
// stay however old.
func TestPrune(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB, q *queue.Queue) {
		c := useClock(db)
		w := newWebhook(t, db, allUser)
		ev := map[string]herald.Event{}
		for _, s := range []string{"a", "b", "c", "d"} {
			ev[s] = emit(t, db, herald.EventUserCreated, s)
		}
		ev["c2"] = emit(t, db, herald.EventUserModified, "c") // waits behind c throughout
		id := func(s string) int64 { return deliveryID(t, db, w.ID, ev[s]) }
		cs := claim(t, q, claimAll)
		wantClaimed(t, "heads", cs, id("a"), id("b"), id("c"), id("d"))
		retry := outcome(findClaimed(t, cs, id("c")), herald.DeliveryRetrying, 500, t0)
		retry.NextAttemptAt = t0.Add(2 * time.Hour)
		record(t, q,
			outcome(findClaimed(t, cs, id("a")), herald.DeliverySucceeded, 200, t0),
			outcome(findClaimed(t, cs, id("b")), herald.DeliveryFailed, 500, t0),
			retry)
		// d stays leased and unrecorded until its lease runs out (on
		// SQLite until a restart).
		t2 := c.Advance(2 * time.Hour)
		if !q.LeasesExpire() {
			if _, err := q.ReleaseLeases(ctx); err != nil {
				t.Fatal(err)
			}
		}
		cs = claim(t, q, claimAll)
		wantClaimed(t, "later", cs, id("c"), id("d"))
		retry = outcome(findClaimed(t, cs, id("c")), herald.DeliveryRetrying, 500, t2)
		retry.NextAttemptAt = t2.Add(time.Hour)
		record(t, q, retry, outcome(findClaimed(t, cs, id("d")), herald.DeliverySucceeded, 200, t2))

		attempts, dels, err := q.Prune(ctx, t0.Add(time.Hour))
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
		attempts, dels, err = q.Prune(ctx, c.Now())
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
		cs = claim(t, q, claimAll)
		wantClaimed(t, "c again", cs, id("c"))
		record(t, q, outcome(cs[0], herald.DeliverySucceeded, 200, c.Now()))
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
	eachBackend(t, func(t *testing.T, db *store.DB, q *queue.Queue) {
		c := useClock(db)
		st, err := q.Stats(ctx)
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
		cs := claim(t, q, claimAll)
		var outs []queue.Outcome
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
		record(t, q, outs...)
		c.Advance(5 * time.Minute)
		st, err = q.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// w1: a retrying (created t0), b leased (pending); w2: nothing left.
		if st.Pending != 2 || len(st.OldestPendingAge) != 1 || st.OldestPendingAge[w1.ID] != 15*time.Minute || st.WebhooksDisabled != 2 ||
			len(st.PendingByWebhook) != 1 || st.PendingByWebhook[w1.ID] != 2 {
			t.Errorf("Stats = %+v; want 2 pending, both and the oldest (15m) on webhook %d only, 2 disabled", st, w1.ID)
		}
	})
}

// TestDeletedWebhookTakesItsAttempts: deleting a webhook deletes its
// deliveries and their logged attempts with them (on PostgreSQL triggers
// do, in place of foreign keys checked for every row inserted).
func TestDeletedWebhookTakesItsAttempts(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB, q *queue.Queue) {
		useClock(db)
		gone, kept := newWebhook(t, db, allUser), newWebhook(t, db, allUser)
		e := emit(t, db, herald.EventUserCreated, "alice")
		dGone, dKept := deliveryID(t, db, gone.ID, e), deliveryID(t, db, kept.ID, e)
		cs := claim(t, q, claimAll)
		wantClaimed(t, "claim", cs, dGone, dKept)
		if err := q.Record(ctx, []queue.Outcome{outcome(findClaimed(t, cs, dGone), herald.DeliverySucceeded, 200, t0),
			outcome(findClaimed(t, cs, dKept), herald.DeliverySucceeded, 200, t0)}); err != nil {
			t.Fatal(err)
		}
		update(t, db, func(tx *store.Tx) error {
			_, err := tx.DeleteWebhook(ctx, gone.ID)
			return err
		})
		view(t, db, func(tx *store.Tx) error {
			if as, err := tx.Attempts(ctx, dGone); err != nil || len(as) != 0 {
				t.Errorf("attempts of the deleted webhook's delivery = %v, %v; want none", as, err)
			}
			if as, err := tx.Attempts(ctx, dKept); err != nil || len(as) != 1 {
				t.Errorf("attempts of the other webhook's delivery = %v, %v; want its one", as, err)
			}
			return nil
		})
	})
}

// TestRecordGoneAudit: a 410 that disables a webhook or a SCIM target is
// in the audit log as Herald's own act, with the reason, once however
// many of its outcomes the record holds, and a webhook subscribed to the
// log hears of it; one for a webhook an admin turned off while its
// delivery was in flight leaves it as the admin left it, with no entry.
func TestRecordGoneAudit(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB, q *queue.Queue) {
		c := useClock(db)
		target := newWebhook(t, db, allUser, func(w *herald.Webhook) { w.Kind = herald.WebhookKindSCIM })
		off := newWebhook(t, db, allUser)
		siem := newWebhook(t, db, func(w *herald.Webhook) { w.Events = []string{"audit"} })
		e := emit(t, db, herald.EventUserCreated, "alice")
		e2 := emit(t, db, herald.EventUserCreated, "bob")
		dTarget, dOff, dTarget2 := deliveryID(t, db, target.ID, e), deliveryID(t, db, off.ID, e), deliveryID(t, db, target.ID, e2)
		cs := claim(t, q, claimAll)
		wantClaimed(t, "claim", cs, dTarget, dOff, dTarget2, deliveryID(t, db, off.ID, e2))
		update(t, db, func(tx *store.Tx) error {
			w, err := tx.WebhookByID(ctx, off.ID)
			if err != nil {
				return err
			}
			w.Enabled = false
			return tx.UpdateWebhook(ctx, &w)
		})

		oTarget := outcome(findClaimed(t, cs, dTarget), herald.DeliveryFailed, 410, c.Now())
		oTarget.DisableReason = "the SCIM target answered 410 Gone"
		oTarget2 := outcome(findClaimed(t, cs, dTarget2), herald.DeliveryFailed, 410, c.Now())
		oTarget2.DisableReason = "another reason"
		oOff := outcome(findClaimed(t, cs, dOff), herald.DeliveryFailed, 410, c.Now())
		oOff.DisableReason = "the receiver answered 410 Gone"
		record(t, q, oTarget, oOff, oTarget2)

		wantAudit(t, db, herald.AuditEntry{Action: herald.AuditSCIMTargetDisabled, Actor: herald.Actor{Type: herald.ActorSystem},
			Target: fmt.Sprintf("scim_target:%d", target.ID), Detail: "the SCIM target answered 410 Gone"})
		view(t, db, func(tx *store.Tx) error {
			w, err := tx.WebhookByID(ctx, off.ID)
			if err != nil || w.Enabled || w.DisabledReason != "" {
				t.Errorf("the webhook the admin turned off: enabled %v, reason %q, %v; want off with no reason", w.Enabled, w.DisabledReason, err)
			}
			w, err = tx.WebhookByID(ctx, target.ID)
			if err != nil || w.Enabled || w.DisabledReason != "the SCIM target answered 410 Gone" {
				t.Errorf("the SCIM target: enabled %v, reason %q, %v; want off, with the first reason", w.Enabled, w.DisabledReason, err)
			}
			return nil
		})
		if ds := deliveries(t, db, siem.ID); len(ds) != 1 || ds[0].Event != herald.EventAuditEntry {
			t.Errorf("the webhook subscribed to the audit log got %+v; want one audit_entry", ds)
		}
	})
}

// wantAudit checks that the audit log holds want, in order (ID and At
// not compared).
func wantAudit(t *testing.T, db *store.DB, want ...herald.AuditEntry) {
	t.Helper()
	var got []herald.AuditEntry
	view(t, db, func(tx *store.Tx) (err error) {
		got, err = tx.ListAudit(ctx, herald.AuditFilter{Limit: 100})
		return err
	})
	for i := range got {
		got[i].ID, got[i].At = 0, time.Time{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("audit log:\n got %+v\nwant %+v", got, want)
	}
}
