package queue

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// sqliteQueue is the driver for SQLite, where one process owns the
// database. Its engine's leases live in memory (leases.go) and claims are
// reads; while its engine runs, new deliveries come straight from their
// commits (handoff.go), told by the group committer (observer.go); the
// rest are claimed from the database. A lock file keeps any other queue
// from claiming (lock.go).
type sqliteQueue struct {
	db      *store.DB
	leases  leaseTable
	handoff handoff
	// claimMu serialises claims.
	claimMu sync.Mutex
	// webhooksChanged counts commits that changed webhooks (observer.go);
	// hooks is the webhook list claims use, read at hooksVersion of it
	// (under claimMu).
	webhooksChanged atomic.Uint64
	hooks           []herald.Webhook
	hooksVersion    uint64
	// lockFile is the lock held by lock (under lockMu).
	lockMu   sync.Mutex
	lockFile *os.File
	// due is the next due time as far as this process knows (nextDue).
	due dueTime
}

// dueTime is the earliest retry time (zero: none), kept instead of asking
// the database at every wake-up: on SQLite every retry time is set by this
// process's engine (record). known is false until the database has been
// asked once, and after a claim passes the time; retries counts retrying
// outcomes recorded, to spot one recorded during a lookup.
type dueTime struct {
	mu      sync.Mutex
	next    time.Time
	known   bool
	retries int
}

func newSQLiteQueue(db *store.DB) *sqliteQueue {
	q := &sqliteQueue{db: db}
	db.Observe(&observer{q: q})
	return q
}

func (q *sqliteQueue) start(ctx context.Context) (int, error) {
	n, err := q.releaseLeases(ctx)
	q.handoff.start()
	return n, err
}

func (q *sqliteQueue) stop() { q.handoff.stop() }

// recheckEvery: never; this process's engine is the only one.
func (q *sqliteQueue) recheckEvery() time.Duration { return 0 }

func (q *sqliteQueue) claim(ctx context.Context, req Request, plan func([]herald.Webhook) []share) ([]Claimed, error) {
	if err := q.lock(); err != nil {
		return nil, err
	}
	// Handoffs, in-memory leases and a read (handoff.go, leases.go).
	q.claimMu.Lock()
	defer q.claimMu.Unlock()
	hooks, err := q.webhooks(ctx)
	if err != nil {
		return nil, err
	}
	handing := q.handoff.accepting()
	marks := q.handoff.marks()
	out, queries := q.takeHandoffs(req.Limit, plan(hooks), handing)
	if len(queries) > 0 {
		// Copied only now, before the read (leases.go): a claim served
		// wholly by handoffs needs no copy.
		running, held := q.leases.snapshot()
		var claimed []Claimed
		var drained []int64
		err := q.db.View(ctx, func(tx *store.Tx) error {
			var err error
			claimed, drained, err = q.claimFromDB(ctx, tx, req.Limit-len(out), queries, running, held, handing)
			return err
		})
		if err != nil {
			q.handoff.untakeAll(out)
			return nil, err
		}
		for _, w := range drained {
			q.handoff.cleaned(w, marks)
		}
		out = append(out, claimed...)
	}
	q.leases.take(out)
	return out, nil
}

