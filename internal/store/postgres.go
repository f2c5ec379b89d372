package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/heraldhq/herald"
)

// PostgreSQL specifics: several Herald processes share one database.
//
//   - Directory writes take one transaction-level advisory lock, so they
//     commit one at a time in the order they got their event seq: the event
//     feed is in commit order and per-subject delivery order holds, as on
//     SQLite.
//   - Claims use FOR UPDATE SKIP LOCKED under a lease.
//   - A commit that queued deliveries NOTIFYs; every instance LISTENs and
//     wakes its engine.
//   - Start-up (migrations and the first admin) runs under a session
//     advisory lock: one instance migrates, the others wait.

// Advisory lock keys (arbitrary but fixed), and the notification channel.
const (
	lockStartup = 7200 // session lock: start-up (StartupLock)
	lockWrites  = 7201 // transaction lock: directory writes commit one at a time
	notifyChan  = "herald_deliveries"
)

// WriteLockKey is the advisory lock every directory write takes, as
// pg_locks shows it waited for (objid; tests wait for a waiter).
const WriteLockKey = lockWrites

var postgresDialect = dialect{
	kind: PostgreSQL,
	name: "postgres",
	isUniqueViolation: func(err error) bool {
		var pgErr *pgconn.PgError
		return errors.As(err, &pgErr) && pgErr.Code == "23505"
	},
	skipLocked: " FOR UPDATE OF d SKIP LOCKED",
	// OFFSET 0 keeps the lock in a subquery of its own, taken before
	// the clock is read.
	serializeWrites: `SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp() - statement_timestamp()) * 1000000 AS bigint)
		FROM (SELECT pg_advisory_xact_lock(` + strconv.Itoa(lockWrites) + `) OFFSET 0) AS write_lock`,
	notifies:  true,
	strpos:    "strpos",
	jsonTexts: "json_array_elements_text(CAST(%s AS json))",
}

func openPostgres(ctx context.Context, dsn string, log *slog.Logger) (*DB, error) {
	// Four pools per instance, 12 connections (and one to listen), which
	// leaves room under PostgreSQL's default max_connections (100) for
	// several instances. Directory writes take the write lock (an
	// advisory lock) in turn and are group-committed, one batch at a
	// time: two connections serve them (the second for the start-up
	// lock). Reads and the delivery queue have their own, so a burst of
	// writes never starves them; the queue's records of outcomes have
	// their own again, for their plans (UpdateQueueByKey).
	pools := make([]*sql.DB, 0, 4)
	closeAll := func() {
		for _, p := range pools {
			p.Close()
		}
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, herald.Errorf(herald.EINVALID, "database: %v", err)
	}
	plainOnLoopback(dsn, cfg)
	for _, p := range []struct {
		size   int
		params map[string]string
	}{
		{2, nil}, // writer
		// Reads run outside a transaction (View, runEach): the
		// connection itself refuses writes, as BEGIN READ ONLY would.
		{6, map[string]string{"default_transaction_read_only": "on"}},
		// The queue. The claim query's plan must follow the queue's
		// size: a generic plan made while the table was small (a scan)
		// would stay in use as it grows to a million rows. The queue's
		// statements are few per batch, so planning each costs little.
		// Its own vacuums (queue.postgresQueue.vacuum) pace themselves
		// as autovacuum does, rather than take a core for half a second
		// while changes wait for it.
		{3, map[string]string{"plan_cache_mode": "force_custom_plan", "vacuum_cost_delay": "2ms"}},
		// Keyed: statements that find their rows by key only, one plan
		// each, made at its first run and kept, which can only be the
		// lookup by key (UpdateQueueByKey).
		{1, map[string]string{"plan_cache_mode": "force_generic_plan",
			"enable_seqscan": "off", "enable_hashjoin": "off", "enable_mergejoin": "off"}},
	} {
		c := cfg.Copy()
		maps.Copy(c.RuntimeParams, p.params)
		pool := stdlib.OpenDB(*c)
		pool.SetMaxOpenConns(p.size)
		pool.SetMaxIdleConns(p.size)
		pool.SetConnMaxIdleTime(5 * time.Minute)
		pools = append(pools, pool)
	}
	if err := pools[0].PingContext(ctx); err != nil {
		closeAll()
		return nil, unreachable(dsn, cfg.Password, err)
	}
	listenCtx, stop := context.WithCancel(context.Background())
	db := &DB{writer: pools[0], reader: pools[1], queuePool: pools[2], keyedPool: pools[3], dialect: postgresDialect, Now: time.Now,
		wakeups: make(chan struct{}, 1), stopListen: stop,
		writes: make(chan *writeJob, maxBatch), quit: make(chan struct{}), writerDone: make(chan struct{}), log: log}
	db.handoffs.webhooksPayload = newWebhooksPayload()
	db.remoteIDs = newRemoteIDBatcher()
	db.health = newStorageHealth(nil)
	go db.listen(listenCtx, cfg, log)
	return db, nil
}

// unreachable says why the PostgreSQL database named by dsn cannot be
// used at start, for the operator who has to fix it: the URL without its
// password and the driver's cause (no such database, refused, wrong
// password...), with the password scrubbed should the cause quote it.
// Requests that find the database gone get unavailable's message instead.
func unreachable(dsn, password string, err error) error {
	cause := err.Error()
	if password != "" {
		cause = strings.ReplaceAll(cause, password, "xxxxx")
	}
	return &herald.Error{Code: herald.EUNAVAILABLE, Message: fmt.Sprintf("cannot use the PostgreSQL database %s: %s", Redact(dsn), cause)}
}

// listen wakes this instance's engine when any instance commits
// deliveries. It reconnects until ctx ends; while it is down the engine
// still finds work at its next timer.
func (db *DB) listen(ctx context.Context, cfg *pgx.ConnConfig, log *slog.Logger) {
	for wait := time.Second; ctx.Err() == nil; wait = min(wait*2, 30*time.Second) {
		conn, err := pgx.ConnectConfig(ctx, cfg.Copy())
		if err == nil {
			if _, err = conn.Exec(ctx, "LISTEN "+notifyChan); err == nil {
				wait = time.Second
				db.notified("") // anything committed while we were not listening
				db.Wake()
				for {
					var n *pgconn.Notification
					if n, err = conn.WaitForNotification(ctx); err != nil {
						break
					}
					if n.Payload == db.handoffs.webhooksPayload {
						continue // heard at the commit (webhooksCommitted)
					}
					db.notified(n.Payload)
					db.Wake()
				}
			}
			conn.Close(context.Background())
		}
		if ctx.Err() != nil {
			return
		}
		log.Warn("PostgreSQL notifications interrupted; reconnecting", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// StartupLock runs fn while holding the start-up lock, so that of several
// instances starting at once one migrates and creates the first admin while
// the others wait. On SQLite it just runs fn.
func (db *DB) StartupLock(ctx context.Context, fn func() error) error {
	if db.Kind() != PostgreSQL {
		return fn()
	}
	conn, err := db.writer.Conn(ctx)
	if err != nil {
		return unavailable(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, lockStartup); err != nil {
		return unavailable(err)
	}
	defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, lockStartup) //nolint:errcheck // released with the session anyway
	return fn()
}
