package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/heraldhq/herald"
)

// Many concurrent changes share commits, yet each is all or nothing: the
// failing ones leave no trace and the others all persist.
func TestGroupCommitKeepsChangesSeparate(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "g.db"), nil)
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
				if err := tx.CreateUser(ctx, &u, ""); err != nil {
					return err
				}
				if err := tx.AppendEvent(ctx, &herald.Event{Type: herald.EventUserCreated, Subject: "user:" + u.Username, Actor: "t", Payload: []byte("{}")}); err != nil {
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
	want := 0
	for i, err := range errs {
		switch {
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
	if len(users) != want || len(events) != want {
		t.Fatalf("%d users and %d events persisted, want %d of each", len(users), len(events), want)
	}
	for i := 1; i < len(events); i++ {
		if events[i].Seq <= events[i-1].Seq {
			t.Fatal("event seq not increasing")
		}
	}
}
