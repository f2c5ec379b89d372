package store_test

import (
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

func TestEvents(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		c := useClock(db)
		e1 := emit(t, db, herald.EventUserCreated, "alice")
		c.Advance(time.Second)
		// Several events in one transaction.
		e2 := herald.Event{Type: herald.EventUserModified, Subject: "alice", Actor: herald.Actor{Type: herald.ActorAPIToken, Username: "bob", TokenID: 3}, Payload: []byte(`{"username":"alice","n":2}`)}
		e3 := herald.Event{Type: herald.EventGroupCreated, Subject: "devs", Actor: herald.Actor{Type: herald.ActorStation, Station: "desk-1"}, Payload: []byte(`{"name":"devs"}`)}
		update(t, db, func(tx *store.Tx) error {
			if err := tx.AppendEvent(ctx, &e2); err != nil {
				return err
			}
			return tx.AppendEvent(ctx, &e3)
		})
		c.Advance(time.Second)
		e4 := emit(t, db, herald.EventUserDeleted, "alice")
		all := []herald.Event{e1, e2, e3, e4}

		ids := map[string]bool{}
		for i, e := range all {
			if !strings.HasPrefix(e.ID, "evt_") || len(e.ID) < 12 || ids[e.ID] {
				t.Errorf("event %d: ID %q, want a unique evt_ id", i, e.ID)
			}
			ids[e.ID] = true
			if i > 0 && e.Seq <= all[i-1].Seq {
				t.Errorf("event %d: Seq %d not above the previous %d", i, e.Seq, all[i-1].Seq)
			}
		}
		if !e1.OccurredAt.Equal(t0) || !e2.OccurredAt.Equal(t0.Add(time.Second)) || !e3.OccurredAt.Equal(e2.OccurredAt) {
			t.Errorf("OccurredAt %v %v %v, want the transaction's Now", e1.OccurredAt, e2.OccurredAt, e3.OccurredAt)
		}

		list := func(after int64, limit int) []herald.Event {
			t.Helper()
			var evs []herald.Event
			view(t, db, func(tx *store.Tx) (err error) {
				evs, err = tx.ListEvents(ctx, after, limit)
				return err
			})
			return evs
		}
		before := func(seq int64, limit int) []herald.Event {
			t.Helper()
			var evs []herald.Event
			view(t, db, func(tx *store.Tx) (err error) {
				evs, err = tx.ListEventsBefore(ctx, seq, limit)
				return err
			})
			return evs
		}
		wantEvents(t, "ListEvents(0, 100)", list(0, 100), all...)
		wantEvents(t, "ListEvents(e1, 2)", list(e1.Seq, 2), e2, e3)
		wantEvents(t, "ListEvents(e3, 100)", list(e3.Seq, 100), e4)
		if evs := list(e4.Seq, 100); evs == nil || len(evs) != 0 {
			t.Errorf("ListEvents past the end = %#v, want []", evs)
		}
		wantEvents(t, "ListEventsBefore(0, 100)", before(0, 100), e4, e3, e2, e1)
		wantEvents(t, "ListEventsBefore(0, 1)", before(0, 1), e4)
		wantEvents(t, "ListEventsBefore(e3, 100)", before(e3.Seq, 100), e2, e1)
		if evs := before(e1.Seq, 100); len(evs) != 0 {
			t.Errorf("ListEventsBefore(first) = %v, want none", evs)
		}
	})
}

func wantEvents(t *testing.T, what string, got []herald.Event, want ...herald.Event) {
	t.Helper()
	eq := func(a, b herald.Event) bool {
		return a.Seq == b.Seq && a.ID == b.ID && a.Type == b.Type && a.Subject == b.Subject && a.Actor == b.Actor &&
			a.OccurredAt.Equal(b.OccurredAt) && string(a.Payload) == string(b.Payload)
	}
	if !slices.EqualFunc(got, want, eq) {
		t.Errorf("%s:\n got %v\nwant %v", what, seqs(got), seqs(want))
		for i := range min(len(got), len(want)) {
			if !eq(got[i], want[i]) {
				t.Errorf("  [%d] got %+v\n      want %+v", i, got[i], want[i])
			}
		}
	}
}

func seqs(evs []herald.Event) []int64 {
	var s []int64
	for _, e := range evs {
		s = append(s, e.Seq)
	}
	return s
}

