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
	"group_members", "groups", "login_attempts", "login_failures", "audit_log", "scim_resources"}

// Warm opens every connection of the PostgreSQL pools and has each
// connection's server process read the catalog entries of the tables
// changes, logins and deliveries use (planning a query of each table
// opens it and its indexes). Without it, the first requests after a start
// open those connections one by one, each with its TLS handshake where
// the server offers TLS, while the load waits: in the first 300 ms of a
// 500 changes/s load a delivery took 131–210 ms from the request on
// average, and 25–32 ms after Warm (docs/benchmarks.md). Call it once the
// schema is migrated. Connections idle for 5 minutes are closed as
// before (openPostgres), and opened again on demand.
//
// On SQLite, where a connection is a file handle, it opens the read
// pool's connections, which the pool keeps (no idle or lifetime limit):
// reads then go on from the file as opened even if it is later removed or
// replaced under Herald (faults.go), where a connection opened after that
// would find no file, or another file beside the first one's write-ahead
// log. The driver still discards a connection whose statement was
// interrupted by its context (a health check whose client went away);
// the pool then opens another on demand.
//
// It returns the driver's error for a connection that cannot be opened
// or used; the pools keep what it opened.
func (db *DB) Warm(ctx context.Context) error {
	if db.dialect.kind != PostgreSQL {
		return warmPool(ctx, db.reader, func(c *sql.Conn) error { return c.PingContext(ctx) })
	}
	stmts := make([]string, len(warmTables))
	for i, t := range warmTables {
		stmts[i] = "EXPLAIN SELECT * FROM " + t
	}
	warm := strings.Join(stmts, "; ")
	run := func(c *sql.Conn) error {
		return c.Raw(func(dc any) error {
			// One simple query, one round trip, several statements.
			_, err := dc.(*stdlib.Conn).Conn().PgConn().Exec(ctx, warm).ReadAll()
			return err
		})
	}
	for _, pool := range db.pools() {
		if err := warmPool(ctx, pool, run); err != nil {
			return err
		}
	}
	return nil
}

// warmPool holds all of pool's connections at once, so that the pool
// opens as many as it may keep, and runs warm on each.
func warmPool(ctx context.Context, pool *sql.DB, warm func(*sql.Conn) error) error {
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
		if err := warm(c); err != nil {
			return err
		}
	}
	return nil
}
