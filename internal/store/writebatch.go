package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// writeBatch is the database side of one group commit batch
// (commitBatch): its transaction, and the statements waiting to go with
// its next round trip.
//
// On SQLite a statement is a function call, so waiting buys nothing: the
// batch is a database/sql transaction and each statement runs at once.
//
// On PostgreSQL every statement is a round trip, taken while every other
// change of every instance waits for the write lock (the advisory lock).
// There the batch runs on one connection, with BEGIN and COMMIT as statements
// of their own, and the statements whose result nobody waits for wait in
// pending and go together, as one pipeline, when a statement whose result
// is needed must be sent, or with COMMIT: the committer's own (BEGIN, the
// write lock, savepoints, NOTIFY, COMMIT) and a change's deferred statements (an
// event with its fan-out from AppendEvent, a new user from
// CreateUserDeferred). A batch of changes that only create users is then
// one round trip, whatever its size (two when it takes the write lock
// first, groupcommit.go); before, each change took three.
//
// A deferred statement that fails fails its change alone (flush): the
// change is rolled back to its savepoint, and what the failure kept the
// database from running (PostgreSQL skips the rest of a pipeline) is
// sent again without it.
type writeBatch struct {
	db      *DB
	tx      *sql.Tx   // SQLite
	conn    *sql.Conn // PostgreSQL
	pending []pendingStmt
	// single: the batch has one change, run without a savepoint; its
	// deferred statement's failure is the batch's (flush returns it as a
	// *deferredError).
	single bool
	// failed[i] is change i's error once flush has rolled it back for a
	// deferred statement of its own: the change is over, whatever it
	// returns, and statements it still tries are refused.
	failed map[int]error
	// wake: a deferred fan-out queued deliveries, so the engine is woken
	// after the commit (the statement itself NOTIFYs other instances).
	wake bool
	// handed[i] are the deliveries change i's fan-outs leased to this
	// process at insert, for its HandoffTaker once the batch commits
	// (dropped if the change rolls back).
	handed map[int][]Handed
	// unleased[i] are the webhooks, as NOTIFY names them, of the
	// deliveries change i's fan-outs left for claims: this process's
	// queue hears of them at the commit, before its own notification
	// arrives.
	unleased map[int][]string
	// lockWaited is how long the batch waited for the write lock
	// (PostgreSQL's advisory lock), once the statement that takes it has
	// been sent.
	lockWaited time.Duration
	// broken: a round trip failed for the batch, not for a change's
	// deferred statement: what it carried is lost, and which savepoint
	// is open unknown, so the batch must not commit.
	broken error
}

// pendingStmt is a statement waiting in writeBatch.pending.
type pendingStmt struct {
	sql  string
	args []any
	// row scans the statement's one row (nil: its result is not read).
	row func(pgx.Row) error
	// owner is the change the statement belongs to (its savepoint, its
	// RELEASE, its deferred statements), -1 for the batch's own.
	owner int
	// deferred: a change's own statement (deferStmt), whose failure is
	// that change's; the committer's statements failing fail the batch.
	deferred bool
}

// errRolledBack: PostgreSQL answers COMMIT of a failed transaction with
// ROLLBACK, not an error.
var errRolledBack = errors.New("the transaction was rolled back")

// deferredError is the error of a single change's deferred statement
// (writeBatch.single): the change, and with it the batch, failed.
type deferredError struct{ err error }

func (e *deferredError) Error() string { return e.err.Error() }
func (e *deferredError) Unwrap() error { return e.err }

// beginBatch starts a batch's transaction on the writer pool. On
// PostgreSQL BEGIN waits in pending, for the batch's first round trip.
func (db *DB) beginBatch(ctx context.Context, single bool) (*writeBatch, error) {
	wb := &writeBatch{db: db, single: single, failed: map[int]error{}, handed: map[int][]Handed{},
		unleased: map[int][]string{}}
	if db.dialect.kind != PostgreSQL {
		tx, err := db.writer.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		wb.tx = tx
		return wb, nil
	}
	conn, err := db.writer.Conn(ctx)
	if err != nil {
		return nil, err
	}
	wb.conn = conn
	wb.queue(-1, "BEGIN")
	return wb, nil
}

// pipelined reports whether statements wait for the next round trip
// (PostgreSQL) rather than run at once (SQLite: flush after queue).
func (wb *writeBatch) pipelined() bool { return wb.conn != nil }

