package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/heraldhq/herald"
)

// Webhooks are stored with Token, SigningSecret and PreviousSecret already
// sealed by the caller: the store never sees them in the clear.

const webhookColumns = `id, url, description, token_enc, enabled, on_user_created, on_user_modified, on_user_deleted,
	on_hwkey_provision, method, events, secret_enc, old_secret_enc, old_secret_until, disabled_reason, created_at`

func scanWebhook(row interface{ Scan(...any) error }) (herald.Webhook, error) {
	var w herald.Webhook
	var events string
	var oldUntil, created int64
	err := row.Scan(&w.ID, &w.URL, &w.Description, &w.Token, &w.Enabled, &w.OnUserCreated, &w.OnUserModified, &w.OnUserDeleted,
		&w.OnHWKeyProvision, &w.Method, &events, &w.SigningSecret, &w.PreviousSecret, &oldUntil, &w.DisabledReason, &created)
	w.Events = splitEvents(events)
	if oldUntil > 0 {
		w.PreviousSecretUntil = fromMicros(oldUntil)
	}
	w.CreatedAt = fromMicros(created)
	return w, err
}

// joinEvents stores added events as ",a,b," so "events LIKE '%,a,%'" finds
// a webhook that wants a.
func joinEvents(events []string) string {
	return "," + strings.Join(events, ",") + ","
}

func splitEvents(s string) []string {
	out := []string{}
	for _, e := range strings.Split(s, ",") {
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}

// CreateWebhook inserts w and sets its ID and CreatedAt.
func (tx *Tx) CreateWebhook(ctx context.Context, w *herald.Webhook) error {
	var oldUntil int64
	if !w.PreviousSecretUntil.IsZero() {
		oldUntil = micros(w.PreviousSecretUntil)
	}
	id, err := tx.insert(ctx, `INSERT INTO webhooks (url, description, token_enc, enabled, on_user_created, on_user_modified,
		on_user_deleted, on_hwkey_provision, method, events, secret_enc, old_secret_enc, old_secret_until, disabled_reason, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)`,
		w.URL, w.Description, w.Token, w.Enabled, w.OnUserCreated, w.OnUserModified, w.OnUserDeleted, w.OnHWKeyProvision,
		w.Method, joinEvents(w.Events), w.SigningSecret, w.PreviousSecret, oldUntil, w.DisabledReason, micros(tx.Now))
	if err != nil {
		return err
	}
	w.ID, w.CreatedAt = id, tx.Now
	tx.webhookChanged(id, true)
	return nil
}

// UpdateWebhook writes every field of w but ID and CreatedAt.
// Returns ENOTFOUND if there is no such webhook.
func (tx *Tx) UpdateWebhook(ctx context.Context, w *herald.Webhook) error {
	var oldUntil int64
	if !w.PreviousSecretUntil.IsZero() {
		oldUntil = micros(w.PreviousSecretUntil)
	}
	res, err := tx.exec(ctx, `UPDATE webhooks SET url = $1, description = $2, token_enc = $3, enabled = $4, on_user_created = $5,
		on_user_modified = $6, on_user_deleted = $7, on_hwkey_provision = $8, method = $9, events = $10, secret_enc = $11,
		old_secret_enc = $12, old_secret_until = $13, disabled_reason = $14, updated_at = $15 WHERE id = $16`,
		w.URL, w.Description, w.Token, w.Enabled, w.OnUserCreated, w.OnUserModified, w.OnUserDeleted, w.OnHWKeyProvision,
		w.Method, joinEvents(w.Events), w.SigningSecret, w.PreviousSecret, oldUntil, w.DisabledReason, micros(tx.Now), w.ID)
	if err != nil {
		return err
	}
	tx.webhookChanged(w.ID, false)
	return mustAffect(res, "no webhook with id %d", w.ID)
}

// WebhookByID returns a webhook. Returns ENOTFOUND if there is none.
func (tx *Tx) WebhookByID(ctx context.Context, id int64) (herald.Webhook, error) {
	w, err := scanWebhook(tx.queryRow(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return w, herald.Errorf(herald.ENOTFOUND, "no webhook with id %d", id)
	}
	return w, err
}

// ListWebhooks returns every webhook, oldest first.
func (tx *Tx) ListWebhooks(ctx context.Context) ([]herald.Webhook, error) {
	return tx.queryWebhooks(ctx, `SELECT `+webhookColumns+` FROM webhooks ORDER BY id`)
}

func (tx *Tx) queryWebhooks(ctx context.Context, query string, args ...any) ([]herald.Webhook, error) {
	rows, err := tx.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	hooks := []herald.Webhook{}
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, err
		}
		hooks = append(hooks, w)
	}
	return hooks, rows.Err()
}

// DeleteWebhook deletes a webhook with its deliveries and attempts, and
// returns how many unfinished deliveries were dropped.
// Returns ENOTFOUND if there is no such webhook.
func (tx *Tx) DeleteWebhook(ctx context.Context, id int64) (int, error) {
	var dropped int
	if err := tx.queryRow(ctx, `SELECT count(*) FROM deliveries WHERE webhook_id = $1 AND state IN ('pending', 'retrying')`, id).Scan(&dropped); err != nil {
		return 0, err
	}
	// Attempts go with their deliveries, deliveries with their webhook.
	res, err := tx.exec(ctx, `DELETE FROM webhooks WHERE id = $1`, id)
	if err != nil {
		return 0, err
	}
	tx.webhookChanged(id, false)
	return dropped, mustAffect(res, "no webhook with id %d", id)
}

// DisableWebhook turns a webhook off, recording why (empty when an admin
// did it).
func (tx *Tx) DisableWebhook(ctx context.Context, id int64, reason string) error {
	_, err := tx.exec(ctx, `UPDATE webhooks SET enabled = FALSE, disabled_reason = $1, updated_at = $2 WHERE id = $3`, reason, micros(tx.Now), id)
	tx.webhookChanged(id, false)
	return err
}

// webhookChanged tells the queue observer, if any, of a webhook created
// (it has no deliveries yet) or changed or deleted.
func (tx *Tx) webhookChanged(id int64, created bool) {
	if tx.observer != nil {
		tx.observer.WebhookChanged(id, created)
	}
}
