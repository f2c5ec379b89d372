package store_test

// One conformance suite for the store, run against both backends: every
// test gets a fresh, migrated SQLite file and a fresh PostgreSQL database
// (testdb.Postgres; skipped without a server, a failure under CI=true).
// The delivery queue's suite (internal/queue) shares its helpers
// (internal/storetest).
//
// Files: store_test.go (helpers, migrations, transactions),
// store_directory_test.go (users, groups, credentials, jobs),
// store_events_test.go (event log, fan-out, wake-ups),
// store_concurrency_test.go (several handles on one database).

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/queue"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/storetest"
	"github.com/heraldhq/herald/internal/testdb"
)

var ctx = context.Background()

// The helpers shared with the queue's suite.
var (
	backends       = storetest.Backends
	eachBackendDSN = storetest.EachDSN
	open           = storetest.Open
	openMigrated   = storetest.OpenMigrated
	t0             = storetest.T0
	useClock       = storetest.UseClock
	update         = storetest.Update
	view           = storetest.View
	wantCode       = storetest.WantCode
	createUser     = storetest.CreateUser
	allUser        = storetest.AllUser
	newWebhook     = storetest.NewWebhook
	emit           = storetest.Emit
	deliveries     = storetest.Deliveries
	deliveryID     = storetest.DeliveryID
	wantWebhook    = storetest.WantWebhook
	drain          = storetest.Drain
	wantWakeup     = storetest.WantWakeup
	claimAll       = storetest.ClaimAll
	claimedIDs     = storetest.ClaimedIDs
	outcome        = storetest.Outcome
)

// inOneBatch runs the changes through db.Update in one group commit
// batch, queued in the order given: the writer is held by a change of
// its own until all are queued. It returns each change's answer.
func inOneBatch(db *store.DB, changes ...func(*store.Tx) error) []error {
	held, release := make(chan struct{}), make(chan struct{})
	go db.Update(ctx, func(*store.Tx) error { close(held); <-release; return nil })
	<-held
	errs := make([]error, len(changes))
	var wg sync.WaitGroup
	for i, change := range changes {
		queued := store.QueuedWrites(db)
		wg.Go(func() { errs[i] = db.Update(ctx, change) })
		for deadline := time.Now().Add(10 * time.Second); store.QueuedWrites(db) == queued && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	close(release)
	wg.Wait()
	return errs
}

// eachBackend runs test once per backend with a fresh, migrated database,
// and once more on SQLite with its queue started, as when this process's
// engine runs (the queue's handoff): nothing a test sees through the
// store may change.
func eachBackend(t *testing.T, test func(t *testing.T, db *store.DB)) {
	t.Helper()
	eachBackendDSN(t, func(t *testing.T, dsn string) {
		test(t, openMigrated(t, dsn))
	})
	t.Run("sqlite-handoff", func(t *testing.T) {
		t.Parallel()
		db := openMigrated(t, filepath.Join(t.TempDir(), "herald.db"))
		if _, err := storetest.Queue(t, db).Start(ctx); err != nil {
			t.Fatalf("start the queue: %v", err)
		}
		test(t, db)
	})
}

// claim claims from db's queue.
func claim(t *testing.T, db *store.DB, req queue.Request) []queue.Claimed {
	t.Helper()
	return storetest.Claim(t, storetest.Queue(t, db), req)
}

// record records outcomes in db's queue.
func record(t *testing.T, db *store.DB, outs ...queue.Outcome) {
	t.Helper()
	storetest.Record(t, storetest.Queue(t, db), outs...)
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	eachBackendDSN(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		if got, want := db.Kind(), store.KindOf(dsn); got != want {
			t.Errorf("Kind() = %v, want %v", got, want)
		}
		if err := db.Ping(ctx); err != nil {
			t.Errorf("Ping: %v", err)
		}
		applied, err := db.Migrate(ctx)
		if err != nil {
			t.Fatalf("first Migrate: %v", err)
		}
		want := migrationVersions(t)
		if !slices.Equal(applied, want) {
			t.Errorf("first Migrate applied %v, want %v", applied, want)
		}
		applied, err = db.Migrate(ctx)
		if err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if len(applied) != 0 {
			t.Errorf("second Migrate applied %v, want nothing", applied)
		}
		v, err := db.SchemaVersion(ctx)
		if err != nil || v != want[len(want)-1] {
			t.Errorf("SchemaVersion = %d, %v; want %d", v, err, want[len(want)-1])
		}
		// A second handle (a restart) finds nothing to do either.
		applied, err = open(t, dsn).Migrate(ctx)
		if err != nil || len(applied) != 0 {
			t.Errorf("Migrate from a new handle applied %v, %v; want nothing", applied, err)
		}
	})
}

