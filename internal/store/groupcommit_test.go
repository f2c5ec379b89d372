package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/testdb"
)

// Many concurrent changes share commits, yet each is all or nothing: the
// failing ones leave no trace and the others all persist.
func TestGroupCommitKeepsChangesSeparate(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "g.db")
			if backend == "postgres" {
				// The committer's own statements share round trips
				// there (writeBatch.flush): savepoints, RELEASE, COMMIT,
				// and the changes' events.
				dsn = testdb.Postgres(t)
			}
			testGroupCommitKeepsChangesSeparate(t, dsn)
		})
	}
}

func testGroupCommitKeepsChangesSeparate(t *testing.T, dsn string) {
	ctx := context.Background()
	db, err := Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 200)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.Update(ctx, func(tx *Tx) error {
				u := herald.User{Username: fmt.Sprintf("u%d", i), Email: fmt.Sprintf("u%d@example.com", i)}
				if dup(i) {
					// A statement the database refuses: on PostgreSQL
					// the transaction is aborted until the rollback to
					// the change's savepoint.
					u.Username = "dup"
				}
				if err := tx.CreateUser(ctx, &u, ""); err != nil {
					return err
				}
				if err := tx.AppendEvent(ctx, &herald.Event{Type: herald.EventUserCreated, Subject: "user:" + u.Username, Actor: herald.Actor{Type: herald.ActorSystem}, Payload: []byte("{}")}); err != nil {
					return err
				}
				if i%3 == 0 {
					return errors.New("refused")
				}
				if i%7 == 0 {
					panic("boom")
				}
				return nil
			})
		}()
	}
	wg.Wait()
	var users []herald.User
	var events []herald.Event
	if err := db.View(ctx, func(tx *Tx) (err error) {
		if users, err = tx.ListUsers(ctx); err != nil {
			return err
		}
		events, err = tx.ListEvents(ctx, 0, 1000)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want, dups := 0, 0
	for i, err := range errs {
		switch {
		case dup(i):
			if err == nil {
				dups++
				want++
			} else if herald.ErrorCode(err) != herald.ECONFLICT {
				t.Errorf("change %d: err %v, want a conflict", i, err)
			}
		case i%3 == 0:
			if err == nil || err.Error() != "refused" {
				t.Errorf("change %d: err %v, want refused", i, err)
			}
		case i%7 == 0:
			if herald.ErrorCode(err) != herald.EINTERNAL {
				t.Errorf("change %d: err %v, want an internal error for the panic", i, err)
			}
		default:
			want++
			if err != nil {
				t.Errorf("change %d: %v", i, err)
			}
		}
	}
	if dups != 1 {
		t.Errorf("%d changes created user dup, want 1", dups)
	}
	if len(users) != want || len(events) != want {
		t.Fatalf("%d users and %d events persisted, want %d of each", len(users), len(events), want)
	}
	for i := 1; i < len(events); i++ {
		if events[i].Seq <= events[i-1].Seq {
			t.Fatal("event seq not increasing")
		}
	}
}

// dup: change i of testGroupCommitKeepsChangesSeparate creates the user
// every such change creates.
func dup(i int) bool { return i%5 == 0 && i%3 != 0 && i%7 != 0 }

// A caller that gives up while its change runs in a shared batch cuts
// neither its own change short nor the others' (on PostgreSQL, cancelling
// a statement closes the connection, which would fail the whole batch).
func TestGroupCommitSurvivesACancelledCaller(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			dsn := filepath.Join(t.TempDir(), "g.db")
			slow := `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT count(*) FROM c`
			if backend == "postgres" {
				dsn = testdb.Postgres(t)
				slow = `SELECT count(*) FROM (SELECT pg_sleep(0.4)) s`
			}
			db, err := Open(ctx, dsn, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			// Hold the writer so that the next changes queue up and share
			// one batch.
			held, release := make(chan struct{}), make(chan struct{})
			go db.Update(ctx, func(*Tx) error { close(held); <-release; return nil })
			<-held
			gaveUp, cancel := context.WithCancel(ctx)
			defer cancel()
			errs := make([]error, 4)
			var wg sync.WaitGroup
			for i := range errs {
				c := ctx
				if i == 0 {
					c = gaveUp
				}
				wg.Go(func() {
					errs[i] = db.Update(c, func(tx *Tx) error {
						if i == 0 {
							time.AfterFunc(100*time.Millisecond, cancel) // in the middle of the slow statement
							var n int
							if err := tx.queryRow(c, slow).Scan(&n); err != nil {
								return err
							}
						}
						u := herald.User{Username: fmt.Sprintf("c%d", i), Email: fmt.Sprintf("c%d@example.com", i)}
						return tx.CreateUser(c, &u, "")
					})
				})
			}
			time.Sleep(100 * time.Millisecond) // all four queued
			close(release)
			wg.Wait()
			var users []herald.User
			if err := db.View(ctx, func(tx *Tx) (err error) { users, err = tx.ListUsers(ctx); return err }); err != nil {
				t.Fatal(err)
			}
			have := map[string]bool{}
			for _, u := range users {
				have[u.Username] = true
			}
			for i, err := range errs {
				name := fmt.Sprintf("c%d", i)
				if err == nil && !have[name] || err != nil && have[name] {
					t.Errorf("change %d: err %v, yet user %s exists: %v", i, err, name, have[name])
				}
				if i > 0 && err != nil {
					t.Errorf("change %d failed because another caller gave up: %v", i, err)
				}
			}
		})
	}
}
