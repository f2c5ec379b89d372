package queue

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/testdb"
)

// TestVacuumWhileRunning: the PostgreSQL queue vacuums the deliveries
// table once vacuumEvery outcomes have been recorded, but only while an
// engine runs (between Start and Stop, which waits for it).
func TestVacuumWhileRunning(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, testdb.Postgres(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
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

	pq.maybeVacuum(vacuumEvery)
	if !pq.vacuumedAt.IsZero() {
		t.Fatal("vacuumed with no engine running")
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if _, err := q.Start(runCtx); err != nil {
		t.Fatal(err)
	}
	pq.maybeVacuum(1)
	q.Stop()
	for deadline := time.Now().Add(10 * time.Second); vacuums() == before; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no vacuum of deliveries after %d outcomes while running", vacuumEvery+1)
		}
	}
	pq.vacuumedAt = time.Time{} // as if long ago
	pq.maybeVacuum(vacuumEvery)
	if pq.vacuuming || !pq.vacuumedAt.IsZero() {
		t.Error("vacuumed after Stop")
	}
}