// querier is what the batch's changes run their statements on.
func (wb *writeBatch) querier() querier {
	if wb.tx != nil {
		return wb.tx
	}
	return wb.conn
}

// queue adds statements of the committer's own to pending, for change
// owner (its savepoint) or the batch (-1).
func (wb *writeBatch) queue(owner int, stmts ...string) {
	for _, s := range stmts {
		wb.pending = append(wb.pending, pendingStmt{sql: s, owner: owner})
	}
}

// takeWriteLock adds the statement that takes the write lock (the
// dialect's serializeWrites) to pending; its row says how long it waited
// (lockWaited).
func (wb *writeBatch) takeWriteLock(stmt string) {
	wb.pending = append(wb.pending, pendingStmt{sql: stmt, owner: -1, row: func(r pgx.Row) error {
		var us int64
		err := r.Scan(&us)
		wb.lockWaited = time.Duration(us) * time.Microsecond
		return err
	}})
}

// deferStmt adds change owner's statement to pending (PostgreSQL only):
// it is sent with the next round trip, and row, if not nil, scans its one
// row then. row runs while flush holds the connection: it must not run
// statements of its own, and it must fail only with the statement's own
// error (a scan of its columns), for flush takes any other for the
// batch's (broken): PostgreSQL runs the rest of the pipeline regardless.
func (wb *writeBatch) deferStmt(owner int, query string, args []any, row func(pgx.Row) error) {
	wb.pending = append(wb.pending, pendingStmt{sql: query, args: args, row: row, owner: owner, deferred: true})
}

// drop removes change owner's statements from pending and reports
// whether its savepoint was among them (never sent: nothing of the change
// reached the database).
func (wb *writeBatch) drop(owner int) (unsentSavepoint bool) {
	kept := wb.pending[:0]
	for _, s := range wb.pending {
		if s.owner != owner {
			kept = append(kept, s)
		} else if s.sql == "SAVEPOINT change" {
			unsentSavepoint = true
		}
	}
	wb.pending = kept
	return unsentSavepoint
}

// pendingLast reports whether the last statement waiting is stmt.
func (wb *writeBatch) pendingLast(stmt string) bool {
	n := len(wb.pending)
	return n > 0 && !wb.pending[n-1].deferred && wb.pending[n-1].sql == stmt
}

// dropLast removes the last statement waiting.
func (wb *writeBatch) dropLast() { wb.pending = wb.pending[:len(wb.pending)-1] }

// flush sends what waits in pending and empties it: on SQLite one
// statement at a time, on PostgreSQL in one round trip. When a change's
// deferred statement fails, flush rolls that change back to its savepoint
// (failed records why), sends again what the failure kept PostgreSQL from
// running, and goes on; in a single change's batch it returns a
// *deferredError instead. Any other error is the batch's.
func (wb *writeBatch) flush(ctx context.Context) error {
	if wb.tx != nil {
		stmts := wb.pending
		wb.pending = nil
		for _, s := range stmts {
			if _, err := wb.tx.ExecContext(ctx, s.sql, s.args...); err != nil {
				return err
			}
		}
		return nil
	}
	if wb.broken != nil {
		return wb.broken
	}
	for len(wb.pending) > 0 {
		stmts := wb.pending
		wb.pending = nil
		failed, err := wb.send(ctx, stmts)
		if err == nil {
			return nil
		}
		if failed < 0 || !stmts[failed].deferred {
			wb.broken = err
			return err
		}
		if wb.single {
			// Its change's later statements are refused with this
			// error, as in a batch of several (failed).
			wb.failed[stmts[failed].owner] = err
			return &deferredError{err}
		}
		// The failing statement's change is the innermost savepoint:
		// its RELEASE, after it, did not run.
		owner := stmts[failed].owner
		wb.failed[owner] = err
		if _, err := wb.send(ctx, []pendingStmt{{sql: "ROLLBACK TO change", owner: -1}, {sql: "RELEASE change", owner: -1}}); err != nil {
			wb.broken = err
			return err
		}
		for _, s := range stmts[failed+1:] {
			if s.owner != owner {
				wb.pending = append(wb.pending, s)
			}
		}
	}
	return nil
}

