package queue

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// postgresQueue is the driver for PostgreSQL, where several Herald
// processes share the database. A claim locks the rows it takes (skipping
// those another instance has locked) and leases them in the database for
// Request.Lease: an instance that dies leaves leases that run out, and
// another instance takes the deliveries over. While this process's engine
// runs, the queue is vacuumed as outcomes accumulate (maybeVacuum).
type postgresQueue struct {
	db  *store.DB
	log *slog.Logger
	// Vacuums (under mu): runCtx is Start's, which they end with (nil:
	// the engine does not run, no vacuums); outcomes recorded since the
	// last one, when that began, and whether one runs now; Stop waits for
	// vacuums.
	mu         sync.Mutex
	runCtx     context.Context
	unvacuumed int
	vacuumedAt time.Time
	vacuuming  bool
	vacuums    sync.WaitGroup
}

// lockRows ends a claim query: rows another instance has locked are
// skipped, not waited for.
const lockRows = " FOR UPDATE OF d SKIP LOCKED"

func (q *postgresQueue) lock() error  { return nil }
func (q *postgresQueue) close() error { return nil }

// leasesExpire: a lease runs out after Request.Lease.
func (q *postgresQueue) leasesExpire() bool { return true }

// start leaves leases alone: other instances' are theirs, and this
// instance's own run out. It lets vacuums run until ctx ends.
func (q *postgresQueue) start(ctx context.Context) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.runCtx = ctx
	return 0, nil
}

// stop starts no more vacuums, and waits for one in progress (it ends
// with Start's ctx).
func (q *postgresQueue) stop() {
	q.mu.Lock()
	q.runCtx = nil
	q.mu.Unlock()
	q.vacuums.Wait()
}

func (q *postgresQueue) claim(ctx context.Context, req Request, plan func([]herald.Webhook) []share) ([]Claimed, error) {
	var out []Claimed
	err := q.db.UpdateQueue(ctx, func(tx *store.Tx) error {
		// Every delivery belongs to an existing webhook (deleting one
		// deletes its deliveries), and the table is small: read it whole,
		// and hand each claim its webhook as of this transaction.
		hooks, err := tx.ListWebhooks(ctx)
		if err != nil {
			return err
		}
		out, err = claimAndLease(ctx, tx, req, plan(hooks))
		return err
	})
	return out, err
}

// claimAndLease claims the due heads of the planned webhooks worth a
// query, one small query each on the per-webhook due index, req.Limit in
// all, and leases them in the transaction.
func claimAndLease(ctx context.Context, tx *store.Tx, req Request, shares []share) ([]Claimed, error) {
	now := micros(tx.Now)
	var out []Claimed
	for _, s := range shares {
		if !s.query {
			continue
		}
		room := min(s.room, req.Limit-len(out))
		if room <= 0 {
			break
		}
		claimed, err := claimHeads(ctx, tx, s.hook, now, room, nil, nil, lockRows)
		if err != nil {
			return nil, err
		}
		if len(claimed) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE deliveries SET lease_until = $1 WHERE id IN (`+idList(claimIDs(claimed))+`)`,
				micros(tx.Now.Add(req.Lease))); err != nil {
				return nil, err
			}
		}
		out = append(out, claimed...)
	}
	return out, nil
}

func (q *postgresQueue) record(ctx context.Context, outs []Outcome) error {
	err := q.db.UpdateQueue(ctx, func(tx *store.Tx) error {
		if err := recordBulk(ctx, tx, outs); err != nil {
			return err
		}
		return disableGone(ctx, tx, outs)
	})
	if err == nil {
		q.maybeVacuum(len(outs))
	}
	return err
}

// recordBulk writes a batch of outcomes in one statement: a statement per
// row would cost a round trip each. Rows of deliveries deleted meanwhile
// are not updated, so they get no attempt.
func recordBulk(ctx context.Context, tx *store.Tx, outs []Outcome) error {
	n := len(outs)
	ids, nexts, completed, started, durations := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	states, errs, bodies := make([]string, n), make([]string, n), make([]string, n)
	rounds, statuses := make([]int32, n), make([]int32, n)
	for i, o := range outs {
		ids[i], states[i], rounds[i], nexts[i] = o.DeliveryID, o.State, int32(o.RoundAttempts), micros(o.NextAttemptAt)
		statuses[i], errs[i], completed[i] = int32(o.Attempt.StatusCode), o.Attempt.Error, completedAt(o, tx.Now)
		started[i], durations[i], bodies[i] = micros(o.Attempt.StartedAt), o.Attempt.DurationMS, o.Attempt.ResponseBody
	}
	_, err := tx.Exec(ctx, `WITH o AS (
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

// nextDue reads on the queue's own pool, beside its claims.
func (q *postgresQueue) nextDue(ctx context.Context, after time.Time) (time.Time, bool, error) {
	return nextDue(ctx, q.db.QueuePool(), after)
}

func (q *postgresQueue) releaseLeases(ctx context.Context) (int, error) {
	return releaseLeaseRows(ctx, q.db)
}

// Vacuum the queue after this many outcomes, at most this often: often
// enough that claims never step over many dead entries, rarely enough that
// vacuuming costs little.
const (
	vacuumEvery    = 5000
	vacuumInterval = 5 * time.Second
)

// maybeVacuum counts recorded outcomes and, while the engine runs, starts
// a vacuum of the queue in the background when enough have piled up.
func (q *postgresQueue) maybeVacuum(recorded int) {
	q.mu.Lock()
	q.unvacuumed += recorded
	if q.runCtx == nil || q.vacuuming || q.unvacuumed < vacuumEvery || time.Since(q.vacuumedAt) < vacuumInterval {
		q.mu.Unlock()
		return
	}
	q.vacuuming, q.unvacuumed, q.vacuumedAt = true, 0, time.Now()
	runCtx := q.runCtx
	q.mu.Unlock()
	q.vacuums.Go(func() {
		ctx, cancel := context.WithTimeout(runCtx, time.Minute)
		defer cancel()
		if err := q.vacuum(ctx); err != nil && ctx.Err() == nil {
			q.log.Warn("vacuum the delivery queue", "err", err)
		}
		q.mu.Lock()
		q.vacuuming = false
		q.mu.Unlock()
	})
}

// vacuum lets PostgreSQL reclaim the row versions that finished
// deliveries leave in the due indexes: until a vacuum removes them, every
// claim steps over them, and claims slow down as thousands accumulate
// between autovacuum's visits (a minute apart by default, or never where
// it is off). It refreshes the table's statistics too. SKIP_LOCKED: if
// another instance is vacuuming, this one need not.
func (q *postgresQueue) vacuum(ctx context.Context) error {
	_, err := q.db.QueuePool().ExecContext(ctx, `VACUUM (ANALYZE, SKIP_LOCKED) deliveries`)
	return err
}
