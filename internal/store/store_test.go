package store_test

// One conformance suite for the store, run against both backends: every
// test gets a fresh, migrated SQLite file and a fresh PostgreSQL database
// (testdb.Postgres; skipped without a server, a failure under CI=true).
//
// Files: store_test.go (helpers, migrations, transactions),
// store_directory_test.go (users, groups, credentials, jobs),
// store_events_test.go (event log, fan-out, wake-ups),
// store_delivery_test.go (claims, outcomes, queue maintenance),
// store_concurrency_test.go (several handles on one database).

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/testdb"
)

var ctx = context.Background()

// backends names the databases every test runs on.
var backends = []string{"sqlite", "postgres"}

// eachBackendDSN runs test once per backend, in parallel, with the address
// of a fresh, empty database.
func eachBackendDSN(t *testing.T, test func(t *testing.T, dsn string)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			var dsn string
			if b == "sqlite" {
				dsn = filepath.Join(t.TempDir(), "herald.db")
			} else {
				dsn = testdb.Postgres(t)
			}
			test(t, dsn)
		})
	}
}

// eachBackend runs test once per backend with a fresh, migrated database,
// and once more on SQLite with handoffs on, as when this process's engine
// runs (handoff.go): nothing a test sees through the store may change.
func eachBackend(t *testing.T, test func(t *testing.T, db *store.DB)) {
	t.Helper()
	eachBackendDSN(t, func(t *testing.T, dsn string) {
		test(t, openMigrated(t, dsn))
	})
	t.Run("sqlite-handoff", func(t *testing.T) {
		t.Parallel()
		db := openMigrated(t, filepath.Join(t.TempDir(), "herald.db"))
		db.StartHandoff()
		test(t, db)
	})
}

// open opens a handle on dsn, closed when the test ends.
func open(t *testing.T, dsn string) *store.DB {
	t.Helper()
	db, err := store.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return db
}

func openMigrated(t *testing.T, dsn string) *store.DB {
	t.Helper()
	db := open(t, dsn)
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

// clock is a settable time source for db.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

// t0 is where test clocks start: whole seconds, so stored microseconds
// round-trip exactly.
var t0 = time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)