// TestFanOut: AppendEvent queues one pending delivery per enabled webhook
// whose trigger matches, in the event's transaction (docs/receivers.md,
// "Events": an event goes to every webhook enabled when the change
// happened whose triggers include it).
func TestFanOut(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		useClock(db)
		hooks := map[string]herald.Webhook{
			"all":          newWebhook(t, db, allUser, func(w *herald.Webhook) { w.Events = herald.Subscriptions() }),
			"created":      newWebhook(t, db, func(w *herald.Webhook) { w.OnUserCreated = true }),
			"modified":     newWebhook(t, db, func(w *herald.Webhook) { w.OnUserModified = true }),
			"deleted":      newWebhook(t, db, func(w *herald.Webhook) { w.OnUserDeleted = true }),
			"keys":         newWebhook(t, db, func(w *herald.Webhook) { w.OnHWKeyProvision = true }),
			"groupCreated": newWebhook(t, db, func(w *herald.Webhook) { w.Events = []string{herald.EventGroupCreated} }),
			"groupModDel": newWebhook(t, db, func(w *herald.Webhook) {
				w.Events = []string{herald.EventGroupDeleted, herald.EventGroupModified}
			}),
			"disabled": newWebhook(t, db, allUser, func(w *herald.Webhook) {
				w.Enabled = false
				w.Events = herald.Subscriptions()
			}),
			"nothing": newWebhook(t, db),
		}
		types := []string{herald.EventUserCreated, herald.EventUserModified, herald.EventUserDeleted, herald.EventUserKeys,
			herald.EventGroupCreated, herald.EventGroupModified, herald.EventGroupDeleted, herald.EventWebhookTest}
		events := map[string]herald.Event{}
		for _, typ := range types {
			events[typ] = emit(t, db, typ, "subject-"+typ)
		}
		want := map[string][]string{
			"all":          types[:7],
			"created":      {herald.EventUserCreated},
			"modified":     {herald.EventUserModified},
			"deleted":      {herald.EventUserDeleted},
			"keys":         {herald.EventUserKeys},
			"groupCreated": {herald.EventGroupCreated},
			"groupModDel":  {herald.EventGroupModified, herald.EventGroupDeleted},
			"disabled":     nil,
			"nothing":      nil,
		}
		for name, w := range hooks {
			var got []string
			for _, d := range deliveries(t, db, w.ID) {
				got = append(got, d.Event)
				ev := events[d.Event]
				if d.EventID != ev.ID || d.Subject != ev.Subject || d.Status != herald.DeliveryPending || d.Attempts != 0 ||
					d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(t0) || !d.CreatedAt.Equal(t0) || d.CompletedAt != nil {
					t.Errorf("webhook %s: delivery %+v", name, d)
				}
			}
			sort.Strings(got)
			w := slices.Clone(want[name])
			sort.Strings(w)
			if !slices.Equal(got, w) {
				t.Errorf("webhook %q got deliveries of %v, want %v", name, got, w)
			}
		}

		// Enabled at the time is what counts: disabling later keeps what was
		// queued (and it is still sent); enabling later does not backfill.
		dis := hooks["disabled"]
		dis.Enabled = true
		cr := hooks["created"]
		cr.Enabled = false
		update(t, db, func(tx *store.Tx) error {
			if err := tx.UpdateWebhook(ctx, &dis); err != nil {
				return err
			}
			return tx.UpdateWebhook(ctx, &cr)
		})
		if ds := deliveries(t, db, dis.ID); len(ds) != 0 {
			t.Errorf("enabling a webhook backfilled %d deliveries", len(ds))
		}
		got := claim(t, db, claimAll)
		var createdClaimed bool
		for _, c := range got {
			if c.WebhookID == cr.ID {
				createdClaimed = true
			}
		}
		if !createdClaimed {
			t.Errorf("a webhook disabled after the event no longer gets its queued delivery claimed")
		}
		emit(t, db, herald.EventUserCreated, "later")
		if ds := deliveries(t, db, cr.ID); len(ds) != 1 {
			t.Errorf("disabled webhook has %d deliveries after a new event, want still 1", len(ds))
		}
		if ds := deliveries(t, db, dis.ID); len(ds) != 1 {
			t.Errorf("re-enabled webhook has %d deliveries after a new event, want 1", len(ds))
		}
	})
}

