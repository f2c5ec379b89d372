package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

// CreateSession stores a login session by the hash of its token.
func (tx *Tx) CreateSession(ctx context.Context, tokenHash string, userID int64, expires time.Time) error {
	_, err := tx.exec(ctx, `INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		tokenHash, userID, micros(tx.Now), micros(expires))
	return err
}

// Principal is who a session or an API token acts for.
type Principal struct {
	UserID   int64
	Username string
	IsAdmin  bool // a member of a group with is_admin
	// TokenID is the API token's id when the principal came with one.
	TokenID int64
}

// principalOf selects a Principal from a table of credentials t joined to
// users u. One query: every API call authenticates.
const principalOf = `SELECT u.id, u.username, EXISTS (SELECT 1 FROM group_members m JOIN groups g ON g.id = m.group_id
		WHERE m.user_id = u.id AND g.is_admin)
	FROM users u JOIN `

// tokenPrincipalOf is principalOf with the token's id last.
var tokenPrincipalOf = strings.Replace(principalOf, "FROM users", ", t.id FROM users", 1)

// SessionPrincipal returns the user of an unexpired session.
// Returns EUNAUTHORIZED if there is none.
func (tx *Tx) SessionPrincipal(ctx context.Context, tokenHash string) (Principal, error) {
	var p Principal
	err := tx.queryRow(ctx, principalOf+`sessions t ON t.user_id = u.id WHERE t.token_hash = $1 AND t.expires_at > $2`,
		tokenHash, micros(tx.Now)).Scan(&p.UserID, &p.Username, &p.IsAdmin)
	if errors.Is(err, sql.ErrNoRows) {
		return p, herald.Errorf(herald.EUNAUTHORIZED, "session expired or unknown; log in again")
	}
	return p, err
}

// DeleteSession ends a session.
func (tx *Tx) DeleteSession(ctx context.Context, tokenHash string) error {
	_, err := tx.exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash)
	return err
}

// DeleteUserSessions ends every session of a user, e.g. after a password change.
func (tx *Tx) DeleteUserSessions(ctx context.Context, userID int64) error {
	_, err := tx.exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
	return err
}

// DeleteUserSessionsExcept ends every session of a user but one (the one
// that changed the password, when the user changed it themself).
func (tx *Tx) DeleteUserSessionsExcept(ctx context.Context, userID int64, keepHash string) error {
	_, err := tx.exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2`, userID, keepHash)
	return err
}

// DeleteExpiredSessions removes sessions past their expiry.
func (tx *Tx) DeleteExpiredSessions(ctx context.Context) error {
	_, err := tx.exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, micros(tx.Now))
	return err
}

// CreateAPIToken stores a personal API token by its hash and returns its id.
func (tx *Tx) CreateAPIToken(ctx context.Context, userID int64, name, tokenHash string) (herald.APIToken, error) {
	id, err := tx.insert(ctx, `INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4)`,
		userID, name, tokenHash, micros(tx.Now))
	return herald.APIToken{ID: id, Name: name, CreatedAt: tx.Now}, err
}

// APITokenPrincipal returns the user of a personal API token.
// Returns EUNAUTHORIZED if there is none (unknown or revoked).
func (tx *Tx) APITokenPrincipal(ctx context.Context, tokenHash string) (Principal, error) {
	var p Principal
	err := tx.queryRow(ctx, tokenPrincipalOf+`api_tokens t ON t.user_id = u.id WHERE t.token_hash = $1`,
		tokenHash).Scan(&p.UserID, &p.Username, &p.IsAdmin, &p.TokenID)
	if errors.Is(err, sql.ErrNoRows) {
		return p, herald.Errorf(herald.EUNAUTHORIZED, "unknown or revoked API token")
	}
	return p, err
}

