package queue_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/queue"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/storetest"
)

// TestRecordRacesWebhookDelete: on PostgreSQL the queue's rows keep no
// foreign keys (migration 0017); a webhook's delete and an outcome of one
// of its deliveries still leave no attempt behind, whichever of the two
// holds the delivery's row first. A second connection holds its
// transaction open to make each order happen.
func TestRecordRacesWebhookDelete(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T) (db *store.DB, q *queue.Queue, raw *pgx.Conn, gone herald.Webhook, d int64, c queue.Claimed) {
		dsn := storetest.DSN(t, "postgres")
		db = openMigrated(t, dsn)
		q = queueOf(t, db)
		useClock(db)
		gone = newWebhook(t, db, allUser)
		e := emit(t, db, herald.EventUserCreated, "alice")
		d = deliveryID(t, db, gone.ID, e)
		c = findClaimed(t, claim(t, q, claimAll), d)
		raw, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close(ctx) })
		return db, q, raw, gone, d, c
	}
	left := func(t *testing.T, raw *pgx.Conn, gone, d int64) {
		t.Helper()
		var deliveries, attempts int
		if err := raw.QueryRow(ctx, `SELECT (SELECT count(*) FROM deliveries WHERE webhook_id = $1),
			(SELECT count(*) FROM attempts WHERE delivery_id = $2)`, gone, d).Scan(&deliveries, &attempts); err != nil {
			t.Fatal(err)
		}
		if deliveries != 0 || attempts != 0 {
			t.Errorf("after the webhook's delete: %d deliveries and %d attempts of it left, want none", deliveries, attempts)
		}
	}

	t.Run("delete first", func(t *testing.T) {
		t.Parallel()
		_, q, raw, gone, d, c := setup(t)
		tx, err := raw.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM webhooks WHERE id = $1`, gone.ID); err != nil {
			t.Fatal(err)
		}
		recorded := make(chan error, 1)
		go func() {
			recorded <- q.Record(ctx, []queue.Outcome{outcome(c, herald.DeliverySucceeded, 200, t0)})
		}()
		time.Sleep(200 * time.Millisecond) // the record waits for the delivery's row
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-recorded; err != nil {
			t.Fatalf("Record of a deleted delivery: %v", err)
		}
		left(t, raw, gone.ID, d)
	})

	t.Run("record first", func(t *testing.T) {
		t.Parallel()
		db, _, raw, gone, d, _ := setup(t)
		// What the record statement does, held open: the delivery
		// updated (and locked), its attempt inserted.
		tx, err := raw.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `UPDATE deliveries SET attempts = attempts + 1, lease_until = 0 WHERE id = $1`, d); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO attempts (delivery_id, n, started_at, duration_ms, status_code, response_body, error)
			VALUES ($1, 1, 0, 1, 200, '', '')`, d); err != nil {
			t.Fatal(err)
		}
		deleted := make(chan error, 1)
		go func() {
			deleted <- db.Update(ctx, func(tx *store.Tx) error {
				_, err := tx.DeleteWebhook(ctx, gone.ID)
				return err
			})
		}()
		time.Sleep(200 * time.Millisecond) // the delete waits for the delivery's row
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-deleted; err != nil {
			t.Fatalf("DeleteWebhook: %v", err)
		}
		left(t, raw, gone.ID, d)
	})
}
