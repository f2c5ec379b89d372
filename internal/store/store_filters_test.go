package store_test

import (
	"slices"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// Fan-out applies ignore_actors and only_groups in its statement; names
// with "_" or "." match only themselves (no LIKE wildcards), and a name is
// never matched by a part of another.
func TestFanOutFilters(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		hooks := map[string]herald.Webhook{
			"all":           newWebhook(t, db, allUser),
			"only dev_ops":  newWebhook(t, db, allUser, func(w *herald.Webhook) { w.OnlyGroups = []string{"dev_ops"} }),
			"only ops":      newWebhook(t, db, allUser, func(w *herald.Webhook) { w.OnlyGroups = []string{"ops"} }),
			"ignore a_b":    newWebhook(t, db, allUser, func(w *herald.Webhook) { w.IgnoreActors = []string{"user:a_b"} }),
			"ignore tok 1":  newWebhook(t, db, allUser, func(w *herald.Webhook) { w.IgnoreActors = []string{"api_token:1"} }),
			"ignore desk.1": newWebhook(t, db, allUser, func(w *herald.Webhook) { w.IgnoreActors = []string{"station:desk.1"} }),
		}
		user := func(groups string) []byte { return []byte(`{"groups":` + groups + `,"username":"u"}`) }
		for _, tc := range []struct {
			name string
			ev   herald.Event
			want []string
		}{
			{"in devxops, by axb", herald.Event{Actor: herald.Actor{Type: herald.ActorUser, Username: "axb"}, Payload: user(`["devxops"]`)},
				[]string{"all", "ignore a_b", "ignore tok 1", "ignore desk.1"}},
			{"left dev_ops, by a_b", herald.Event{Actor: herald.Actor{Type: herald.ActorUser, Username: "a_b"}, Payload: user(`[]`), Previous: user(`["dev_ops"]`)},
				[]string{"all", "only dev_ops", "ignore tok 1", "ignore desk.1"}},
			{"in ops, by token 11 of a_b", herald.Event{Actor: herald.Actor{Type: herald.ActorAPIToken, Username: "a_b", TokenID: 11}, Payload: user(`["ops","x"]`)},
				[]string{"all", "only ops", "ignore tok 1", "ignore desk.1"}},
			{"in devops, by token 1", herald.Event{Actor: herald.Actor{Type: herald.ActorAPIToken, Username: "z", TokenID: 1}, Payload: user(`["devops"]`)},
				[]string{"all", "ignore a_b", "ignore desk.1"}},
			{"by desk-1", herald.Event{Actor: herald.Actor{Type: herald.ActorStation, Station: "desk-1"}, Payload: user(`[]`)},
				[]string{"all", "ignore a_b", "ignore tok 1", "ignore desk.1"}},
		} {
			before := map[string]int{}
			for name, h := range hooks {
				before[name] = len(deliveries(t, db, h.ID))
			}
			ev := tc.ev
			ev.Type, ev.Subject = herald.EventUserModified, "user:u"
			update(t, db, func(tx *store.Tx) error { return tx.AppendEvent(ctx, &ev) })
			var got []string
			for _, name := range []string{"all", "only dev_ops", "only ops", "ignore a_b", "ignore tok 1", "ignore desk.1"} {
				if len(deliveries(t, db, hooks[name].ID)) > before[name] {
					got = append(got, name)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s: delivered to %v, want %v", tc.name, got, tc.want)
			}
		}
	})
}

// A targeted event (a test send, a SCIM resync's) appended as any other
// is fanned out to no webhook, on PostgreSQL too, where the event and
// its fan-out are one statement.
func TestTargetedEventsAreNotFannedOut(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		hook := newWebhook(t, db, allUser, func(w *herald.Webhook) { w.Events = []string{"audit"} })
		for _, typ := range []string{herald.EventWebhookTest, herald.EventSCIMSync, herald.EventSCIMRemove} {
			ev := herald.Event{Type: typ, Subject: "user:u", Payload: []byte(`{}`)}
			update(t, db, func(tx *store.Tx) error { return tx.AppendEvent(ctx, &ev) })
			if ev.Seq == 0 {
				t.Errorf("%s: no seq", typ)
			}
		}
		ev := herald.Event{Type: herald.EventUserCreated, Subject: "user:u", Payload: []byte(`{"username":"u","groups":[]}`)}
		update(t, db, func(tx *store.Tx) error { return tx.AppendEvent(ctx, &ev) })
		if ds := deliveries(t, db, hook.ID); len(ds) != 1 || ds[0].Event != herald.EventUserCreated {
			t.Errorf("deliveries = %+v, want the user_created one alone", ds)
		}
	})
}
