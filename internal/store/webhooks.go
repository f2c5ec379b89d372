package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/heraldhq/herald"
)

// Webhooks are stored with Token, SigningSecret and PreviousSecret already
// sealed by the caller: the store never sees them in the clear.

// triggerColumns are the webhooks table's trigger flags, one column per
// trigger named as the trigger (herald.EventTypes).
var triggerColumns = func() []string {
	var cols []string
	for _, et := range herald.TriggerTypes() {
		cols = append(cols, et.Trigger)
	}
	return cols
}()

// triggerFlags returns pointers to w's trigger flags, in triggerColumns' order.
func triggerFlags(t *herald.Triggers) []any {
	var out []any
	for _, et := range herald.TriggerTypes() {
		out = append(out, et.Flag(t))
	}
	return out
}

func triggerValues(t herald.Triggers) []any {
	out := triggerFlags(&t)
	for i, p := range out {
		out[i] = *p.(*bool)
	}
	return out
}

var webhookColumns = `id, url, description, token_enc, enabled, method, events, secret_enc, old_secret_enc, old_secret_until,
	disabled_reason, created_at, format, ignore_actors, only_groups, kind, deprovision, sync_groups, ` + strings.Join(triggerColumns, ", ")

func scanWebhook(row interface{ Scan(...any) error }) (herald.Webhook, error) {
	var w herald.Webhook
	var events, ignore, only string
	var oldUntil, created int64
	dest := append([]any{&w.ID, &w.URL, &w.Description, &w.Token, &w.Enabled, &w.Method, &events, &w.SigningSecret, &w.PreviousSecret,
		&oldUntil, &w.DisabledReason, &created, &w.Format, &ignore, &only, &w.Kind, &w.Deprovision, &w.SyncGroups}, triggerFlags(&w.Triggers)...)
	err := row.Scan(dest...)
	w.Events, w.IgnoreActors, w.OnlyGroups = splitEvents(events), splitEvents(ignore), splitEvents(only)
	if oldUntil > 0 {
		w.PreviousSecretUntil = fromMicros(oldUntil)
	}
	w.CreatedAt = fromMicros(created)
	return w, err
}

// placeholders returns ", $first, ..." for n parameters.
func placeholders(first, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, ", $%d", first+i)
	}
	return b.String()
}

func kindOrDefault(k string) string {
	if k == "" {
		return herald.WebhookKindHTTP
	}
	return k
}

func formatOrDefault(f string) string {
	if f == "" {
		return herald.FormatDefguard
	}
	return f
}

