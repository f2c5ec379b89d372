package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// Test sends are logged as completed deliveries of webhook_test, left out
// of the event feed; a webhook's health reads its log; the delivery log
// filters by status and event with a total; the deliveries of the last
// day are counted.
func TestTestSendsAndHealth(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		useClock(db)
		w := newWebhook(t, db, allUser)
		health := func() herald.WebhookHealth {
			t.Helper()
			var h herald.WebhookHealth
			view(t, db, func(tx *store.Tx) (err error) {
				h, err = tx.WebhookHealth(ctx, w.ID)
				return err
			})
			return h
		}
		if h := health(); h.LastAttemptAt != nil || h.Pending != 0 || h.NextAttemptAt != nil || h.State(true) != herald.HealthNew {
			t.Fatalf("health of a new webhook: %+v", h)
		}
		send := func(status int, at time.Time) {
			t.Helper()
			ev := herald.Event{ID: store.NewEventID(at), Type: herald.EventWebhookTest, Subject: "webhook:1", Actor: herald.Actor{Type: herald.ActorUser, Username: "admin"}, Payload: []byte(`{"n":1}`)}
			a := herald.Attempt{N: 1, StartedAt: at, DurationMS: 5, StatusCode: status}
			if status == 0 {
				a.Error = "connection refused"
			}
			update(t, db, func(tx *store.Tx) error { return tx.RecordTestSend(ctx, w.ID, ev, a) })
		}
		send(500, t0)
		send(204, t0.Add(time.Minute))
		send(500, t0.Add(2*time.Minute))
		send(0, t0.Add(3*time.Minute))
		emit(t, db, herald.EventUserCreated, "a")
		emit(t, db, herald.EventUserCreated, "b")
		emit(t, db, herald.EventUserModified, "a") // queued behind a's user_created

		h := health()
		if h.LastAttemptAt == nil || !h.LastAttemptAt.Equal(t0.Add(3*time.Minute)) || h.LastStatusCode != 0 || h.LastError != "connection refused" ||
			h.ConsecutiveFailures != 2 || h.FailingSince == nil || !h.FailingSince.Equal(t0.Add(2*time.Minute)) ||
			h.Pending != 3 || h.NextAttemptAt == nil || !h.NextAttemptAt.Equal(t0) || h.State(true) != herald.HealthFailing || h.State(false) != herald.HealthDisabled {
			t.Errorf("health: %+v", h)
		}

		view(t, db, func(tx *store.Tx) error {
			for _, tc := range []struct {
				f     store.DeliveryFilter
				n     int
				total int
			}{
				{store.DeliveryFilter{Limit: 100}, 7, 7},
				{store.DeliveryFilter{Event: herald.EventWebhookTest, Limit: 100}, 4, 4},
				{store.DeliveryFilter{Event: herald.EventWebhookTest, Status: herald.DeliveryFailed, Limit: 100}, 3, 3},
				{store.DeliveryFilter{Status: herald.DeliveryPending, Limit: 2}, 2, 3},
				// Free text in the subject or event id, without case;
				// LIKE's wildcards are plain characters.
				{store.DeliveryFilter{Q: " WEBHOOK:1 ", Limit: 100}, 4, 4},
				{store.DeliveryFilter{Q: "webhook:1", Status: herald.DeliveryFailed, Limit: 100}, 3, 3},
				{store.DeliveryFilter{Q: "webhook_1", Limit: 100}, 0, 0},
				{store.DeliveryFilter{Q: "%", Limit: 100}, 0, 0},
				{store.DeliveryFilter{Q: "nobody", Limit: 100}, 0, 0},
			} {
				ds, total, err := tx.FindDeliveries(ctx, w.ID, tc.f)
				if err != nil {
					return err
				}
				if len(ds) != tc.n || total != tc.total {
					t.Errorf("FindDeliveries(%+v) = %d rows, total %d; want %d, %d", tc.f, len(ds), total, tc.n, tc.total)
				}
			}
			ds, _, err := tx.FindDeliveries(ctx, w.ID, store.DeliveryFilter{Event: herald.EventWebhookTest, Limit: 1})
			if err != nil {
				return err
			}
			if d := ds[0]; d.Status != herald.DeliveryFailed || d.Attempts != 1 || d.LastError != "connection refused" || d.CompletedAt == nil {
				t.Errorf("the newest test send: %+v", d)
			}
			if byID, total, err := tx.FindDeliveries(ctx, w.ID, store.DeliveryFilter{Q: strings.ToUpper(ds[0].EventID), Limit: 100}); err != nil || total != 1 || len(byID) != 1 || byID[0].ID != ds[0].ID {
				t.Errorf("search by event id %s: %+v, total %d, %v", ds[0].EventID, byID, total, err)
			}
			attempts, err := tx.Attempts(ctx, ds[0].ID)
			if err != nil || len(attempts) != 1 || attempts[0].Error != "connection refused" {
				t.Errorf("its attempts: %+v, %v", attempts, err)
			}
			evs, total, err := tx.FindEvents(ctx, "", 0, 100)
			if err != nil {
				return err
			}
			if len(evs) != 3 || total != 3 {
				t.Errorf("the event feed has %d (total %d), want the 3 changes without the test sends", len(evs), total)
			}
			if evs, total, err := tx.FindEvents(ctx, "MODIFIED", 0, 100); err != nil || len(evs) != 1 || total != 1 {
				t.Errorf("FindEvents(MODIFIED) = %d, %d, %v", len(evs), total, err)
			}
			c, err := tx.CountDeliveries(ctx, t0.Add(-time.Hour))
			if err != nil || c != (store.DeliveryCounts{Pending: 3, Succeeded: 1, Failed: 3}) {
				t.Errorf("CountDeliveries = %+v, %v", c, err)
			}
			if c, err := tx.CountDeliveries(ctx, t0.Add(90*time.Second)); err != nil || c != (store.DeliveryCounts{Pending: 3, Failed: 2}) {
				t.Errorf("CountDeliveries since the success = %+v, %v", c, err)
			}
			return nil
		})
		update(t, db, func(tx *store.Tx) error {
			err := tx.RecordTestSend(ctx, 99999, herald.Event{ID: store.NewEventID(t0)}, herald.Attempt{StartedAt: t0})
			wantCode(t, "RecordTestSend to no webhook", err, herald.ENOTFOUND)
			return nil
		})
	})
}