// ListAPITokens returns a user's tokens, oldest first, without secrets.
func (tx *Tx) ListAPITokens(ctx context.Context, userID int64) ([]herald.APIToken, error) {
	rows, err := tx.query(ctx, `SELECT id, name, created_at FROM api_tokens WHERE user_id = $1 ORDER BY id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	tokens := []herald.APIToken{}
	for rows.Next() {
		var t herald.APIToken
		var at int64
		if err := rows.Scan(&t.ID, &t.Name, &at); err != nil {
			return nil, err
		}
		t.CreatedAt = fromMicros(at)
		tokens = append(tokens, t)
	}
	return tokens, rows.Err()
}

// DeleteAPIToken revokes one of a user's tokens.
// Returns ENOTFOUND if the user has no such token.
func (tx *Tx) DeleteAPIToken(ctx context.Context, userID, tokenID int64) error {
	res, err := tx.exec(ctx, `DELETE FROM api_tokens WHERE id = $1 AND user_id = $2`, tokenID, userID)
	if err != nil {
		return err
	}
	return mustAffect(res, "no API token with id %d", tokenID)
}

// CreateStationToken stores a provisioning station's token by its hash;
// expires nil means it never expires.
func (tx *Tx) CreateStationToken(ctx context.Context, station, tokenHash string, expires *time.Time) (herald.StationToken, error) {
	id, err := tx.insert(ctx, `INSERT INTO worker_tokens (worker, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		station, tokenHash, micros(tx.Now), optMicros(expires))
	return herald.StationToken{ID: id, Station: station, CreatedAt: tx.Now, ExpiresAt: expires}, err
}

// StationByToken returns the unexpired station token with this hash.
// Returns EUNAUTHORIZED if there is none (unknown, revoked or expired).
func (tx *Tx) StationByToken(ctx context.Context, tokenHash string) (herald.StationToken, error) {
	var t herald.StationToken
	var created int64
	var expires, used sql.NullInt64
	err := tx.queryRow(ctx, `SELECT id, worker, created_at, expires_at, last_used_at FROM worker_tokens
		WHERE token_hash = $1 AND (expires_at IS NULL OR expires_at > $2)`, tokenHash, micros(tx.Now)).
		Scan(&t.ID, &t.Station, &created, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return t, herald.Errorf(herald.EUNAUTHORIZED, "unknown, expired or revoked station token")
	}
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt = fromMicros(created), fromOptMicros(expires), fromOptMicros(used)
	return t, err
}

// TouchStationToken records that a station token was used now.
func (tx *Tx) TouchStationToken(ctx context.Context, id int64) error {
	_, err := tx.exec(ctx, `UPDATE worker_tokens SET last_used_at = $1 WHERE id = $2`, micros(tx.Now), id)
	return err
}

// ListStationTokens returns every station token, oldest first, without
// secrets; expired ones too, so they can be seen and revoked.
func (tx *Tx) ListStationTokens(ctx context.Context) ([]herald.StationToken, error) {
	rows, err := tx.query(ctx, `SELECT id, worker, created_at, expires_at, last_used_at FROM worker_tokens ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	tokens := []herald.StationToken{}
	for rows.Next() {
		var t herald.StationToken
		var created int64
		var expires, used sql.NullInt64
		if err := rows.Scan(&t.ID, &t.Station, &created, &expires, &used); err != nil {
			return nil, err
		}
		t.CreatedAt, t.ExpiresAt, t.LastUsedAt = fromMicros(created), fromOptMicros(expires), fromOptMicros(used)
		tokens = append(tokens, t)
	}
	return tokens, rows.Err()
}

// DeleteStationToken revokes a station token.
// Returns ENOTFOUND if there is no such token.
func (tx *Tx) DeleteStationToken(ctx context.Context, id int64) error {
	res, err := tx.exec(ctx, `DELETE FROM worker_tokens WHERE id = $1`, id)
	if err != nil {
		return err
	}
	return mustAffect(res, "no station token with id %d", id)
}

func optMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return micros(*t)
}

func fromOptMicros(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMicros(n.Int64)
	return &t
}

// LoginCount is where one throttling key stands within its window: the
// window is the span of its length that ends now, so it slides with time.
type LoginCount struct {
	Attempts int // being checked or failed within the window, this one included
	Failures int // failed within the window
	// Failed holds when each of those failures was, oldest first.
	Failed []time.Time
}

// CountLoginAttempt counts one more login attempt for a throttling key and
// returns the key's counts: the attempts being checked and the failures
// after since (the window's start). Attempts still counted as being
// checked when the newest of them was counted before stale have been lost
// (their outcome was never recorded): they are forgotten.
//
// Concurrent attempts, on any number of instances, each get a count of
// their own: the key's row in login_attempts is written first, and every
// change to the key's counts writes it first too, so on PostgreSQL its
// row lock puts them in turn (SQLite runs one write at a time anyway).
// The row also keeps the counts as of now, for reading them (LoginCountOf).
func (tx *Tx) CountLoginAttempt(ctx context.Context, key string, since, stale time.Time) (LoginCount, error) {
	now := micros(tx.Now)
	var running int
	err := tx.queryRow(ctx, `INSERT INTO login_attempts (key, attempts, failures, window_start, started_at) VALUES ($1, 1, 0, $2, $2)
		ON CONFLICT (key) DO UPDATE SET
			attempts = CASE WHEN login_attempts.started_at < $3 THEN 1
				ELSE login_attempts.attempts - login_attempts.failures + 1 END,
			failures = 0,
			started_at = $2
		RETURNING attempts`, key, now, micros(stale)).Scan(&running)
	if err != nil {
		return LoginCount{}, err
	}
	failed, err := tx.loginFailures(ctx, key, since)
	if err != nil {
		return LoginCount{}, err
	}
	c := LoginCount{Attempts: running + len(failed), Failures: len(failed), Failed: failed}
	start := now
	if len(failed) > 0 {
		start = micros(failed[0])
	}
	_, err = tx.exec(ctx, `UPDATE login_attempts SET attempts = $2, failures = $3, window_start = $4 WHERE key = $1`,
		key, c.Attempts, c.Failures, start)
	return c, err
}

// loginFailures returns when key's failures after since were, oldest first.
func (tx *Tx) loginFailures(ctx context.Context, key string, since time.Time) ([]time.Time, error) {
	rows, err := tx.query(ctx, `SELECT failed_at FROM login_failures WHERE key = $1 AND failed_at > $2 ORDER BY failed_at`, key, micros(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var failed []time.Time
	for rows.Next() {
		var at int64
		if err := rows.Scan(&at); err != nil {
			return nil, err
		}
		failed = append(failed, fromMicros(at))
	}
	return failed, rows.Err()
}

// LoginCountOf returns where a throttling key stands (the zero LoginCount
// for a key with no count), without counting anything: for an attempt
// waiting for others to end. Failures are those after since.
func (tx *Tx) LoginCountOf(ctx context.Context, key string, since time.Time) (LoginCount, error) {
	var attempts, failures int
	err := tx.queryRow(ctx, `SELECT attempts, failures FROM login_attempts WHERE key = $1`, key).Scan(&attempts, &failures)
	if errors.Is(err, sql.ErrNoRows) {
		attempts, failures = 0, 0
	} else if err != nil {
		return LoginCount{}, err
	}
	failed, err := tx.loginFailures(ctx, key, since)
	if err != nil {
		return LoginCount{}, err
	}
	return LoginCount{Attempts: attempts - failures + len(failed), Failures: len(failed), Failed: failed}, nil
}

// RecordLoginFailure marks one counted attempt of key as failed now (if
// one is still counted as being checked).
func (tx *Tx) RecordLoginFailure(ctx context.Context, key string) error {
	res, err := tx.exec(ctx, `UPDATE login_attempts SET failures = failures + 1 WHERE key = $1 AND failures < attempts`, key)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err
	}
	_, err = tx.exec(ctx, `INSERT INTO login_failures (key, failed_at) VALUES ($1, $2)`, key, micros(tx.Now))
	return err
}

// UncountLoginAttempt takes one counted attempt of key back: it was not
// checked, or it was the right password. Failures stay.
func (tx *Tx) UncountLoginAttempt(ctx context.Context, key string) error {
	_, err := tx.exec(ctx, `UPDATE login_attempts SET attempts = attempts - 1 WHERE key = $1 AND attempts > failures`, key)
	return err
}

// ForgiveLoginFailures takes back one counted attempt of key (the right
// password) and forgets its failures; attempts still being checked stay
// counted.
func (tx *Tx) ForgiveLoginFailures(ctx context.Context, key string) error {
	_, err := tx.exec(ctx, `UPDATE login_attempts SET attempts = CASE WHEN attempts > failures THEN attempts - failures - 1 ELSE 0 END,
		failures = 0 WHERE key = $1`, key)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, `DELETE FROM login_failures WHERE key = $1`, key)
	return err
}

// PruneLoginAttempts forgets the failures from before since, and the keys
// with no attempt since.
func (tx *Tx) PruneLoginAttempts(ctx context.Context, since time.Time) error {
	if _, err := tx.exec(ctx, `DELETE FROM login_failures WHERE failed_at <= $1`, micros(since)); err != nil {
		return err
	}
	// window_start is never after started_at; asked too for its index.
	_, err := tx.exec(ctx, `DELETE FROM login_attempts WHERE window_start < $1 AND started_at < $1`, micros(since))
	return err
}
