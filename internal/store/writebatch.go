package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"

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
// change of every instance waits for the turn (the advisory lock). There
// the batch runs on one connection, with BEGIN and COMMIT as statements
// of their own, and the statements whose result nobody waits for (the
// committer's own: BEGIN, the turn, savepoints, COMMIT; and a change's
// event with its fan-out, deferred by AppendEvent) wait in pending and
// go together, as one pipeline, with the next round trip: before the
// next statement of the change, before the next change, or with COMMIT.
// A user created is then two round trips (its row; its event with the
// savepoints around it) instead of three, and a batch of one change
// three instead of five.
type writeBatch struct {
	db      *DB
	tx      *sql.Tx   // SQLite
	conn    *sql.Conn // PostgreSQL
	pending []pendingStmt
	// wake: a deferred fan-out queued deliveries, so the engine is woken
	// after the commit (the statement itself NOTIFYs other instances).
	wake bool
}

// pendingStmt is a statement waiting in writeBatch.pending.
type pendingStmt struct {
	sql  string
	args []any
	// row scans the statement's one row (nil: its result is not read).
	row func(pgx.Row) error
	// change: deferred by a change (deferStmt), whose failure is that
	// change's, not the batch's (errDeferred).
	change bool
}

// errRolledBack: PostgreSQL answers COMMIT of a failed transaction with
// ROLLBACK, not an error.
var errRolledBack = errors.New("the transaction was rolled back")

// deferred reports whether a change deferred one of stmts.
func deferred(stmts []pendingStmt) bool {
	for _, s := range stmts {
		if s.change {
			return true
		}
	}
	return false
}

// deferredError is the error of a statement a change deferred, found
// when the statement was sent later: the change fails, the batch goes on.
type deferredError struct{ err error }

func (e *deferredError) Error() string { return e.err.Error() }
func (e *deferredError) Unwrap() error { return e.err }

// beginBatch starts a batch's transaction on the writer pool. On
// PostgreSQL BEGIN waits in pending, for the batch's first round trip.
func (db *DB) beginBatch(ctx context.Context) (*writeBatch, error) {
	wb := &writeBatch{db: db}
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
	wb.queue("BEGIN")
	return wb, nil
}

// querier is what the batch's changes run their statements on.
func (wb *writeBatch) querier() querier {
	if wb.tx != nil {
		return wb.tx
	}
	return wb.conn
}

// queue adds statements of the committer's own to pending.
func (wb *writeBatch) queue(stmts ...string) {
	for _, s := range stmts {
		wb.pending = append(wb.pending, pendingStmt{sql: s})
	}
}

// deferStmt adds a change's statement to pending (PostgreSQL only): it
// is sent with the next round trip, and row, if not nil, scans its one
// row then. row runs while flush holds the connection: it must not run
// statements of its own.
func (wb *writeBatch) deferStmt(query string, args []any, row func(pgx.Row) error) {
	wb.pending = append(wb.pending, pendingStmt{sql: query, args: args, row: row, change: true})
}

// dropDeferred removes the statements changes deferred from pending,
// keeping the committer's own.
func (wb *writeBatch) dropDeferred() {
	kept := wb.pending[:0]
	for _, s := range wb.pending {
		if !s.change {
			kept = append(kept, s)
		}
	}
	wb.pending = kept
}

// pendingLast reports whether the last statement waiting is stmt.
func (wb *writeBatch) pendingLast(stmt string) bool {
	n := len(wb.pending)
	return n > 0 && !wb.pending[n-1].change && wb.pending[n-1].sql == stmt
}

// dropLast removes the last statement waiting.
func (wb *writeBatch) dropLast() { wb.pending = wb.pending[:len(wb.pending)-1] }

// flush sends what waits in pending and empties it: on SQLite one
// statement at a time, on PostgreSQL in one round trip. It returns a
// *deferredError when a change's deferred statement failed (the
// statements after it did not run).
func (wb *writeBatch) flush(ctx context.Context) error {
	stmts := wb.pending
	wb.pending = nil
	if len(stmts) == 0 {
		return nil
	}
	if wb.tx != nil {
		for _, s := range stmts {
			if _, err := wb.tx.ExecContext(ctx, s.sql, s.args...); err != nil {
				return err
			}
		}
		return nil
	}
	failed := -1
	err := wb.conn.Raw(func(dc any) error {
		conn := dc.(*stdlib.Conn).Conn()
		if !deferred(stmts) {
			// The committer's own statements alone: one simple query,
			// which runs in a failed transaction too (ROLLBACK TO),
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
		return conn.SendBatch(ctx, batch).Close()
	})
	if err != nil && failed >= 0 && stmts[failed].change {
		return &deferredError{err}
	}
	return err
}

// commit commits the batch. On PostgreSQL COMMIT goes with what waits
// in pending; a *deferredError says a change's deferred statement failed
// and nothing was committed (the transaction is still open: roll that
// change back and commit again, or roll back).
func (wb *writeBatch) commit(ctx context.Context) error {
	if wb.tx != nil {
		return wb.tx.Commit()
	}
	wb.queue("COMMIT")
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
	begun := !(len(wb.pending) > 0 && wb.pending[0].sql == "BEGIN" && !wb.pending[0].change)
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

// flushDeferred sends what waits in tx's batch before tx's next
// statement, so that statements reach the database in the order the
// change made them.
func (tx *Tx) flushDeferred(ctx context.Context) error {
	if tx.batch == nil || len(tx.batch.pending) == 0 {
		return nil
	}
	err := tx.batch.flush(ctx)
	var d *deferredError
	if errors.As(err, &d) {
		return d.err // the change's own statement: its error, as if sent at once
	}
	return err
}
