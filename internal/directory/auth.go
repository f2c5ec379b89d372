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
	"github.com/heraldhq/herald/internal/store"
)

// SessionTTL is how long a login session lasts.
const SessionTTL = 7 * 24 * time.Hour

// Token prefixes tell API tokens from station tokens at a glance, and let
// secret scanners recognise them.
const (
	apiTokenPrefix     = "hrld_"
	stationTokenPrefix = "hrldw_"
)

func newSecret(prefix string) (secret, hash string) {
	secret = prefix + strings.ToLower(rand.Text())
	return secret, hashSecret(secret)
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Logout ends a session. Ending an unknown session is not an error.
// The actor (ActorFrom(ctx)) is recorded in the audit log if known.
func (s *Service) Logout(ctx context.Context, sessionToken string) error {
	a := ActorFrom(ctx)
	return s.db.Update(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteSession(ctx, hashSecret(sessionToken)); err != nil {
			return err
		}
		if a.Anonymous() {
			return nil
		}
		return audit(ctx, tx, a, herald.AuditLogout, userSubject(a.Username), "")
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
	var st herald.StationToken
	err := s.db.View(ctx, func(tx *store.Tx) error {
		var p store.Principal
		var err error
		switch {
		case strings.HasPrefix(bearer, stationTokenPrefix):
			st, err = tx.StationByToken(ctx, hashSecret(bearer))
			a.Station = st.Station
			return err
		case bearer != "":
			p, err = tx.APITokenPrincipal(ctx, hashSecret(bearer))
		default:
			p, err = tx.SessionPrincipal(ctx, hashSecret(sessionToken))
		}
		a = Actor{UserID: p.UserID, Username: p.Username, IsAdmin: p.IsAdmin, TokenID: p.TokenID}
		if bearer == "" {
			a.session = hashSecret(sessionToken)
		}
		return err
	})
	if err != nil {
		return Actor{}, err
	}
	if a.Station != "" {
		s.touchStationToken(ctx, st)
	}
	return a, nil
}

// NewToken is an API token as created: Token is shown once.
type NewToken struct {
	herald.APIToken
	Token string `json:"token"`
}

// CreateAPIToken makes a personal API token for a user. Admins, or the user
// themself. Returns ENOTFOUND or EINVALID (name).
func (s *Service) CreateAPIToken(ctx context.Context, a Actor, username, name string) (NewToken, error) {
	if err := RequireSelfOrAdmin(a, username); err != nil {
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
		u, err := userNamed(ctx, tx, username)
		if err != nil {
			return err
		}
		if t.APIToken, err = tx.CreateAPIToken(ctx, u.ID, name, hash); err != nil {
			return err
		}
		return audit(ctx, tx, a, herald.AuditAPITokenCreated, fmt.Sprintf("api_token:%d", t.ID), fmt.Sprintf("of user %s, named %q", u.Username, name))
	})
	t.Token = secret
	return t, err
}

// ListAPITokens lists a user's API tokens without secrets. Admins, or the
// user themself. Returns ENOTFOUND.
func (s *Service) ListAPITokens(ctx context.Context, a Actor, username string) ([]herald.APIToken, error) {
	if err := RequireSelfOrAdmin(a, username); err != nil {
		return nil, err
	}
	var tokens []herald.APIToken
	err := s.db.View(ctx, func(tx *store.Tx) error {
		u, err := userNamed(ctx, tx, username)
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
	if err := RequireSelfOrAdmin(a, username); err != nil {
		return err
	}
	return s.db.Update(ctx, func(tx *store.Tx) error {
		u, err := userNamed(ctx, tx, username)
		if err != nil {
			return err
		}
		if err := tx.DeleteAPIToken(ctx, u.ID, id); err != nil {
			return err
		}
		return audit(ctx, tx, a, herald.AuditAPITokenRevoked, fmt.Sprintf("api_token:%d", id), "of user "+u.Username)
	})
}

// Bootstrap creates the admin group and the admin user on an empty
// database. The password is adminPassword, or a random one that is
// returned so the caller can show it once. It does nothing (created false)
// when any user exists, not even look at adminPassword: it is ignored then.
func (s *Service) Bootstrap(ctx context.Context, adminPassword string) (created bool, pw string, err error) {
	// Counted first, so that every start but the first neither refuses a
	// password nobody uses nor spends a hash on it; counted again below in
	// case another instance created the admin meanwhile.
	var n int
	err = s.db.View(ctx, func(tx *store.Tx) (err error) {
		n, err = tx.CountUsers(ctx)
		return err
	})
	if err != nil || n > 0 {
		return false, "", err
	}
	pw = adminPassword
	if pw == "" {
		pw = rand.Text()[:20]
	} else if err := validatePassword("admin_password", pw); err != nil {
		return false, "", err
	}
	hash, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return false, "", err
	}
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
		if err := emit(ctx, tx, system, herald.EventUserCreated, userSubject(u.Username), renderUser(u), nil); err != nil {
			return err
		}
		created = true
		return emit(ctx, tx, system, herald.EventGroupCreated, groupSubject("admin"), renderGroup(herald.Group{Name: "admin", Members: []string{"admin"}, IsAdmin: true}), nil)
	})
	return created, pw, err
}
