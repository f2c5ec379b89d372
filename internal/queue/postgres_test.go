package queue

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/testdb"
)

// migratedPostgres opens the PostgreSQL database dsn (testdb.Postgres)
// and migrates it; it is closed when the test ends. (storetest's helpers
// import this package.)
func migratedPostgres(t *testing.T, dsn string) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestVacuumWhileRunning: the PostgreSQL queue vacuums the deliveries
// table once claims have taken vacuumClaimed deliveries, but only while an
// engine runs (between Start and Stop, which waits for it).
func TestVacuumWhileRunning(t *testing.T) {
	ctx := context.Background()
	db := migratedPostgres(t, testdb.Postgres(t))
	q := Open(db, nil)
	pq := q.driver.(*postgresQueue)
	vacuums := func() int {
		t.Helper()
		var n sql.NullInt64
		// Read afresh each time (statistics are cached per transaction).
		if err := db.QueuePool().QueryRowContext(ctx, `SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'deliveries'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return int(n.Int64)
	}
	before := vacuums()

	pq.maybeVacuum(vacuumClaimed, 0)
	if !pq.vacuumedAt.IsZero() {
		t.Fatal("vacuumed with no engine running")
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if _, err := q.Start(runCtx); err != nil {
		t.Fatal(err)
	}
	pq.maybeVacuum(1, 0)
	q.Stop()
	for deadline := time.Now().Add(10 * time.Second); vacuums() == before; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no vacuum of deliveries after %d claimed while running", vacuumClaimed+1)
		}
	}
	pq.vacuumedAt = time.Time{} // as if long ago
	pq.maybeVacuum(vacuumClaimed, vacuumRecorded)
	if pq.vacuuming || !pq.vacuumedAt.IsZero() {
		t.Error("vacuumed after Stop")
	}
}

// TestVacuumPolicy: claimed deliveries call for a vacuum every
// vacuumInterval; outcomes (of deliveries claimed or handed over at their
// commit) only after vacuumRecorded of them, every vacuumIntervalAll.
func TestVacuumPolicy(t *testing.T) {
	ctx := context.Background()
	db := migratedPostgres(t, testdb.Postgres(t))
	for _, c := range []struct {
		name              string
		claimed, recorded int
		ago               time.Duration // since the last vacuum
		want              bool
	}{
		{"claims, a while after the last", vacuumClaimed, vacuumClaimed, vacuumInterval, true},
		{"claims, too soon", vacuumClaimed, vacuumClaimed, vacuumInterval - time.Second, false},
		{"too few claims", vacuumClaimed - 1, vacuumRecorded - 1, time.Hour, false},
		{"outcomes, a minute after the last", 0, vacuumRecorded, vacuumIntervalAll, true},
		{"outcomes, too soon", 0, vacuumRecorded, vacuumIntervalAll - time.Second, false},
		{"too few outcomes", 0, vacuumRecorded - 1, time.Hour, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			pq := Open(db, nil).driver.(*postgresQueue)
			pq.runCtx = ctx // as if an engine ran
			last := time.Now().Add(-c.ago)
			pq.vacuumedAt = last
			pq.maybeVacuum(c.claimed, 0)
			pq.maybeVacuum(0, c.recorded)
			pq.vacuums.Wait()
			if got := pq.vacuumedAt != last; got != c.want {
				t.Errorf("vacuumed: %v, want %v", got, c.want)
			}
		})
	}
}
