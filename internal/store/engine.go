package store

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald"
)

// This file is the delivery engine's side of the store, but for claims
// (claims.go): recording outcomes in batches, retries' due times, leases
// at start-up, pruning and the queue's figures.

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
		if db.Kind() == PostgreSQL {
			err = tx.recordOutcomesBulk(ctx, outs)
		} else {
			err = tx.recordOutcomesInChunks(ctx, outs)
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
	if err == nil && db.Kind() == SQLite {
		// Only now: a claim that starts later sees the outcome.
		ids := make([]int64, len(outs))
		for i, o := range outs {
			ids[i] = o.DeliveryID
		}
		db.leases.release(ids)
		db.handoff.finished(outs)
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

// recordOutcomesInChunks writes outcomes (SQLite) a chunk at a time: one
// UPDATE ... FROM (VALUES ...) RETURNING for the deliveries and one
// multi-row INSERT for their attempts, instead of two statements per
// outcome. Chunks have power-of-two sizes, so that few distinct statements
// are prepared. A delivery deleted meanwhile (with its webhook) returns no
// row and gets no attempt.
func (tx *Tx) recordOutcomesInChunks(ctx context.Context, outs []Outcome) error {
	return inChunks(len(outs), func(lo, hi int) error {
		chunk := outs[lo:hi]
		args := make([]any, 0, 7*len(chunk))
		for _, o := range chunk {
			args = append(args, o.DeliveryID, o.State, o.RoundAttempts, micros(o.NextAttemptAt),
				o.Attempt.StatusCode, o.Attempt.Error, completedAt(o, tx.Now))
		}
		rows, err := tx.query(ctx, `WITH o (id, state, round_attempts, next_attempt_at, status, error, completed_at) AS (VALUES `+
			valuesList(len(chunk), 7)+`)
			UPDATE deliveries SET state = o.state, attempts = attempts + 1, round_attempts = o.round_attempts,
				next_attempt_at = o.next_attempt_at, lease_until = 0, last_status = o.status, last_error = o.error,
				completed_at = o.completed_at
			FROM o WHERE deliveries.id = o.id RETURNING deliveries.id, deliveries.attempts`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		numbers := make(map[int64]int, len(chunk))
		for rows.Next() {
			var id int64
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				return err
			}
			numbers[id] = n
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		recorded := make([]Outcome, 0, len(numbers))
		for _, o := range chunk {
			if n, ok := numbers[o.DeliveryID]; ok {
				o.Attempt.N = n
				recorded = append(recorded, o)
			}
		}
		// An attempt's number comes from the delivery's own count, so it
		// is new; should that ever fail, losing one log line is better
		// than an engine that can record nothing.
		return inChunks(len(recorded), func(lo, hi int) error {
			args := make([]any, 0, 7*(hi-lo))
			for _, o := range recorded[lo:hi] {
				a := o.Attempt
				args = append(args, o.DeliveryID, a.N, micros(a.StartedAt), a.DurationMS, a.StatusCode, a.ResponseBody, a.Error)
			}
			_, err := tx.exec(ctx, `INSERT INTO attempts (delivery_id, n, started_at, duration_ms, status_code, response_body, error)
				VALUES `+valuesList(hi-lo, 7)+` ON CONFLICT (delivery_id, n) DO NOTHING`, args...)
			return err
		})
	})
}

// maxChunk bounds the rows of one multi-row statement (7 parameters each,
// far below SQLite's limit on parameters).
const maxChunk = 128

// inChunks calls fn for consecutive ranges covering [0, n), each of a
// power-of-two length of at most maxChunk, largest first.
func inChunks(n int, fn func(lo, hi int) error) error {
	for lo := 0; lo < n; {
		size := maxChunk
		for size > n-lo {
			size /= 2
		}
		if err := fn(lo, lo+size); err != nil {
			return err
		}
		lo += size
	}
	return nil
}

// valuesLists caches the text of valuesList by shape.
var valuesLists sync.Map

// valuesList returns "(?, ?), (?, ?)" for rows rows of cols columns.
func valuesList(rows, cols int) string {
	key := [2]int{rows, cols}
	if s, ok := valuesLists.Load(key); ok {
		return s.(string)
	}
	row := "(?" + strings.Repeat(", ?", cols-1) + ")"
	s := row + strings.Repeat(", "+row, rows-1)
	valuesLists.Store(key, s)
	return s
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
	if db.Kind() == PostgreSQL {
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

// StartHandoff makes commits hand their new deliveries to this process's
// engine, which must claim with ClaimDue until StopHandoff (handoff.go).
// Only for a database that one process uses alone (SQLite); elsewhere it
// does nothing. Call it after ReleaseLeases.
func (db *DB) StartHandoff() {
	if db.Kind() == SQLite {
		db.handoff.start()
	}
}

// StopHandoff ends handoffs. Those not yet sent are in the file, as
// claimable as any other delivery.
func (db *DB) StopHandoff() {
	db.handoff.stop()
}

// ReleaseLeases frees every lease. Only for a database that one Herald
// process uses alone (SQLite): after a crash its deliveries resume at once
// instead of waiting for their leases to run out.
func (db *DB) ReleaseLeases(ctx context.Context) (int, error) {
	n := int64(db.leases.releaseAll())
	if db.handoff.accepting() {
		// What was handed off is in the file too: claim it from there.
		db.handoff.start()
	}
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
// deliveries completed before it, and returns how many of each. Both
// belong to deliveries created before cutoff, which are numbered below the
// first one created after it: the deletes read that id range (its oldest
// part is what the last prune left: unfinished deliveries), not the whole
// history, and no index on their times is kept up for them.
func (db *DB) Prune(ctx context.Context, cutoff time.Time) (attempts, deliveries int, err error) {
	err = db.updateEngine(ctx, func(tx *Tx) error {
		last, err := tx.lastDeliveryBefore(ctx, micros(cutoff))
		if err != nil || last == 0 {
			return err
		}
		res, err := tx.exec(ctx, `DELETE FROM attempts WHERE delivery_id <= $1 AND started_at < $2`, last, micros(cutoff))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		attempts = int(n)
		res, err = tx.exec(ctx, `DELETE FROM deliveries WHERE id <= $1 AND completed_at > 0 AND completed_at < $2`, last, micros(cutoff))
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
func (tx *Tx) lastDeliveryBefore(ctx context.Context, cutoff int64) (int64, error) {
	var lo, hi sql.NullInt64
	if err := tx.queryRow(ctx, `SELECT min(id), max(id) FROM deliveries`).Scan(&lo, &hi); err != nil || !lo.Valid {
		return 0, err
	}
	last := int64(0)
	for l, h := lo.Int64, hi.Int64; l <= h; {
		mid := l + (h-l)/2
		// The first delivery at or after mid: ids have gaps.
		var id, created int64
		if err := tx.queryRow(ctx, `SELECT id, created_at FROM deliveries WHERE id >= $1 ORDER BY id LIMIT 1`, mid).Scan(&id, &created); err != nil {
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

// VacuumQueue lets PostgreSQL reclaim the row versions that finished
// deliveries leave in the due indexes: until a vacuum removes them, every
// claim steps over them, and claims slow down as thousands accumulate
// between autovacuum's visits (a minute apart by default, or never where
// it is off). It refreshes the table's statistics too. SKIP_LOCKED: if
// another instance is vacuuming, this one need not. SQLite: nothing to do.
func (db *DB) VacuumQueue(ctx context.Context) error {
	if db.Kind() == SQLite {
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
