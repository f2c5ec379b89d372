// Package store keeps Herald's data in a SQL database: the directory's
// tables (users, groups, credentials, jobs, webhooks), the event log and
// the outbox insert (an event's deliveries are inserted in the
// transaction of the change that caused it), and the group commit that
// shares one commit between many changes. SQLite is the default; the
// dialect seam in dialect.go is where PostgreSQL plugs in.
//
// The delivery queue (internal/queue) owns the deliveries once inserted:
// it runs its SQL in the store's transactions (UpdateQueue, Tx.Query), and
// hears what changes do to it through QueueObserver. The store imports
// neither the queue nor the engine.
//
// All reads and writes go through a Tx, opened by DB.View (read-only) or
// DB.Update (read-write, all or nothing). Storage methods take ctx first and
// return *herald.Error values for conditions a client can cause (ENOTFOUND,
// ECONFLICT); any other error is a fault.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
)

// DB is an open Herald database.
type DB struct {
	// writer serves write transactions. On SQLite one goroutine runs them
	// (group commit): SQLite allows one writer, and queueing in Go is
	// cheaper than spinning on SQLITE_BUSY.
	writer *sql.DB
	// Group commit of directory writes (groupcommit.go).
	writes      chan *writeJob
	quit        chan struct{}
	writerDone  chan struct{}
	startWriter sync.Once
	// reader serves read-only transactions concurrently with the writer.
	reader *sql.DB
	// queuePool serves the delivery queue's own transactions on
	// PostgreSQL, so that directory writes waiting their turn never hold
	// every connection it needs. nil on SQLite: its one writer, the group
	// committer, serves both.
	queuePool *sql.DB
	// keyedPool serves the queue's statements that find their rows by
	// primary key only (UpdateQueueByKey), on PostgreSQL; nil on SQLite.
	keyedPool *sql.DB
	dialect   dialect
	// wakeups carries one signal after a commit that queued deliveries.
	wakeups chan struct{}
	// stopListen ends the PostgreSQL notification listener.
	stopListen func()
	// path is the SQLite file.
	path string
	// health holds the storage faults Ready reports (faults.go).
	health storageHealth
	// log receives the store's own warnings and errors.
	log *slog.Logger
	// observer hears what changes do to the delivery queue (observer.go).
	observer atomic.Pointer[QueueObserver]
	// handoffs: PostgreSQL's handoff taker and notification hook
	// (handoff.go).
	handoffs handoffs
	// remoteIDs writes SCIM targets' ids in batches (PostgreSQL,
	// scimidbatch.go).
	remoteIDs remoteIDBatcher
	// stmts caches prepared statements by pool and query text; preparing
	// marks those being prepared in the background.
	stmts, preparing sync.Map
	// prepares counts background prepares (prepareLater), which Close
	// waits for: one still opening a connection could otherwise create
	// files beside a database already closed.
	prepares sync.WaitGroup
	// Now returns the current time; tests may replace it.
	Now func() time.Time

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the database named by dsn: a file path for
// SQLite. It does not migrate; call Migrate. log receives the store's own
// warnings (a lost PostgreSQL notification connection); nil means
// slog.Default().
func Open(ctx context.Context, dsn string, log *slog.Logger) (*DB, error) {
	if log == nil {
		log = slog.Default()
	}
	if KindOf(dsn) == PostgreSQL {
		return openPostgres(ctx, dsn, log)
	}
	if dsn == "" {
		return nil, herald.Errorf(herald.EINVALID, "database: empty path")
	}
	if err := createPrivate(dsn); err != nil {
		return nil, fmt.Errorf("open %s: %w", dsn, err)
	}
	writer, err := sql.Open("sqlite", sqliteDSN(dsn, false))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dsn, err)
	}
	// Two connections: one runs the write transaction (the group
	// committer runs one at a time), the other is free to prepare
	// statements meanwhile.
	writer.SetMaxOpenConns(2)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	// Touch the file through the writer first so it exists (and is in WAL
	// mode) before the read-only pool opens it.
	if err := writer.PingContext(ctx); err != nil {
		writer.Close()
		return nil, fmt.Errorf("open %s: %w", dsn, err)
	}
	reader, err := sql.Open("sqlite", sqliteDSN(dsn, true))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("open %s: %w", dsn, err)
	}
	reader.SetMaxOpenConns(8)
	reader.SetMaxIdleConns(8)
	// Kept for good (Warm): a connection opened after the file was
	// removed or replaced would not read the file Herald opened.
	reader.SetConnMaxLifetime(0)
	reader.SetConnMaxIdleTime(0)
	// The file as opened, to find out whether it is later removed or
	// replaced (faults.go).
	file, err := os.Stat(dsn)
	if err != nil {
		writer.Close()
		reader.Close()
		return nil, fmt.Errorf("open %s: %w", dsn, err)
	}
	db := &DB{writer: writer, reader: reader, dialect: sqliteDialect, path: dsn, Now: time.Now, wakeups: make(chan struct{}, 1),
		writes: make(chan *writeJob, maxBatch), quit: make(chan struct{}), writerDone: make(chan struct{}), log: log}
	db.health = newStorageHealth(file)
	return db, nil
}

