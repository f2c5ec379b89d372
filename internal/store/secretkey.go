package store

import (
	"context"
	"database/sql"
	"errors"
)

// SecretKeyCheck returns the check value of the secret key the database's
// secrets are sealed under (see migration 0007), and false when none is
// recorded yet (a new database, or one from before 0007).
func (tx *Tx) SecretKeyCheck(ctx context.Context) (string, bool, error) {
	var sealed string
	err := tx.queryRow(ctx, `SELECT sealed FROM secret_key_check WHERE id = 1`).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return sealed, err == nil, err
}

// SetSecretKeyCheck records the check value of the key now in use,
// replacing any other.
func (tx *Tx) SetSecretKeyCheck(ctx context.Context, sealed string) error {
	_, err := tx.exec(ctx, `INSERT INTO secret_key_check (id, sealed, updated_at) VALUES (1, $1, $2)
		ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at`, sealed, micros(tx.Now))
	return err
}