// send sends stmts in one round trip and returns the index of the one
// that failed: -1 for none, for the round trip itself, and for a failure
// after which PostgreSQL did not skip the rest (a row callback's own
// error: the transaction is not in the failed state).
func (wb *writeBatch) send(ctx context.Context, stmts []pendingStmt) (int, error) {
	failed := -1
	err := wb.conn.Raw(func(dc any) error {
		conn := dc.(*stdlib.Conn).Conn()
		if !hasDeferred(stmts) && !readsRow(stmts) {
			// The committer's own statements alone, none of which
			// reads a row: one simple query, which runs in a failed
			// transaction too (ROLLBACK TO),
			// where a batch's first use of a statement, which prepares
			// it, would be refused.
			sqls := make([]string, len(stmts))
			for i, s := range stmts {
				sqls[i] = s.sql
			}
			results, err := conn.PgConn().Exec(ctx, strings.Join(sqls, "; ")).ReadAll()
			if err != nil {
				return err
			}
			if n := len(results); sqls[len(sqls)-1] == "COMMIT" && n > 0 && results[n-1].CommandTag.String() != "COMMIT" {
				return errRolledBack
			}
			return nil
		}
		batch := &pgx.Batch{}
		for i, s := range stmts {
			q := batch.Queue(s.sql, s.args...)
			q.Fn = func(br pgx.BatchResults) error {
				var err error
				if s.row != nil {
					err = s.row(br.QueryRow())
				} else {
					var tag pgconn.CommandTag
					tag, err = br.Exec()
					if err == nil && s.sql == "COMMIT" && tag.String() != "COMMIT" {
						err = errRolledBack
					}
				}
				if err != nil {
					failed = i
				}
				return err
			}
		}
		err := conn.SendBatch(ctx, batch).Close()
		if err != nil && failed >= 0 && conn.PgConn().TxStatus() != 'E' {
			failed = -1
		}
		return err
	})
	return failed, err
}

// readsRow reports whether one of stmts has a row to scan (the write
// lock's has; it never goes in a failed transaction: BEGIN precedes it).
func readsRow(stmts []pendingStmt) bool {
	for _, s := range stmts {
		if s.row != nil {
			return true
		}
	}
	return false
}

// hasDeferred reports whether a change deferred one of stmts.
func hasDeferred(stmts []pendingStmt) bool {
	for _, s := range stmts {
		if s.deferred {
			return true
		}
	}
	return false
}

// commit commits the batch. On PostgreSQL COMMIT goes with what waits in
// pending, and a *deferredError says the single change's deferred
// statement failed: nothing was committed, and the transaction is still
// open (roll it back).
func (wb *writeBatch) commit(ctx context.Context) error {
	if wb.tx != nil {
		return wb.tx.Commit()
	}
	wb.queue(-1, "COMMIT")
	err := wb.flush(ctx)
	var d *deferredError
	if errors.As(err, &d) {
		return err
	}
	wb.release(err)
	return err
}

// rollback abandons the batch's transaction.
func (wb *writeBatch) rollback() {
	if wb.tx != nil {
		_ = wb.tx.Rollback()
		return
	}
	begun := !(len(wb.pending) > 0 && wb.pending[0].sql == "BEGIN" && !wb.pending[0].deferred)
	wb.pending = nil
	var err error
	if begun {
		_, err = wb.conn.ExecContext(context.Background(), "ROLLBACK")
	}
	wb.release(err)
}

// release returns the PostgreSQL connection to the pool, or closes it
// when the transaction's end failed: a connection still inside a
// transaction must not serve the next batch.
func (wb *writeBatch) release(err error) {
	if err != nil {
		_ = wb.conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	_ = wb.conn.Close()
}

// deferStmt defers query for tx's change (writeBatch.deferStmt). It
// returns the change's error if a deferred statement of its own has
// already failed.
func (tx *Tx) deferStmt(query string, args []any, row func(pgx.Row) error) error {
	if err := tx.batch.failed[tx.change]; err != nil {
		return err
	}
	tx.batch.deferStmt(tx.change, query, args, row)
	return nil
}

// flushDeferred sends what waits in tx's batch before tx's next
// statement, so that statements reach the database in the order the
// changes made them. It returns the change's error if a deferred
// statement of its own failed (now or before): the change is over.
func (tx *Tx) flushDeferred(ctx context.Context) error {
	wb := tx.batch
	if wb == nil {
		return nil
	}
	if err := wb.failed[tx.change]; err != nil {
		return err
	}
	err := wb.flush(ctx)
	var d *deferredError
	if errors.As(err, &d) {
		return d.err // the change's own statement: its error, as if sent at once
	}
	if err != nil {
		return err
	}
	return wb.failed[tx.change]
}
