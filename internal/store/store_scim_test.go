package store_test

import (
	"maps"
	"testing"

	"github.com/heraldhq/herald/internal/store"
)

// TestSCIMRemoteIDs: the ids a SCIM target gave users and groups are
// kept per target and kind, replaced by a later id, forgotten on request,
// listed for a resync, and deleted with their target; UserID finds
// Herald's id of a user by username.
func TestSCIMRemoteIDs(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		a, b := newWebhook(t, db), newWebhook(t, db)
		if _, ok, err := db.RemoteID(ctx, a.ID, "user", "alice"); ok || err != nil {
			t.Fatalf("RemoteID before any = %v, %v", ok, err)
		}
		for _, s := range []struct {
			target     int64
			kind, name string
			id         string
		}{
			{a.ID, "user", "alice", "u-1"},
			{a.ID, "user", "alice", "u-2"}, // replaces u-1
			{a.ID, "user", "bob", "u-3"},
			{a.ID, "group", "alice", "g-1"}, // a group may share a user's name
			{b.ID, "user", "alice", "other-1"},
		} {
			if err := db.SetRemoteID(ctx, s.target, s.kind, s.name, s.id); err != nil {
				t.Fatalf("SetRemoteID(%+v): %v", s, err)
			}
		}
		if id, ok, err := db.RemoteID(ctx, a.ID, "user", "alice"); id != "u-2" || !ok || err != nil {
			t.Errorf("RemoteID(a, user, alice) = %q, %v, %v; want u-2", id, ok, err)
		}
		if id, _, _ := db.RemoteID(ctx, b.ID, "user", "alice"); id != "other-1" {
			t.Errorf("RemoteID(b, user, alice) = %q, want other-1", id)
		}
		users, err := db.ListRemoteIDs(ctx, a.ID, "user")
		if want := map[string]string{"alice": "u-2", "bob": "u-3"}; err != nil || !maps.Equal(users, want) {
			t.Errorf("ListRemoteIDs(a, user) = %v, %v; want %v", users, err, want)
		}
		if err := db.DeleteRemoteID(ctx, a.ID, "user", "bob"); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteRemoteID(ctx, a.ID, "user", "nobody"); err != nil {
			t.Errorf("forgetting an id never stored: %v", err)
		}
		if _, ok, _ := db.RemoteID(ctx, a.ID, "user", "bob"); ok {
			t.Error("bob's id is still there after DeleteRemoteID")
		}

		update(t, db, func(tx *store.Tx) error { _, err := tx.DeleteWebhook(ctx, a.ID); return err })
		if ids, err := db.ListRemoteIDs(ctx, a.ID, "group"); err != nil || len(ids) != 0 {
			t.Errorf("after deleting the target its group ids are %v, %v", ids, err)
		}
		if err := db.SetRemoteID(ctx, a.ID, "user", "carol", "u-9"); err == nil {
			t.Error("SetRemoteID for a deleted target succeeded")
		}

		alice := createUser(t, db, "alice")
		if id, ok, err := db.UserID(ctx, "alice"); id != alice.ID || !ok || err != nil {
			t.Errorf("UserID(alice) = %d, %v, %v; want %d", id, ok, err, alice.ID)
		}
		if _, ok, err := db.UserID(ctx, "nobody"); ok || err != nil {
			t.Errorf("UserID(nobody) = %v, %v", ok, err)
		}
		// UserIDs reads both at once; either may be missing.
		if err := db.SetRemoteID(ctx, b.ID, "user", "ghost", "gh-1"); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			target       int64
			name, remote string
			mapped       bool
			user         int64
		}{
			{b.ID, "alice", "other-1", true, alice.ID},
			{b.ID, "ghost", "gh-1", true, 0},     // mapped, not a user now
			{a.ID, "alice", "", false, alice.ID}, // a's ids went with it
			{b.ID, "nobody", "", false, 0},
		} {
			remote, mapped, user, err := db.UserIDs(ctx, c.target, c.name)
			if remote != c.remote || mapped != c.mapped || user != c.user || err != nil {
				t.Errorf("UserIDs(%d, %s) = %q, %v, %d, %v; want %q, %v, %d", c.target, c.name, remote, mapped, user, err, c.remote, c.mapped, c.user)
			}
		}
	})
}
