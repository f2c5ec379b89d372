package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/storetest"
)

// TestGroupCommitFailedChangeLeavesNoOutbox: in a batch shared by several
// changes, one that queued deliveries and then failed (refused by the
// caller, or by the database) leaves no event and no delivery, while the
// others keep theirs; on PostgreSQL, a batch whose only queued deliveries
// were rolled back wakes no instance (no NOTIFY), one with a kept delivery
// does.
func TestGroupCommitFailedChangeLeavesNoOutbox(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			dsn := storetest.DSN(t, b)
			db := openMigrated(t, dsn)
			hook := newWebhook(t, db, allUser)
			createUser(t, db, "taken")
			var listen *pgx.Conn
			if b == "postgres" {
				var err error
				if listen, err = pgx.Connect(ctx, dsn); err != nil {
					t.Fatal(err)
				}
				defer listen.Close(context.Background())
				if _, err := listen.Exec(ctx, "LISTEN herald_deliveries"); err != nil {
					t.Fatal(err)
				}
			}
			notified := func(wait time.Duration) bool {
				c, cancel := context.WithTimeout(ctx, wait)
				defer cancel()
				_, err := listen.WaitForNotification(c)
				return err == nil
			}
			emitIn := func(tx *store.Tx, name string) error {
				return tx.AppendEvent(ctx, &herald.Event{Type: herald.EventUserCreated, Subject: "user:" + name,
					Actor: herald.Actor{Type: herald.ActorSystem}, Payload: []byte(`{"username":"` + name + `","groups":[]}`)})
			}
			refused := func(tx *store.Tx) error { return errors.New("refused") }
			conflict := func(tx *store.Tx) error {
				return tx.CreateUser(ctx, &herald.User{Username: "taken", Email: "other@example.com"}, "")
			}
			errs := inOneBatch(db,
				func(tx *store.Tx) error {
					if err := emitIn(tx, "a"); err != nil {
						return err
					}
					return refused(tx)
				},
				func(tx *store.Tx) error { return emitIn(tx, "b") },
				func(tx *store.Tx) error {
					if err := emitIn(tx, "c"); err != nil {
						return err
					}
					return conflict(tx)
				},
			)
			if errs[0] == nil || errs[1] != nil || herald.ErrorCode(errs[2]) != herald.ECONFLICT {
				t.Fatalf("errors = %v, want refused, nil, a conflict", errs)
			}
			subjects := func() []string {
				var out []string
				for _, d := range deliveries(t, db, hook.ID) {
					out = append(out, d.Subject)
				}
				return out
			}
			if got := subjects(); len(got) != 1 || got[0] != "user:b" {
				t.Errorf("deliveries of %v, want user:b's alone", got)
			}
			var events []herald.Event
			view(t, db, func(tx *store.Tx) (err error) {
				events, err = tx.ListEvents(ctx, 0, 100)
				return err
			})
			for _, ev := range events {
				if ev.Subject == "user:a" || ev.Subject == "user:c" {
					t.Errorf("event %s of a failed change persisted", ev.Subject)
				}
			}
			if listen != nil && !notified(5*time.Second) {
				t.Error("no NOTIFY for the batch that kept a delivery")
			}

			errs = inOneBatch(db,
				func(tx *store.Tx) error {
					if err := emitIn(tx, "d"); err != nil {
						return err
					}
					return refused(tx)
				},
				func(tx *store.Tx) error {
					return tx.CreateUser(ctx, &herald.User{Username: "e", Email: "e@example.com"}, "")
				},
				func(tx *store.Tx) error {
					if err := emitIn(tx, "f"); err != nil {
						return err
					}
					return conflict(tx)
				},
			)
			if errs[0] == nil || errs[1] != nil || herald.ErrorCode(errs[2]) != herald.ECONFLICT {
				t.Fatalf("errors = %v, want refused, nil, a conflict", errs)
			}
			if got := subjects(); len(got) != 1 {
				t.Errorf("deliveries of %v after a batch that kept none, want user:b's alone", got)
			}
			if listen != nil && notified(700*time.Millisecond) {
				t.Error("NOTIFY for a batch whose deliveries were all rolled back")
			}
		})
	}
}