// migrationVersions returns the migration versions shipped, which must be
// the same for every dialect (version N means the same schema everywhere).
func migrationVersions(t *testing.T) []int {
	t.Helper()
	var all [][]int
	for _, dialect := range backends {
		entries, err := os.ReadDir(filepath.Join("migrations", dialect))
		if err != nil {
			t.Fatal(err)
		}
		var vs []int
		for _, e := range entries {
			num, _, _ := strings.Cut(e.Name(), "_")
			v, err := strconv.Atoi(num)
			if err != nil {
				t.Fatalf("migration %s/%s: no version number", dialect, e.Name())
			}
			vs = append(vs, v)
		}
		slices.Sort(vs)
		all = append(all, vs)
	}
	if !slices.Equal(all[0], all[1]) || len(all[0]) == 0 {
		t.Fatalf("migration versions differ between dialects: %s %v, %s %v", backends[0], all[0], backends[1], all[1])
	}
	return all[0]
}

func TestOpenEmptyPath(t *testing.T) {
	t.Parallel()
	_, err := store.Open(ctx, "", nil)
	wantCode(t, "Open(\"\")", err, herald.EINVALID)
}

// TestOpenSaysWhyPostgreSQLCannotBeUsed: when the database cannot be used
// at start, the error names it (without its password) and the driver's
// cause, so the operator knows what to fix; a request would only be told
// to try again.
func TestOpenSaysWhyPostgreSQLCannotBeUsed(t *testing.T) {
	t.Parallel()
	const password = "s3cret-pw-42"
	withPassword := func(t *testing.T, base, database string) string {
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(u.User.Username(), password)
		u.Path = "/" + database
		q := u.Query()
		q.Set("sslpassword", password)
		u.RawQuery = q.Encode()
		return u.String()
	}
	for _, tc := range []struct {
		name  string
		dsn   func(t *testing.T) string
		cause []string
	}{
		{"nothing listens", func(t *testing.T) string {
			return withPassword(t, "postgres://herald@127.0.0.1:1/?sslmode=disable", "herald")
		}, []string{"127.0.0.1", "connect", "refused"}},
		{"no such database", func(t *testing.T) string {
			testdb.Postgres(t) // skips without a server
			return withPassword(t, testdb.ServerDSN(), "herald_no_such_database")
		}, []string{`database "herald_no_such_database" does not exist`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dsn := tc.dsn(t)
			db, err := store.Open(ctx, dsn, nil)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%s) worked", store.Redact(dsn))
			}
			msg := err.Error()
			if strings.Contains(msg, password) {
				t.Errorf("the error shows the password: %s", msg)
			}
			if !strings.Contains(msg, store.Redact(dsn)) {
				t.Errorf("the error does not name the database %s: %s", store.Redact(dsn), msg)
			}
			for _, want := range tc.cause {
				if !strings.Contains(msg, want) {
					t.Errorf("the error does not say %q: %s", want, msg)
				}
			}
		})
	}
}

