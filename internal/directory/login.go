package directory

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/password"
	"github.com/heraldhq/herald/internal/store"
)

// Limits are the directory's guards against abuse of logins. A zero field
// means its default (DefaultLimits).
type Limits struct {
	// LoginPerUser is how many failed logins one username may have from
	// one client address within any span of LoginWindow; LoginPerAddress
	// how many one address may have, over all usernames.
	LoginPerUser    int
	LoginPerAddress int
	LoginWindow     time.Duration
	// Hashing is how many password hashes or checks run at once;
	// HashWait how long a login waits for its turn before it is told to
	// come back (429).
	Hashing  int
	HashWait time.Duration
	// AuditRetention is how long audit log entries are kept
	// (DefaultAuditRetention when zero).
	AuditRetention time.Duration
}

// DefaultLimits are 5 failures per username and address and 30 per
// address in 15 minutes; 4 password checks at once, waiting up to 2 s; the
// audit log kept 30 days.
var DefaultLimits = Limits{LoginPerUser: 5, LoginPerAddress: 30, LoginWindow: 15 * time.Minute, Hashing: 4, HashWait: 2 * time.Second,
	AuditRetention: DefaultAuditRetention}

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
	if l.AuditRetention > 0 {
		d.AuditRetention = l.AuditRetention
	}
	return d
}

// checkLasts bounds how long a counted login attempt can still be being
// checked: its wait for a turn at hashing (HashWait), the check and the
// writing of its outcome take far less. Attempts of a key still counted as
// being checked this long after the key's newest were lost (a crash, a
// failed write) and count no more: else they would hold the key's limit
// until the key is pruned.
func (l Limits) checkLasts() time.Duration { return l.HashWait + 30*time.Second }

// Sizes refused before any hashing: no username or email can be longer
// (see validateName and validateEmail), and no one types a longer password.
const (
	maxUsernameBytes = 64
	maxEmailBytes    = 254
	maxPasswordBytes = 1024
)

// maxLoginBytes is the longest login name could be: a username's length,
// or, for one with "@" (users may log in by email), an email's.
func maxLoginBytes(login string) int {
	if strings.Contains(login, "@") {
		return maxEmailBytes
	}
	return maxUsernameBytes
}

// dummyHash is checked when the username is unknown, so a login takes as
// long for a missing user as for a wrong password.
var dummyHash = password.Hash("not a real password")

// PasswordChecks returns how many passwords this directory has checked
// (logins and password changes), for the metric herald_password_checks_total.
func (s *Service) PasswordChecks() int64 { return s.hasher.Checks() }

// throttleKeys are the two counts a login from an address draws on: the
// account from that address, and the address. The account is named by its
// username (see loginAccount), stored only as its SHA-256: what someone
// types as a username may well be their password.
func throttleKeys(username string, from netip.Addr) (user, addr string) {
	a := addressKey(from)
	return "u:" + hashSecret(username) + "|" + a, "a:" + a
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

// Login checks a login name (a username or an email address, as in
// Defguard) and password from a client address and starts a session. It
// returns the user and the session token for the cookie.
//
// Each attempt is counted before the password is checked, in one statement
// per count, so concurrent attempts cannot get more checks than the limits
// allow, whichever instance they reach. An attempt that finds the limit
// taken by checks still running waits to learn how they end; one that
// finds it taken by failures is refused. All its waiting, for the counts
// and for its turn at hashing, keeps within HashWait. The right password
// takes its attempt back and forgives its account's failures from that
// address. Failures from one address never hold up another: the right
// password from an address that has not failed logs in at once. An account
// has one count per address whichever name it is logged in by, so its
// email does not double the guesses its username allows.
// Returns EINVALID (too long to be real), EUNAUTHORIZED for wrong
// credentials, and ETOOMANY (with RetryAfter) when throttled or when too
// many logins wait to be checked.
func (s *Service) Login(ctx context.Context, login, pw string, from netip.Addr) (herald.User, string, error) {
	// Refused before anything is counted, checked, stored or logged.
	if limit := maxLoginBytes(login); len(login) > limit {
		return herald.User{}, "", invalid("username", "must be at most %d bytes", limit)
	}
	if len(pw) > maxPasswordBytes {
		return herald.User{}, "", invalid("password", "must be at most %d bytes", maxPasswordBytes)
	}
	if !canBeLoginName(login) {
		// No user has it: wrong at once, with nothing to count or check.
		return herald.User{}, "", herald.Errorf(herald.EUNAUTHORIZED, "wrong username or password")
	}
	account, err := s.loginAccount(ctx, login)
	if err != nil {
		return herald.User{}, "", err
	}
	userKey, addrKey := throttleKeys(account, from)
	anonymous := Actor{Client: from}
	// One budget for all waiting: on the counts, then for a turn to hash.
	deadline := time.Now().Add(s.limits.HashWait)
	if err := s.countLogin(ctx, userKey, addrKey, deadline); err != nil {
		if herald.ErrorCode(err) == herald.ETOOMANY && s.throttled.due(addrKey, time.Now()) {
			// The typed username is not recorded: it may be a password.
			s.auditAlone(ctx, anonymous, herald.AuditLoginThrottled, "", "further throttled logins from this address are not logged for a minute")
		}
		return herald.User{}, "", err
	}
	// Read after counting, so a password changed meanwhile is not missed.
	u, hash, err := s.passwordOf(ctx, account)
	if err != nil {
		s.uncountLogin(userKey, addrKey)
		return herald.User{}, "", err
	}
	check := hash
	if check == "" {
		check = dummyHash
	}
	ok, err := s.hasher.VerifyBy(ctx, deadline, check, pw)
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
		target := ""
		if u.ID != 0 {
			target = userSubject(u.Username)
		}
		s.auditAlone(ctx, anonymous, herald.AuditLoginFailed, target, "")
		return herald.User{}, "", herald.Errorf(herald.EUNAUTHORIZED, "wrong username or password")
	}
	token, tokenHash := newSecret("")
	// Written even if the client is gone by now: the attempt must end.
	ctx = context.WithoutCancel(ctx)
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
		if err := tx.CreateSession(ctx, tokenHash, u.ID, tx.Now.Add(SessionTTL)); err != nil {
			return err
		}
		who := Actor{UserID: u.ID, Username: u.Username, Client: from}
		return audit(ctx, tx, who, herald.AuditLoginSucceeded, userSubject(u.Username), "")
	})
	return u, token, err
}

