package store

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

// This file is the delivery engine's side of the store: claiming due
// deliveries in batches and recording their outcomes in batches.

// Claimed is a delivery handed to the engine to send.
type Claimed struct {
	ID            int64
	WebhookID     int64
	Subject       string
	Attempts      int // before this one
	RoundAttempts int // before this one, since last queued
	EventID       string
	EventType     string
	Payload       []byte
	// Webhook is the delivery's webhook as stored (secrets sealed), read
	// in the claim's transaction.
	Webhook herald.Webhook
}

// ClaimRequest says how much work the engine can take.
type ClaimRequest struct {
	Limit      int           // deliveries at most
	Lease      time.Duration // PostgreSQL: how long a claim holds before another instance may retake it (SQLite: until its outcome)
	PerWebhook int           // in-flight cap per webhook
	// MinRoom skips a webhook that has requests in flight but room for
	// fewer than this many more: claiming costs a query per webhook, so a
	// busy webhook is served in bulk once some of its requests finish.
	MinRoom int
	// InFlight is how many requests each webhook already has in flight;
	// Paused lists webhooks to leave alone for now (circuit breaker).
	InFlight map[int64]int
	Paused   map[int64]bool
}

// ClaimDue leases up to req.Limit due deliveries and returns them. Only the
// oldest unfinished delivery of each (webhook, subject) is due, so events
// about one subject reach a webhook in order; a failed delivery no longer
// blocks those after it. On SQLite the first claim takes the engine lock
// (LockEngine) and returns its ECONFLICT if another handle holds it.
func (db *DB) ClaimDue(ctx context.Context, req ClaimRequest) ([]Claimed, error) {
	if db.Shared() {
		var out []Claimed
		err := db.updateEngine(ctx, func(tx *Tx) error {
			var err error
			out, err = tx.claim(ctx, req, nil, nil)
			return err
		})
		return out, err
	}
	if err := db.LockEngine(); err != nil {
		return nil, err
	}
	// In-memory leases and a read (leases.go).
	db.claimMu.Lock()
	defer db.claimMu.Unlock()
	running, held := db.leases.snapshot()
	var out []Claimed
	err := db.View(ctx, func(tx *Tx) error {
		var err error
		out, err = tx.claim(ctx, req, running, held)
		return err
	})
	if err != nil {
		return nil, err
	}
	db.leases.take(out)
	return out, nil
}

// claim finds the due heads. running and held are the in-memory leases on
// SQLite (skipped, and looked past); on PostgreSQL claimed rows are leased
// in the transaction.
func (tx *Tx) claim(ctx context.Context, req ClaimRequest, running map[int64]bool, held map[int64]int) ([]Claimed, error) {
	now := micros(tx.Now)
	// Every delivery belongs to an existing webhook (deleting one deletes
	// its deliveries), and the table is small: read it whole, and hand
	// each claim its webhook as of this transaction.
	hooks, err := tx.ListWebhooks(ctx)
	if err != nil {
		return nil, err
	}
	// One small query per webhook with room, on the per-webhook due index:
	// a webhook at its cap or paused costs nothing, however many deliveries
	// it has waiting. Webhooks are few; deliveries are many. Start at a
	// different webhook each time so a small Limit is shared.
	turn := int(tx.db.claimTurn.Add(1))
	var out []Claimed
	for i := range hooks {
		hook := hooks[(i+turn)%len(hooks)]
		room := req.PerWebhook - req.InFlight[hook.ID]
		if req.InFlight[hook.ID] > 0 && room < req.MinRoom {
			continue
		}
		room = min(room, req.Limit-len(out))
		if room <= 0 || req.Paused[hook.ID] {
			continue
		}
		claimed, err := tx.claimHeads(ctx, hook, now, room, held[hook.ID], running)
		if err != nil {
			return nil, err
		}
		if tx.db.Shared() && len(claimed) > 0 {
			if _, err := tx.tx.ExecContext(ctx, `UPDATE deliveries SET lease_until = $1 WHERE id IN (`+idList(claimIDs(claimed))+`)`,
				micros(tx.Now.Add(req.Lease))); err != nil {
				return nil, err
			}
		}
		out = append(out, claimed...)
	}
	return out, nil
}

