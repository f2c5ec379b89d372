package queue

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/testdb"
)

// TestPGUnblocked: after outcomes finish deliveries, the webhooks where a
// later unfinished delivery of the same subject waits are marked dirty,
// and no others: not for a subject with nothing after it, nor for a
// delivery that is the last of its subject at its webhook although an
// earlier one of that subject is unfinished.
func TestPGUnblocked(t *testing.T) {
	ctx := context.Background()
	db, q, _ := pgInstance(t, testdb.Postgres(t))
	pq := q.driver.(*postgresQueue)
	w1, w2, w3 := createHook(t, db), createHook(t, db), createHook(t, db)
	for _, ev := range []*herald.Event{
		userEvent(herald.EventUserCreated, "user:alice"),
		userEvent(herald.EventUserCreated, "user:bob"),
		userEvent(herald.EventUserModified, "user:alice"),
	} {
		appendEvent(t, db, ev)
	}
	// The deliveries of each webhook and subject, in order.
	ids := map[int64]map[string][]int64{}
	if err := db.View(ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, webhook_id, subject FROM deliveries ORDER BY id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, w int64
			var subject string
			if err := rows.Scan(&id, &w, &subject); err != nil {
				return err
			}
			if ids[w] == nil {
				ids[w] = map[string][]int64{}
			}
			ids[w][subject] = append(ids[w][subject], id)
		}
		return rows.Err()
	}); err != nil {
		t.Fatal(err)
	}
	for _, w := range []int64{w1.ID, w2.ID, w3.ID} {
		if len(ids[w]["user:alice"]) != 2 || len(ids[w]["user:bob"]) != 1 {
			t.Fatalf("webhook %d's deliveries: %v", w, ids[w])
		}
	}
	dirty := func() map[int64]uint64 {
		pq.handoff.mu.Lock()
		defer pq.handoff.mu.Unlock()
		return maps.Clone(pq.handoff.dirty)
	}
	before := dirty()
	f := finishedOutcomes{
		ids:      []int64{ids[w1.ID]["user:alice"][0], ids[w2.ID]["user:bob"][0], ids[w3.ID]["user:alice"][1]},
		webhooks: []int64{w1.ID, w2.ID, w3.ID},
		subjects: []string{"user:alice", "user:bob", "user:alice"},
	}
	if err := pq.unblocked(ctx, f); err != nil {
		t.Fatal(err)
	}
	var marked []int64
	for w, seq := range dirty() {
		if seq != before[w] {
			marked = append(marked, w)
		}
	}
	if slices.Sort(marked); !slices.Equal(marked, []int64{w1.ID}) {
		t.Errorf("webhooks marked dirty: %v, want only %d (alice's second delivery waits there)", marked, w1.ID)
	}
}