// Kind is which database Herald runs on: a SQLite file, which one Herald
// process owns (it alone delivers from it), or a PostgreSQL server, which
// several Herald processes may share.
type Kind int

const (
	SQLite Kind = iota
	PostgreSQL
)

func (k Kind) String() string {
	if k == PostgreSQL {
		return "PostgreSQL"
	}
	return "SQLite"
}

// KindOf returns the kind of database a setting names: PostgreSQL for a
// postgres:// or postgresql:// URL, else SQLite (a file path).
func KindOf(dsn string) Kind {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return PostgreSQL
	}
	return SQLite
}

// Kind returns the kind of database db is.
func (db *DB) Kind() Kind { return db.dialect.kind }

// Path returns the SQLite file's path; "" on PostgreSQL.
func (db *DB) Path() string { return db.path }

// Close closes the database. Closing again does nothing and returns the
// first call's result.
func (db *DB) Close() error {
	db.closeOnce.Do(func() { db.closeErr = db.close() })
	return db.closeErr
}

func (db *DB) close() error {
	if db.stopListen != nil {
		db.stopListen()
	}
	if db.quit != nil {
		close(db.quit)
		db.startWriter.Do(func() { close(db.writerDone) }) // never started
		<-db.writerDone
		if db.remoteIDs.done != nil {
			db.remoteIDs.start.Do(func() { close(db.remoteIDs.done) }) // never started
			<-db.remoteIDs.done
		}
	}
	db.prepares.Wait()
	var errs []error
	for _, pool := range db.pools() {
		errs = append(errs, pool.Close())
	}
	return errors.Join(errs...)
}

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.reader.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return herald.Errorf(herald.EUNAVAILABLE, "the database does not answer")
	}
	return nil
}

// Tx is one database transaction with a fixed clock: every row it writes
// carries the same Now.
type Tx struct {
	db   *DB
	pool *sql.DB // the pool tx came from, for its prepared statements
	tx   *sql.Tx // nil in a PostgreSQL group commit batch and in runEach
	// q runs the statements: tx; in a PostgreSQL group commit batch its
	// connection (writebatch.go); in runEach the pool, whose statements
	// each commit alone.
	q       querier
	dialect dialect
	Now     time.Time
	// wake is set when the transaction queued deliveries: after commit the
	// delivery engine is woken instead of polling. requeues are the
	// webhooks whose deliveries it made due again (Redeliver, Replay).
	wake     bool
	requeues []int64
	// webhooksChanged: the transaction created, changed or deleted a
	// webhook (webhookChanged).
	webhooksChanged bool
	// batched: the transaction is shared by a group commit batch, so a
	// caller's context that ends must not cut a statement short (on
	// PostgreSQL that closes the connection, failing every change of the
	// batch). Once it has started, a change runs to its end.
	batched bool
	// observer hears what the transaction does to the delivery queue
	// (observer.go); set only in the group committer's transactions.
	observer QueueObserver
	// batch: the group commit batch tx belongs to, on PostgreSQL, where
	// statements whose result the change does not read wait for the next
	// round trip (writebatch.go); nil elsewhere. change is tx's index in
	// the batch.
	batch  *writeBatch
	change int
}