func useClock(db *store.DB) *clock {
	c := &clock{t: t0}
	db.Now = c.Now
	return c
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func update(t *testing.T, db *store.DB, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := db.Update(ctx, fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

func view(t *testing.T, db *store.DB, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := db.View(ctx, fn); err != nil {
		t.Fatalf("view: %v", err)
	}
}

// wantCode checks that err carries the herald error code want.
func wantCode(t *testing.T, what string, err error, want string) {
	t.Helper()
	if got := herald.ErrorCode(err); err == nil || got != want {
		t.Errorf("%s: err = %v (code %q), want code %q", what, err, got, want)
	}
}

func createUser(t *testing.T, db *store.DB, username string) herald.User {
	t.Helper()
	u := herald.User{Username: username, FirstName: "First " + username, LastName: "Last", Email: username + "@example.com"}
	update(t, db, func(tx *store.Tx) error { return tx.CreateUser(ctx, &u, "") })
	return u
}

// allUser subscribes a webhook to the four seed events.
func allUser(w *herald.Webhook) {
	w.OnUserCreated, w.OnUserModified, w.OnUserDeleted, w.OnHWKeyProvision = true, true, true, true
}

// newWebhook creates an enabled webhook with no triggers, adjusted by mods.
func newWebhook(t *testing.T, db *store.DB, mods ...func(*herald.Webhook)) herald.Webhook {
	t.Helper()
	w := herald.Webhook{URL: "https://receiver.example/hook", Description: "test hook", Enabled: true,
		Method: "POST", SigningSecret: "sealed-secret", Events: []string{}}
	for _, m := range mods {
		m(&w)
	}
	update(t, db, func(tx *store.Tx) error { return tx.CreateWebhook(ctx, &w) })
	return w
}

// emit appends an event of typ about subject in its own transaction.
func emit(t *testing.T, db *store.DB, typ, subject string) herald.Event {
	t.Helper()
	payload, _ := json.Marshal(map[string]string{"username": subject, "type": typ})
	ev := herald.Event{Type: typ, Subject: subject, Actor: "admin", Payload: payload}
	update(t, db, func(tx *store.Tx) error { return tx.AppendEvent(ctx, &ev) })
	return ev
}

func deliveries(t *testing.T, db *store.DB, hookID int64) []herald.Delivery {
	t.Helper()
	var ds []herald.Delivery
	view(t, db, func(tx *store.Tx) (err error) {
		ds, err = tx.ListDeliveries(ctx, hookID, "", 0, 1000)
		return err
	})
	return ds
}

// deliveryID returns the id of the one delivery of event to webhook.
func deliveryID(t *testing.T, db *store.DB, hookID int64, ev herald.Event) int64 {
	t.Helper()
	var found []int64
	for _, d := range deliveries(t, db, hookID) {
		if d.EventID == ev.ID {
			found = append(found, d.ID)
		}
	}
	if len(found) != 1 {
		t.Fatalf("webhook %d has %d deliveries of event %s (%s %s), want 1", hookID, len(found), ev.ID, ev.Type, ev.Subject)
	}
	return found[0]
}

func delivery(t *testing.T, db *store.DB, hookID, id int64) herald.Delivery {
	t.Helper()
	var d herald.Delivery
	view(t, db, func(tx *store.Tx) (err error) {
		d, _, err = tx.DeliveryByID(ctx, hookID, id)
		return err
	})
	return d
}

// claimAll asks for everything due, with a one-minute lease.
var claimAll = store.ClaimRequest{Limit: 100, Lease: time.Minute, PerWebhook: 100}

func claim(t *testing.T, db *store.DB, req store.ClaimRequest) []store.Claimed {
	t.Helper()
	cs, err := db.ClaimDue(ctx, req)
	if err != nil {
		t.Fatalf("ClaimDue: %v", err)
	}
	return cs
}

func claimedIDs(cs []store.Claimed) []int64 {
	ids := make([]int64, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	slices.Sort(ids)
	return ids
}

// wantClaimed checks that exactly the deliveries want were claimed.
func wantClaimed(t *testing.T, what string, cs []store.Claimed, want ...int64) {
	t.Helper()
	want = slices.Clone(want)
	slices.Sort(want)
	if got := claimedIDs(cs); !slices.Equal(got, want) {
		t.Errorf("%s: claimed %v, want %v", what, got, want)
	}
}

func findClaimed(t *testing.T, cs []store.Claimed, id int64) store.Claimed {
	t.Helper()
	for _, c := range cs {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("delivery %d not among the claimed %v", id, claimedIDs(cs))
	return store.Claimed{}
}

func outcome(c store.Claimed, state string, status int, at time.Time) store.Outcome {
	return store.Outcome{DeliveryID: c.ID, WebhookID: c.WebhookID, State: state,
		Attempt: herald.Attempt{StartedAt: at, DurationMS: 7, StatusCode: status, ResponseBody: "body"}}
}

func record(t *testing.T, db *store.DB, outs ...store.Outcome) {
	t.Helper()
	if err := db.RecordOutcomes(ctx, outs); err != nil {
		t.Fatalf("RecordOutcomes: %v", err)
	}
}

// drain empties a Wakeups channel.
func drain(db *store.DB) {
	for {
		select {
		case <-db.Wakeups():
		default:
			return
		}
	}
}

func wantWakeup(t *testing.T, what string, db *store.DB) {
	t.Helper()
	select {
	case <-db.Wakeups():
	case <-time.After(5 * time.Second):
		t.Errorf("%s: no signal on Wakeups", what)
	}
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

// TestUpdateRollsBack: a transaction whose fn fails leaves nothing behind:
// no user, no group, no event, no delivery, no wake-up (CONTRACT 1.3
// "if it rolls back, nobody hears of it").
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
			ev := herald.Event{Type: herald.EventUserCreated, Subject: "bob", Actor: "admin", Payload: []byte(`{}`)}
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
			ev := herald.Event{Type: herald.EventUserCreated, Subject: "carol", Actor: "admin", Payload: []byte(`{}`)}
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
			t.Errorf("ClaimDue after rollback returned %v", claimedIDs(got))
		}
		st, err := db.Stats(ctx)
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
			ev = herald.Event{Type: herald.EventUserCreated, Subject: "alice", Actor: "admin", Payload: []byte(`{}`)}
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
