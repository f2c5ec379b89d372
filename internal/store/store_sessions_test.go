package store_test

import (
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

func TestSessions(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		c := useClock(db)
		alice, bob := createUser(t, db, "alice"), createUser(t, db, "bob")
		update(t, db, func(tx *store.Tx) error {
			if err := tx.CreateSession(ctx, "h1", alice.ID, t0.Add(time.Hour)); err != nil {
				return err
			}
			if err := tx.CreateSession(ctx, "h2", alice.ID, t0.Add(3*time.Hour)); err != nil {
				return err
			}
			return tx.CreateSession(ctx, "hb", bob.ID, t0.Add(3*time.Hour))
		})
		err := db.Update(ctx, func(tx *store.Tx) error { return tx.CreateSession(ctx, "h1", bob.ID, t0.Add(time.Hour)) })
		wantCode(t, "CreateSession(existing hash)", err, herald.ECONFLICT)

		session := func(hash string) (int64, error) {
			var id int64
			err := db.View(ctx, func(tx *store.Tx) (err error) {
				p, err := tx.SessionPrincipal(ctx, hash)
				id = p.UserID
				return err
			})
			return id, err
		}
		wantSession := func(what, hash string, want int64) {
			t.Helper()
			got, err := session(hash)
			if want == 0 {
				wantCode(t, what, err, herald.EUNAUTHORIZED)
				return
			}
			if err != nil || got != want {
				t.Errorf("%s: SessionPrincipal(%s) = %d, %v; want %d", what, hash, got, err, want)
			}
		}
		wantSession("fresh", "h1", alice.ID)
		wantSession("fresh", "hb", bob.ID)
		wantSession("unknown", "nope", 0)

		c.Advance(time.Hour - time.Microsecond)
		wantSession("just before expiry", "h1", alice.ID)
		c.Advance(time.Microsecond)
		wantSession("at expiry", "h1", 0)
		wantSession("other session still valid", "h2", alice.ID)

		update(t, db, func(tx *store.Tx) error { return tx.DeleteExpiredSessions(ctx) })
		c.Set(t0) // h1 would be valid again if it had not been deleted
		wantSession("expired session after DeleteExpiredSessions", "h1", 0)
		wantSession("live session after DeleteExpiredSessions", "h2", alice.ID)

		update(t, db, func(tx *store.Tx) error { return tx.DeleteSession(ctx, "h2") })
		wantSession("after DeleteSession", "h2", 0)

		update(t, db, func(tx *store.Tx) error {
			if err := tx.CreateSession(ctx, "h3", alice.ID, t0.Add(time.Hour)); err != nil {
				return err
			}
			if err := tx.CreateSession(ctx, "h4", alice.ID, t0.Add(time.Hour)); err != nil {
				return err
			}
			return tx.DeleteUserSessions(ctx, alice.ID)
		})
		wantSession("after DeleteUserSessions", "h3", 0)
		wantSession("after DeleteUserSessions", "h4", 0)
		wantSession("another user's session after DeleteUserSessions", "hb", bob.ID)

		update(t, db, func(tx *store.Tx) error {
			for _, h := range []string{"h5", "h6"} {
				if err := tx.CreateSession(ctx, h, alice.ID, t0.Add(time.Hour)); err != nil {
					return err
				}
			}
			return tx.DeleteUserSessionsExcept(ctx, alice.ID, "h5")
		})
		wantSession("the kept session after DeleteUserSessionsExcept", "h5", alice.ID)
		wantSession("another session after DeleteUserSessionsExcept", "h6", 0)
		wantSession("another user's session after DeleteUserSessionsExcept", "hb", bob.ID)
	})
}

