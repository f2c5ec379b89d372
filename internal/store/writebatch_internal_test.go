package store

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/testdb"
)

// The PostgreSQL batch's failure paths, run through commitBatch with the
// batch made up in advance (no timing decides what shares a batch), and
// the write lock taken first.

func openPipelined(t *testing.T) *DB {
	t.Helper()
	return openPipelinedAt(t, testdb.Postgres(t))
}

// openBesideAnother opens a database as openPipelined does, and another
// connection to it, as another instance's.
func openBesideAnother(t *testing.T) (*DB, *pgx.Conn) {
	t.Helper()
	dsn := testdb.Postgres(t)
	db := openPipelinedAt(t, dsn)
	other, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close(context.Background()) })
	return db, other
}

func openPipelinedAt(t *testing.T, dsn string) *DB {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

func job(ctx context.Context, fn func(*Tx) error) *writeJob {
	return &writeJob{ctx: ctx, fn: fn, done: make(chan error, 1)}
}

// runBatch commits jobs as one batch and returns each one's answer.
func runBatch(db *DB, jobs ...*writeJob) []error {
	db.commitBatch(jobs, false)
	errs := make([]error, len(jobs))
	for i, j := range jobs {
		errs[i] = <-j.done
	}
	return errs
}

// createJob creates user name and its event, deferred, then returns then.
func createJob(ctx context.Context, name string, then error) *writeJob {
	return job(ctx, func(tx *Tx) error {
		u := herald.User{Username: name, Email: name + "@example.com"}
		if err := tx.CreateUserDeferred(ctx, &u, ""); err != nil {
			return err
		}
		ev := herald.Event{Type: herald.EventUserCreated, Subject: "user:" + name, Actor: herald.Actor{Type: herald.ActorSystem}, Payload: []byte("{}")}
		if err := tx.AppendEvent(ctx, &ev); err != nil {
			return err
		}
		return then
	})
}

func usernames(t *testing.T, db *DB) []string {
	t.Helper()
	var names []string
	err := db.View(context.Background(), func(tx *Tx) error {
		users, err := tx.ListUsers(context.Background())
		for _, u := range users {
			names = append(names, u.Username)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

// TestBatchOutcomesPerChange: in one batch, each change gets its own
// outcome, and only the changes answered nil leave rows and events: taken
// usernames found when the batch is sent (twice in a row, and last, with
// COMMIT), a change that fails after deferring (before anything was
// sent), a change whose caller gave up, and a change that ignores the
// failure of its own deferred statement and goes on (what it tries next is
// refused, and it fails whatever it returns).
func TestBatchOutcomesPerChange(t *testing.T) {
	ctx := context.Background()
	db := openPipelined(t)
	if errs := runBatch(db, createJob(ctx, "taken", nil)); errs[0] != nil {
		t.Fatal(errs[0])
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	errOwn := herald.Errorf(herald.EINVALID, "refused after deferring")
	var ignoredNext error
	ignoring := job(ctx, func(tx *Tx) error {
		u := herald.User{Username: "taken", Email: "ignoring@example.com"}
		_ = tx.CreateUserDeferred(ctx, &u, "")
		var one int
		_ = tx.QueryRow(ctx, `SELECT 1`).Scan(&one) // sends the INSERT: it fails
		next := herald.User{Username: "ignored", Email: "ignored@example.com"}
		ignoredNext = tx.CreateUserDeferred(ctx, &next, "")
		return nil
	})
	errs := runBatch(db,
		createJob(ctx, "a", nil),
		createJob(ctx, "taken", nil),
		createJob(ctx, "taken", nil),
		createJob(ctx, "b", errOwn),
		createJob(gone, "cancelled", nil),
		createJob(ctx, "c", nil),
		ignoring,
		createJob(ctx, "d", nil),
		createJob(ctx, "taken", nil),
	)
	conflict := func(err error) bool { return herald.ErrorCode(err) == herald.ECONFLICT }
	for i, want := range []func(error) bool{
		func(err error) bool { return err == nil },
		conflict,
		conflict,
		func(err error) bool { return errors.Is(err, errOwn) },
		func(err error) bool { return errors.Is(err, context.Canceled) },
		func(err error) bool { return err == nil },
		conflict,
		func(err error) bool { return err == nil },
		conflict,
	} {
		if !want(errs[i]) {
			t.Errorf("change %d: %v", i, errs[i])
		}
	}
	if !conflict(ignoredNext) {
		t.Errorf("a statement after the change's own failure: %v, want its ECONFLICT again", ignoredNext)
	}
	if got, want := usernames(t, db), []string{"a", "c", "d", "taken"}; !slices.Equal(got, want) {
		t.Errorf("users %v, want %v", got, want)
	}
	var subjects []string
	err := db.View(ctx, func(tx *Tx) error {
		events, err := tx.ListEvents(ctx, 0, 100)
		for _, ev := range events {
			subjects = append(subjects, ev.Subject)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"user:taken", "user:a", "user:c", "user:d"}; !slices.Equal(subjects, want) {
		t.Errorf("events of %v, want %v (in commit order)", subjects, want)
	}
}

// TestBatchRoundTripFailureFailsAll: a round trip that fails for the
// batch (here a statement PostgreSQL cannot even prepare), not for one
// change's deferred statement, fails every change of the batch, also one
// whose statements went in an earlier round trip: what the failed round
// trip carried is lost, so nothing of the batch may commit.
func TestBatchRoundTripFailureFailsAll(t *testing.T) {
	ctx := context.Background()
	db := openPipelined(t)
	errs := runBatch(db,
		job(ctx, func(tx *Tx) error {
			u := herald.User{Username: "early", Email: "early@example.com"}
			return tx.CreateUser(ctx, &u, "") // sent at once
		}),
		createJob(ctx, "held", nil),
		job(ctx, func(tx *Tx) error {
			if err := tx.deferStmt(`SELEC 1`, nil, nil); err != nil {
				return err
			}
			var one int
			return tx.QueryRow(ctx, `SELECT 1`).Scan(&one)
		}),
	)
	for i, err := range errs {
		if err == nil {
			t.Errorf("change %d answered nil", i)
		}
	}
	if got := usernames(t, db); len(got) != 0 {
		t.Errorf("users %v after a failed batch, want none", got)
	}
	// The writer's connection is fit for the next batch.
	if errs := runBatch(db, createJob(ctx, "after", nil)); errs[0] != nil {
		t.Fatalf("the next batch: %v", errs[0])
	}
}

// TestBatchTakesWriteLockFirst: once a batch has waited for the write lock (the
// advisory lock, held here by another "instance"), the writer's next
// batch takes the lock first, and the changes that arrive while it waits
// join that batch: one transaction, in order. Batches
// gathered first (the way of an instance that never waits) would commit
// them in a batch of their own after it.
func TestBatchTakesWriteLockFirst(t *testing.T) {
	ctx := context.Background()
	db, other := openBesideAnother(t)
	const hold = 100 * time.Millisecond
	// holdWriteLock holds the write lock, runs start, then once a writer waits for
	// the lock, runs then, and lets go hold later.
	holdWriteLock := func(start, then func()) {
		t.Helper()
		held, err := other.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer held.Rollback(ctx) //nolint:errcheck // committed below
		if _, err := held.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockWrites); err != nil {
			t.Fatal(err)
		}
		start()
		testdb.LockWaiter(t, other.Config().ConnString(), lockWrites)
		then()
		time.Sleep(hold)
		if err := held.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Each change notes its transaction (txid_current is the top-level
	// one inside a savepoint too).
	names := []string{"waited", "first", "late", "late"}
	xids := make([]int64, len(names))
	errs := make(chan error, len(names))
	update := func(i int) {
		create := createJob(ctx, names[i], nil)
		errs <- db.Update(ctx, func(tx *Tx) error {
			if err := create.fn(tx); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `SELECT txid_current()`).Scan(&xids[i])
		})
	}
	// A batch waits for the write lock: the next takes it first.
	holdWriteLock(func() { go update(0) }, func() {})
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	holdWriteLock(func() { go update(1) }, func() {
		// The writer waits for the write lock with "first": these arrive
		// meanwhile. (Queued, not answered: the lock is still held.)
		// The second takes a username the first does: it fails alone,
		// in the batch it joined.
		go update(2)
		go update(3)
		for deadline := time.Now().Add(10 * time.Second); len(db.writes) < 2; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d of the 2 late changes queued", len(db.writes))
			}
		}
	})
	conflicts := 0
	for range 3 {
		if err := <-errs; herald.ErrorCode(err) == herald.ECONFLICT {
			conflicts++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if conflicts != 1 {
		t.Errorf("%d changes failed for the taken username, want 1", conflicts)
	}
	// The late change that failed noted nothing (its statements after
	// the failing insert did not run).
	if late := max(xids[2], xids[3]); late != xids[1] {
		t.Errorf("transactions of first and the late changes: %v; the change that arrived while the batch waited for the write lock did not join it", xids[1:])
	}
	if got, want := usernames(t, db), []string{"first", "late", "waited"}; !slices.Equal(got, want) {
		t.Errorf("users %v, want %v", got, want)
	}
}

// TestBatchWriteLockWaited: the write lock's statement says how long the
// batch waited for it, whether it went alone, with BEGIN, before the
// changes (the lock taken first), or with them; a batch that finds the
// lock free says it did not wait.
func TestBatchWriteLockWaited(t *testing.T) {
	ctx := context.Background()
	db, other := openBesideAnother(t)
	const hold = 100 * time.Millisecond
	for _, lockFirst := range []bool{true, false} {
		held, err := other.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := held.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockWrites); err != nil {
			t.Fatal(err)
		}
		committed := make(chan error, 1)
		time.AfterFunc(hold, func() { committed <- held.Commit(ctx) })
		j := createJob(ctx, "held"+strconv.FormatBool(lockFirst), nil)
		if waited := db.commitBatch([]*writeJob{j}, lockFirst); waited < hold/2 {
			t.Errorf("lock first %v: the batch says it waited %v for a lock held %v", lockFirst, waited, hold)
		}
		if err := <-committed; err != nil { // and other is free for the next round
			t.Fatal(err)
		}
		if err := <-j.done; err != nil {
			t.Fatal(err)
		}
		alone := createJob(ctx, "alone"+strconv.FormatBool(lockFirst), nil)
		if waited := db.commitBatch([]*writeJob{alone}, lockFirst); waited >= hold/2 {
			t.Errorf("lock first %v: a batch with the write lock free says it waited %v", lockFirst, waited)
		}
		if err := <-alone.done; err != nil {
			t.Fatal(err)
		}
	}
}

// TestBatchWriteLockFirstLost: a batch taking the write lock first whose
// connection is lost while it waits (PostgreSQL restarted, the backend
// ended) fails that batch's change with the database's unavailability,
// and the next batch commits.
func TestBatchWriteLockFirstLost(t *testing.T) {
	ctx := context.Background()
	db, other := openBesideAnother(t)
	held, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Rollback(ctx) //nolint:errcheck // ends with the test
	if _, err := held.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockWrites); err != nil {
		t.Fatal(err)
	}
	lost := createJob(ctx, "lost", nil)
	go db.commitBatch([]*writeJob{lost}, true)
	pid := testdb.LockWaiter(t, other.Config().ConnString(), lockWrites)
	if _, err := held.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	if err := <-lost.done; herald.ErrorCode(err) != herald.EUNAVAILABLE {
		t.Errorf("the change of a batch whose connection was lost waiting for the write lock: %v, want the database unavailable", err)
	}
	if err := held.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	next := createJob(ctx, "next", nil)
	db.commitBatch([]*writeJob{next}, true)
	if err := <-next.done; err != nil {
		t.Fatalf("the batch after: %v", err)
	}
	if got, want := usernames(t, db), []string{"next"}; !slices.Equal(got, want) {
		t.Errorf("users %v, want %v", got, want)
	}
}
