package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/heraldhq/herald"
)

// How a Tx runs its SQL: prepared statements kept per connection pool,
// errors turned into Herald's codes, and the time columns' unit.

// unavailable turns a lost connection, and a storage fault (faults.go),
// into EUNAVAILABLE, so clients get a 503 that says to try again rather
// than a 500, and text the database refuses (isUnstorableText) into
// EINVALID; other errors pass through. Writes go through writeFailed,
// which also marks the database not ready.
func unavailable(err error) error {
	if err != nil && herald.ErrorCode(err) == herald.EINTERNAL && isUnstorableText(err) {
		return herald.Errorf(herald.EINVALID, "the request holds text that cannot be stored (a NUL character or bytes that are not UTF-8)")
	}
	if err == nil || herald.ErrorCode(err) != herald.EINTERNAL {
		return err
	}
	if f := classify(err); f != faultNone && f != faultMoved {
		return &herald.Error{Code: herald.EUNAVAILABLE, Message: faultMessages[f]}
	}
	if !isConnectionError(err) {
		return err
	}
	return &herald.Error{Code: herald.EUNAVAILABLE, Message: "the database is unavailable; try again shortly"}
}

// stmt returns the transaction's handle of a prepared statement for query,
// or nil when none is ready. On SQLite statements are prepared once per
// connection and reused: parsing SQL would otherwise cost more than running
// it on the hot path. pgx caches statements per connection itself.
//
// On the write pool the statement is prepared right away: there is a spare
// connection to prepare on (the group committer holds one of two). On the
// read pool every connection may be held by a transaction that is itself
// waiting to prepare, so preparing there would deadlock: the first use of a
// query runs unprepared and prepares it in the background for the next.
func (tx *Tx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	ctx = tx.ctx(ctx)
	if !tx.dialect.prepares {
		return nil, nil
	}
	if tx.pool != tx.db.writer {
		s, ok := tx.db.stmts.Load(stmtKey{tx.pool, query})
		if !ok {
			tx.db.prepareLater(tx.pool, query)
			return nil, nil
		}
		return tx.tx.StmtContext(ctx, s.(*sql.Stmt)), nil
	}
	s, err := tx.db.prepared(ctx, tx.pool, query)
	if err != nil {
		return nil, err
	}
	return tx.tx.StmtContext(ctx, s), nil
}

func (tx *Tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = tx.ctx(ctx)
	if err := tx.flushDeferred(ctx); err != nil {
		return nil, err
	}
	s, err := tx.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return tx.q.QueryContext(ctx, query, args...)
	}
	return s.QueryContext(ctx, args...)
}

// Row is a *sql.Row that can also carry an error from preparing.
type Row struct {
	*sql.Row
	err error
}

func (r Row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return r.Row.Scan(dest...)
}

func (tx *Tx) queryRow(ctx context.Context, query string, args ...any) Row {
	ctx = tx.ctx(ctx)
	if err := tx.flushDeferred(ctx); err != nil {
		return Row{err: err}
	}
	s, err := tx.stmt(ctx, query)
	if err != nil {
		return Row{err: err}
	}
	if s == nil {
		return Row{Row: tx.q.QueryRowContext(ctx, query, args...)}
	}
	return Row{Row: s.QueryRowContext(ctx, args...)}
}

func (tx *Tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = tx.ctx(ctx)
	if err := tx.flushDeferred(ctx); err != nil {
		return nil, err
	}
	s, err := tx.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	var res sql.Result
	if s == nil {
		res, err = tx.q.ExecContext(ctx, query, args...)
	} else {
		res, err = s.ExecContext(ctx, args...)
	}
	if err != nil && tx.dialect.isUniqueViolation(err) {
		return nil, herald.Errorf(herald.ECONFLICT, "already exists")
	}
	return res, err
}

// Query, QueryRow and Exec run SQL in the transaction, with its prepared
// statements. They are for the delivery queue (internal/queue), which keeps
// the SQL of its own rows; the directory's storage has named methods.
// Exec returns ECONFLICT for a unique constraint failure.
func (tx *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return tx.query(ctx, query, args...)
}

func (tx *Tx) QueryRow(ctx context.Context, query string, args ...any) Row {
	return tx.queryRow(ctx, query, args...)
}

func (tx *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return tx.exec(ctx, query, args...)
}

// execRaw runs query as it is: unprepared, with a unique violation's
// error unchanged (exec turns it into "already exists").
func (tx *Tx) execRaw(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = tx.ctx(ctx)
	if err := tx.flushDeferred(ctx); err != nil {
		return nil, err
	}
	return tx.q.ExecContext(ctx, query, args...)
}

// insert runs an INSERT ... RETURNING id and returns the id.
func (tx *Tx) insert(ctx context.Context, query string, args ...any) (int64, error) {
	return tx.insertReturning(ctx, "id", query, args...)
}

// insertReturning runs an INSERT and returns the named integer column of the
// new row.
func (tx *Tx) insertReturning(ctx context.Context, column, query string, args ...any) (int64, error) {
	var id int64
	err := tx.queryRow(ctx, query+" RETURNING "+column, args...).Scan(&id)
	if err != nil && tx.dialect.isUniqueViolation(err) {
		return 0, herald.Errorf(herald.ECONFLICT, "already exists")
	}
	return id, err
}

// micros and fromMicros convert times to and from their stored form.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

type stmtKey struct {
	pool  *sql.DB
	query string
}

// prepared returns the pool-level prepared statement for query, preparing
// it on first use. Only fixed query texts come here; queries built with
// lists of ids go straight to the transaction.
func (db *DB) prepared(ctx context.Context, pool *sql.DB, query string) (*sql.Stmt, error) {
	key := stmtKey{pool, query}
	if s, ok := db.stmts.Load(key); ok {
		return s.(*sql.Stmt), nil
	}
	s, err := pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := db.stmts.LoadOrStore(key, s); loaded {
		s.Close()
		return prev.(*sql.Stmt), nil
	}
	return s, nil
}

// prepareLater prepares query on pool in the background, once, for the
// next transaction that runs it. A query that fails to prepare is left
// unprepared (the transaction running it reports the error itself).
func (db *DB) prepareLater(pool *sql.DB, query string) {
	key := stmtKey{pool, query}
	if _, busy := db.preparing.LoadOrStore(key, true); busy {
		return
	}
	db.prepares.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = db.prepared(ctx, pool, query)
	})
}