func TestAPITokens(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		c := useClock(db)
		alice, bob := createUser(t, db, "alice"), createUser(t, db, "bob")
		var t1, t2 herald.APIToken
		update(t, db, func(tx *store.Tx) (err error) {
			t1, err = tx.CreateAPIToken(ctx, alice.ID, "ci", "hash1")
			return err
		})
		c.Advance(time.Minute)
		update(t, db, func(tx *store.Tx) (err error) {
			t2, err = tx.CreateAPIToken(ctx, alice.ID, "laptop", "hash2")
			return err
		})
		if t1.ID == 0 || t1.Name != "ci" || !t1.CreatedAt.Equal(t0) || t2.ID <= t1.ID {
			t.Errorf("CreateAPIToken returned %+v, %+v", t1, t2)
		}
		err := db.Update(ctx, func(tx *store.Tx) error {
			_, err := tx.CreateAPIToken(ctx, bob.ID, "dup", "hash1")
			return err
		})
		wantCode(t, "CreateAPIToken(existing hash)", err, herald.ECONFLICT)

		view(t, db, func(tx *store.Tx) error {
			want := store.Principal{UserID: alice.ID, Username: "alice", TokenID: t2.ID}
			if p, err := tx.APITokenPrincipal(ctx, "hash2"); err != nil || p != want {
				t.Errorf("APITokenPrincipal(hash2) = %+v, %v; want %+v", p, err, want)
			}
			_, err := tx.APITokenPrincipal(ctx, "nope")
			wantCode(t, "APITokenPrincipal(unknown)", err, herald.EUNAUTHORIZED)
			list, err := tx.ListAPITokens(ctx, alice.ID)
			if err != nil {
				return err
			}
			if len(list) != 2 || !tokenEqual(list[0], t1) || !tokenEqual(list[1], t2) {
				t.Errorf("ListAPITokens = %+v, want [%+v %+v]", list, t1, t2)
			}
			if list, err := tx.ListAPITokens(ctx, bob.ID); err != nil || list == nil || len(list) != 0 {
				t.Errorf("ListAPITokens(no tokens) = %#v, %v; want []", list, err)
			}
			return nil
		})

		// The admin flag follows the user's groups: only a group with
		// is_admin counts.
		update(t, db, func(tx *store.Tx) error {
			want := store.Principal{UserID: alice.ID, Username: "alice", TokenID: t2.ID}
			for _, g := range []struct {
				name  string
				admin bool
			}{{"devs", false}, {"root", true}} {
				id, err := tx.CreateGroup(ctx, g.name, g.admin)
				if err != nil {
					return err
				}
				if err := tx.AddMember(ctx, id, alice.ID); err != nil {
					return err
				}
				want.IsAdmin = g.admin
				if p, err := tx.APITokenPrincipal(ctx, "hash2"); err != nil || p != want {
					t.Errorf("APITokenPrincipal(hash2) in group %s = %+v, %v; want %+v", g.name, p, err, want)
				}
			}
			return nil
		})
		err = db.Update(ctx, func(tx *store.Tx) error { return tx.DeleteAPIToken(ctx, bob.ID, t1.ID) })
		wantCode(t, "DeleteAPIToken of another user's token", err, herald.ENOTFOUND)
		update(t, db, func(tx *store.Tx) error { return tx.DeleteAPIToken(ctx, alice.ID, t1.ID) })
		err = db.Update(ctx, func(tx *store.Tx) error { return tx.DeleteAPIToken(ctx, alice.ID, t1.ID) })
		wantCode(t, "DeleteAPIToken twice", err, herald.ENOTFOUND)
		view(t, db, func(tx *store.Tx) error {
			_, err := tx.APITokenPrincipal(ctx, "hash1")
			wantCode(t, "APITokenPrincipal(revoked)", err, herald.EUNAUTHORIZED)
			list, err := tx.ListAPITokens(ctx, alice.ID)
			if err != nil || len(list) != 1 || !tokenEqual(list[0], t2) {
				t.Errorf("ListAPITokens after revoke = %+v, %v", list, err)
			}
			return nil
		})
	})
}

func tokenEqual(a, b herald.APIToken) bool {
	return a.ID == b.ID && a.Name == b.Name && a.CreatedAt.Equal(b.CreatedAt)
}
