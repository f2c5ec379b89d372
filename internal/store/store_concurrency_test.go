package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to watch pg_stat_activity

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/testdb"
)

// TestConcurrentDirectoryWrites: two handles writing events at once; seq is
// the commit order (the event feed never shows a later seq before an earlier
// one) and nothing is lost.
func TestConcurrentDirectoryWrites(t *testing.T) {
	t.Parallel()
	eachBackendDSN(t, func(t *testing.T, dsn string) {
		db1 := openMigrated(t, dsn)
		db2 := open(t, dsn)
		w := newWebhook(t, db1, allUser)
		const perWriter = 25
		var wg sync.WaitGroup
		errs := make(chan error, 4*perWriter)
		for i, db := range []*store.DB{db1, db1, db2, db2} {
			wg.Go(func() {
				for j := range perWriter {
					err := db.Update(ctx, func(tx *store.Tx) error {
						u := herald.User{Username: fmt.Sprintf("u%d-%d", i, j), Email: fmt.Sprintf("u%d-%d@example.com", i, j)}
						if err := tx.CreateUser(ctx, &u, ""); err != nil {
							return err
						}
						ev := herald.Event{Type: herald.EventUserCreated, Subject: u.Username, Actor: herald.Actor{Type: herald.ActorUser, Username: "admin"}, Payload: []byte(`{}`)}
						return tx.AppendEvent(ctx, &ev)
					})
					if err != nil {
						errs <- err
					}
				}
			})
		}
		// Meanwhile a reader follows the feed by seq, as a receiver
		// reconciling would; it must never skip an event.
		stop := make(chan struct{})
		var seen []int64
		var readErr error
		readerDone := make(chan struct{})
		go func() {
			defer close(readerDone)
			var after int64
			for {
				// Whether the writers had all finished before this read:
				// then it is the last one needed.
				var stopped bool
				select {
				case <-stop:
					stopped = true
				default:
				}
				var evs []herald.Event
				err := db2.View(ctx, func(tx *store.Tx) (err error) {
					evs, err = tx.ListEvents(ctx, after, 1000)
					return err
				})
				if err != nil {
					readErr = err
					return
				}
				for _, e := range evs {
					seen = append(seen, e.Seq)
					after = e.Seq
				}
				if stopped && len(evs) == 0 {
					return
				}
				time.Sleep(200 * time.Microsecond)
			}
		}()
		wg.Wait()
		close(stop)
		<-readerDone
		close(errs)
		for err := range errs {
			t.Errorf("concurrent write: %v", err)
		}
		if readErr != nil {
			t.Fatalf("reader: %v", readErr)
		}
		var all []herald.Event
		view(t, db1, func(tx *store.Tx) (err error) {
			all, err = tx.ListEvents(ctx, 0, 1000)
			return err
		})
		if len(all) != 4*perWriter {
			t.Errorf("%d events, want %d", len(all), 4*perWriter)
		}
		if !slices.Equal(seen, seqs(all)) {
			t.Errorf("a reader following ListEvents(after) saw %d events, the feed has %d: an event committed with a seq below one already read",
				len(seen), len(all))
		}
		if ds := deliveries(t, db1, w.ID); len(ds) != 4*perWriter {
			t.Errorf("%d deliveries, want %d", len(ds), 4*perWriter)
		}
	})
}

