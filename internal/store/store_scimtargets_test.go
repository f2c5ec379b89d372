package store_test

import (
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/queue"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/storetest"
)

// TestSCIMTargets: a SCIM target is a webhook of kind scim with its own
// settings; a resync's events reach that target alone, never a webhook nor
// the event feed, and its claim finds them; the resync report is kept.
func TestSCIMTargets(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		useClock(db)
		hook := storetest.NewWebhook(t, db, storetest.AllUser)
		target := storetest.NewWebhook(t, db, storetest.AllUser, func(w *herald.Webhook) {
			w.Kind, w.Deprovision, w.SyncGroups = herald.WebhookKindSCIM, "delete", true
			w.Events, w.Format = []string{herald.EventGroupCreated}, herald.FormatEnvelope
		})
		var hooks []herald.Webhook
		view(t, db, func(tx *store.Tx) (err error) { hooks, err = tx.ListWebhooks(ctx); return err })
		if len(hooks) != 2 || hooks[0].Kind != herald.WebhookKindHTTP || hooks[1].Kind != herald.WebhookKindSCIM ||
			hooks[1].Deprovision != "delete" || !hooks[1].SyncGroups || hooks[0].SyncGroups || hooks[0].Deprovision != "" {
			t.Fatalf("ListWebhooks = %+v, want the webhook (kind webhook) and the target (kind scim, delete, sync_groups)", hooks)
		}
		// An update keeps the kind and writes the SCIM settings.
		target.Deprovision, target.SyncGroups, target.Kind = "deactivate", false, ""
		update(t, db, func(tx *store.Tx) error { return tx.UpdateWebhook(ctx, &target) })
		var got herald.Webhook
		view(t, db, func(tx *store.Tx) (err error) { got, err = tx.WebhookByID(ctx, target.ID); return err })
		if got.Kind != herald.WebhookKindSCIM || got.Deprovision != "deactivate" || got.SyncGroups {
			t.Errorf("after update: kind %q deprovision %q sync_groups %v, want scim deactivate false", got.Kind, got.Deprovision, got.SyncGroups)
		}

		// A directory change reaches both kinds.
		created := emit(t, db, herald.EventUserCreated, "user:alice")
		storetest.DeliveryID(t, db, hook.ID, created)
		storetest.DeliveryID(t, db, target.ID, created)

		// A resync's event reaches the target alone.
		sync := herald.Event{Type: herald.EventSCIMSync, Subject: "user:alice", Payload: []byte(`{"username":"alice"}`)}
		update(t, db, func(tx *store.Tx) error { return tx.AppendTargetedEvent(ctx, target.ID, &sync) })
		if sync.Seq == 0 || sync.ID == "" {
			t.Fatalf("AppendTargetedEvent left Seq %d ID %q", sync.Seq, sync.ID)
		}
		id := storetest.DeliveryID(t, db, target.ID, sync)
		for _, d := range storetest.Deliveries(t, db, hook.ID) {
			if d.EventID == sync.ID {
				t.Errorf("the webhook got the resync's %s event", d.Event)
			}
		}
		// It is claimed in order after the target's earlier delivery of
		// the same subject: claim everything, twice.
		cs := claim(t, db, storetest.ClaimAll)
		var first []int64
		for _, c := range cs {
			if c.WebhookID == target.ID {
				first = append(first, c.ID)
			}
		}
		if len(first) != 1 || first[0] == id {
			t.Errorf("first claim of the target: %v, want only the user_created delivery (the resync's waits behind it)", first)
		}
		var outs []queue.Outcome
		for _, c := range cs {
			outs = append(outs, storetest.Outcome(c, herald.DeliverySucceeded, 200, t0))
		}
		record(t, db, outs...)
		storetest.WantClaimed(t, "second claim", claim(t, db, storetest.ClaimAll), id)

		// Other types are refused; a missing target is ENOTFOUND.
		update(t, db, func(tx *store.Tx) error {
			ev := herald.Event{Type: herald.EventUserCreated, Subject: "user:bob", Payload: []byte(`{}`)}
			storetest.WantCode(t, "targeted user_created", tx.AppendTargetedEvent(ctx, target.ID, &ev), herald.EINVALID)
			ev.Type = herald.EventSCIMRemove
			storetest.WantCode(t, "targeted at no webhook", tx.AppendTargetedEvent(ctx, 999, &ev), herald.ENOTFOUND)
			return nil
		})

		// The event feed leaves it out.
		var feed []herald.Event
		view(t, db, func(tx *store.Tx) (err error) { feed, err = tx.ListEvents(ctx, 0, 100); return err })
		wantEvents(t, "ListEvents", feed, created)
		view(t, db, func(tx *store.Tx) (err error) { feed, err = tx.ListEventsBefore(ctx, 0, 100); return err })
		wantEvents(t, "ListEventsBefore", feed, created)
		var total int
		view(t, db, func(tx *store.Tx) (err error) { feed, total, err = tx.FindEvents(ctx, "scim", 0, 100); return err })
		if total != 0 || len(feed) != 0 {
			t.Errorf("FindEvents(scim) = %d events (total %d), want none", len(feed), total)
		}

		// The resync report.
		var last *herald.SCIMResync
		view(t, db, func(tx *store.Tx) (err error) { last, err = tx.SCIMResync(ctx, target.ID); return err })
		if last != nil {
			t.Errorf("resync report before the first: %+v, want nil", last)
		}
		report := herald.SCIMResync{At: t0.Add(time.Minute), Users: herald.SCIMResyncCounts{Created: 2, Unchanged: 5}}
		update(t, db, func(tx *store.Tx) error { return tx.SaveSCIMResync(ctx, target.ID, report) })
		update(t, db, func(tx *store.Tx) error {
			storetest.WantCode(t, "resync report of a webhook", tx.SaveSCIMResync(ctx, hook.ID, report), herald.ENOTFOUND)
			return nil
		})
		view(t, db, func(tx *store.Tx) (err error) { last, err = tx.SCIMResync(ctx, target.ID); return err })
		if last == nil || !last.At.Equal(report.At) || last.Users != report.Users {
			t.Errorf("resync report = %+v, want %+v", last, report)
		}
		var all map[int64]herald.SCIMResync
		view(t, db, func(tx *store.Tx) (err error) { all, err = tx.SCIMResyncs(ctx); return err })
		if len(all) != 1 || all[target.ID].Users != report.Users {
			t.Errorf("SCIMResyncs = %+v, want the target's report alone", all)
		}
	})
}
