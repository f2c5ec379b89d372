package store_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/storetest"
)

// takeAll is a store.HandoffTaker that takes every webhook's deliveries
// and keeps what it is handed.
type takeAll struct {
	mu     sync.Mutex
	handed []store.Handed
}

func (t *takeAll) Lease(now time.Time) (store.LeaseAtInsert, bool) {
	until := now.Add(time.Minute)
	return store.LeaseAtInsert{Until: until, Column: func(_, _ string, next int) (string, []any) {
		return fmt.Sprintf("CAST($%d AS BIGINT)", next), []any{until.UnixMicro()}
	}}, true
}

func (t *takeAll) Take(ds []store.Handed, _ []int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.handed = append(t.handed, ds...)
}

// TestHandoffOfABatch: on PostgreSQL, the deliveries a batch's fan-outs
// lease at insert go to the handoff taker once the batch commits, those
// of its committed changes only: a change rolled back to its savepoint
// after its fan-out was sent hands nothing over, and its delivery does
// not exist.
func TestHandoffOfABatch(t *testing.T) {
	t.Parallel()
	db := openMigrated(t, storetest.DSN(t, "postgres"))
	hook := newWebhook(t, db, allUser)
	taker := &takeAll{}
	db.SetHandoffTaker(taker)
	event := func(subject string) *herald.Event {
		return &herald.Event{Type: herald.EventUserCreated, Subject: subject, Payload: []byte(`{"username":"` + subject + `"}`)}
	}
	kept, dropped := event("kept"), event("dropped")
	errs := inOneBatch(db,
		func(tx *store.Tx) error { return tx.AppendEvent(ctx, kept) },
		func(tx *store.Tx) error {
			if err := tx.AppendEvent(ctx, dropped); err != nil {
				return err
			}
			if _, err := tx.ListWebhooks(ctx); err != nil { // the event's statement goes first
				return err
			}
			return errors.New("changed its mind")
		})
	if errs[0] != nil || errs[1] == nil {
		t.Fatalf("changes: %v", errs)
	}
	if len(taker.handed) != 1 || taker.handed[0].WebhookID != hook.ID || taker.handed[0].Event.ID != kept.ID ||
		taker.handed[0].Event.Seq != kept.Seq || taker.handed[0].Event.Subject != "kept" {
		t.Fatalf("handed %+v, want the kept change's delivery alone", taker.handed)
	}
	var leased, rows int
	if err := db.QueuePool().QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE lease_until > 0), count(*) FROM deliveries`).Scan(&leased, &rows); err != nil {
		t.Fatal(err)
	}
	if leased != 1 || rows != 1 {
		t.Errorf("%d deliveries, %d leased; want the kept one, leased", rows, leased)
	}
}