// TestWakeups: a commit that queued deliveries signals Wakeups; one that
// queued nothing does not (checked on SQLite, where no listener also
// signals).
func TestWakeups(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		newWebhook(t, db, func(w *herald.Webhook) { w.OnUserCreated = true })
		if db.Kind() == store.PostgreSQL {
			time.Sleep(100 * time.Millisecond) // the listener's signal on connecting
		}
		drain(db)
		if db.Kind() == store.SQLite {
			emit(t, db, herald.EventUserDeleted, "alice") // no webhook wants it
			createUser(t, db, "bob")
			select {
			case <-db.Wakeups():
				t.Errorf("Wakeups signalled after commits that queued nothing")
			default:
			}
		}
		emit(t, db, herald.EventUserCreated, "alice")
		wantWakeup(t, "after an event with a matching webhook", db)
		// Signals coalesce: two commits, at least one signal, and the channel
		// never blocks a writer.
		emit(t, db, herald.EventUserCreated, "carol")
		emit(t, db, herald.EventUserCreated, "dave")
		wantWakeup(t, "after two more events", db)
	})
}

func TestWebhooks(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		c := useClock(db)
		until := t0.Add(24 * time.Hour)
		w1 := newWebhook(t, db, func(w *herald.Webhook) {
			w.URL, w.Description, w.Token, w.Method = "https://a.example/x?y=1", "first", "sealed-token", "GET"
			w.OnUserCreated, w.OnHWKeyProvision = true, true
			w.Events = []string{herald.EventGroupCreated, herald.EventGroupDeleted}
			w.Format, w.IgnoreActors, w.OnlyGroups = herald.FormatEnvelope, []string{"api_token:3", "user:a_b"}, []string{"dev_ops", "ops"}
			w.PreviousSecret, w.PreviousSecretUntil = "sealed-old", until
		})
		c.Advance(time.Second)
		w2 := newWebhook(t, db, func(w *herald.Webhook) { w.Enabled = false; w.DisabledReason = "410 Gone" })
		if w1.ID == 0 || w2.ID <= w1.ID || !w1.CreatedAt.Equal(t0) || !w2.CreatedAt.Equal(t0.Add(time.Second)) {
			t.Errorf("CreateWebhook set IDs %d %d, CreatedAt %v %v", w1.ID, w2.ID, w1.CreatedAt, w2.CreatedAt)
		}
		get := func(id int64) herald.Webhook {
			t.Helper()
			var w herald.Webhook
			view(t, db, func(tx *store.Tx) (err error) {
				w, err = tx.WebhookByID(ctx, id)
				return err
			})
			return w
		}
		wantWebhook(t, get(w1.ID), w1)
		wantWebhook(t, get(w2.ID), w2)

		view(t, db, func(tx *store.Tx) error {
			_, err := tx.WebhookByID(ctx, 99999)
			wantCode(t, "WebhookByID(missing)", err, herald.ENOTFOUND)
			list, err := tx.ListWebhooks(ctx)
			if err != nil || len(list) != 2 || list[0].ID != w1.ID || list[1].ID != w2.ID {
				t.Errorf("ListWebhooks = %+v, %v; want [w1 w2]", list, err)
			}
			return nil
		})

		// Update every field; clearing the rotation and the events.
		w1.URL, w1.Description, w1.Token, w1.Method = "http://b.example/", "second", "", "POST"
		w1.OnUserCreated, w1.OnUserModified, w1.OnUserDeleted, w1.OnHWKeyProvision = false, true, true, false
		w1.Events, w1.SigningSecret, w1.PreviousSecret, w1.PreviousSecretUntil = []string{}, "sealed-new", "", time.Time{}
		w1.Format, w1.IgnoreActors, w1.OnlyGroups = herald.FormatDefguard, []string{}, []string{"x"}
		w1.Enabled = false
		update(t, db, func(tx *store.Tx) error { return tx.UpdateWebhook(ctx, &w1) })
		wantWebhook(t, get(w1.ID), w1)
		ghost := w1
		ghost.ID = 99999
		err := db.Update(ctx, func(tx *store.Tx) error { return tx.UpdateWebhook(ctx, &ghost) })
		wantCode(t, "UpdateWebhook(missing)", err, herald.ENOTFOUND)

		w1.Enabled, w1.DisabledReason = true, ""
		update(t, db, func(tx *store.Tx) error { return tx.UpdateWebhook(ctx, &w1) })
		update(t, db, func(tx *store.Tx) error { return tx.DisableWebhook(ctx, w1.ID, "receiver said 410 Gone") })
		w1.Enabled, w1.DisabledReason = false, "receiver said 410 Gone"
		wantWebhook(t, get(w1.ID), w1)
	})
}

