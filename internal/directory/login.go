package directory

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/password"
	"github.com/heraldhq/herald/internal/store"
)

// Limits are the directory's guards against abuse of logins. A zero field
// means its default (DefaultLimits).
type Limits struct {
	// LoginPerUser is how many failed logins one username may have from
	// one client address within LoginWindow; LoginPerAddress how many one
	// address may have, over all usernames.
	LoginPerUser    int
	LoginPerAddress int
	LoginWindow     time.Duration
	// Hashing is how many password hashes or checks run at once;
	// HashWait how long a login waits for its turn before it is told to
	// come back (429).
	Hashing  int
	HashWait time.Duration
}

// DefaultLimits are 5 failures per username and address and 30 per
// address in 15 minutes; 4 password checks at once, waiting up to 2 s.
var DefaultLimits = Limits{LoginPerUser: 5, LoginPerAddress: 30, LoginWindow: 15 * time.Minute, Hashing: 4, HashWait: 2 * time.Second}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.LoginPerUser > 0 {
		d.LoginPerUser = l.LoginPerUser
	}
	if l.LoginPerAddress > 0 {
		d.LoginPerAddress = l.LoginPerAddress
	}
	if l.LoginWindow > 0 {
		d.LoginWindow = l.LoginWindow
	}
	if l.Hashing > 0 {
		d.Hashing = l.Hashing
	}
	if l.HashWait > 0 {
		d.HashWait = l.HashWait
	}
	return d
}

// Sizes refused before any hashing: a username can be no longer (see
// validateName), and no one types a longer password.
const (
	maxUsernameBytes = 64
	maxPasswordBytes = 1024
)

// pruneLoginsEvery is how often logins prune throttling counts whose
// window is over.
const pruneLoginsEvery = time.Minute

// dummyHash is checked when the username is unknown, so a login takes as
// long for a missing user as for a wrong password.
var dummyHash = password.Hash("not a real password")

// PasswordChecks returns how many passwords this directory has checked
// (logins and password changes), for the metric herald_password_checks_total.
func (s *Service) PasswordChecks() int64 { return s.hasher.Checks() }

// throttleKeys are the two counts a login from an address draws on: the
// username from that address, and the address.
func throttleKeys(username string, from netip.Addr) (user, addr string) {
	a := addressKey(from)
	return "u:" + username + "|" + a, "a:" + a
}

// addressKey names a client address for throttling. An IPv6 client gets a
// /64 of addresses from its provider, so the /64 is one client.
func addressKey(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "unknown"
	case a.Is6() && !a.Is4In6():
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.Unmap().String()
}

// Login checks a username and password from a client address and starts a
// session. It returns the user and the session token for the cookie.
//
// Each attempt is counted before the password is checked, in one statement
// per count, so concurrent attempts cannot get more checks than the limits
// allow, whichever instance they reach. An attempt that finds the limit
// taken by checks still running waits (up to HashWait) to learn how they
// end; one that finds it taken by failures is refused. The right password
// takes its attempt back and forgives its username's failures from that
// address. Failures from one address never hold up another: the right
// password from an address that has not failed logs in at once.
// Returns EINVALID (too long to be real), EUNAUTHORIZED for wrong
// credentials, and ETOOMANY (with RetryAfter) when throttled or when too
// many logins wait to be checked.
func (s *Service) Login(ctx context.Context, username, pw string, from netip.Addr) (herald.User, string, error) {
	// Refused before anything is counted, checked, stored or logged.
	if len(username) > maxUsernameBytes {
		return herald.User{}, "", invalid("username", "must be at most %d bytes", maxUsernameBytes)
	}
	if len(pw) > maxPasswordBytes {
		return herald.User{}, "", invalid("password", "must be at most %d bytes", maxPasswordBytes)
	}
	userKey, addrKey := throttleKeys(username, from)
	if err := s.countLogin(ctx, userKey, addrKey); err != nil {
		return herald.User{}, "", err
	}
	u, hash, err := s.passwordOf(ctx, username)
	if err != nil {
		s.uncountLogin(userKey, addrKey)
		return herald.User{}, "", err
	}
	check := hash
	if check == "" {
		check = dummyHash
	}
	ok, err := s.hasher.Verify(ctx, check, pw)
	if err != nil {
		// Not checked (too many at once): the attempt does not count.
		s.uncountLogin(userKey, addrKey)
		return herald.User{}, "", err
	}
	if !ok || hash == "" {
		s.recordLoginFailure(userKey, addrKey)
		// The username is logged only when it names a user: a typed
		// "username" may well be someone's password.
		name := "(no such user)"
		if u.ID != 0 {
			name = u.Username
		}
		s.log.Warn("failed login", "username", name, "client", addressKey(from))
		return herald.User{}, "", herald.Errorf(herald.EUNAUTHORIZED, "wrong username or password")
	}
	token, tokenHash := newSecret("")
	err = s.db.Update(ctx, func(tx *store.Tx) error {
		if err := tx.ForgiveLoginFailures(ctx, userKey); err != nil {
			return err
		}
		if err := tx.UncountLoginAttempt(ctx, addrKey); err != nil {
			return err
		}
		if err := tx.DeleteExpiredSessions(ctx); err != nil {
			return err
		}
		return tx.CreateSession(ctx, tokenHash, u.ID, tx.Now.Add(SessionTTL))
	})
	return u, token, err
}