// webhooks returns every webhook for a claim: the list is read again only
// after a webhook change commits (webhooksChanged), not at every claim;
// then the handoffs of webhooks deleted meanwhile are dropped. Under
// claimMu.
func (q *sqliteQueue) webhooks(ctx context.Context) ([]herald.Webhook, error) {
	version := q.webhooksChanged.Load()
	if q.hooks != nil && q.hooksVersion == version {
		return q.hooks, nil
	}
	var hooks []herald.Webhook
	err := q.db.View(ctx, func(tx *store.Tx) (err error) {
		hooks, err = tx.ListWebhooks(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	q.hooks, q.hooksVersion = hooks, version
	exist := make(map[int64]bool, len(hooks))
	for _, h := range hooks {
		exist[h.ID] = true
	}
	q.handoff.drop(exist)
	return hooks, nil
}

// takeHandoffs serves the planned webhooks, in order, up to limit. While
// this process's engine takes handoffs (handing), a clean webhook's
// handoffs are taken now, and it needs no query (handoff.go); the others
// are to be claimed from the database, in this order, with what is left
// of the limit (claimFromDB), if the plan says they are worth a query.
func (q *sqliteQueue) takeHandoffs(limit int, shares []share, handing bool) (out []Claimed, queries []share) {
	for _, s := range shares {
		if handing {
			taken, clean := q.handoff.take(s.hook.ID, min(s.room, limit-len(out)))
			for _, d := range taken {
				out = append(out, d.claimed(s.hook))
			}
			if clean {
				continue
			}
		}
		if s.query {
			queries = append(queries, s)
		}
	}
	return out, queries
}

// claimFromDB claims the due heads of the given webhooks, one small query
// each on the per-webhook due index, limit in all. running and held are
// the in-memory leases (all of them, and each webhook's: the query skips
// those). While this process's engine takes handoffs (handing), drained
// lists the webhooks found to have nothing unfinished in the database but
// handoffs the engine took (handoff.go).
func (q *sqliteQueue) claimFromDB(ctx context.Context, tx *store.Tx, limit int, shares []share, running map[int64]bool,
	held map[int64][]int64, handing bool) (out []Claimed, drained []int64, err error) {
	now := micros(tx.Now)
	for _, s := range shares {
		room := min(s.room, limit-len(out))
		if room <= 0 {
			break
		}
		claimed, err := claimHeads(ctx, tx, s.hook, now, room, held[s.hook.ID], running)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, claimed...)
		if handing && len(claimed) < room {
			// Claimed all it could: is anything unfinished left in the
			// database (retries not due, successors, these in flight)
			// but handoffs the engine took?
			var left bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM deliveries WHERE webhook_id = CAST($1 AS BIGINT)
				AND state IN ('pending', 'retrying') AND id NOT IN (SELECT value FROM json_each($2)))`,
				s.hook.ID, "["+idList(q.handoff.takenIDs(s.hook.ID))+"]").Scan(&left); err != nil {
				return nil, nil, err
			}
			if !left {
				drained = append(drained, s.hook.ID)
			}
		}
	}
	return out, drained, nil
}

func (q *sqliteQueue) record(ctx context.Context, outs []Outcome) error {
	err := q.db.UpdateQueue(ctx, func(tx *store.Tx) error {
		if err := recordInChunks(ctx, tx, outs); err != nil {
			return err
		}
		return disableGone(ctx, tx, outs)
	})
	if err == nil {
		// Only now: a claim that starts later sees the outcome.
		ids := make([]int64, len(outs))
		for i, o := range outs {
			ids[i] = o.DeliveryID
		}
		q.leases.release(ids)
		q.handoff.finished(outs)
		q.due.recorded(outs)
	}
	return err
}

// recorded merges the retry times of committed outcomes.
func (d *dueTime) recorded(outs []Outcome) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, o := range outs {
		if o.State == herald.DeliveryRetrying {
			d.retries++
			if d.known && (d.next.IsZero() || o.NextAttemptAt.Before(d.next)) {
				d.next = o.NextAttemptAt
			}
		}
	}
}

// recordInChunks writes outcomes a chunk at a time: one UPDATE ... FROM
// (VALUES ...) RETURNING for the deliveries and one multi-row INSERT for
// their attempts, instead of two statements per outcome. Chunks have
// power-of-two sizes, so that few distinct statements are prepared. A
// delivery deleted meanwhile (with its webhook) returns no row and gets no
// attempt.
func recordInChunks(ctx context.Context, tx *store.Tx, outs []Outcome) error {
	return inChunks(len(outs), func(lo, hi int) error {
		chunk := outs[lo:hi]
		args := make([]any, 0, 7*len(chunk))
		for _, o := range chunk {
			args = append(args, o.DeliveryID, o.State, o.RoundAttempts, micros(o.NextAttemptAt),
				o.Attempt.StatusCode, o.Attempt.Error, completedAt(o, tx.Now))
		}
		rows, err := tx.Query(ctx, `WITH o (id, state, round_attempts, next_attempt_at, status, error, completed_at) AS (VALUES `+
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
			_, err := tx.Exec(ctx, `INSERT INTO attempts (delivery_id, n, started_at, duration_ms, status_code, response_body, error)
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

// nextDue answers from what it knows (dueTime), and asks the database
// only when the known time has passed or is unknown.
func (q *sqliteQueue) nextDue(ctx context.Context, after time.Time) (time.Time, bool, error) {
	d := &q.due
	d.mu.Lock()
	next, known, retries := d.next, d.known, d.retries
	d.mu.Unlock()
	if known && (next.IsZero() || next.After(after)) {
		return next, !next.IsZero(), nil
	}
	next, ok, err := nextDue(ctx, q.db.ReadPool(), after)
	if err != nil {
		return next, ok, err
	}
	d.mu.Lock()
	// A retry recorded during the lookup may be missing from its answer:
	// then ask again next time (its outcome has woken the engine anyway).
	d.known = d.retries == retries
	d.next = time.Time{}
	if ok {
		d.next = next
	}
	d.mu.Unlock()
	return next, ok, nil
}

// leasesExpire: a lease holds until its outcome is recorded, or the
// process ends.
func (q *sqliteQueue) leasesExpire() bool { return false }

// releaseLeases frees the in-memory leases, and any in the database.
func (q *sqliteQueue) releaseLeases(ctx context.Context) (int, error) {
	n := q.leases.releaseAll()
	if q.handoff.accepting() {
		// What was handed off is in the database too: claim it from
		// there.
		q.handoff.start()
	}
	rows, err := releaseLeaseRows(ctx, q.db)
	return n + rows, err
}

// nextDue is Queue.NextDue read on pool (the database's every retry).
func nextDue(ctx context.Context, pool *sql.DB, after time.Time) (time.Time, bool, error) {
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
