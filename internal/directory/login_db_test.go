package directory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/secretbox"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/storetest"
)

// Tests of logins against a real database, on SQLite and PostgreSQL
// (storetest.EachDSN: PostgreSQL skipped without a server, a failure
// under CI=true).

var bg = context.Background()

const (
	alicePassword = "alice-password-1"
	// aliceAddr is where alice logs in from; otherAddr another client.
	aliceAddr = "203.0.113.9"
	otherAddr = "198.51.100.7"
)

// testLogs collects a directory's log lines.
type testLogs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *testLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *testLogs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// loginFixture is a directory on a fresh, migrated database with one user,
// alice, whose password is alicePassword.
type loginFixture struct {
	dir  *Service
	db   *store.DB
	logs *testLogs
}

func newLoginFixture(t *testing.T, dsn string, limits Limits) loginFixture {
	t.Helper()
	db := storetest.OpenMigrated(t, dsn)
	box, err := secretbox.New("test-secret-key-0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	logs := &testLogs{}
	dir := New(db, box, nil, slog.New(slog.NewTextHandler(logs, nil)), limits)
	if _, err := dir.CreateUser(bg, CLI, NewUser{Username: "alice", FirstName: "Alice", LastName: "A",
		Email: "alice@example.com", Password: alicePassword}); err != nil {
		t.Fatal(err)
	}
	return loginFixture{dir: dir, db: db, logs: logs}
}

// loginAttempts returns every row of login_attempts, each as its columns
// joined with spaces.
func (f loginFixture) loginAttempts(t *testing.T) []string {
	t.Helper()
	var rows []string
	err := f.db.View(bg, func(tx *store.Tx) error {
		rs, err := tx.Query(bg, `SELECT key, attempts, failures, window_start FROM login_attempts ORDER BY key`)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var key string
			var attempts, failures, start int64
			if err := rs.Scan(&key, &attempts, &failures, &start); err != nil {
				return err
			}
			rows = append(rows, strings.Join([]string{key, itoa(attempts), itoa(failures), itoa(start)}, " "))
		}
		return rs.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestLoginStoresNoTypedUsername: what is typed as a username may be a
// password; a failed login keeps it neither in the database nor in the
// log. (One that cannot be a username is not even counted; one that could
// be is counted under its hash.)
func TestLoginStoresNoTypedUsername(t *testing.T) {
	t.Parallel()
	storetest.EachDSN(t, func(t *testing.T, dsn string) {
		f := newLoginFixture(t, dsn, Limits{})
		typed := []string{"MyS3cretPassw0rd!", "my-s3cret-passw0rd"}
		for _, name := range typed {
			if _, _, err := f.dir.Login(bg, name, "whatever-it-was", netip.MustParseAddr(aliceAddr)); err == nil {
				t.Fatalf("a login as %q, who does not exist, succeeded", name)
			}
		}
		rows := f.loginAttempts(t)
		if len(rows) != 2 {
			t.Errorf("login_attempts after the failed logins: %q, want two counts (username and address, address)", rows)
		}
		for _, row := range rows {
			for _, name := range typed {
				if strings.Contains(strings.ToLower(row), strings.ToLower(name)) {
					t.Errorf("login_attempts holds the typed username %q: %q", name, row)
				}
			}
		}
		for _, name := range typed {
			if strings.Contains(f.logs.String(), name) {
				t.Errorf("the log holds the typed username %q:\n%s", name, f.logs.String())
			}
		}
	})
}

// TestOwnPasswordChangeThrottled: the old password of a change of one's
// own password is checked as a login is: a session (perhaps a stolen one)
// gets as many wrong guesses as a login from its address, then 429 with
// Retry-After, without a check; the login from that address is throttled
// too, while another address is not.
func TestOwnPasswordChangeThrottled(t *testing.T) {
	t.Parallel()
	storetest.EachDSN(t, func(t *testing.T, dsn string) {
		f := newLoginFixture(t, dsn, Limits{})
		alice, err := f.dir.GetUser(bg, CLI, "alice")
		if err != nil {
			t.Fatal(err)
		}
		self := Actor{UserID: alice.ID, Username: "alice"}
		from, other := netip.MustParseAddr(aliceAddr), netip.MustParseAddr(otherAddr)
		before := f.dir.PasswordChecks()
		for i := range DefaultLimits.LoginPerUser {
			err := f.dir.SetPassword(bg, self, "alice", fmt.Sprintf("guess-number-%d", i), "new-password-1", from)
			if herald.ErrorCode(err) != herald.EINVALID || herald.ErrorField(err) != "old_password" {
				t.Fatalf("wrong guess %d: %v, want old_password: is not your current password", i+1, err)
			}
		}
		err = f.dir.SetPassword(bg, self, "alice", alicePassword, "new-password-1", from)
		wantThrottled(t, "the right old password after five wrong ones", err)
		if got := f.dir.PasswordChecks() - before; got != int64(DefaultLimits.LoginPerUser) {
			t.Errorf("%d passwords checked, want %d (a throttled change checks none)", got, DefaultLimits.LoginPerUser)
		}
		_, _, err = f.dir.Login(bg, "alice", alicePassword, from)
		wantThrottled(t, "a login from the guessing address", err)

		if _, _, err := f.dir.Login(bg, "alice", alicePassword, other); err != nil {
			t.Errorf("a login from another address: %v", err)
		}
		if err := f.dir.SetPassword(bg, self, "alice", alicePassword, "new-password-1", other); err != nil {
			t.Errorf("the change from another address: %v", err)
		}
		if _, _, err := f.dir.Login(bg, "alice", "new-password-1", other); err != nil {
			t.Errorf("a login with the new password: %v", err)
		}
	})
}

// wantThrottled fails unless err is ETOOMANY with a wait of at least a
// second and at most the window.
func wantThrottled(t *testing.T, what string, err error) {
	t.Helper()
	var e *herald.Error
	if !errors.As(err, &e) || e.Code != herald.ETOOMANY || e.RetryAfter < time.Second || e.RetryAfter > DefaultLimits.LoginWindow {
		t.Errorf("%s: %v, want ETOOMANY with a RetryAfter within the window", what, err)
	}
}

// TestLoginsPrunedWithoutLogins: counts whose window is over are forgotten
// by the pruning loop on its own, with no login to set it off; a count
// whose window still runs stays.
func TestLoginsPrunedWithoutLogins(t *testing.T) {
	t.Parallel()
	storetest.EachDSN(t, func(t *testing.T, dsn string) {
		f := newLoginFixture(t, dsn, Limits{})
		clock := storetest.UseClock(f.db)
		for _, addr := range []string{aliceAddr, otherAddr} {
			if _, _, err := f.dir.Login(bg, "alice", "not-her-password", netip.MustParseAddr(addr)); herald.ErrorCode(err) != herald.EUNAUTHORIZED {
				t.Fatalf("wrong password from %s: %v", addr, err)
			}
			clock.Advance(10 * time.Minute)
		}
		// aliceAddr's window (from T0) is over; otherAddr's (T0+10m) is not.
		clock.Advance(time.Minute)
		ctx, stop := context.WithCancel(bg)
		done := make(chan struct{})
		go func() {
			f.dir.KeepLoginsPruned(ctx, 10*time.Millisecond)
			close(done)
		}()
		deadline := time.Now().Add(10 * time.Second)
		for len(f.loginAttempts(t)) != 2 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		rows := f.loginAttempts(t)
		if len(rows) != 2 || !strings.Contains(rows[0], otherAddr) || !strings.Contains(rows[1], otherAddr) {
			t.Errorf("counts after pruning: %q; want only the two of %s", rows, otherAddr)
		}
		stop()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the pruning loop did not end with its context")
		}
	})
}

// TestLoginEndsWhenClientLeaves: a client that goes away while its password
// is being checked leaves no attempt counted as still being checked: the
// outcome is written all the same (a phantom attempt would hold the key's
// limit for the rest of its window).
func TestLoginEndsWhenClientLeaves(t *testing.T) {
	t.Parallel()
	storetest.EachDSN(t, func(t *testing.T, dsn string) {
		f := newLoginFixture(t, dsn, Limits{})
		from := netip.MustParseAddr(aliceAddr)
		for _, pw := range []string{alicePassword, "not-her-password"} {
			ctx, leave := context.WithCancel(bg)
			before := f.dir.PasswordChecks()
			go func() {
				// The client leaves as soon as its password is being checked.
				for f.dir.PasswordChecks() == before {
					time.Sleep(100 * time.Microsecond)
				}
				leave()
			}()
			_, _, err := f.dir.Login(ctx, "alice", pw, from)
			leave()
			if pw == alicePassword && err != nil {
				t.Errorf("the right password, the client gone during the check: %v (the login must still end)", err)
			}
		}
		userKey, addrKey := throttleKeys("alice", from)
		want := []string{userKey + " 1 1", addrKey + " 1 1"} // the failure only
		slices.Sort(want)
		var got []string
		for _, row := range f.loginAttempts(t) {
			got = append(got, row[:strings.LastIndexByte(row, ' ')])
		}
		if !slices.Equal(got, want) {
			t.Errorf("counts (key, attempts, failures) after two logins whose clients left: %q; want %q", got, want)
		}
	})
}

// TestLostLoginAttemptsExpire: attempts whose outcome was never written (a
// crash, a failed write) stop counting once the key has had no new attempt
// for a while, instead of holding its limit for the rest of the window.
func TestLostLoginAttemptsExpire(t *testing.T) {
	t.Parallel()
	storetest.EachDSN(t, func(t *testing.T, dsn string) {
		f := newLoginFixture(t, dsn, Limits{HashWait: 100 * time.Millisecond})
		clock := storetest.UseClock(f.db)
		from := netip.MustParseAddr(aliceAddr)
		userKey, _ := throttleKeys("alice", from)
		l := f.dir.limits
		f.countAttempts(t, userKey, l.LoginPerUser, 0) // five logins that never ended
		_, _, err := f.dir.Login(bg, "alice", alicePassword, from)
		if herald.ErrorCode(err) != herald.ETOOMANY {
			t.Fatalf("while five attempts are being checked: %v, want ETOOMANY", err)
		}
		clock.Advance(l.checkLasts() + time.Second)
		if _, _, err := f.dir.Login(bg, "alice", alicePassword, from); err != nil {
			t.Errorf("once those attempts are lost: %v, want a login", err)
		}
	})
}

// writeCounter counts the changes the group committer runs (every
// db.Update), kept or rolled back: it is the store's queue observer, which
// hears of each.
type writeCounter struct {
	changes, refused atomic.Int64
	// firstRefused is closed when a change is first rolled back.
	firstRefused chan struct{}
	once         sync.Once
}

func countWrites(db *store.DB) *writeCounter {
	w := &writeCounter{firstRefused: make(chan struct{})}
	db.Observe(w)
	return w
}

func (w *writeCounter) BeginBatch()                                  {}
func (w *writeCounter) Queued(*herald.Event, []store.QueuedDelivery) {}
func (w *writeCounter) Requeued(int64)                               {}
func (w *writeCounter) WebhookChanged(int64, bool)                   {}
func (w *writeCounter) EndBatch(bool)                                {}
func (w *writeCounter) Leased(int64) bool                            { return false }
func (w *writeCounter) EndChange(kept bool) {
	w.changes.Add(1)
	if !kept {
		w.refused.Add(1)
		w.once.Do(func() { close(w.firstRefused) })
	}
}

// TestLoginWaitsWithReads: an attempt that finds its key's limit taken by
// checks still running waits for them to end reading the counts, not
// writing them again and again through the database's one writer; when
// none ends within HashWait it is told to come back in a second.
func TestLoginWaitsWithReads(t *testing.T) {
	t.Parallel()
	storetest.EachDSN(t, func(t *testing.T, dsn string) {
		f := newLoginFixture(t, dsn, Limits{HashWait: time.Second})
		from := netip.MustParseAddr(aliceAddr)
		userKey, _ := throttleKeys("alice", from)
		f.countAttempts(t, userKey, f.dir.limits.LoginPerUser, 0) // five checks running
		writes := countWrites(f.db)
		_, _, err := f.dir.Login(bg, "alice", alicePassword, from)
		var e *herald.Error
		if !errors.As(err, &e) || e.Code != herald.ETOOMANY || e.RetryAfter != time.Second {
			t.Errorf("while five checks run: %v, want ETOOMANY with a RetryAfter of a second", err)
		}
		// One count, refused; a second if the counts seemed to change.
		if n := writes.changes.Load(); n < 1 || n > 2 {
			t.Errorf("a login waiting a second for running checks wrote %d times, want 1 or 2", n)
		}
	})
}

// TestLoginGoesOnWhenACheckEnds: an attempt waiting for its key's running
// checks goes on as soon as one of them ends, and logs in.
func TestLoginGoesOnWhenACheckEnds(t *testing.T) {
	t.Parallel()
	storetest.EachDSN(t, func(t *testing.T, dsn string) {
		f := newLoginFixture(t, dsn, Limits{HashWait: time.Minute})
		from := netip.MustParseAddr(aliceAddr)
		userKey, _ := throttleKeys("alice", from)
		f.countAttempts(t, userKey, f.dir.limits.LoginPerUser, 0) // five checks running
		writes := countWrites(f.db)
		answer := make(chan error, 1)
		go func() {
			_, _, err := f.dir.Login(bg, "alice", alicePassword, from)
			answer <- err
		}()
		select {
		case <-writes.firstRefused: // the login was counted, refused, and waits
		case err := <-answer:
			t.Fatalf("the login did not wait for the running checks: %v", err)
		}
		// One of the checks ends: it was not a failure.
		if err := f.db.Update(bg, func(tx *store.Tx) error { return tx.UncountLoginAttempt(bg, userKey) }); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-answer:
			if err != nil {
				t.Errorf("once a running check ended: %v, want a login", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the login still waits after a running check ended")
		}
	})
}

// TestLoginRetryAfterOfBothKeys: when both of a login's limits are taken,
// the answer says to wait for the later one: here the username's is taken
// only by checks running (a second), the address's by failures (until its
// window ends).
func TestLoginRetryAfterOfBothKeys(t *testing.T) {
	t.Parallel()
	storetest.EachDSN(t, func(t *testing.T, dsn string) {
		f := newLoginFixture(t, dsn, Limits{HashWait: 100 * time.Millisecond})
		storetest.UseClock(f.db)
		from := netip.MustParseAddr(aliceAddr)
		userKey, addrKey := throttleKeys("alice", from)
		l := f.dir.limits
		f.countAttempts(t, addrKey, l.LoginPerAddress, l.LoginPerAddress) // failures elsewhere
		f.countAttempts(t, userKey, l.LoginPerUser, 0)                    // checks running
		_, _, err := f.dir.Login(bg, "alice", alicePassword, from)
		var e *herald.Error
		if !errors.As(err, &e) || e.Code != herald.ETOOMANY || e.RetryAfter != l.LoginWindow {
			t.Errorf("username held by running checks, address by failures: %v (%+v), want ETOOMANY until the address's window ends (%v)", err, e, l.LoginWindow)
		}
	})
}

// countAttempts counts n attempts of key, the first failed of them failed.
func (f loginFixture) countAttempts(t *testing.T, key string, n, failed int) {
	t.Helper()
	l := f.dir.limits
	err := f.db.Update(bg, func(tx *store.Tx) error {
		for i := range n {
			if _, err := tx.CountLoginAttempt(bg, key, tx.Now.Add(-l.LoginWindow), tx.Now.Add(-l.checkLasts())); err != nil {
				return err
			}
			if i < failed {
				if err := tx.RecordLoginFailure(bg, key); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPruneAuditLogsRetention: pruning the audit log says how old the
// entries it deleted were as a duration an operator reads ("1h0m0s"), in
// JSON logs too (not nanoseconds).
func TestPruneAuditLogsRetention(t *testing.T) {
	t.Parallel()
	f := newLoginFixture(t, filepath.Join(t.TempDir(), "herald.db"), Limits{AuditRetention: time.Hour})
	f.dir.log = slog.New(slog.NewJSONHandler(f.logs, nil))
	clock := storetest.UseClock(f.db)
	if _, _, err := f.dir.Login(bg, "alice", "not-her-password", netip.MustParseAddr(aliceAddr)); herald.ErrorCode(err) != herald.EUNAUTHORIZED {
		t.Fatalf("wrong password: %v", err)
	}
	clock.Advance(2 * time.Hour)
	if err := f.dir.PruneAudit(bg); err != nil {
		t.Fatal(err)
	}
	if logs := f.logs.String(); !strings.Contains(logs, `"msg":"pruned audit log","entries":1,"older_than":"1h0m0s"`) {
		t.Errorf("logs: %s", logs)
	}
}
