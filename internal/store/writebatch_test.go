package store_test

import (
	"slices"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// TestDeferredStatementsFailTheirChange: on PostgreSQL a new user's row
// and an event go to the database after the change has returned, with
// the batch's next round trip (writebatch.go). A taken username found
// then fails that change alone, with the ECONFLICT naming the field, and
// leaves no event; the batch's other changes commit, with their users'
// ids and their events' seqs set by the time Update returns, also when
// the failing change is the batch's last (its statements went with
// COMMIT) or alone. On SQLite the same changes run at once: the same
// outcome.
func TestDeferredStatementsFailTheirChange(t *testing.T) {
	eachBackend(t, func(t *testing.T, db *store.DB) {
		hook := newWebhook(t, db, allUser)
		createUser(t, db, "taken")
		type created struct {
			user  herald.User
			event herald.Event
			txid  int64 // PostgreSQL: the transaction the change ran in
		}
		// create creates a user and its event; on PostgreSQL it reads
		// its transaction's id first (a statement sent at once, which
		// sends what earlier changes deferred), unless quiet.
		createIn := func(c *created, name string, quiet bool) func(*store.Tx) error {
			return func(tx *store.Tx) error {
				if db.Kind() == store.PostgreSQL && !quiet {
					if err := tx.QueryRow(ctx, `SELECT txid_current()`).Scan(&c.txid); err != nil {
						return err
					}
				}
				c.user = herald.User{Username: name, Email: name + "-new@example.com"}
				if err := tx.CreateUserDeferred(ctx, &c.user, ""); err != nil {
					return err
				}
				c.event = herald.Event{Type: herald.EventUserCreated, Subject: "user:" + name,
					Actor: herald.Actor{Type: herald.ActorSystem}, Payload: []byte(`{"username":"` + name + `","groups":[]}`)}
				return tx.AppendEvent(ctx, &c.event)
			}
		}
		create := func(c *created, name string) func(*store.Tx) error { return createIn(c, name, false) }
		wantTaken := func(err error) {
			t.Helper()
			if herald.ErrorCode(err) != herald.ECONFLICT || herald.ErrorField(err) != "username" {
				t.Errorf("a taken username: %v, want ECONFLICT for username", err)
			}
		}
		wantCreated := func(c *created) {
			t.Helper()
			if c.user.ID == 0 || c.event.Seq == 0 {
				t.Errorf("%s: user id %d, event seq %d after the commit, want both set", c.user.Username, c.user.ID, c.event.Seq)
			}
		}

		var a, taken1, b, taken2, taken3, c, refused created
		errs := inOneBatch(db, create(&a, "a"), create(&taken1, "taken"), create(&b, "b"), create(&taken2, "taken"))
		if errs[0] != nil || errs[2] != nil {
			t.Fatalf("errors = %v, want the first and third to commit", errs)
		}
		wantTaken(errs[1])
		wantTaken(errs[3])
		wantCreated(&a)
		wantCreated(&b)
		if a.txid != taken1.txid || a.txid != b.txid || a.txid != taken2.txid {
			t.Fatalf("transactions %d, %d, %d, %d: the changes did not share one batch", a.txid, taken1.txid, b.txid, taken2.txid)
		}

		// A change that fails after deferring (here a taken username,
		// then its own error) fails alone: its deferred statements go
		// with it, unsent. (SQLite finds the username taken at once.)
		errRefused := herald.Errorf(herald.EINVALID, "refused after deferring")
		errs = inOneBatch(db, create(&c, "c"), func(tx *store.Tx) error {
			if err := create(&refused, "taken")(tx); err != nil {
				return err
			}
			return errRefused
		})
		if errs[0] != nil {
			t.Fatalf("errors = %v, want the first to commit", errs)
		}
		if db.Kind() == store.PostgreSQL && errs[1] != errRefused {
			t.Errorf("the change that failed after deferring: %v, want its own error", errs[1])
		} else if db.Kind() != store.PostgreSQL {
			wantTaken(errs[1])
		}
		wantCreated(&c)
		if err := db.Update(ctx, create(&taken3, "taken")); err != nil {
			wantTaken(err)
		} else {
			t.Error("a change alone with a taken username committed")
		}

		// Changes that only defer: on PostgreSQL the whole batch is one
		// pipeline sent with COMMIT; the failing change in its middle
		// fails alone, and those after it are sent again.
		var d, taken4, e created
		errs = inOneBatch(db, createIn(&d, "d", true), createIn(&taken4, "taken", true), createIn(&e, "e", true))
		if errs[0] != nil || errs[2] != nil {
			t.Fatalf("errors = %v, want the first and last to commit", errs)
		}
		wantTaken(errs[1])
		wantCreated(&d)
		wantCreated(&e)

		var subjects []string
		for _, d := range deliveries(t, db, hook.ID) {
			subjects = append(subjects, d.Subject)
		}
		slices.Sort(subjects)
		if !slices.Equal(subjects, []string{"user:a", "user:b", "user:c", "user:d", "user:e"}) {
			t.Errorf("deliveries of %v, want those of users a to e alone", subjects)
		}
		var users []herald.User
		view(t, db, func(tx *store.Tx) (err error) {
			users, err = tx.ListUsers(ctx)
			return err
		})
		byName := map[string]int64{}
		for _, u := range users {
			byName[u.Username] = u.ID
		}
		if len(users) != 6 || byName["a"] != a.user.ID || byName["b"] != b.user.ID || byName["c"] != c.user.ID ||
			byName["d"] != d.user.ID || byName["e"] != e.user.ID {
			t.Errorf("users %v, want taken and a to e with the ids their changes saw (a %d, b %d, c %d, d %d, e %d)",
				byName, a.user.ID, b.user.ID, c.user.ID, d.user.ID, e.user.ID)
		}
	})
}
