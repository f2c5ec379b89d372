package queue

import (
	"context"
	"database/sql"
	"strings"
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

// TestPGRecordPlanKept: a record's statement is planned once per
// connection and the plan kept, and that plan looks each delivery up by
// its key even when it is made on an empty table: kept from the first
// record of a fresh database, a plan that read the whole table would cost
// more with every delivery added. The queue's other connections, which
// plan each statement anew for its values, plan a large record on the
// empty table as a scan of it (right then, as the next would not be).
func TestPGRecordPlanKept(t *testing.T) {
	ctx := context.Background()
	dsn := testdb.Postgres(t)
	db, q, _ := pgInstance(t, dsn)
	// A record of 500 outcomes, as under load.
	const n = 500
	ids, states, rounds, statuses, errs := make([]int64, n), make([]string, n), make([]int32, n), make([]int32, n), make([]string, n)
	for i := range n {
		ids[i], states[i], rounds[i], statuses[i] = int64(i+1), herald.DeliverySucceeded, 1, 200
	}
	explain := func(update func(context.Context, func(*store.Tx) error) error) string {
		t.Helper()
		var plan []string
		err := update(ctx, func(tx *store.Tx) error {
			rows, err := tx.Query(ctx, "EXPLAIN "+recordQuery, ids, states, rounds, ids, statuses, errs, ids, ids, ids, errs)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					return err
				}
				plan = append(plan, line)
			}
			return rows.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(plan, "\n")
	}
	if plan := explain(db.UpdateQueueEach); !strings.Contains(plan, "Seq Scan on deliveries") {
		// PostgreSQL 15 plans the scan: a version that does not would
		// not show the keyed pool's settings at work here.
		t.Logf("planned anew on the empty table, the record reads it by key; the check below shows less\n%s", plan)
	}
	if plan := explain(db.UpdateQueueByKey); !strings.Contains(plan, "Index Scan using deliveries_pkey") || strings.Contains(plan, "Seq Scan on deliveries") {
		t.Fatalf("the record's plan on an empty table, where plans are kept, is not the lookup by key:\n%s", plan)
	}

	w := createHook(t, db)
	appendEvent(t, db, userEvent(herald.EventUserCreated, "alice"))
	appendEvent(t, db, userEvent(herald.EventUserCreated, "bob"))
	cs, err := q.Claim(ctx, Request{Limit: 10, Lease: time.Minute, PerWebhook: 10})
	if err != nil || len(cs) != 2 {
		t.Fatalf("claim: %d deliveries, %v; want 2", len(cs), err)
	}
	for _, c := range cs {
		if err := q.Record(ctx, []Outcome{{DeliveryID: c.ID, WebhookID: w.ID, State: herald.DeliverySucceeded, RoundAttempts: 1,
			Attempt: herald.Attempt{StartedAt: time.Now(), StatusCode: 200}}}); err != nil {
			t.Fatal(err)
		}
	}
	var generic, custom int64
	err = db.UpdateQueueByKey(ctx, func(tx *store.Tx) error {
		return tx.QueryRow(ctx, `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1`,
			recordQuery).Scan(&generic, &custom)
	})
	if err != nil {
		t.Fatalf("the record's prepared statement: %v", err)
	}
	if generic != 2 || custom != 0 {
		t.Errorf("two records ran the kept plan %d times and planned %d times; want 2 and 0", generic, custom)
	}
}

// TestPGHandoffClaimTakesNoConnection: a claim that only takes what this
// instance's commits handed it runs no statement, so it takes none of the
// queue's connections: it is not held up while they are all busy (with
// records and claims of other webhooks, or a database slow to answer).
func TestPGHandoffClaimTakesNoConnection(t *testing.T) {
	ctx := context.Background()
	dsn := testdb.Postgres(t)
	db, q, _ := pgInstance(t, dsn)
	createHook(t, db)
	if cs, err := q.Claim(ctx, Request{Limit: 10, Lease: time.Minute, PerWebhook: 10}); err != nil || len(cs) != 0 {
		t.Fatalf("claim of an empty queue: %d deliveries, %v", len(cs), err)
	}
	appendEvent(t, db, userEvent(herald.EventUserCreated, "alice")) // handed to this instance at its commit

	pool := db.QueuePool()
	var held []*sql.Conn
	for range pool.Stats().MaxOpenConnections {
		c, err := pool.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	release := sync.OnceFunc(func() {
		for _, c := range held {
			c.Close()
		}
	})
	t.Cleanup(release) // a claim that waits for a connection ends once they are back
	claimed := make(chan []Claimed, 1)
	go func() {
		cs, err := q.Claim(ctx, Request{Limit: 10, Lease: time.Minute, PerWebhook: 10})
		if err != nil {
			t.Error(err)
		}
		claimed <- cs
	}()
	select {
	case cs := <-claimed:
		if len(cs) != 1 || cs[0].Subject != "alice" {
			t.Errorf("claimed %+v, want alice's delivery, handed off", cs)
		}
	case <-time.After(5 * time.Second):
		release()
		t.Fatalf("the claim of a handoff waited for one of the queue's connections (%d held)", len(held))
	}
}