// loginAccount names the account a login name is for, for its throttle
// count and its password: the username of the user whose username or email
// (without case) it is. A name that is no user's names itself, in lower
// case, so that its forms in other cases share one count too. A username
// cannot hold "@" and an email must, so the two never meet.
func (s *Service) loginAccount(ctx context.Context, login string) (string, error) {
	if !strings.Contains(login, "@") {
		return login, nil
	}
	account := strings.ToLower(login)
	err := s.db.View(ctx, func(tx *store.Tx) error {
		u, err := tx.UserByEmail(ctx, login)
		if err == nil {
			account = u.Username
		} else if herald.ErrorCode(err) == herald.ENOTFOUND {
			err = nil
		}
		return err
	})
	return account, err
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

// loginPoll is how often an attempt waiting for checks of its keys to end
// reads their counts again.
const loginPoll = 50 * time.Millisecond

// errChecksRunning: a key's limit is taken by checks still running (and
// neither key's by failures).
var errChecksRunning = errors.New("login checks running")

// countLogin counts an attempt against both keys before its password is
// checked. While a limit is taken by checks still running, it waits (until
// deadline at most) to learn how they end, reading the counts, not writing
// them, until there is room, and then counts again. Returns ETOOMANY: with
// how long until enough failures leave the window when they fill a limit,
// or with a second when the deadline came first.
func (s *Service) countLogin(ctx context.Context, userKey, addrKey string, deadline time.Time) error {
	for {
		err := s.tryCountLogin(ctx, userKey, addrKey)
		if !errors.Is(err, errChecksRunning) {
			return err
		}
		if err := s.awaitLoginRoom(ctx, userKey, addrKey, deadline); err != nil {
			return err
		}
	}
}

// tryCountLogin counts an attempt against both keys in one transaction.
// When either key would go over its limit the transaction rolls back, so a
// refused attempt counts nothing. Failures count within a sliding window
// (those of the last LoginWindow), so no span of that length holds more
// than the limit. Both keys are looked at: it returns ETOOMANY if failures
// fill a limit (until enough of them have left the window, for the later
// of the keys), else errChecksRunning if checks still running fill one.
func (s *Service) tryCountLogin(ctx context.Context, userKey, addrKey string) error {
	l := s.limits
	return s.db.Update(ctx, func(tx *store.Tx) error {
		since, stale := tx.Now.Add(-l.LoginWindow), tx.Now.Add(-l.checkLasts())
		var wait time.Duration
		running := false
		for _, k := range []struct {
			key   string
			limit int
		}{{userKey, l.LoginPerUser}, {addrKey, l.LoginPerAddress}} {
			c, err := tx.CountLoginAttempt(ctx, k.key, since, stale)
			if err != nil {
				return err
			}
			switch {
			case c.Attempts <= k.limit:
			case c.Failures < k.limit:
				running = true
			default:
				// Room comes when the failure that fills the limit leaves the window.
				wait = max(wait, c.Failed[c.Failures-k.limit].Add(l.LoginWindow).Sub(tx.Now), time.Second)
			}
		}
		switch {
		case wait > 0:
			return herald.TooMany(wait, "too many failed logins; try again in %s", wait.Round(time.Second))
		case running:
			return errChecksRunning
		}
		return nil
	})
}

// awaitLoginRoom waits until both keys have room for one more attempt, or
// one is full of failures (counting again tells which), reading their
// counts every loginPoll. Returns ETOOMANY (a second) at deadline.
func (s *Service) awaitLoginRoom(ctx context.Context, userKey, addrKey string, deadline time.Time) error {
	l := s.limits
	for {
		wait := time.Until(deadline)
		if wait <= 0 {
			return herald.TooMany(time.Second, "too many logins at once; try again in a second")
		}
		select {
		case <-time.After(min(wait, loginPoll)):
		case <-ctx.Done():
			return ctx.Err()
		}
		settled := true
		err := s.db.View(ctx, func(tx *store.Tx) error {
			for _, k := range []struct {
				key   string
				limit int
			}{{userKey, l.LoginPerUser}, {addrKey, l.LoginPerAddress}} {
				c, err := tx.LoginCountOf(ctx, k.key, tx.Now.Add(-l.LoginWindow))
				if err != nil {
					return err
				}
				settled = settled && (c.Attempts < k.limit || c.Failures >= k.limit)
			}
			return nil
		})
		if err != nil || settled {
			return err
		}
	}
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

// forgiveLoginFailures ends a counted attempt that had the right password:
// it forgives the user key's failures and takes the attempt back from the
// address.
func (s *Service) forgiveLoginFailures(userKey, addrKey string) {
	s.afterLogin(func(ctx context.Context, tx *store.Tx) error {
		if err := tx.ForgiveLoginFailures(ctx, userKey); err != nil {
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
