package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/testdb"
	"github.com/jackc/pgx/v5"
)

// TestWarm: on PostgreSQL, Warm leaves every connection of the pools open,
// each having planned a query of the hot tables, so the first requests
// after a start do not open them; a database that went away is an error.
// On SQLite it opens the read pool's connections.
func TestWarm(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		dsn := testdb.Postgres(t)
		db := openMigrated(t, dsn)
		pools := map[string]*sql.DB{"read": db.ReadPool(), "queue": db.QueuePool(), "keyed": store.KeyedPool(db)}
		want := 0
		for name, p := range pools {
			if n := p.Stats().OpenConnections; n > 1 {
				t.Fatalf("before Warm the %s pool has %d connections open; the test expects them opened on demand", name, n)
			}
			want += p.Stats().MaxOpenConnections
		}
		want += 2 // the writer pool's (openPostgres)
		if err := db.Warm(ctx); err != nil {
			t.Fatal(err)
		}
		for name, p := range pools {
			if s := p.Stats(); s.OpenConnections != s.MaxOpenConnections {
				t.Errorf("after Warm the %s pool has %d connections open, want all %d", name, s.OpenConnections, s.MaxOpenConnections)
			}
		}
		// The server has a process for each, whose last statement was
		// Warm's.
		admin, err := pgx.Connect(ctx, testdb.ServerDSN())
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close(ctx)
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		var warmed int
		if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'EXPLAIN SELECT * FROM %'`,
			cfg.Database).Scan(&warmed); err != nil {
			t.Fatal(err)
		}
		if warmed != want {
			t.Errorf("%d connections to the database last ran Warm's statement, want %d (every pool's)", warmed, want)
		}

		// Gone: its connections end, and new ones are refused.
		if _, err := admin.Exec(ctx, "DROP DATABASE "+cfg.Database+" WITH (FORCE)"); err != nil {
			t.Fatal(err)
		}
		// (The pool's connections were ended: Warm meets one of them, or
		// opens a new one, which is refused.)
		if err := db.Warm(ctx); err == nil {
			t.Error("Warm of a database that was dropped: no error")
		} else if !strings.Contains(err.Error(), "terminating connection") && !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("Warm of a database that was dropped: %v, want the driver's error", err)
		}
	})
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		db := openMigrated(t, filepath.Join(t.TempDir(), "herald.db"))
		if err := db.Warm(ctx); err != nil {
			t.Fatalf("Warm on SQLite: %v, want nil", err)
		}
		// The read pool's connections are open, on the file as it is
		// now: reads go on if it is later removed or replaced.
		if s := db.ReadPool().Stats(); s.OpenConnections != s.MaxOpenConnections {
			t.Errorf("after Warm the read pool has %d connections open, want all %d", s.OpenConnections, s.MaxOpenConnections)
		}
	})
}