// passwordOf returns a user and their password hash; the zero user and ""
// when there is no such user.
func (s *Service) passwordOf(ctx context.Context, username string) (herald.User, string, error) {
	var u herald.User
	var hash string
	err := s.db.View(ctx, func(tx *store.Tx) error {
		var err error
		u, err = tx.UserByUsername(ctx, username)
		if err == nil {
			hash, err = tx.PasswordHash(ctx, u.ID)
		}
		if herald.ErrorCode(err) == herald.ENOTFOUND {
			u, hash, err = herald.User{}, "", nil
		}
		return err
	})
	return u, hash, err
}

// loginPoll is how often an attempt waiting for other checks of its key
// asks again.
const loginPoll = 25 * time.Millisecond

// errChecksRunning: a key's limit is taken by checks still running.
var errChecksRunning = errors.New("login checks running")

// countLogin counts an attempt against both keys, waiting up to HashWait
// while a limit is taken by checks still running. Returns ETOOMANY, with
// how long until the full window ends, when failures fill a limit, or
// after the wait.
func (s *Service) countLogin(ctx context.Context, userKey, addrKey string) error {
	deadline := time.Now().Add(s.limits.HashWait)
	for {
		err := s.tryCountLogin(ctx, userKey, addrKey)
		if !errors.Is(err, errChecksRunning) {
			return err
		}
		if time.Now().After(deadline) {
			return herald.TooMany(time.Second, "too many logins at once; try again in a second")
		}
		select {
		case <-time.After(loginPoll):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// tryCountLogin counts an attempt against both keys in one transaction,
// and prunes counts whose window is over once a minute. When either key
// would go over its limit the transaction rolls back, so a refused attempt
// counts nothing: it returns ETOOMANY if failures fill the limit, and
// errChecksRunning if checks still running do.
func (s *Service) tryCountLogin(ctx context.Context, userKey, addrKey string) error {
	l := s.limits
	return s.db.Update(ctx, func(tx *store.Tx) error {
		since := tx.Now.Add(-l.LoginWindow)
		if last := s.lastLoginPrune.Load(); tx.Now.UnixMicro()-last >= pruneLoginsEvery.Microseconds() &&
			s.lastLoginPrune.CompareAndSwap(last, tx.Now.UnixMicro()) {
			if err := tx.PruneLoginAttempts(ctx, since); err != nil {
				return err
			}
		}
		for _, k := range []struct {
			key   string
			limit int
		}{{userKey, l.LoginPerUser}, {addrKey, l.LoginPerAddress}} {
			c, err := tx.CountLoginAttempt(ctx, k.key, since)
			if err != nil {
				return err
			}
			if c.Attempts <= k.limit {
				continue
			}
			if c.Failures < k.limit {
				return errChecksRunning
			}
			wait := c.Since.Add(l.LoginWindow).Sub(tx.Now)
			return herald.TooMany(wait, "too many failed logins; try again in %s", wait.Round(time.Second))
		}
		return nil
	})
}

// uncountLogin ends a counted attempt that was not a failure: it takes the
// attempt back from both keys. It runs even if the request's context has
// ended; if it fails, the attempt stays counted until its window ends.
func (s *Service) uncountLogin(userKey, addrKey string) {
	s.afterLogin(func(ctx context.Context, tx *store.Tx) error {
		if err := tx.UncountLoginAttempt(ctx, userKey); err != nil {
			return err
		}
		return tx.UncountLoginAttempt(ctx, addrKey)
	})
}

// recordLoginFailure marks a counted attempt as failed for both keys.
func (s *Service) recordLoginFailure(userKey, addrKey string) {
	s.afterLogin(func(ctx context.Context, tx *store.Tx) error {
		if err := tx.RecordLoginFailure(ctx, userKey); err != nil {
			return err
		}
		return tx.RecordLoginFailure(ctx, addrKey)
	})
}

// afterLogin writes what a login's outcome does to the counts, whether or
// not the request is still there.
func (s *Service) afterLogin(fn func(context.Context, *store.Tx) error) {
	ctx := context.Background()
	if err := s.db.Update(ctx, func(tx *store.Tx) error { return fn(ctx, tx) }); err != nil {
		s.log.Warn("record a login attempt", "err", err)
	}
}
