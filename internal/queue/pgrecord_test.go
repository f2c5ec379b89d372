package queue

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/testdb"
)

// TestPGDisablingRecordTakesWriteLock: a record that disables its
// webhook also writes the audit entry, an event, so it is a directory
// write: it waits while another instance's batch holds the write lock (an
// event's number must follow the commit order), then commits.
func TestPGDisablingRecordTakesWriteLock(t *testing.T) {
	ctx := context.Background()
	dsn := testdb.Postgres(t)
	dbA, qA, _ := pgInstance(t, dsn)
	dbB, _, _ := pgInstance(t, dsn)
	w := createHook(t, dbA)
	appendEvent(t, dbA, userEvent(herald.EventUserCreated, "alice"))
	cs, err := qA.Claim(ctx, Request{Limit: 10, Lease: time.Minute, PerWebhook: 10})
	if err != nil || len(cs) != 1 {
		t.Fatalf("claim: %d deliveries, %v; want 1", len(cs), err)
	}

	// B's batch takes the write lock (with its first statement) and
	// holds it until released.
	held, release, bDone := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	released := sync.OnceFunc(func() { close(release) })
	t.Cleanup(released) // a failure below must not leave B's batch waiting
	go func() {
		bDone <- dbB.Update(ctx, func(tx *store.Tx) error {
			var one int
			if err := tx.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
				return err
			}
			close(held)
			<-release
			return nil
		})
	}()
	select {
	case <-held:
	case err := <-bDone:
		t.Fatalf("B's batch: %v", err)
	}

	recorded := make(chan error, 1)
	go func() {
		recorded <- qA.Record(ctx, []Outcome{{DeliveryID: cs[0].ID, WebhookID: w.ID, State: herald.DeliveryFailed,
			RoundAttempts: 1, DisableReason: "the receiver answered 410 Gone",
			Attempt: herald.Attempt{StartedAt: time.Now(), StatusCode: 410}}})
	}()
	// It waits for the lock: PostgreSQL shows the write lock asked for
	// and not granted, and the record has not returned.
	testdb.LockWaiter(t, dsn, store.WriteLockKey)
	select {
	case err := <-recorded:
		t.Fatalf("the disabling record returned (%v) while another instance's batch held the write lock", err)
	default:
	}
	released()
	if err := <-bDone; err != nil {
		t.Fatalf("B's batch: %v", err)
	}
	select {
	case err := <-recorded:
		if err != nil {
			t.Fatalf("Record: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the disabling record did not finish once the write lock was free")
	}
	var entries []herald.AuditEntry
	if err := dbA.View(ctx, func(tx *store.Tx) (err error) {
		entries, err = tx.ListAudit(ctx, herald.AuditFilter{Limit: 10})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Action != herald.AuditWebhookDisabled || entries[0].Actor.Type != herald.ActorSystem {
		t.Errorf("audit log after the record: %+v; want the system's webhook_disabled", entries)
	}
}
