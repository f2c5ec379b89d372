package directory

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/password"
	"github.com/heraldhq/herald/internal/store"
)

// SessionTTL is how long a login session lasts.
const SessionTTL = 7 * 24 * time.Hour

// Token prefixes tell API tokens from station tokens at a glance, and let
// secret scanners recognise them.
const (
	apiTokenPrefix    = "hrld_"
	workerTokenPrefix = "hrldw_"
)

// Login throttling: after userFreeFailures failed logins for one username
// (or ipFreeFailures from one address) each further attempt must wait
// twice as long as the last, up to maxLoginDelay. Failures are forgotten an
// hour after the last one.
const (
	userFreeFailures = 5
	ipFreeFailures   = 20
	maxLoginDelay    = 15 * time.Minute
	failureMemory    = time.Hour
)

// dummyHash is verified when the username is unknown, so a login takes as
// long for a missing user as for a wrong password.
var dummyHash = password.Hash("not a real password")

func newSecret(prefix string) (secret, hash string) {
	secret = prefix + strings.ToLower(rand.Text())
	return secret, hashSecret(secret)
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Login checks a username and password and starts a session. It returns
// the user and the session token for the cookie.
// Returns EUNAUTHORIZED for wrong credentials and ETOOMANY when throttled.
func (s *Service) Login(ctx context.Context, username, pw, clientIP string) (herald.User, string, error) {
	keys := []struct {
		key  string
		free int
	}{{"user:" + username, userFreeFailures}, {"ip:" + clientIP, ipFreeFailures}}
	var u herald.User
	var hash string
	err := s.db.View(ctx, func(tx *store.Tx) error {
		for _, k := range keys {
			n, last, err := tx.LoginFailures(ctx, k.key)
			if err != nil {
				return err
			}
			if wait := loginDelay(n, k.free, last, tx.Now); wait > 0 {
				return herald.Errorf(herald.ETOOMANY, "too many failed logins; try again in %s", wait.Round(time.Second))
			}
		}
		var err error
		u, err = tx.UserByUsername(ctx, username)
		if err == nil {
			hash, err = tx.PasswordHash(ctx, u.ID)
		}
		if herald.ErrorCode(err) == herald.ENOTFOUND {
			return nil
		}
		return err
	})
	if err != nil {
		return herald.User{}, "", err
	}
	if hash == "" {
		password.Verify(dummyHash, pw)
	}
	if hash == "" || !password.Verify(hash, pw) {
		err := s.db.Update(ctx, func(tx *store.Tx) error {
			for _, k := range keys {
				if err := tx.RecordLoginFailure(ctx, k.key); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return herald.User{}, "", err
		}
		s.log.Warn("failed login", "username", username, "ip", clientIP)
		return herald.User{}, "", herald.Errorf(herald.EUNAUTHORIZED, "wrong username or password")
	}
	token, tokenHash := newSecret("")
	err = s.db.Update(ctx, func(tx *store.Tx) error {
		if err := tx.ClearLoginFailures(ctx, keys[0].key); err != nil {
			return err
		}
		if err := tx.DeleteExpiredSessions(ctx); err != nil {
			return err
		}
		return tx.CreateSession(ctx, tokenHash, u.ID, tx.Now.Add(SessionTTL))
	})
	return u, token, err
}

// loginDelay returns how long to wait before the next attempt after n
// failures, the last at last.
func loginDelay(n, free int, last, now time.Time) time.Duration {
	if n < free || now.Sub(last) > failureMemory {
		return 0
	}
	delay := time.Second << min(n-free, 20)
	delay = min(delay, maxLoginDelay)
	return last.Add(delay).Sub(now)
}

// Logout ends a session. Ending an unknown session is not an error.
func (s *Service) Logout(ctx context.Context, sessionToken string) error {
	return s.db.Update(ctx, func(tx *store.Tx) error {
		return tx.DeleteSession(ctx, hashSecret(sessionToken))
	})
}

// Authenticate finds the actor behind a session cookie or a bearer token
// (API token or station token). With neither it returns the anonymous actor.
// Returns EUNAUTHORIZED for an unknown, expired or revoked credential.
func (s *Service) Authenticate(ctx context.Context, sessionToken, bearer string) (Actor, error) {
	if sessionToken == "" && bearer == "" {
		return Actor{}, nil
	}
	var a Actor
	err := s.db.View(ctx, func(tx *store.Tx) error {
		var p store.Principal
		var err error
		switch {
		case strings.HasPrefix(bearer, workerTokenPrefix):
			a.Worker, err = tx.WorkerByToken(ctx, hashSecret(bearer))
			return err
		case bearer != "":
			p, err = tx.APITokenPrincipal(ctx, hashSecret(bearer))
		default:
			p, err = tx.SessionPrincipal(ctx, hashSecret(sessionToken))
		}
		a = Actor{UserID: p.UserID, Username: p.Username, IsAdmin: p.IsAdmin}
		return err
	})
	if err != nil {
		return Actor{}, err
	}
	return a, nil
}

// NewToken is an API or station token as created: Token is shown once.
type NewToken struct {
	herald.APIToken
	Token string `json:"token"`
}

// CreateAPIToken makes a personal API token for a user. Admins, or the user
// themself. Returns ENOTFOUND or EINVALID (name).
func (s *Service) CreateAPIToken(ctx context.Context, a Actor, username, name string) (NewToken, error) {
	if err := requireSelfOrAdmin(a, username); err != nil {
		return NewToken{}, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return NewToken{}, invalid("name", "is required (what the token is for)")
	}
	if err := validateText("name", name, 100); err != nil {
		return NewToken{}, err
	}
	secret, hash := newSecret(apiTokenPrefix)
	var t NewToken
	err := s.db.Update(ctx, func(tx *store.Tx) error {
		u, err := tx.UserByUsername(ctx, username)
		if err != nil {
			return err
		}
		t.APIToken, err = tx.CreateAPIToken(ctx, u.ID, name, hash)
		return err
	})
	t.Token = secret
	return t, err
}

// ListAPITokens lists a user's API tokens without secrets. Admins, or the
// user themself. Returns ENOTFOUND.
func (s *Service) ListAPITokens(ctx context.Context, a Actor, username string) ([]herald.APIToken, error) {
	if err := requireSelfOrAdmin(a, username); err != nil {
		return nil, err
	}
	var tokens []herald.APIToken
	err := s.db.View(ctx, func(tx *store.Tx) error {
		u, err := tx.UserByUsername(ctx, username)
		if err != nil {
			return err
		}
		tokens, err = tx.ListAPITokens(ctx, u.ID)
		return err
	})
	return tokens, err
}

// DeleteAPIToken revokes a user's API token. Admins, or the user themself.
// Returns ENOTFOUND.
func (s *Service) DeleteAPIToken(ctx context.Context, a Actor, username string, id int64) error {
	if err := requireSelfOrAdmin(a, username); err != nil {
		return err
	}
	return s.db.Update(ctx, func(tx *store.Tx) error {
		u, err := tx.UserByUsername(ctx, username)
		if err != nil {
			return err
		}
		return tx.DeleteAPIToken(ctx, u.ID, id)
	})
}

// CreateWorkerToken makes a token for a provisioning station. Admins only.
// Returns EINVALID (station name).
func (s *Service) CreateWorkerToken(ctx context.Context, a Actor, worker string) (string, error) {
	if err := requireAdmin(a); err != nil {
		return "", err
	}
	if err := validateWorker(worker); err != nil {
		return "", err
	}
	secret, hash := newSecret(workerTokenPrefix)
	err := s.db.Update(ctx, func(tx *store.Tx) error {
		return tx.CreateWorkerToken(ctx, worker, hash)
	})
	return secret, err
}

// Bootstrap creates the admin group and the admin user on an empty
// database. The password is adminPassword, or a random one that is
// returned so the caller can show it once. It does nothing (created false)
// when any user exists.
func (s *Service) Bootstrap(ctx context.Context, adminPassword string) (created bool, pw string, err error) {
	pw = adminPassword
	if pw == "" {
		pw = rand.Text()[:20]
	} else if err := validatePassword("admin_password", pw); err != nil {
		return false, "", err
	}
	hash := password.Hash(pw)
	system := Actor{}
	err = s.db.Update(ctx, func(tx *store.Tx) error {
		n, err := tx.CountUsers(ctx)
		if err != nil || n > 0 {
			return err
		}
		u := herald.User{Username: "admin", FirstName: "Herald", LastName: "Admin", Email: "admin@localhost.localdomain", Groups: []string{"admin"}, IsAdmin: true}
		if err := tx.CreateUser(ctx, &u, hash); err != nil {
			return fmt.Errorf("create admin user: %w", err)
		}
		gid, err := tx.CreateGroup(ctx, "admin", true)
		if err != nil {
			return fmt.Errorf("create admin group: %w", err)
		}
		if err := tx.AddMember(ctx, gid, u.ID); err != nil {
			return err
		}
		if err := emit(ctx, tx, system, herald.EventUserCreated, userSubject(u.Username), renderUser(u)); err != nil {
			return err
		}
		created = true
		return emit(ctx, tx, system, herald.EventGroupCreated, groupSubject("admin"), renderGroup(herald.Group{Name: "admin", Members: []string{"admin"}, IsAdmin: true}))
	})
	return created, pw, err
}
