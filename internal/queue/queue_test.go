package queue_test

// One conformance suite for the delivery queue, run on both drivers:
// every test gets a fresh, migrated SQLite file and a fresh PostgreSQL
// database (testdb.Postgres; skipped without a server, a failure under
// CI=true), and runs once more on SQLite with the queue started, as when
// this process's engine runs (handoffs on): nothing a test sees may
// change. The helpers are shared with the store's suite
// (internal/storetest).
//
// Files: queue_test.go (helpers), claim_test.go (claims, caps, leases,
// the lock), record_test.go (outcomes, the next due time, pruning,
// figures), requeue_test.go (redeliveries, replays, deleted webhooks).
// The drivers' own workings have internal tests: plan_test.go,
// handoff_test.go, sqlite_test.go.

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/queue"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/storetest"
)

var ctx = context.Background()

// The helpers shared with the store's suite.
var (
	eachBackendDSN = storetest.EachDSN
	open           = storetest.Open
	openMigrated   = storetest.OpenMigrated
	queueOf        = storetest.Queue
	t0             = storetest.T0
	useClock       = storetest.UseClock
	update         = storetest.Update
	view           = storetest.View
	wantCode       = storetest.WantCode
	allUser        = storetest.AllUser
	newWebhook     = storetest.NewWebhook
	emit           = storetest.Emit
	deliveries     = storetest.Deliveries
	deliveryID     = storetest.DeliveryID
	delivery       = storetest.Delivery
	wantWebhook    = storetest.WantWebhook
	drain          = storetest.Drain
	wantWakeup     = storetest.WantWakeup
	claimAll       = storetest.ClaimAll
	claim          = storetest.Claim
	wantClaimed    = storetest.WantClaimed
	findClaimed    = storetest.FindClaimed
	outcome        = storetest.Outcome
	record         = storetest.Record
)

// eachBackend runs test once per driver with a fresh, migrated database
// and its queue, and once more on each with the queue started, as when
// this process's engine runs (handoffs on).
func eachBackend(t *testing.T, test func(t *testing.T, db *store.DB, q *queue.Queue)) {
	t.Helper()
	eachBackendDSN(t, func(t *testing.T, dsn string) {
		db := openMigrated(t, dsn)
		test(t, db, queueOf(t, db))
	})
	started := func(t *testing.T, dsn string) {
		db := openMigrated(t, dsn)
		q := queueOf(t, db)
		runCtx, stop := context.WithCancel(ctx)
		if _, err := q.Start(runCtx); err != nil {
			t.Fatalf("start the queue: %v", err)
		}
		t.Cleanup(func() { stop(); q.Stop() })
		// PostgreSQL's handoffs begin with the engine's first claim
		// (it tells the lease).
		if _, err := q.Claim(ctx, queue.Request{Lease: time.Minute}); err != nil {
			t.Fatalf("first claim: %v", err)
		}
		test(t, db, q)
	}
	t.Run("sqlite-handoff", func(t *testing.T) {
		t.Parallel()
		started(t, filepath.Join(t.TempDir(), "herald.db"))
	})
	t.Run("postgres-handoff", func(t *testing.T) {
		t.Parallel()
		started(t, storetest.DSN(t, "postgres"))
	})
}