// claimHeads returns up to room due heads of webhook hook's queues with
// what sending them needs, passing over those with a running lease in
// running (held of the webhook's rows may have one: it reads that many
// more). The limit is part of the text, not a parameter:
// SQLite plans with a bound LIMIT's value and so prepares the statement
// anew whenever it changes, while room takes few distinct values.
func (tx *Tx) claimHeads(ctx context.Context, hook herald.Webhook, now int64, room, held int, running map[int64]bool) ([]Claimed, error) {
	rows, err := tx.query(ctx, `SELECT d.id, d.subject, d.attempts, d.round_attempts, e.id, e.type, e.payload
		FROM deliveries d JOIN events e ON e.seq = d.event_seq
		WHERE d.webhook_id = $1 AND d.state IN ('pending', 'retrying') AND d.next_attempt_at <= $2 AND d.lease_until <= $2
		AND NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.webhook_id = d.webhook_id AND p.subject = d.subject
			AND p.state IN ('pending', 'retrying') AND p.id < d.id)
		ORDER BY d.next_attempt_at, d.id LIMIT `+strconv.Itoa(room+held)+tx.dialect.skipLocked, hook.ID, now)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Claimed
	for rows.Next() {
		c := Claimed{WebhookID: hook.ID, Webhook: hook}
		var payload string
		if err := rows.Scan(&c.ID, &c.Subject, &c.Attempts, &c.RoundAttempts, &c.EventID, &c.EventType, &payload); err != nil {
			return nil, err
		}
		if running[c.ID] {
			continue
		}
		c.Payload = []byte(payload)
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

func claimIDs(cs []Claimed) []int64 {
	ids := make([]int64, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

// Outcome is the result of one attempt, to be recorded.
type Outcome struct {
	DeliveryID int64
	WebhookID  int64
	Attempt    herald.Attempt
	// State is the delivery's new state; NextAttemptAt matters when it is
	// retrying.
	State         string
	NextAttemptAt time.Time
	RoundAttempts int
	// DisableReason, when set, disables the webhook (a 410 Gone).
	DisableReason string
}

// RecordOutcomes writes a batch of outcomes in one transaction: one fsync
// for many attempts. Outcomes of deliveries deleted meanwhile (their
// webhook was deleted) are skipped.
func (db *DB) RecordOutcomes(ctx context.Context, outs []Outcome) error {
	if len(outs) == 0 {
		return nil
	}
	err := db.updateEngine(ctx, func(tx *Tx) error {
		var err error
		if db.Shared() {
			err = tx.recordOutcomesBulk(ctx, outs)
		} else {
			err = tx.recordOutcomesByRow(ctx, outs)
		}
		if err != nil {
			return err
		}
		for _, o := range outs {
			if o.DisableReason != "" {
				if err := tx.DisableWebhook(ctx, o.WebhookID, o.DisableReason); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err == nil && !db.Shared() {
		// Only now: a claim that starts later sees the outcome.
		ids := make([]int64, len(outs))
		for i, o := range outs {
			ids[i] = o.DeliveryID
		}
		db.leases.release(ids)
	}
	return err
}

// completedAt is a finished delivery's completion time, or 0.
func completedAt(o Outcome, now time.Time) int64 {
	if o.State == herald.DeliverySucceeded || o.State == herald.DeliveryFailed {
		return micros(now)
	}
	return 0
}

// recordOutcomesByRow writes outcomes a statement each: on SQLite the
// statements are prepared once and there is no round trip.
func (tx *Tx) recordOutcomesByRow(ctx context.Context, outs []Outcome) error {
	for _, o := range outs {
		res, err := tx.exec(ctx, `UPDATE deliveries SET state = $1, attempts = attempts + 1, round_attempts = $2,
			next_attempt_at = $3, lease_until = 0, last_status = $4, last_error = $5, completed_at = $6 WHERE id = $7`,
			o.State, o.RoundAttempts, micros(o.NextAttemptAt), o.Attempt.StatusCode, o.Attempt.Error, completedAt(o, tx.Now), o.DeliveryID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue // deleted with its webhook meanwhile
		}
		a := o.Attempt
		if _, err := tx.exec(ctx, `INSERT INTO attempts (delivery_id, n, started_at, duration_ms, status_code, response_body, error)
			VALUES ($1, (SELECT attempts FROM deliveries WHERE id = $1), $2, $3, $4, $5, $6)`,
			o.DeliveryID, micros(a.StartedAt), a.DurationMS, a.StatusCode, a.ResponseBody, a.Error); err != nil {
			return err
		}
	}
	return nil
}

// recordOutcomesBulk writes a batch of outcomes in one statement
// (PostgreSQL): a statement per row would cost a round trip each. Rows of
// deliveries deleted meanwhile are not updated, so they get no attempt.
func (tx *Tx) recordOutcomesBulk(ctx context.Context, outs []Outcome) error {
	n := len(outs)
	ids, nexts, completed, started, durations := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	states, errs, bodies := make([]string, n), make([]string, n), make([]string, n)
	rounds, statuses := make([]int32, n), make([]int32, n)
	for i, o := range outs {
		ids[i], states[i], rounds[i], nexts[i] = o.DeliveryID, o.State, int32(o.RoundAttempts), micros(o.NextAttemptAt)
		statuses[i], errs[i], completed[i] = int32(o.Attempt.StatusCode), o.Attempt.Error, completedAt(o, tx.Now)
		started[i], durations[i], bodies[i] = micros(o.Attempt.StartedAt), o.Attempt.DurationMS, o.Attempt.ResponseBody
	}
	_, err := tx.tx.ExecContext(ctx, `WITH o AS (
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::int[], $4::bigint[], $5::int[], $6::text[], $7::bigint[],
				$8::bigint[], $9::bigint[], $10::text[])
				AS o(id, state, round_attempts, next_attempt_at, status, error, completed_at, started_at, duration_ms, body)
		), u AS (
			UPDATE deliveries d SET state = o.state, attempts = d.attempts + 1, round_attempts = o.round_attempts,
				next_attempt_at = o.next_attempt_at, lease_until = 0, last_status = o.status, last_error = o.error,
				completed_at = o.completed_at
			FROM o WHERE d.id = o.id
			RETURNING d.id, d.attempts
		)
		INSERT INTO attempts (delivery_id, n, started_at, duration_ms, status_code, response_body, error)
		SELECT u.id, u.attempts, o.started_at, o.duration_ms, o.status, o.body, o.error FROM u JOIN o ON o.id = u.id`,
		ids, states, rounds, nexts, statuses, errs, completed, started, durations, bodies)
	return err
}

// NextDue returns the earliest time after the given instant at which an
// unfinished delivery falls due, or false if there is none. after is when
// the caller last claimed: deliveries due by then were either claimed,
// held back by a cap (an outcome wakes the engine), or waiting behind an
// earlier delivery of their subject (its outcome wakes the engine), so they
// are not considered. One that fell due since the claim is returned even
// though its time has passed: the caller claims again at once. Leases are
// not considered: on PostgreSQL, where another instance may die holding
// some, the engine wakes at least once a lease anyway (finding the
// earliest lease would read every pending row).
func (db *DB) NextDue(ctx context.Context, after time.Time) (time.Time, bool, error) {
	// The engine's own pool on PostgreSQL; SQLite's readers otherwise.
	pool := db.reader
	if db.Shared() {
		pool = db.engine
	}
	// Webhook by webhook on the per-webhook due index: one row each.
	var earliest sql.NullInt64
	err := pool.QueryRowContext(ctx, `SELECT min((SELECT d.next_attempt_at FROM deliveries d
		WHERE d.webhook_id = w.id AND d.state IN ('pending', 'retrying') AND d.next_attempt_at > $1
		ORDER BY d.next_attempt_at LIMIT 1)) FROM webhooks w`, micros(after)).Scan(&earliest)
	if err != nil || !earliest.Valid {
		return time.Time{}, false, err
	}
	return fromMicros(earliest.Int64), true, nil
}

// ReleaseLeases frees every lease. Only for a database that one Herald
// process uses alone (SQLite): after a crash its deliveries resume at once
// instead of waiting for their leases to run out.
func (db *DB) ReleaseLeases(ctx context.Context) (int, error) {
	n := int64(db.leases.releaseAll())
	// Leases in the file (PostgreSQL's kind) are released too.
	err := db.updateEngine(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE deliveries SET lease_until = 0 WHERE lease_until > 0 AND state IN ('pending', 'retrying')`)
		if err == nil {
			var rows int64
			rows, err = res.RowsAffected()
			n += rows
		}
		return err
	})
	return int(n), err
}

// Prune deletes attempts that started before cutoff, and finished
// deliveries completed before it, and returns how many of each.
func (db *DB) Prune(ctx context.Context, cutoff time.Time) (attempts, deliveries int, err error) {
	err = db.updateEngine(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `DELETE FROM attempts WHERE started_at < $1`, micros(cutoff))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		attempts = int(n)
		res, err = tx.exec(ctx, `DELETE FROM deliveries WHERE completed_at > 0 AND completed_at < $1`, micros(cutoff))
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		deliveries = int(n)
		return nil
	})
	return attempts, deliveries, err
}

// VacuumQueue lets PostgreSQL reclaim the row versions that finished
// deliveries leave in the due indexes: until a vacuum removes them, every
// claim steps over them, and claims slow down as thousands accumulate
// between autovacuum's visits (a minute apart by default, or never where
// it is off). It refreshes the table's statistics too. SKIP_LOCKED: if
// another instance is vacuuming, this one need not. SQLite: nothing to do.
func (db *DB) VacuumQueue(ctx context.Context) error {
	if !db.Shared() {
		return nil
	}
	_, err := db.engine.ExecContext(ctx, `VACUUM (ANALYZE, SKIP_LOCKED) deliveries`)
	return err
}

// QueueStats is what the metrics report about the queue.
type QueueStats struct {
	Pending          int
	OldestPendingAge map[int64]time.Duration // per webhook
	WebhooksDisabled int
}

// Stats reads the queue's state for the metrics.
func (db *DB) Stats(ctx context.Context) (QueueStats, error) {
	s := QueueStats{OldestPendingAge: map[int64]time.Duration{}}
	now := db.Now()
	rows, err := db.reader.QueryContext(ctx, `SELECT webhook_id, count(*), min(created_at) FROM deliveries
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
		s.OldestPendingAge[hook] = now.Sub(fromMicros(oldest))
	}
	if err := rows.Err(); err != nil {
		return s, err
	}
	err = db.reader.QueryRowContext(ctx, `SELECT count(*) FROM webhooks WHERE NOT enabled`).Scan(&s.WebhooksDisabled)
	return s, err
}
