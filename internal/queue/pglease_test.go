package queue

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/testdb"
)

// TestPGLeaseAtInsertExcept: on PostgreSQL a fan-out leases a new
// delivery to this process only for a webhook the engine takes: a paused
// webhook's waits in the database, unleased, for any instance's claim;
// with no webhook excepted, every new head of its queue is leased.
func TestPGLeaseAtInsertExcept(t *testing.T) {
	ctx := context.Background()
	db, q, _ := pgInstance(t, testdb.Postgres(t))
	w1, w2 := createHook(t, db), createHook(t, db)
	leased := func(ev *herald.Event) map[int64]bool {
		t.Helper()
		rows, err := db.QueuePool().QueryContext(ctx, `SELECT d.webhook_id, d.lease_until > 0 FROM deliveries d
			JOIN events e ON e.seq = d.event_seq WHERE e.id = $1`, ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[int64]bool{}
		for rows.Next() {
			var id int64
			var l bool
			if err := rows.Scan(&id, &l); err != nil {
				t.Fatal(err)
			}
			out[id] = l
		}
		return out
	}

	all := userEvent(herald.EventUserCreated, "carol")
	appendEvent(t, db, all)
	if got := leased(all); len(got) != 2 || !got[w1.ID] || !got[w2.ID] {
		t.Fatalf("leased at insert with nothing excepted: %v, want both webhooks", got)
	}
	// The engine's claim tells the handoff which webhooks are paused.
	if _, err := q.Claim(ctx, Request{Limit: 100, Lease: time.Minute, PerWebhook: 100, Paused: map[int64]bool{w2.ID: true}}); err != nil {
		t.Fatal(err)
	}
	some := userEvent(herald.EventUserCreated, "dave")
	appendEvent(t, db, some)
	if got := leased(some); len(got) != 2 || !got[w1.ID] || got[w2.ID] {
		t.Errorf("leased at insert with webhook %d paused: %v, want only webhook %d", w2.ID, got, w1.ID)
	}
	// Its pause over, the next claim says so, and it is leased again.
	if _, err := q.Claim(ctx, Request{Limit: 100, Lease: time.Minute, PerWebhook: 100, InFlight: map[int64]int{}}); err != nil {
		t.Fatal(err)
	}
	again := userEvent(herald.EventUserCreated, "erin")
	appendEvent(t, db, again)
	if got := leased(again); len(got) != 2 || !got[w1.ID] || !got[w2.ID] {
		t.Errorf("leased at insert after the pause: %v, want both webhooks", got)
	}
}
