package store

import (
	"context"
	"errors"
	"fmt"
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
	return queueAndWait(ctx, db, db.writes, job, job.done, db.writerDone)
}

// queueAndWait queues job for a batch writer (the group committer, the
// remote id writer) and waits for its answer on done. Once queued the job
// may commit, so the answer is waited for even if ctx ends: the caller
// must not report failure for a committed change. A writer stops at Close
// between batches (stopped is closed then): a job still queued was never
// run.
func queueAndWait[J any](ctx context.Context, db *DB, jobs chan<- J, job J, done <-chan error, stopped <-chan struct{}) error {
	select {
	case jobs <- job:
	case <-db.quit:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-stopped:
		select {
		case err := <-done:
			return err
		default:
			return errClosed
		}
	}
}

// contendedWriteLock: a batch that waited longer than this for the write
// lock (PostgreSQL's advisory lock, held by another instance's batch)
// makes the next batch take the lock first, before it runs its changes,
// and add those that arrived while it waited.
//
// A batch's changes are gathered when it starts, and usually it waits
// for the lock with them: while other instances hold the lock, the
// changes that reach this one meanwhile wait for the batch after, and
// each instance's batches stay small (with three instances, about four
// changes each). Taken first, the lock costs a round trip more (and the
// changes' own work in Go runs while it is held), but the batch then
// takes every change that arrived while it waited: fewer, larger batches
// share the lock and its fsyncs. An instance alone never waits for the
// lock, and keeps its one round trip per batch.
const contendedWriteLock = time.Millisecond

func (db *DB) writeLoop() {
	defer close(db.writerDone)
	lockFirst := false
	for {
		var first *writeJob
		select {
		case first = <-db.writes:
		case <-db.quit:
			return
		}
		waited := db.commitBatch(fillBatch(db.writes, []*writeJob{first}), lockFirst)
		lockFirst = waited > contendedWriteLock
	}
}

// fillBatch adds the jobs queued now to batch, up to maxBatch.
func fillBatch[J any](jobs <-chan J, batch []J) []J {
	for len(batch) < maxBatch {
		select {
		case j := <-jobs:
			batch = append(batch, j)
		default:
			return batch
		}
	}
	return batch
}

