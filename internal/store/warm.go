package store

import (
	"context"
	"database/sql"
	"strings"

	"github.com/jackc/pgx/v5/stdlib"
)

// warmTables are the tables a change, a request's authentication or a
// delivery reads or writes.
var warmTables = []string{"users", "events", "deliveries", "attempts", "webhooks", "api_tokens", "sessions",
	"group_members", "groups"}

// Warm opens every connection of the PostgreSQL pools and has each
// connection's server process read the catalog entries of the tables
// changes and deliveries use (planning a query of each table opens it and
// its indexes). Without it, the first requests after a start open those
// connections one by one, and each new server process reads the catalogs
// again: the first quarter second of a 500 changes/s load answered in
// about 100 ms instead of 5 (docs/benchmarks.md). Call it once the schema
// is migrated. On SQLite, where a connection is a file handle, it does
// nothing. It returns the error of a connection that cannot be opened or
// used (the database is unavailable).
func (db *DB) Warm(ctx context.Context) error {
	if db.dialect.kind != PostgreSQL {
		return nil
	}
	stmts := make([]string, len(warmTables))
	for i, t := range warmTables {
		stmts[i] = "EXPLAIN SELECT * FROM " + t
	}
	warm := strings.Join(stmts, "; ")
	for _, pool := range []*sql.DB{db.writer, db.reader, db.queuePool} {
		if err := warmPool(ctx, pool, warm); err != nil {
			return unavailable(err)
		}
	}
	return nil
}

// warmPool holds all of pool's connections at once, so that the pool
// opens as many as it may keep, and runs warm on each.
func warmPool(ctx context.Context, pool *sql.DB, warm string) error {
	n := pool.Stats().MaxOpenConnections
	conns := make([]*sql.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := pool.Conn(ctx)
		if err != nil {
			return err
		}
		conns = append(conns, c)
		err = c.Raw(func(dc any) error {
			// One simple query, one round trip, several statements.
			_, err := dc.(*stdlib.Conn).Conn().PgConn().Exec(ctx, warm).ReadAll()
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}
