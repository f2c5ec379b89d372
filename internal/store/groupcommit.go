package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

// Group commit. With synchronous=FULL (SQLite) or synchronous_commit
// (PostgreSQL) every commit waits for an fsync, which caps one-by-one
// commits at a few hundred a second. Instead,
// one goroutine runs the write transactions queued while the previous
// commit was in progress inside a single database transaction, each in a
// savepoint of its own: a failing one is rolled back to its savepoint and
// reports its error, the others commit together with one fsync. Each
// caller's change is still all or nothing, and callers are answered only
// after the commit.

// maxBatch bounds how many changes share one commit.
const maxBatch = 128

type writeJob struct {
	ctx  context.Context
	fn   func(*Tx) error
	done chan error
}

var errClosed = errors.New("the database is closed")

// submit queues fn for the group committer and waits for its outcome.
// Once the SQLite file was found removed or replaced, every change is
// refused (faults.go).
func (db *DB) submit(ctx context.Context, fn func(*Tx) error) error {
	if gone := db.health.gone.Load(); gone != nil {
		return gone
	}
	db.startWriter.Do(func() { go db.writeLoop() })
	job := &writeJob{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case db.writes <- job:
	case <-db.quit:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued the change may commit, so wait for the answer even if
	// ctx ends: the caller must not report failure for a committed change.
	return <-job.done
}

func (db *DB) writeLoop() {
	defer close(db.writerDone)
	for {
		var first *writeJob
		select {
		case first = <-db.writes:
		case <-db.quit:
			return
		}
		batch := []*writeJob{first}
	fill:
		for len(batch) < maxBatch {
			select {
			case j := <-db.writes:
				batch = append(batch, j)
			default:
				break fill
			}
		}
		db.commitBatch(batch)
	}
}

// commitBatch runs the jobs in one transaction and answers each.
func (db *DB) commitBatch(batch []*writeJob) {
	results := make([]error, len(batch))
	// The queue observer hears of the batch from start to end; read once,
	// so that it hears of all of it or nothing.
	obs := db.queueObserver()
	committed := false
	if obs != nil {
		obs.BeginBatch()
		defer func() {
			if !committed {
				obs.EndBatch(false)
			}
		}()
	}
	answer := func() {
		for i, j := range batch {
			j.done <- results[i]
		}
	}
	fail := func(err error) {
		for i := range results {
			if results[i] == nil {
				results[i] = err
			}
		}
		answer()
	}
	// A SQLite file removed or replaced since the last look: refuse
	// the batch rather than write it where nobody will read it.
	if gone := db.checkFileSometimes(); gone != nil {
		fail(gone)
		return
	}
	ctx := context.Background()
	sqlTx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		fail(db.writeFailed(fmt.Errorf("begin: %w", err)))
		return
	}
	// Statements of the committer's own (the turn, savepoints, NOTIFY)
	// wait in pending and go with the next one it must send: on
	// PostgreSQL, where each is a round trip, several share one
	// (execPending).
	var pending []string
	// PostgreSQL: instances take turns (see postgres.go); the whole batch
	// holds the turn, taken before its first change writes.
	if db.dialect.serializeWrites != "" {
		pending = append(pending, db.dialect.serializeWrites)
	}
	fault := func(err error) {
		_ = sqlTx.Rollback()
		fail(db.writeFailed(err))
	}
	single := len(batch) == 1
	wake, notified := false, false
	// refused: a change failed for a storage fault; the batch's commit
	// then does not clear it.
	refused := false
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if wake && !notified && db.dialect.notify != "" {
			// A change queued deliveries: NOTIFY now, with the next
			// savepoint, rather than in a round trip of its own at the
			// end. Outside any savepoint, so that no later change's
			// rollback takes it back; PostgreSQL sends it at the
			// commit, which also keeps the deliveries.
			pending, notified = append(pending, db.dialect.notify), true
		}
		if !single {
			pending = append(pending, "SAVEPOINT change")
		}
		if err := db.execPending(ctx, sqlTx, &pending); err != nil {
			fault(err)
			return
		}
		tx := &Tx{db: db, pool: db.writer, tx: sqlTx, q: sqlTx, dialect: db.dialect, Now: db.Now().UTC().Truncate(time.Microsecond), batched: true,
			observer: obs}
		err := call(j.fn, tx)
		if obs != nil {
			obs.EndChange(err == nil)
		}
		switch {
		case err != nil && single:
			_ = sqlTx.Rollback()
			results[i] = db.writeFailed(err)
			answer()
			return
		case err != nil:
			results[i] = db.writeFailed(err)
			refused = refused || classify(err) != faultNone
			pending = append(pending, "ROLLBACK TO change", "RELEASE change")
			if rerr := db.execPending(ctx, sqlTx, &pending); rerr != nil {
				if classify(err) != faultNone {
					// SQLite rolls the whole transaction back after
					// some faults (SQLITE_FULL): the savepoint is gone,
					// and every change of the batch failed for the same
					// reason.
					rerr = err
				}
				fault(rerr)
				return
			}
		default:
			wake = wake || tx.wake
			if !single {
				// Sent with the next change's savepoint; COMMIT
				// releases the last one.
				pending = append(pending, "RELEASE change")
			}
		}
	}
	if db.dialect.serializeWrites != "" && len(pending) > 0 && pending[0] == db.dialect.serializeWrites {
		pending = pending[1:] // no change ran: nothing to take turns for
	}
	if db.dialect.kind == PostgreSQL && len(pending) > 0 && pending[len(pending)-1] == "RELEASE change" {
		pending = pending[:len(pending)-1] // COMMIT releases it
	}
	if wake && !notified && db.dialect.notify != "" {
		pending = append(pending, db.dialect.notify)
	}
	if err := db.execPending(ctx, sqlTx, &pending); err != nil {
		fault(err)
		return
	}
	if err := sqlTx.Commit(); err != nil {
		fail(db.writeFailed(fmt.Errorf("commit: %w", err)))
		return
	}
	committed = true
	if !refused && changed(results) {
		db.writeSucceeded()
	}
	if obs != nil {
		obs.EndBatch(true)
	}
	if wake {
		db.Wake()
	}
	answer()
}

// execPending runs the statements in pending and empties it: on
// PostgreSQL in one round trip (statements without parameters may be sent
// together: the simple query protocol), on SQLite, where a statement is
// a call, one by one.
func (db *DB) execPending(ctx context.Context, sqlTx *sql.Tx, pending *[]string) error {
	stmts := *pending
	*pending = (*pending)[:0]
	if len(stmts) == 0 {
		return nil
	}
	if db.dialect.kind == PostgreSQL {
		_, err := sqlTx.ExecContext(ctx, strings.Join(stmts, "; "))
		return err
	}
	for _, s := range stmts {
		if _, err := sqlTx.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// changed reports whether a change of a committed batch succeeded: a
// batch of failed changes commits nothing, which proves nothing about
// the disk.
func changed(results []error) bool {
	for _, err := range results {
		if err == nil {
			return true
		}
	}
	return false
}

// call runs fn, turning a panic into an error so one bad change cannot stop
// every writer.
func call(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = herald.Errorf(herald.EINTERNAL, "panic in a write transaction: %v", v)
		}
	}()
	return fn(tx)
}
