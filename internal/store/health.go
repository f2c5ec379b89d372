package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/heraldhq/herald"
)

// attemptSucceeded is herald.Succeeded in SQL, of attempts a.
const attemptSucceeded = `(a.status_code BETWEEN 200 AND 299)`

// WebhookHealth reads a webhook's health from its delivery log: its last
// attempt, the failed attempts since its last successful one (2xx), and
// its waiting deliveries. The log is pruned, so "since" reaches back as
// far as the log does.
func (tx *Tx) WebhookHealth(ctx context.Context, webhookID int64) (herald.WebhookHealth, error) {
	var h herald.WebhookHealth
	var started int64
	err := tx.queryRow(ctx, `SELECT a.started_at, a.status_code, a.error FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
		WHERE d.webhook_id = $1 ORDER BY a.started_at DESC, a.delivery_id DESC LIMIT 1`, webhookID).Scan(&started, &h.LastStatusCode, &h.LastError)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return h, err
	default:
		h.LastAttemptAt = timePtr(fromMicros(started))
		var lastOK sql.NullInt64
		if err := tx.queryRow(ctx, `SELECT max(a.started_at) FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
			WHERE d.webhook_id = $1 AND `+attemptSucceeded, webhookID).Scan(&lastOK); err != nil {
			return h, err
		}
		var first sql.NullInt64
		if err := tx.queryRow(ctx, `SELECT count(*), min(a.started_at) FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
			WHERE d.webhook_id = $1 AND a.started_at > $2 AND NOT `+attemptSucceeded,
			webhookID, lastOK.Int64).Scan(&h.ConsecutiveFailures, &first); err != nil {
			return h, err
		}
		if first.Valid {
			h.FailingSince = timePtr(fromMicros(first.Int64))
		}
	}
	if err := tx.queryRow(ctx, `SELECT count(*) FROM deliveries WHERE webhook_id = $1 AND state IN ('pending', 'retrying')`,
		webhookID).Scan(&h.Pending); err != nil {
		return h, err
	}
	// The next attempt is the soonest of the heads of the per-subject
	// queues: a delivery behind an unfinished one of its subject waits
	// for it, whatever its own time says.
	var next sql.NullInt64
	if err := tx.queryRow(ctx, `SELECT min(d.next_attempt_at) FROM deliveries d
		WHERE d.webhook_id = $1 AND d.state IN ('pending', 'retrying') AND NOT EXISTS (
			SELECT 1 FROM deliveries e WHERE e.webhook_id = d.webhook_id AND e.subject = d.subject AND e.id < d.id
				AND e.state IN ('pending', 'retrying'))`, webhookID).Scan(&next); err != nil {
		return h, err
	}
	if next.Valid {
		h.NextAttemptAt = timePtr(fromMicros(next.Int64))
	}
	return h, nil
}

func timePtr(t time.Time) *time.Time { return &t }

// DeliveryCounts is how many deliveries wait now, and how many ended in
// each way since a time.
type DeliveryCounts struct {
	Pending   int // pending or retrying, now
	Succeeded int // completed since
	Failed    int // given up since
}

// CountDeliveries counts the deliveries of every webhook that wait now,
// and those that succeeded or failed since since.
func (tx *Tx) CountDeliveries(ctx context.Context, since time.Time) (DeliveryCounts, error) {
	var c DeliveryCounts
	err := tx.queryRow(ctx, `SELECT
		(SELECT count(*) FROM deliveries WHERE state IN ('pending', 'retrying')),
		(SELECT count(*) FROM deliveries WHERE completed_at >= $1 AND state = 'succeeded'),
		(SELECT count(*) FROM deliveries WHERE completed_at >= $1 AND state = 'failed')`, micros(since)).Scan(&c.Pending, &c.Succeeded, &c.Failed)
	return c, err
}
