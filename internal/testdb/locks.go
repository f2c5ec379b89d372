package testdb

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// LockWaiter waits, up to 10 s, until a session of the database dsn names
// waits for the advisory lock key (the single-key form, as
// pg_advisory_xact_lock(key) takes it), and returns that session's
// backend pid; after 10 s it fails the test. It polls on a connection of
// its own.
func LockWaiter(t testing.TB, dsn string, key int64) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		var pid int
		// A single bigint key is classid (high half), objid (low half)
		// and objsubid 1 in pg_locks.
		if err := conn.QueryRow(ctx, `SELECT coalesce(max(pid), 0) FROM pg_locks
			WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND objsubid = 1 AND NOT granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
			uint32(key>>32), uint32(key)).Scan(&pid); err != nil {
			t.Fatal(err)
		}
		if pid != 0 {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no session waited for the advisory lock %d in 10 s", key)
		}
	}
}