// ctx is the context statements of tx run with (see batched).
func (tx *Tx) ctx(ctx context.Context) context.Context {
	if tx.batched {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// Update runs fn in a read-write transaction and commits if fn returns nil;
// otherwise it rolls back and returns fn's error. Nothing fn wrote survives
// a failure. Updates commit one at a time, in order, through the group
// committer (groupcommit.go).
// Returns EUNAVAILABLE when the database cannot be reached, when it
// refuses the write for lack of space or permission or an I/O error, and
// when the SQLite file was removed or replaced (faults.go).
func (db *DB) Update(ctx context.Context, fn func(*Tx) error) error {
	return db.submit(ctx, fn)
}

// View runs fn in a read-only transaction.
// Returns EUNAVAILABLE when the database cannot be reached.
func (db *DB) View(ctx context.Context, fn func(*Tx) error) error {
	if db.dialect.kind == PostgreSQL {
		return db.runEach(ctx, db.reader, true, fn)
	}
	return db.run(ctx, db.reader, true, fn)
}

// UpdateQueue is Update for the delivery queue's own bookkeeping
// (internal/queue), which need not wait for directory writes: row locks
// keep it consistent. On SQLite (one writer) the group committer serves
// it too.
func (db *DB) UpdateQueue(ctx context.Context, fn func(*Tx) error) error {
	if db.queuePool == nil {
		return db.submit(ctx, fn)
	}
	return db.run(ctx, db.queuePool, false, fn)
}

// UpdateQueueEach is UpdateQueue for fn whose every statement stands
// alone: on PostgreSQL they run on the queue's connections outside a
// transaction, each committing by itself, which saves the round trips of
// BEGIN and COMMIT (a claim, whose one statement selects and leases). On
// SQLite it is UpdateQueue.
func (db *DB) UpdateQueueEach(ctx context.Context, fn func(*Tx) error) error {
	if db.queuePool == nil {
		return db.submit(ctx, fn)
	}
	return db.runEach(ctx, db.queuePool, false, fn)
}

// pools returns the store's connection pools: the reader and the writer,
// and on PostgreSQL the queue's and the keyed pool.
func (db *DB) pools() []*sql.DB {
	if db.queuePool == nil {
		return []*sql.DB{db.reader, db.writer}
	}
	return []*sql.DB{db.reader, db.writer, db.queuePool, db.keyedPool}
}

// UpdateQueueByKey is UpdateQueueEach for fn whose statements find every
// row they read or change by its primary key, and join nothing else (a
// record of outcomes: an update of deliveries by id and an insert of
// their attempts). On PostgreSQL they run on connections that plan a
// statement once and keep the plan, with sequential scans and hash and
// merge joins ruled out, so that the plan kept is the lookup by key
// whatever the table's size when it was made. The queue's other
// connections plan every statement anew for its values, which a record's
// statement (ten arrays unnested into an update and an insert) spent
// about 0.2 ms on, for nothing: its plan never changes. On SQLite it is
// UpdateQueue.
func (db *DB) UpdateQueueByKey(ctx context.Context, fn func(*Tx) error) error {
	if db.keyedPool == nil {
		return db.submit(ctx, fn)
	}
	return db.runEach(ctx, db.keyedPool, false, fn)
}

// ReadPool returns the pool of read-only connections, for the delivery
// queue's reads outside a transaction.
func (db *DB) ReadPool() *sql.DB { return db.reader }

// QueuePool returns the delivery queue's own pool on PostgreSQL (see
// UpdateQueue), for its statements outside a transaction; nil on SQLite.
func (db *DB) QueuePool() *sql.DB { return db.queuePool }

// querier runs statements: *sql.Tx, *sql.Conn (a group commit batch's
// connection), or *sql.DB outside a transaction (runEach).
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// runEach runs fn's statements on pool with no transaction around them:
// each commits (or, read-only, reads) alone, on whichever of pool's
// connections is free when it is sent, so fn holds none between its
// statements, and an fn that finds it has nothing to ask (a claim that
// only takes handoffs from memory, pghandoff.go) takes none at all.
// PostgreSQL only. For reads it is what a transaction would be: at READ
// COMMITTED, Herald's level, every statement of a transaction takes a
// snapshot of its own anyway, and the reader pool's connections are
// read-only by default (default_transaction_read_only). What it saves is
// BEGIN and COMMIT (or ROLLBACK): two round trips of the three a
// one-statement read costs (the token lookup of every API call). For the
// queue's writes it is for fn whose every statement stands alone (a
// claim: UpdateQueueEach; a record: UpdateQueueByKey).
func (db *DB) runEach(ctx context.Context, pool *sql.DB, readOnly bool, fn func(*Tx) error) error {
	failed := db.readFailed
	if !readOnly {
		failed = db.writeFailed
	}
	tx := &Tx{db: db, pool: pool, q: pool, dialect: db.dialect}
	tx.Now = db.Now().UTC().Truncate(time.Microsecond)
	err := call(fn, tx)
	if readOnly {
		if err != nil {
			return failed(err)
		}
		return nil
	}
	if err == nil {
		err = db.notify(ctx, pool, tx)
	}
	// Its statements commit one by one: those before a failure did.
	db.committed(tx, err == nil)
	if err != nil {
		return failed(err)
	}
	db.writeSucceeded()
	return nil
}

// run runs fn in a transaction of its own on pool.
func (db *DB) run(ctx context.Context, pool *sql.DB, readOnly bool, fn func(*Tx) error) error {
	failed := db.readFailed
	if !readOnly {
		failed = db.writeFailed
	}
	sqlTx, err := pool.BeginTx(ctx, &sql.TxOptions{ReadOnly: readOnly})
	if err != nil {
		return failed(fmt.Errorf("begin: %w", err))
	}
	tx := &Tx{db: db, pool: pool, tx: sqlTx, q: sqlTx, dialect: db.dialect}
	tx.Now = db.Now().UTC().Truncate(time.Microsecond)
	if err := call(fn, tx); err != nil {
		_ = sqlTx.Rollback()
		return failed(err)
	}
	if readOnly {
		return sqlTx.Rollback()
	}
	if err := db.notify(ctx, sqlTx, tx); err != nil {
		_ = sqlTx.Rollback()
		return failed(err)
	}
	err = sqlTx.Commit()
	db.committed(tx, err == nil) // a failed commit may have happened all the same
	if err != nil {
		return failed(fmt.Errorf("commit: %w", err))
	}
	db.writeSucceeded()
	return nil
}

// queuedCommitted follows the commit of a change that queued deliveries
// other than by a fan-out: on PostgreSQL this process's queue hears at
// once what the change's NOTIFY says (notifyPayload), and the engine is
// woken.
func (db *DB) queuedCommitted(requeues []int64) {
	if db.dialect.notifies {
		db.notified(notifyPayload(requeues))
	}
	db.Wake()
}

// Wakeups delivers a signal after commits that queued deliveries. Signals
// coalesce: one pending signal stands for any number of commits.
func (db *DB) Wakeups() <-chan struct{} { return db.wakeups }

// Wake signals Wakeups without blocking.
func (db *DB) Wake() {
	select {
	case db.wakeups <- struct{}{}:
	default:
	}
}

// Backup writes a consistent copy of a SQLite database to path (which must
// not exist), while Herald may keep running: VACUUM INTO reads one snapshot.
func (db *DB) Backup(ctx context.Context, path string) error {
	if db.Kind() != SQLite {
		return herald.Errorf(herald.EINVALID, "backup copies SQLite databases; for PostgreSQL use pg_dump")
	}
	if _, err := os.Stat(path); err == nil {
		return herald.Errorf(herald.ECONFLICT, "%s already exists; choose a new file", path)
	}
	// The copy holds what the database holds: readable by its owner only.
	// VACUUM INTO fills an empty file.
	if err := createPrivate(path); err != nil {
		return err
	}
	// On a write connection: VACUUM INTO writes a file, which query_only refuses.
	if _, err := db.writer.ExecContext(ctx, `VACUUM INTO $1`, path); err != nil {
		_ = os.Remove(path)
		return err
	}
	return nil
}

// createPrivate creates an empty file readable and writable by its owner
// only, unless the file exists. SQLite gives a database's WAL and
// shared-memory files the mode of the database file, so they are private
// too.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}