// joinEvents stores a list (added events, ignored actors, groups) as
// ",a,b," so that looking for ",a," finds a webhook that lists a.
func joinEvents(events []string) string {
	if len(events) == 0 {
		return "," // what the filters compare with: no entries
	}
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
	args := append([]any{w.URL, w.Description, w.Token, w.Enabled, w.Method, joinEvents(w.Events), w.SigningSecret, w.PreviousSecret,
		oldUntil, w.DisabledReason, micros(tx.Now), formatOrDefault(w.Format), joinEvents(w.IgnoreActors), joinEvents(w.OnlyGroups),
		kindOrDefault(w.Kind), w.Deprovision, w.SyncGroups}, triggerValues(w.Triggers)...)
	id, err := tx.insert(ctx, `INSERT INTO webhooks (url, description, token_enc, enabled, method, events, secret_enc, old_secret_enc,
		old_secret_until, disabled_reason, created_at, updated_at, format, ignore_actors, only_groups, kind, deprovision, sync_groups, `+
		strings.Join(triggerColumns, ", ")+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, $14, $15, $16, $17`+placeholders(18, len(triggerColumns))+`)`, args...)
	if err != nil {
		return err
	}
	w.ID, w.CreatedAt, w.Kind = id, tx.Now, kindOrDefault(w.Kind)
	tx.webhookChanged(id, true)
	return nil
}

// UpdateWebhook writes every field of w but ID, CreatedAt and Kind (a
// webhook never becomes a SCIM target, nor the other way round).
// Returns ENOTFOUND if there is no such webhook.
func (tx *Tx) UpdateWebhook(ctx context.Context, w *herald.Webhook) error {
	var oldUntil int64
	if !w.PreviousSecretUntil.IsZero() {
		oldUntil = micros(w.PreviousSecretUntil)
	}
	args := append([]any{w.URL, w.Description, w.Token, w.Enabled, w.Method, joinEvents(w.Events), w.SigningSecret, w.PreviousSecret,
		oldUntil, w.DisabledReason, micros(tx.Now), w.ID, formatOrDefault(w.Format), joinEvents(w.IgnoreActors), joinEvents(w.OnlyGroups),
		w.Deprovision, w.SyncGroups}, triggerValues(w.Triggers)...)
	set := ""
	for i, col := range triggerColumns {
		set += fmt.Sprintf(", %s = $%d", col, 18+i)
	}
	res, err := tx.exec(ctx, `UPDATE webhooks SET url = $1, description = $2, token_enc = $3, enabled = $4, method = $5, events = $6,
		secret_enc = $7, old_secret_enc = $8, old_secret_until = $9, disabled_reason = $10, updated_at = $11,
		format = $13, ignore_actors = $14, only_groups = $15, deprovision = $16, sync_groups = $17`+set+` WHERE id = $12`, args...)
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

// DisableWebhook turns webhook id off for Herald itself (its receiver
// answered 410 Gone), recording reason, and writes that in the audit log as
// the system's act (webhook_disabled, or scim_target_disabled for a SCIM
// target), so the log tells who turned it off. A webhook already off, or
// deleted, is left alone, with no entry: its disabled_reason stays the
// first one.
func (tx *Tx) DisableWebhook(ctx context.Context, id int64, reason string) error {
	var kind string
	err := tx.queryRow(ctx, `UPDATE webhooks SET enabled = FALSE, disabled_reason = $1, updated_at = $2 WHERE id = $3 AND enabled
		RETURNING kind`, reason, micros(tx.Now), id).Scan(&kind)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	tx.webhookChanged(id, false)
	action := herald.AuditWebhookDisabled
	if kind == herald.WebhookKindSCIM {
		action = herald.AuditSCIMTargetDisabled
	}
	return tx.AppendAudit(ctx, &herald.AuditEntry{Action: action, Actor: herald.Actor{Type: herald.ActorSystem},
		Target: herald.AuditTargetOfWebhook(kind, id), Detail: reason})
}

// RenameGroupInFilters follows a group's rename in every webhook's
// only_groups, so a webhook that followed the group still does; the list
// stays sorted and without duplicates.
func (tx *Tx) RenameGroupInFilters(ctx context.Context, oldName, newName string) error {
	rows, err := tx.query(ctx, `SELECT id, only_groups FROM webhooks WHERE `+tx.dialect.strpos+`(only_groups, $1) > 0`, ","+oldName+",")
	if err != nil {
		return err
	}
	changed := map[int64][]string{}
	for rows.Next() {
		var id int64
		var only string
		if err := rows.Scan(&id, &only); err != nil {
			rows.Close()
			return err
		}
		groups := splitEvents(only)
		for i, g := range groups {
			if g == oldName {
				groups[i] = newName
			}
		}
		slices.Sort(groups)
		changed[id] = slices.Compact(groups)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for id, groups := range changed {
		if _, err := tx.exec(ctx, `UPDATE webhooks SET only_groups = $1, updated_at = $2 WHERE id = $3`, joinEvents(groups), micros(tx.Now), id); err != nil {
			return err
		}
		tx.webhookChanged(id, false)
	}
	return nil
}

// webhookChanged tells the queue observer, if any, of a webhook created
// (it has no deliveries yet) or changed or deleted; on PostgreSQL the
// commit tells every instance (WebhooksChanged).
func (tx *Tx) webhookChanged(id int64, created bool) {
	tx.webhooksChanged = true
	if tx.observer != nil {
		tx.observer.WebhookChanged(id, created)
	}
}
