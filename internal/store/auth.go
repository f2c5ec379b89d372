package store

import (
	"context"
	"database/sql"
	"errors"
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
}

// principalOf selects a Principal from a table of credentials t joined to
// users u. One query: every API call authenticates.
const principalOf = `SELECT u.id, u.username, EXISTS (SELECT 1 FROM group_members m JOIN groups g ON g.id = m.group_id
		WHERE m.user_id = u.id AND g.is_admin)
	FROM users u JOIN `

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
	err := tx.queryRow(ctx, principalOf+`api_tokens t ON t.user_id = u.id WHERE t.token_hash = $1`,
		tokenHash).Scan(&p.UserID, &p.Username, &p.IsAdmin)
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

// CreateWorkerToken stores a provisioning station's token by its hash.
func (tx *Tx) CreateWorkerToken(ctx context.Context, worker, tokenHash string) error {
	_, err := tx.insert(ctx, `INSERT INTO worker_tokens (worker, token_hash, created_at) VALUES ($1, $2, $3)`,
		worker, tokenHash, micros(tx.Now))
	return err
}

// WorkerByToken returns the station name a token belongs to.
// Returns EUNAUTHORIZED if there is none.
func (tx *Tx) WorkerByToken(ctx context.Context, tokenHash string) (string, error) {
	var worker string
	err := tx.queryRow(ctx, `SELECT worker FROM worker_tokens WHERE token_hash = $1`, tokenHash).Scan(&worker)
	if errors.Is(err, sql.ErrNoRows) {
		return "", herald.Errorf(herald.EUNAUTHORIZED, "unknown station token")
	}
	return worker, err
}

// LoginFailures returns the failed-login count and the time of the last
// failure for a throttling key; zero values when there are none.
func (tx *Tx) LoginFailures(ctx context.Context, key string) (int, time.Time, error) {
	var n int
	var at int64
	err := tx.queryRow(ctx, `SELECT failures, last_failure_at FROM login_failures WHERE key = $1`, key).Scan(&n, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	return n, fromMicros(at), err
}

// RecordLoginFailure counts one more failed login for key.
func (tx *Tx) RecordLoginFailure(ctx context.Context, key string) error {
	_, err := tx.exec(ctx, `INSERT INTO login_failures (key, failures, last_failure_at) VALUES ($1, 1, $2)
		ON CONFLICT (key) DO UPDATE SET failures = login_failures.failures + 1, last_failure_at = $2`, key, micros(tx.Now))
	return err
}

// ClearLoginFailures forgets the failures of key after a good login.
func (tx *Tx) ClearLoginFailures(ctx context.Context, key string) error {
	_, err := tx.exec(ctx, `DELETE FROM login_failures WHERE key = $1`, key)
	return err
}
