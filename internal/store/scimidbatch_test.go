package store_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/storetest"
)

// TestRemoteIDBatch (PostgreSQL): one batch stores and forgets ids, the
// last write of a resource winning, and fails whole when a write in it
// cannot be stored (its target gone), so that the writer can retry each
// write alone.
func TestRemoteIDBatch(t *testing.T) {
	t.Parallel()
	db := openMigrated(t, storetest.DSN(t, "postgres"))
	a := newWebhook(t, db)
	for name, id := range map[string]string{"bob": "b-0", "carol": "c-0", "dave": "d-0"} {
		if err := db.SetRemoteID(ctx, a.ID, "user", name, id); err != nil {
			t.Fatal(err)
		}
	}
	err := store.WriteRemoteIDBatch(db, []store.RemoteIDWrite{
		{a.ID, "user", "alice", "a-1"},
		{a.ID, "user", "alice", "a-2"}, // replaces a-1 in the same batch
		{a.ID, "user", "bob", ""},      // forgets b-0
		{a.ID, "user", "carol", ""},
		{a.ID, "user", "carol", "c-1"}, // forgotten, then stored again: c-1
		{a.ID, "user", "dave", "d-1"},
		{a.ID, "user", "dave", ""}, // stored, then forgotten: none
		{a.ID, "group", "alice", "g-1"},
	})
	if err != nil {
		t.Fatalf("the batch: %v", err)
	}
	want := map[string]string{"alice": "a-2", "carol": "c-1"}
	if got, err := db.ListRemoteIDs(ctx, a.ID, "user"); err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("users' ids after the batch = %v, %v; want %v", got, err, want)
	}
	if id, ok, _ := db.RemoteID(ctx, a.ID, "group", "alice"); !ok || id != "g-1" {
		t.Errorf("group alice's id = %q, %v; want g-1", id, ok)
	}
	err = store.WriteRemoteIDBatch(db, []store.RemoteIDWrite{{a.ID, "user", "erin", "e-1"}, {a.ID + 1000, "user", "erin", "x-1"}})
	if err == nil {
		t.Fatal("a batch with a write for a target that does not exist succeeded")
	}
	if _, ok, _ := db.RemoteID(ctx, a.ID, "user", "erin"); ok {
		t.Error("a failed batch stored part of its writes")
	}
}

// TestRemoteIDsConcurrent: many senders storing and forgetting ids at
// once (on PostgreSQL, batched together) each get their own answer: all
// are stored, except the one whose target is gone, which fails alone.
func TestRemoteIDsConcurrent(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		a := newWebhook(t, db)
		const n = 64
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				target := a.ID
				if i == n/2 {
					target = a.ID + 1000 // no such target
				}
				errs[i] = db.SetRemoteID(ctx, target, "user", fmt.Sprintf("u%02d", i), fmt.Sprintf("id-%d", i))
				if errs[i] == nil && i%4 == 0 {
					errs[i] = db.DeleteRemoteID(ctx, target, "user", fmt.Sprintf("u%02d", i))
				}
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if (err != nil) != (i == n/2) {
				t.Errorf("write %d: %v", i, err)
			}
		}
		got, err := db.ListRemoteIDs(ctx, a.ID, "user")
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			id, ok := got[fmt.Sprintf("u%02d", i)]
			if wantOK := i != n/2 && i%4 != 0; ok != wantOK || ok && id != fmt.Sprintf("id-%d", i) {
				t.Errorf("u%02d: id %q, stored %v; want stored %v", i, id, ok, wantOK)
			}
		}
	})
}