// TestListDeliveries: newest first, with status, before and limit.
func TestListDeliveries(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		useClock(db)
		w := newWebhook(t, db, allUser)
		other := newWebhook(t, db, allUser)
		var evs []herald.Event
		for _, s := range []string{"a", "b", "c", "d"} {
			evs = append(evs, emit(t, db, herald.EventUserCreated, s))
		}
		ids := make([]int64, len(evs))
		for i, e := range evs {
			ids[i] = deliveryID(t, db, w.ID, e)
		}
		cs := claim(t, db, claimAll)
		for _, c := range cs {
			if c.ID == ids[1] {
				record(t, db, outcome(c, herald.DeliverySucceeded, 200, t0))
			}
		}
		list := func(status string, before int64, limit int) []int64 {
			t.Helper()
			var got []int64
			view(t, db, func(tx *store.Tx) error {
				ds, err := tx.ListDeliveries(ctx, w.ID, status, before, limit)
				for _, d := range ds {
					got = append(got, d.ID)
				}
				return err
			})
			return got
		}
		if got, want := list("", 0, 100), []int64{ids[3], ids[2], ids[1], ids[0]}; !slices.Equal(got, want) {
			t.Errorf("all: %v, want %v", got, want)
		}
		if got, want := list("", 0, 2), []int64{ids[3], ids[2]}; !slices.Equal(got, want) {
			t.Errorf("limit 2: %v, want %v", got, want)
		}
		if got, want := list("", ids[2], 100), []int64{ids[1], ids[0]}; !slices.Equal(got, want) {
			t.Errorf("before: %v, want %v", got, want)
		}
		if got, want := list(herald.DeliverySucceeded, 0, 100), []int64{ids[1]}; !slices.Equal(got, want) {
			t.Errorf("succeeded: %v, want %v", got, want)
		}
		if got, want := list(herald.DeliveryPending, ids[3], 100), []int64{ids[2], ids[0]}; !slices.Equal(got, want) {
			t.Errorf("pending before d: %v, want %v", got, want)
		}
		view(t, db, func(tx *store.Tx) error {
			d, ev, err := tx.DeliveryByID(ctx, w.ID, ids[0])
			if err != nil || d.ID != ids[0] || d.EventID != evs[0].ID || d.Event != herald.EventUserCreated || string(ev.Payload) != string(evs[0].Payload) {
				t.Errorf("DeliveryByID = %+v, %s, %v", d, ev.Payload, err)
			}
			_, _, err = tx.DeliveryByID(ctx, other.ID, ids[0])
			wantCode(t, "DeliveryByID through another webhook", err, herald.ENOTFOUND)
			_, _, err = tx.DeliveryByID(ctx, w.ID, 99999)
			wantCode(t, "DeliveryByID(missing)", err, herald.ENOTFOUND)
			ds, err := tx.ListDeliveries(ctx, 99999, "", 0, 10)
			if err != nil || ds == nil || len(ds) != 0 {
				t.Errorf("ListDeliveries(no webhook) = %#v, %v; want []", ds, err)
			}
			return nil
		})
	})
}

// The events page's search finds an event by its actor as the page shows
// it (api_token:1, user:admin), not by the JSON it is stored as.
func TestFindEventsByActor(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		for _, a := range []herald.Actor{
			{Type: herald.ActorAPIToken, TokenID: 1, Username: "admin"},
			{Type: herald.ActorUser, Username: "jdoe"},
			{Type: herald.ActorStation, Station: "Desk-1"},
			{},
		} {
			ev := herald.Event{Type: herald.EventUserModified, Subject: "ann", Actor: a, Payload: []byte(`{}`)}
			update(t, db, func(tx *store.Tx) error { return tx.AppendEvent(ctx, &ev) })
		}
		for q, want := range map[string]herald.Actor{
			"api_token:1":    {Type: herald.ActorAPIToken, TokenID: 1, Username: "admin"},
			"user:admin":     {Type: herald.ActorAPIToken, TokenID: 1, Username: "admin"},
			"USER:JDOE":      {Type: herald.ActorUser, Username: "jdoe"},
			"station:desk-1": {Type: herald.ActorStation, Station: "Desk-1"},
			"system":         {Type: herald.ActorSystem},
			"token_id":       {}, // the stored JSON's keys are not searched
		} {
			view(t, db, func(tx *store.Tx) error {
				evs, total, err := tx.FindEvents(ctx, q, 0, 100)
				switch {
				case err != nil:
					t.Errorf("FindEvents(%q): %v", q, err)
				case want == (herald.Actor{}) && total != 0:
					t.Errorf("FindEvents(%q) found %d, want none", q, total)
				case want != (herald.Actor{}) && (total != 1 || len(evs) != 1 || evs[0].Actor != want):
					t.Errorf("FindEvents(%q) = %+v (total %d), want the event of %+v", q, evs, total, want)
				}
				return nil
			})
		}
	})
}
