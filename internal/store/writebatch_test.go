package store_test

import (
	"sync"
	"testing"
	"time"

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
		}
		create := func(c *created, name string) func(*store.Tx) error {
			return func(tx *store.Tx) error {
				c.user = herald.User{Username: name, Email: name + "-new@example.com"}
				if err := tx.CreateUserDeferred(ctx, &c.user, ""); err != nil {
					return err
				}
				c.event = herald.Event{Type: herald.EventUserCreated, Subject: "user:" + name,
					Actor: herald.Actor{Type: herald.ActorSystem}, Payload: []byte(`{"username":"` + name + `","groups":[]}`)}
				return tx.AppendEvent(ctx, &c.event)
			}
		}
		// batch runs the changes in one batch: the writer is held until
		// all are queued, in order.
		batch := func(changes ...func(*store.Tx) error) []error {
			held, release := make(chan struct{}), make(chan struct{})
			go db.Update(ctx, func(*store.Tx) error { close(held); <-release; return nil })
			<-held
			errs := make([]error, len(changes))
			var wg sync.WaitGroup
			for i, change := range changes {
				wg.Go(func() { errs[i] = db.Update(ctx, change) })
				time.Sleep(20 * time.Millisecond) // queued in this order
			}
			time.Sleep(100 * time.Millisecond)
			close(release)
			wg.Wait()
			return errs
		}
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

		var a, taken1, b, taken2, taken3 created
		errs := batch(create(&a, "a"), create(&taken1, "taken"), create(&b, "b"), create(&taken2, "taken"))
		if errs[0] != nil || errs[2] != nil {
			t.Fatalf("errors = %v, want the first and third to commit", errs)
		}
		wantTaken(errs[1])
		wantTaken(errs[3])
		wantCreated(&a)
		wantCreated(&b)
		if err := db.Update(ctx, create(&taken3, "taken")); err != nil {
			wantTaken(err)
		} else {
			t.Error("a change alone with a taken username committed")
		}

		var subjects []string
		for _, d := range deliveries(t, db, hook.ID) {
			subjects = append(subjects, d.Subject)
		}
		if len(subjects) != 2 || subjects[0] == subjects[1] || (subjects[0] != "user:a" && subjects[0] != "user:b") ||
			(subjects[1] != "user:a" && subjects[1] != "user:b") {
			t.Errorf("deliveries of %v, want user:a's and user:b's alone", subjects)
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
		if len(users) != 3 || byName["a"] != a.user.ID || byName["b"] != b.user.ID {
			t.Errorf("users %v, want taken, a (id %d) and b (id %d)", byName, a.user.ID, b.user.ID)
		}
	})
}