// commitBatch runs the jobs in one transaction and answers each. With
// lockFirst (PostgreSQL) it takes the write lock before anything else,
// and adds the changes queued meanwhile to the batch. waited is how long
// the batch waited for the lock (0 on SQLite, or if it failed first).
func (db *DB) commitBatch(batch []*writeJob, lockFirst bool) (waited time.Duration) {
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
	single := len(batch) == 1
	wb, err := db.beginBatch(ctx, single)
	if err != nil {
		fail(db.writeFailed(fmt.Errorf("begin: %w", err)))
		return
	}
	defer func() { waited = wb.lockWaited }()
	// Statements of the committer's own (the write lock, savepoints,
	// NOTIFY) wait in wb's pending and go with the next one it must send: on
	// PostgreSQL, where each is a round trip, several share one, with
	// the changes' deferred statements (writebatch.go).
	// PostgreSQL: instances' batches take the write lock in turn (see
	// postgres.go); the whole batch holds it, taken before its first
	// change writes: with BEGIN alone when the lock is taken first.
	fault := func(err error) {
		wb.rollback()
		fail(db.writeFailed(err))
	}
	if db.dialect.serializeWrites != "" {
		wb.takeWriteLock(db.dialect.serializeWrites)
		if lockFirst && wb.pipelined() {
			if err := wb.flush(ctx); err != nil {
				fault(err)
				return
			}
			batch = fillBatch(db.writes, batch)
			results = make([]error, len(batch))
			single = len(batch) == 1
			wb.single = single
		}
	}
	wake, webhooksChanged := false, false
	var requeues []int64
	// refused: a change failed for a storage fault; the batch's commit
	// then does not clear it.
	refused := false
	// failChange records change i's failure and, in a batch of several,
	// rolls it back to its savepoint; false: the batch has failed (and
	// been answered).
	failChange := func(i int, err error) bool {
		results[i] = db.writeFailed(err)
		refused = refused || classify(err) != faultNone
		if single {
			wb.rollback()
			answer()
			return false
		}
		// What the change deferred and nobody sent yet goes with it,
		// unsent; if its savepoint has not been sent either, nothing of
		// it reached the database.
		if wb.pipelined() && wb.drop(i) {
			return true
		}
		wb.queue(-1, "ROLLBACK TO change", "RELEASE change")
		if rerr := wb.flush(ctx); rerr != nil {
			if classify(err) != faultNone {
				// SQLite rolls the whole transaction back after
				// some faults (SQLITE_FULL): the savepoint is gone,
				// and every change of the batch failed for the same
				// reason.
				rerr = err
			}
			fault(rerr)
			return false
		}
		return true
	}
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if !single {
			wb.queue(i, "SAVEPOINT change")
		}
		if !wb.pipelined() {
			if err := wb.flush(ctx); err != nil {
				fault(err)
				return
			}
		}
		tx := &Tx{db: db, pool: db.writer, tx: wb.tx, q: wb.querier(), dialect: db.dialect, Now: db.Now().UTC().Truncate(time.Microsecond), batched: true,
			observer: obs, change: i}
		if wb.pipelined() {
			tx.batch = wb
		}
		err := call(j.fn, tx)
		if obs != nil {
			obs.EndChange(err == nil)
		}
		if e := wb.failed[i]; e != nil {
			// A deferred statement of its own failed when sent: flush
			// has rolled it back already (alone, the batch with it).
			if single {
				failChange(i, e)
				return
			}
			wb.drop(i)
			continue
		}
		if err != nil {
			if !failChange(i, err) {
				return
			}
			continue
		}
		wake = wake || tx.wake
		webhooksChanged = webhooksChanged || tx.webhooksChanged
		requeues = append(requeues, tx.requeues...)
		if !single {
			// Sent with what comes next; COMMIT releases the last one.
			wb.queue(i, "RELEASE change")
		}
	}
	if wb.pipelined() && !changed(results) {
		// No change ran, or all failed: nothing to commit (and, unless
		// one sent a statement, nothing was sent).
		wb.rollback()
		answer()
		return
	}
	if wb.pipelined() && wb.pendingLast("RELEASE change") {
		wb.dropLast() // COMMIT releases it
	}
	if wake && db.dialect.notifies {
		// A change queued deliveries without a fan-out's own NOTIFY (a
		// redelivery, a test, a SCIM call): PostgreSQL sends it at the
		// commit, which also keeps the deliveries.
		wb.queue(-1, notifyStmt(requeues))
	}
	if webhooksChanged && db.dialect.notifies {
		wb.queue(-1, db.notifyWebhooksStmt())
	}
	err = wb.commit(ctx)
	if webhooksChanged && db.dialect.notifies {
		// Before the handoffs (one may be of a webhook the batch
		// created); after a failed commit too, which may have happened
		// all the same: this process's listener passes over its own
		// notification.
		db.webhooksCommitted()
	}
	if err != nil {
		var d *deferredError
		if errors.As(err, &d) {
			// The single change's deferred statement failed.
			failChange(0, d.err)
			return
		}
		fail(db.writeFailed(fmt.Errorf("commit: %w", err)))
		return
	}
	// Changes whose deferred statements failed after they returned
	// were rolled back; the others committed.
	for i, err := range wb.failed {
		results[i] = db.writeFailed(err)
		refused = refused || classify(err) != faultNone
	}
	committed = true
	if !refused && changed(results) {
		db.writeSucceeded()
	}
	db.handOver(wb, results, requeues)
	if obs != nil {
		obs.EndBatch(true)
	}
	if wake {
		db.queuedCommitted(requeues)
	} else if wb.wake {
		db.Wake()
	}
	answer()
	return
}

// handOver gives this process's HandoffTaker the deliveries the
// committed changes of a batch leased to it at insert (those of changes
// that failed were rolled back with them), with the webhooks it requeued,
// and tells OnNotify's function at once which webhooks have deliveries
// left for claims.
func (db *DB) handOver(wb *writeBatch, results []error, requeues []int64) {
	var ds []Handed
	for i, err := range results {
		if err != nil {
			continue
		}
		for _, ids := range wb.unleased[i] {
			db.notified(ids)
		}
		ds = append(ds, wb.handed[i]...)
	}
	if taker := db.handoffTaker(); taker != nil && (len(ds) > 0 || len(requeues) > 0) {
		taker.Take(ds, requeues)
	}
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