// TestStartupLock: of two instances starting at once, one migrates while the
// other waits (PostgreSQL); on SQLite StartupLock just runs fn. Either way
// both come up with the schema migrated exactly once.
func TestStartupLock(t *testing.T) {
	t.Parallel()
	eachBackendDSN(t, func(t *testing.T, dsn string) {
		db1, db2 := open(t, dsn), open(t, dsn)
		var active, overlaps atomic.Int32
		var mu sync.Mutex
		var applied []int
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, db := range []*store.DB{db1, db2} {
			wg.Go(func() {
				<-start
				errs[i] = db.StartupLock(ctx, func() error {
					if active.Add(1) > 1 {
						overlaps.Add(1)
					}
					defer active.Add(-1)
					time.Sleep(150 * time.Millisecond)
					vs, err := db.Migrate(ctx)
					mu.Lock()
					applied = append(applied, vs...)
					mu.Unlock()
					return err
				})
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("StartupLock on handle %d: %v", i+1, err)
			}
		}
		slices.Sort(applied)
		want := migrationVersions(t)
		if !slices.Equal(applied, want) {
			t.Errorf("migrations applied by the two instances together: %v, want %v (each once)", applied, want)
		}
		if db1.Kind() == store.PostgreSQL && overlaps.Load() != 0 {
			t.Errorf("the two StartupLock functions overlapped")
		}
		for _, db := range []*store.DB{db1, db2} {
			if v, err := db.SchemaVersion(ctx); err != nil || v != want[len(want)-1] {
				t.Errorf("SchemaVersion = %d, %v", v, err)
			}
		}

		// fn's error comes back, and the lock is released after it.
		boom := errors.New("boom")
		if err := db1.StartupLock(ctx, func() error { return boom }); !errors.Is(err, boom) {
			t.Errorf("StartupLock returned %v, want fn's error", err)
		}
		done := make(chan error, 1)
		go func() { done <- db2.StartupLock(ctx, func() error { return nil }) }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("StartupLock after a failed one: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("StartupLock still held after fn returned an error")
		}
	})
}

// TestPostgresNotify: a commit that queued deliveries on one instance wakes
// the engine of another through LISTEN/NOTIFY; a commit that queued nothing
// does not.
func TestPostgresNotify(t *testing.T) {
	t.Parallel()
	dsn := testdb.Postgres(t)
	db1 := openMigrated(t, dsn)
	db2 := open(t, dsn)
	newWebhook(t, db1, func(w *herald.Webhook) { w.OnUserCreated = true })

	// Wait until both listeners are connected, then let their
	// "connected" signal pass.
	watch, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		var n int
		err := watch.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND query = 'LISTEN herald_deliveries' AND state = 'idle'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d listeners after 10 s, want 2", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	drain(db2)

	emit(t, db1, herald.EventUserDeleted, "alice") // no webhook wants it
	select {
	case <-db2.Wakeups():
		t.Errorf("another instance was woken by a commit that queued nothing")
	case <-time.After(300 * time.Millisecond):
	}
	emit(t, db1, herald.EventUserCreated, "alice")
	wantWakeup(t, "another instance after a commit that queued a delivery", db2)
}

// TestManyConcurrentTransactions: more transactions at once than either
// pool has connections, on a fresh handle (nothing cached yet), all finish:
// a transaction never needs a second connection from its own pool.
func TestManyConcurrentTransactions(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		newWebhook(t, db, allUser)
		const deadline = 10 * time.Second
		tctx, cancel := context.WithTimeout(ctx, deadline)
		defer cancel()
		const n = 48
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if i%2 == 0 {
					errs <- viewErr{db.View(tctx, func(tx *store.Tx) error {
						time.Sleep(50 * time.Millisecond) // a slow request holds its connection
						if _, err := tx.ListEventsBefore(tctx, 0, 10); err != nil {
							return err
						}
						_, err := tx.ListGroups(tctx)
						return err
					})}
					return
				}
				errs <- db.Update(tctx, func(tx *store.Tx) error {
					u := herald.User{Username: fmt.Sprintf("user%d", i), Email: fmt.Sprintf("user%d@example.com", i)}
					if err := tx.CreateUser(tctx, &u, ""); err != nil {
						return err
					}
					ev := herald.Event{Type: herald.EventUserCreated, Subject: u.Username, Actor: herald.Actor{Type: herald.ActorUser, Username: "admin"}, Payload: []byte(`{}`)}
					return tx.AppendEvent(tctx, &ev)
				})
			})
		}
		wg.Wait()
		close(errs)
		views, updates := 0, 0
		var first []error
		for err := range errs {
			if v, ok := err.(viewErr); ok {
				if v.err == nil {
					continue
				}
				views++
				err = v.err
			} else if err == nil {
				continue
			} else {
				updates++
			}
			if len(first) < 2 {
				first = append(first, err)
			}
		}
		if views+updates > 0 {
			t.Errorf("%d of %d Views and %d of %d Updates failed within %v (e.g. %v): deadlocked waiting for a connection?",
				views, n/2, updates, n/2, deadline, first)
		}
	})
}

