package queue

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// The queue's SQL that both databases share: claiming the due heads of a
// webhook's queues, releasing leases, pruning and the
// figures. Queries use $1-style placeholders and SQL that SQLite and
// PostgreSQL both understand.

// claimHeads returns up to room due heads of webhook hook's queues with
// what sending them needs, passing over those with a running lease in
// running; held are the webhook's leased ids among them (SQLite), which
// the query skips before reading their rows (leased deliveries are the
// oldest due, and under load there are several times room of them).
// SQLite's claim query; PostgreSQL claims every webhook's in one
// statement with their leases (claimLeaseQuery). The webhook id and the limit are
// cast: SQLite prepares a statement anew whenever a bare parameter its
// plan looked at takes another value (both are such; measured: a claim
// took twice as long when the webhook differed from the last one), and
// does not look into a cast.
func claimHeads(ctx context.Context, tx *store.Tx, hook *herald.Webhook, now int64, room int, held []int64, running map[int64]bool) ([]Claimed, error) {
	args := []any{hook.ID, now, room}
	skipHeld := ""
	if len(held) > 0 {
		skipHeld = ` AND d.id NOT IN (SELECT value FROM json_each($4))`
		args = append(args, "["+idList(held)+"]")
	}
	rows, err := tx.Query(ctx, `SELECT d.id, d.subject, d.attempts, d.round_attempts, `+store.EventColumns+`
		FROM deliveries d JOIN events e ON e.seq = d.event_seq
		WHERE d.webhook_id = CAST($1 AS BIGINT) AND d.state IN ('pending', 'retrying')
		AND d.next_attempt_at <= $2 AND d.lease_until <= $2`+skipHeld+`
		AND NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.webhook_id = d.webhook_id AND p.subject = d.subject
			AND p.state IN ('pending', 'retrying') AND p.id < d.id)
		ORDER BY d.next_attempt_at, d.id LIMIT CAST($3 AS BIGINT)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Claimed
	for rows.Next() {
		c := Claimed{WebhookID: hook.ID, Webhook: hook}
		var ev herald.Event
		if err := store.ScanEvent(rows, &ev, &c.ID, &c.Subject, &c.Attempts, &c.RoundAttempts); err != nil {
			return nil, err
		}
		if running[c.ID] {
			continue
		}
		c.EventID, c.EventType, c.Payload = ev.ID, ev.Type, ev.Body(hook.Format)
		if out = append(out, c); len(out) == room {
			break
		}
	}
	return out, rows.Err()
}

// idList renders ids for an IN list. They are integers from the database,
// never user input.
func idList(ids []int64) string {
	list := make([]string, len(ids))
	for i, id := range ids {
		list[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(list, ",")
}

// micros and fromMicros convert times to and from their stored form (as
// the store does).
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// completedAt is a finished delivery's completion time, or 0.
func completedAt(o Outcome, now time.Time) int64 {
	if o.State == herald.DeliverySucceeded || o.State == herald.DeliveryFailed {
		return micros(now)
	}
	return 0
}

// disableGone disables the webhooks of outcomes with a DisableReason, in
// the transaction that records them: each once, with its first reason
// (store.Tx.DisableWebhook, which also writes the audit entry).
func disableGone(ctx context.Context, tx *store.Tx, outs []Outcome) error {
	done := map[int64]bool{}
	for _, o := range outs {
		if o.DisableReason != "" && !done[o.WebhookID] {
			done[o.WebhookID] = true
			if err := tx.DisableWebhook(ctx, o.WebhookID, o.DisableReason); err != nil {
				return err
			}
		}
	}
	return nil
}

// releaseLeaseRows frees the leases kept in the database (PostgreSQL's
// kind) and returns how many there were.
func releaseLeaseRows(ctx context.Context, db *store.DB) (int, error) {
	var n int64
	err := db.UpdateQueue(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE deliveries SET lease_until = 0 WHERE lease_until > 0 AND state IN ('pending', 'retrying')`)
		if err == nil {
			n, err = res.RowsAffected()
		}
		return err
	})
	return int(n), err
}

// prune is Queue.Prune. Old attempts and finished deliveries belong to
// deliveries created before cutoff, which are numbered below the first
// one created after it: the deletes read that id range (its oldest part
// is what the last prune left: unfinished deliveries), not the whole
// history, and no index on their times is kept up for them.
func prune(ctx context.Context, db *store.DB, cutoff time.Time) (attempts, deliveries int, err error) {
	err = db.UpdateQueue(ctx, func(tx *store.Tx) error {
		last, err := lastDeliveryBefore(ctx, tx, micros(cutoff))
		if err != nil || last == 0 {
			return err
		}
		res, err := tx.Exec(ctx, `DELETE FROM attempts WHERE delivery_id <= $1 AND started_at < $2`, last, micros(cutoff))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		attempts = int(n)
		res, err = tx.Exec(ctx, `DELETE FROM deliveries WHERE id <= $1 AND completed_at > 0 AND completed_at < $2`, last, micros(cutoff))
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		deliveries = int(n)
		return nil
	})
	return attempts, deliveries, err
}

// lastDeliveryBefore returns the highest id of a delivery created before
// cutoff (micros), or 0. Ids grow with creation time, so a binary search
// over them finds it in a few dozen primary-key lookups.
func lastDeliveryBefore(ctx context.Context, tx *store.Tx, cutoff int64) (int64, error) {
	var lo, hi sql.NullInt64
	if err := tx.QueryRow(ctx, `SELECT min(id), max(id) FROM deliveries`).Scan(&lo, &hi); err != nil || !lo.Valid {
		return 0, err
	}
	last := int64(0)
	for l, h := lo.Int64, hi.Int64; l <= h; {
		mid := l + (h-l)/2
		// The first delivery at or after mid: ids have gaps.
		var id, created int64
		if err := tx.QueryRow(ctx, `SELECT id, created_at FROM deliveries WHERE id >= $1 ORDER BY id LIMIT 1`, mid).Scan(&id, &created); err != nil {
			return 0, err
		}
		if created < cutoff {
			last, l = id, id+1
		} else {
			h = mid - 1
		}
	}
	return last, nil
}

// stats is Queue.Stats.
func stats(ctx context.Context, db *store.DB) (Stats, error) {
	s := Stats{PendingByWebhook: map[int64]int{}, OldestPendingAge: map[int64]time.Duration{}}
	now := db.Now()
	reader := db.ReadPool()
	rows, err := reader.QueryContext(ctx, `SELECT webhook_id, count(*), min(created_at) FROM deliveries
		WHERE state IN ('pending', 'retrying') GROUP BY webhook_id`)
	if err != nil {
		return s, err
	}
	defer rows.Close()
	for rows.Next() {
		var hook int64
		var n int
		var oldest int64
		if err := rows.Scan(&hook, &n, &oldest); err != nil {
			return s, err
		}
		s.Pending += n
		s.PendingByWebhook[hook] = n
		s.OldestPendingAge[hook] = now.Sub(fromMicros(oldest))
	}
	if err := rows.Err(); err != nil {
		return s, err
	}
	err = reader.QueryRowContext(ctx, `SELECT count(*) FROM webhooks WHERE NOT enabled`).Scan(&s.WebhooksDisabled)
	return s, err
}
