package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// Station tokens and login throttling counts: the credentials the HTTP edge
// relies on (internal/directory/stations.go and login.go).

func TestStationTokens(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		c := useClock(db)
		expires := t0.Add(time.Hour)
		var t1, t2 herald.StationToken
		update(t, db, func(tx *store.Tx) (err error) {
			if t1, err = tx.CreateStationToken(ctx, "station-1", "wh1", nil); err != nil {
				return err
			}
			t2, err = tx.CreateStationToken(ctx, "station-1", "wh2", &expires) // a station may have several
			return err
		})
		err := db.Update(ctx, func(tx *store.Tx) error {
			_, err := tx.CreateStationToken(ctx, "station-2", "wh1", nil)
			return err
		})
		wantCode(t, "CreateStationToken(existing hash)", err, herald.ECONFLICT)
		byToken := func(hash string) (herald.StationToken, error) {
			var st herald.StationToken
			err := db.View(ctx, func(tx *store.Tx) (err error) {
				st, err = tx.StationByToken(ctx, hash)
				return err
			})
			return st, err
		}
		for _, h := range []string{"wh1", "wh2"} {
			if st, err := byToken(h); err != nil || st.Station != "station-1" || st.LastUsedAt != nil {
				t.Errorf("StationByToken(%s) = %+v, %v", h, st, err)
			}
		}
		_, err = byToken("nope")
		wantCode(t, "StationByToken(unknown)", err, herald.EUNAUTHORIZED)

		c.Advance(time.Minute)
		update(t, db, func(tx *store.Tx) error { return tx.TouchStationToken(ctx, t1.ID) })
		if st, err := byToken("wh1"); err != nil || st.LastUsedAt == nil || !st.LastUsedAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("after TouchStationToken: %+v, %v", st, err)
		}

		c.Set(expires)
		_, err = byToken("wh2")
		wantCode(t, "StationByToken(expired)", err, herald.EUNAUTHORIZED)
		if _, err := byToken("wh1"); err != nil {
			t.Errorf("a token without expiry expired: %v", err)
		}
		view(t, db, func(tx *store.Tx) error {
			list, err := tx.ListStationTokens(ctx)
			if err != nil || len(list) != 2 || list[0].ID != t1.ID || list[1].ID != t2.ID ||
				list[1].ExpiresAt == nil || !list[1].ExpiresAt.Equal(expires) || list[0].ExpiresAt != nil {
				t.Errorf("ListStationTokens = %+v, %v", list, err)
			}
			return nil
		})

		update(t, db, func(tx *store.Tx) error { return tx.DeleteStationToken(ctx, t1.ID) })
		_, err = byToken("wh1")
		wantCode(t, "StationByToken(revoked)", err, herald.EUNAUTHORIZED)
		err = db.Update(ctx, func(tx *store.Tx) error { return tx.DeleteStationToken(ctx, t1.ID) })
		wantCode(t, "DeleteStationToken twice", err, herald.ENOTFOUND)
	})
}