// viewErr marks the outcome of a View.
type viewErr struct{ err error }

func (v viewErr) Error() string { return fmt.Sprint(v.err) }

// TestConcurrentUpdatesAllOrNothing: many changes at once (on SQLite they
// share commits), some failing half-way: each is all or nothing, each
// caller gets its own outcome, and the failed ones leave no user, event or
// delivery behind (docs/receivers.md: a change that is rolled back sends
// nothing).
func TestConcurrentUpdatesAllOrNothing(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		w := newWebhook(t, db, allUser)
		createUser(t, db, "taken")
		refused := errors.New("refused")
		// More changes at once than a pool has connections. The deadline
		// turns a deadlock into a failure.
		const n = 60
		tctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs[i] = db.Update(tctx, func(tx *store.Tx) error {
					u := herald.User{Username: fmt.Sprintf("u%02d", i), Email: fmt.Sprintf("u%02d@example.com", i)}
					if err := tx.CreateUser(tctx, &u, ""); err != nil {
						return err
					}
					ev := herald.Event{Type: herald.EventUserCreated, Subject: u.Username, Actor: herald.Actor{Type: herald.ActorUser, Username: "admin"}, Payload: []byte(`{}`)}
					if err := tx.AppendEvent(tctx, &ev); err != nil {
						return err
					}
					switch i % 4 {
					case 1:
						return refused
					case 2: // a conflict after the first writes
						dup := herald.User{Username: "taken", Email: fmt.Sprintf("dup%02d@example.com", i)}
						return tx.CreateUser(tctx, &dup, "")
					}
					return nil
				})
			})
		}
		wg.Wait()
		want := map[string]bool{}
		wrong := 0
		for i, err := range errs {
			var ok bool
			switch i % 4 {
			case 1:
				ok = errors.Is(err, refused)
			case 2:
				ok = herald.ErrorCode(err) == herald.ECONFLICT
			default:
				ok = err == nil
				want[fmt.Sprintf("u%02d", i)] = true
			}
			if !ok {
				if wrong++; wrong <= 3 {
					t.Errorf("change %d: err %v; want %s", i, err, []string{"nil", "fn's error", "ECONFLICT", "nil"}[i%4])
				}
			}
		}
		if wrong > 0 {
			t.Fatalf("%d of %d concurrent changes had the wrong outcome", wrong, n)
		}
		view(t, db, func(tx *store.Tx) error {
			users, err := tx.ListUsers(ctx)
			if err != nil {
				return err
			}
			got := map[string]bool{}
			for _, u := range users {
				if u.Username != "taken" {
					got[u.Username] = true
				}
			}
			evs, err := tx.ListEvents(ctx, 0, 1000)
			if err != nil {
				return err
			}
			gotEv := map[string]bool{}
			for _, e := range evs {
				gotEv[e.Subject] = true
			}
			for name := range want {
				if !got[name] || !gotEv[name] {
					t.Errorf("committed change for %s: user %v, event %v", name, got[name], gotEv[name])
				}
			}
			if len(got) != len(want) || len(evs) != len(want) {
				t.Errorf("%d users and %d events persisted, want %d of each", len(got), len(evs), len(want))
			}
			return nil
		})
		ds := deliveries(t, db, w.ID)
		if len(ds) != len(want) {
			t.Errorf("%d deliveries, want %d", len(ds), len(want))
		}
		for _, d := range ds {
			if !want[d.Subject] {
				t.Errorf("delivery %d for %s, whose change failed", d.ID, d.Subject)
			}
		}
	})
}