// TestUpdateRollsBack: a transaction whose fn fails leaves nothing behind:
// no user, no group, no event, no delivery, no wake-up ("if it rolls
// back, nobody hears of it": docs/architecture.md).
func TestUpdateRollsBack(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		w := newWebhook(t, db, allUser)
		createUser(t, db, "alice")
		drain(db)

		boom := errors.New("boom")
		err := db.Update(ctx, func(tx *store.Tx) error {
			u := herald.User{Username: "bob", Email: "bob@example.com"}
			if err := tx.CreateUser(ctx, &u, "hash"); err != nil {
				return err
			}
			if _, err := tx.CreateGroup(ctx, "devs", false); err != nil {
				return err
			}
			ev := herald.Event{Type: herald.EventUserCreated, Subject: "bob", Actor: herald.Actor{Type: herald.ActorUser, Username: "admin"}, Payload: []byte(`{}`)}
			if err := tx.AppendEvent(ctx, &ev); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Update returned %v, want fn's error", err)
		}

		// A conflict half-way also undoes what came before it.
		err = db.Update(ctx, func(tx *store.Tx) error {
			u := herald.User{Username: "carol", Email: "carol@example.com"}
			if err := tx.CreateUser(ctx, &u, ""); err != nil {
				return err
			}
			ev := herald.Event{Type: herald.EventUserCreated, Subject: "carol", Actor: herald.Actor{Type: herald.ActorUser, Username: "admin"}, Payload: []byte(`{}`)}
			if err := tx.AppendEvent(ctx, &ev); err != nil {
				return err
			}
			dup := herald.User{Username: "alice", Email: "other@example.com"}
			return tx.CreateUser(ctx, &dup, "")
		})
		wantCode(t, "Update with a taken username half-way", err, herald.ECONFLICT)

		// A change whose context has ended is not made.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err = db.Update(cctx, func(tx *store.Tx) error {
			u := herald.User{Username: "dave", Email: "dave@example.com"}
			return tx.CreateUser(cctx, &u, "")
		})
		if err == nil {
			t.Errorf("Update with a cancelled context succeeded")
		}

		view(t, db, func(tx *store.Tx) error {
			for _, name := range []string{"bob", "carol", "dave"} {
				if taken, err := tx.UsernameTaken(ctx, name); err != nil || taken {
					t.Errorf("UsernameTaken(%s) after rollback = %v, %v; want false", name, taken, err)
				}
			}
			if n, err := tx.CountUsers(ctx); err != nil || n != 1 {
				t.Errorf("CountUsers after rollback = %d, %v; want 1", n, err)
			}
			_, err := tx.GroupIDByName(ctx, "devs")
			wantCode(t, "group created in a rolled-back transaction", err, herald.ENOTFOUND)
			evs, err := tx.ListEvents(ctx, 0, 100)
			if err != nil || len(evs) != 0 {
				t.Errorf("ListEvents after rollback = %v, %v; want none", evs, err)
			}
			ds, err := tx.ListDeliveries(ctx, w.ID, "", 0, 100)
			if err != nil || len(ds) != 0 {
				t.Errorf("ListDeliveries after rollback = %v, %v; want none", ds, err)
			}
			return nil
		})
		if got := claim(t, db, claimAll); len(got) != 0 {
			t.Errorf("Claim after rollback returned %v", claimedIDs(got))
		}
		st, err := storetest.Queue(t, db).Stats(ctx)
		if err != nil || st.Pending != 0 {
			t.Errorf("Stats after rollback = %+v, %v; want nothing pending", st, err)
		}
		if db.Kind() == store.SQLite { // on PostgreSQL the listener may signal at any time
			select {
			case <-db.Wakeups():
				t.Errorf("Wakeups signalled after a rolled-back transaction")
			default:
			}
		}
	})
}

// TestUnstorableText: text PostgreSQL cannot hold (a NUL byte, bytes that
// are not UTF-8) is bad input (EINVALID) there, not an internal error, in
// a read and in a write that shares its group commit with others (which
// still commit). SQLite stores and compares such strings as they are.
func TestUnstorableText(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		wantBad := herald.ENOTFOUND
		if db.Kind() == store.PostgreSQL {
			wantBad = herald.EINVALID
		}
		for _, name := range []string{"a\x00b", "a\xffb"} {
			err := db.View(ctx, func(tx *store.Tx) error {
				_, err := tx.UserByUsername(ctx, name)
				return err
			})
			wantCode(t, fmt.Sprintf("UserByUsername(%q)", name), err, wantBad)
		}
		if db.Kind() != store.PostgreSQL {
			return
		}
		errs := make(chan error, 8)
		for i := range 8 {
			go func() {
				errs <- db.Update(ctx, func(tx *store.Tx) error {
					u := herald.User{Username: fmt.Sprintf("user%d", i), FirstName: "Jo", Email: fmt.Sprintf("u%d@example.com", i)}
					if i%2 == 0 {
						u.FirstName = "J\x00o"
					}
					return tx.CreateUser(ctx, &u, "")
				})
			}()
		}
		bad := 0
		for range 8 {
			if err := <-errs; err != nil {
				wantCode(t, "CreateUser with a NUL in first_name", err, herald.EINVALID)
				bad++
			}
		}
		view(t, db, func(tx *store.Tx) error {
			if n, err := tx.CountUsers(ctx); err != nil || n != 4 || bad != 4 {
				t.Errorf("after 4 good and 4 bad writes at once: %d users (%v), %d refused; want 4 and 4", n, err, bad)
			}
			return nil
		})
	})
}

// TestViewIsReadOnly: View cannot write.
func TestViewIsReadOnly(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		err := db.View(ctx, func(tx *store.Tx) error {
			u := herald.User{Username: "alice", Email: "alice@example.com"}
			return tx.CreateUser(ctx, &u, "")
		})
		if err == nil {
			t.Errorf("CreateUser in View succeeded")
		}
		view(t, db, func(tx *store.Tx) error {
			if n, err := tx.CountUsers(ctx); err != nil || n != 0 {
				t.Errorf("CountUsers = %d, %v; want 0", n, err)
			}
			return nil
		})
	})
}