// TestLoginAttempts: attempts and failures are counted per key, failures
// within a window that ends now (it slides); one key's count does not
// touch another's; prune forgets failures out of the window and keys with
// no attempt in it.
func TestLoginAttempts(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		c := useClock(db)
		const window, lost = 15 * time.Minute, 30 * time.Second
		const alice, addr = "u:alice|10.0.0.1", "a:10.0.0.1"
		count := func(key string) store.LoginCount {
			t.Helper()
			var lc store.LoginCount
			update(t, db, func(tx *store.Tx) (err error) {
				lc, err = tx.CountLoginAttempt(ctx, key, tx.Now.Add(-window), tx.Now.Add(-lost))
				return err
			})
			return lc
		}
		want := func(what string, got store.LoginCount, attempts int, failed ...time.Time) {
			t.Helper()
			if got.Attempts != attempts || got.Failures != len(failed) || !slices.EqualFunc(got.Failed, failed, time.Time.Equal) {
				t.Errorf("%s: %+v; want %d attempts, failures at %v", what, got, attempts, failed)
			}
		}
		want("first attempt", count(alice), 1)
		update(t, db, func(tx *store.Tx) error { return tx.RecordLoginFailure(ctx, alice) })
		c.Advance(5 * time.Second)
		want("second attempt", count(alice), 2, t0)
		want("another key", count(addr), 1)
		update(t, db, func(tx *store.Tx) error { return tx.UncountLoginAttempt(ctx, alice) })
		want("taken back, then one more", count(alice), 2, t0)
		update(t, db, func(tx *store.Tx) error { return tx.RecordLoginFailure(ctx, alice) })
		// Three attempts: two failed, one still being checked; the right
		// password forgives the failures and takes its own attempt back.
		want("third attempt", count(alice), 3, t0, t0.Add(5*time.Second))
		update(t, db, func(tx *store.Tx) error { return tx.ForgiveLoginFailures(ctx, alice) })
		want("after forgiving, one more", count(alice), 1)
		read := func(key string) store.LoginCount {
			t.Helper()
			var lc store.LoginCount
			view(t, db, func(tx *store.Tx) (err error) {
				lc, err = tx.LoginCountOf(ctx, key, tx.Now.Add(-window))
				return err
			})
			return lc
		}
		want("read, not counted", read(alice), 1)
		want("read again", read(alice), 1)
		want("read of a key never counted", read("a:10.9.9.9"), 0)

		// The window slides: a failure leaves it when it is window old,
		// while a later one stays.
		update(t, db, func(tx *store.Tx) error { return tx.RecordLoginFailure(ctx, alice) }) // at t0+5s
		c.Set(t0.Add(10 * time.Minute))
		want("a failure in the window", count(alice), 2, t0.Add(5*time.Second))
		update(t, db, func(tx *store.Tx) error { return tx.RecordLoginFailure(ctx, alice) }) // at t0+10m
		c.Set(t0.Add(window + 5*time.Second))
		want("read when the first failure left the window", read(alice), 1, t0.Add(10*time.Minute))
		want("the first failure left the window", count(alice), 2, t0.Add(10*time.Minute))
		update(t, db, func(tx *store.Tx) error { return tx.UncountLoginAttempt(ctx, alice) })

		c.Set(t0.Add(window + 10*time.Second)) // addr's attempt was at t0+5s
		want("after the window", count(addr), 1)
		c.Advance(time.Minute)
		update(t, db, func(tx *store.Tx) error { return tx.PruneLoginAttempts(ctx, tx.Now.Add(-window)) })
		// (The attempt a minute ago is lost by now: only this one counts.)
		want("prune keeps a key with an attempt in the window", count(addr), 1)
		want("prune keeps a failure in the window", count(alice), 2, t0.Add(10*time.Minute))
		update(t, db, func(tx *store.Tx) error { return tx.PruneLoginAttempts(ctx, tx.Now.Add(time.Second)) })
		var rows int
		view(t, db, func(tx *store.Tx) error {
			return tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM login_attempts) + (SELECT count(*) FROM login_failures)`).Scan(&rows)
		})
		if rows != 0 {
			t.Errorf("%d rows of login_attempts and login_failures after pruning everything", rows)
		}
		want("after pruning everything", count(addr), 1)

		// Attempts whose outcome never came are forgotten once the key's
		// newest attempt is older than lost; failures stay.
		start := t0.Add(window + 70*time.Second)
		update(t, db, func(tx *store.Tx) error { return tx.RecordLoginFailure(ctx, addr) })
		c.Advance(10 * time.Second)
		want("an attempt being checked", count(addr), 2, start)
		c.Advance(lost - time.Second)
		want("two attempts being checked", count(addr), 3, start)
		c.Advance(lost + time.Second)
		want("both lost, and one more", count(addr), 2, start)
		// An outcome never makes more failures than attempts, nor takes
		// back a failure.
		for range 3 {
			update(t, db, func(tx *store.Tx) error { return tx.RecordLoginFailure(ctx, addr) })
			update(t, db, func(tx *store.Tx) error { return tx.UncountLoginAttempt(ctx, addr) })
		}
		want("more outcomes than attempts", count(addr), 3, start, start.Add(10*time.Second+2*lost))
	})
}
