package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/heraldhq/herald"
)

// SCIM targets are rows of webhooks with kind 'scim' (herald.WebhookKindSCIM):
// they share the outbox, the queue and the engine. ListWebhooks and
// WebhookByID return both kinds, as the queue needs; the directory decides
// which kind people see where.

// AppendTargetedEvent records ev (of a type herald.Targeted names, such as
// a resync's scim_sync or scim_remove) and queues exactly one delivery of
// it, for webhook alone: it is never fanned out. It sets ev's Seq, ID and
// OccurredAt. The queue observer hears of the delivery as of any fan-out's.
// Returns ENOTFOUND if there is no such webhook, EINVALID for a type that
// is not targeted.
func (tx *Tx) AppendTargetedEvent(ctx context.Context, webhook int64, ev *herald.Event) error {
	if !herald.Targeted(ev.Type) {
		return herald.Errorf(herald.EINVALID, "event type %q is not meant for one webhook", ev.Type)
	}
	if _, err := tx.WebhookByID(ctx, webhook); err != nil {
		return err
	}
	if err := tx.insertEventRow(ctx, ev, tx.eventRow(ev)); err != nil {
		return err
	}
	// The fan-out's insert, narrowed to the one webhook, so the observer
	// (SQLite's handoffs) hears of it the same way.
	return tx.queueDeliveries(ctx, ev, fanOutInsert+`SELECT CAST($1 AS BIGINT), id, CAST($2 AS TEXT), 'pending', CAST($3 AS BIGINT), CAST($3 AS BIGINT)
		FROM webhooks WHERE id = $4`, []any{ev.Seq, ev.Subject, micros(tx.Now), webhook})
}

// SaveSCIMResync stores r as the last resync of SCIM target id.
// Returns ENOTFOUND if there is no such SCIM target.
func (tx *Tx) SaveSCIMResync(ctx context.Context, id int64, r herald.SCIMResync) error {
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode resync report: %w", err)
	}
	res, err := tx.exec(ctx, `UPDATE webhooks SET last_resync = $1 WHERE id = $2 AND kind = $3`, string(body), id, herald.WebhookKindSCIM)
	if err != nil {
		return err
	}
	return mustAffect(res, "no SCIM target with id %d", id)
}

// SCIMResyncs returns the last resync of every SCIM target that had one,
// by id.
func (tx *Tx) SCIMResyncs(ctx context.Context) (map[int64]herald.SCIMResync, error) {
	rows, err := tx.query(ctx, `SELECT id, last_resync FROM webhooks WHERE kind = $1 AND last_resync IS NOT NULL`, herald.WebhookKindSCIM)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]herald.SCIMResync{}
	for rows.Next() {
		var id int64
		var body sql.NullString
		if err := rows.Scan(&id, &body); err != nil {
			return nil, err
		}
		var r herald.SCIMResync
		if err := json.Unmarshal([]byte(body.String), &r); err != nil {
			return nil, fmt.Errorf("SCIM target %d: resync report: %w", id, err)
		}
		out[id] = r
	}
	return out, rows.Err()
}

// SCIMResync returns SCIM target id's last resync, nil before the first.
func (tx *Tx) SCIMResync(ctx context.Context, id int64) (*herald.SCIMResync, error) {
	var body sql.NullString
	err := tx.queryRow(ctx, `SELECT last_resync FROM webhooks WHERE id = $1 AND kind = $2`, id, herald.WebhookKindSCIM).Scan(&body)
	if err == sql.ErrNoRows {
		return nil, herald.Errorf(herald.ENOTFOUND, "no SCIM target with id %d", id)
	}
	if err != nil || !body.Valid {
		return nil, err
	}
	var r herald.SCIMResync
	if err := json.Unmarshal([]byte(body.String), &r); err != nil {
		return nil, fmt.Errorf("SCIM target %d: resync report: %w", id, err)
	}
	return &r, nil
}

// LaterDelivery reports whether webhook has a delivery of a later event
// about the same subject than its delivery id (a SCIM change carries its
// subject's state then: sending an older one again would put it back);
// false if webhook has no delivery id.
func (tx *Tx) LaterDelivery(ctx context.Context, webhook, id int64) (bool, error) {
	var n int
	err := tx.queryRow(ctx, `SELECT count(*) FROM deliveries l JOIN deliveries d ON d.webhook_id = l.webhook_id AND d.subject = l.subject
		WHERE d.webhook_id = $1 AND d.id = $2 AND l.event_seq > d.event_seq`, webhook, id).Scan(&n)
	return n > 0, err
}