// TestTxNow: every row a transaction writes carries the same Now, read from
// db.Now and truncated to microseconds.
func TestTxNow(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		c := useClock(db)
		c.Set(t0.Add(123456789 * time.Nanosecond).In(time.FixedZone("X", 3600)))
		want := t0.Add(123456 * time.Microsecond)
		var u herald.User
		var ev herald.Event
		update(t, db, func(tx *store.Tx) error {
			if !tx.Now.Equal(want) || tx.Now.Location() != time.UTC {
				t.Errorf("tx.Now = %v, want %v in UTC", tx.Now, want)
			}
			u = herald.User{Username: "alice", Email: "alice@example.com"}
			if err := tx.CreateUser(ctx, &u, ""); err != nil {
				return err
			}
			ev = herald.Event{Type: herald.EventUserCreated, Subject: "alice", Actor: herald.Actor{Type: herald.ActorUser, Username: "admin"}, Payload: []byte(`{}`)}
			return tx.AppendEvent(ctx, &ev)
		})
		view(t, db, func(tx *store.Tx) error {
			got, err := tx.UserByID(ctx, u.ID)
			if err != nil {
				return err
			}
			if !got.CreatedAt.Equal(want) || !got.UpdatedAt.Equal(want) {
				t.Errorf("stored times %v / %v, want %v", got.CreatedAt, got.UpdatedAt, want)
			}
			evs, err := tx.ListEvents(ctx, 0, 10)
			if err != nil {
				return err
			}
			if len(evs) != 1 || !evs[0].OccurredAt.Equal(want) || !ev.OccurredAt.Equal(want) {
				t.Errorf("event time %v (returned %v), want %v", evs, ev.OccurredAt, want)
			}
			return nil
		})
	})
}

// TestBackup: a SQLite database copies itself to a new file, consistent and
// openable; an existing file is refused; PostgreSQL says to use pg_dump.
func TestBackup(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		createUser(t, db, "alice")
		emit(t, db, herald.EventUserCreated, "alice")
		path := filepath.Join(t.TempDir(), "backup.db")
		err := db.Backup(ctx, path)
		if db.Kind() == store.PostgreSQL {
			wantCode(t, "Backup on PostgreSQL", err, herald.EINVALID)
			return
		}
		if err != nil {
			t.Fatalf("Backup: %v", err)
		}
		wantCode(t, "Backup onto an existing file", db.Backup(ctx, path), herald.ECONFLICT)
		cp := open(t, path)
		if applied, err := cp.Migrate(ctx); err != nil || len(applied) != 0 {
			t.Errorf("Migrate on the copy applied %v, %v; want nothing", applied, err)
		}
		view(t, cp, func(tx *store.Tx) error {
			if _, err := tx.UserByUsername(ctx, "alice"); err != nil {
				t.Errorf("the copy lacks alice: %v", err)
			}
			if evs, err := tx.ListEvents(ctx, 0, 10); err != nil || len(evs) != 1 {
				t.Errorf("the copy has events %v, %v; want 1", evs, err)
			}
			return nil
		})
	})
}

// TestPanicInUpdate: a change that panics (a bug in the caller) leaves
// nothing behind and does not block the changes after it, even when its
// context lives on (the delivery engine, the CLI). On SQLite the group
// committer turns the panic into an EINTERNAL error; elsewhere it may
// reach the caller.
func TestPanicInUpdate(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		func() {
			defer func() { _ = recover() }()
			err := db.Update(ctx, func(tx *store.Tx) error {
				u := herald.User{Username: "alice", Email: "alice@example.com"}
				if err := tx.CreateUser(ctx, &u, ""); err != nil {
					return err
				}
				panic("a bug")
			})
			if err == nil {
				t.Errorf("a panicking change reported success")
			}
		}()
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		err := db.Update(tctx, func(tx *store.Tx) error {
			u := herald.User{Username: "bob", Email: "bob@example.com"}
			return tx.CreateUser(tctx, &u, "")
		})
		if err != nil {
			t.Errorf("the next change after a panic: %v", err)
		}
		view(t, db, func(tx *store.Tx) error {
			_, err := tx.UserByUsername(ctx, "alice")
			wantCode(t, "user created by the panicking change", err, herald.ENOTFOUND)
			return nil
		})
	})
}
