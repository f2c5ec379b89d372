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
// runs, the queue is vacuumed as claims and outcomes accumulate
// (maybeVacuum).
type postgresQueue struct {
	db  *store.DB
	log *slog.Logger
	// handoff holds the deliveries this process's commits leased to its
	// engine, and which webhooks claims must query (pghandoff.go).
	handoff *pgHandoff
	// hooks is the webhook list claims read (pgwebhooks.go).
	hooks pgWebhooks
	// Vacuums (under mu): runCtx is Start's, which they end with (nil:
	// the engine does not run, no vacuums); deliveries claimed and
	// outcomes recorded since the last one, when that began, and whether
	// one runs now; Stop waits for vacuums.
	mu         sync.Mutex
	runCtx     context.Context
	claimed    int
	recorded   int
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

// newPostgresQueue returns the driver of db, which leases new deliveries
// to it at insert while its engine runs (pghandoff.go).
func newPostgresQueue(db *store.DB, log *slog.Logger) *postgresQueue {
	q := &postgresQueue{db: db, log: log}
	q.handoff = newPGHandoff(q)
	db.SetHandoffTaker(q.handoff)
	db.OnNotify(q.handoff.notified)
	return q
}

// start leaves leases alone: other instances' are theirs, and this
// instance's own run out. It takes handoffs, and lets vacuums run, until
// ctx ends.
func (q *postgresQueue) start(ctx context.Context) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.runCtx = ctx
	run := q.handoff.start()
	go func() {
		// The engine stops claiming when ctx ends: what it was handed
		// and will not send goes back to the database at once, for
		// other instances, while its requests in flight finish.
		<-ctx.Done()
		q.releaseHanded(q.handoff.stopRun(run))
	}()
	return 0, nil
}

// stop takes no more handoffs and releases the leases of those not sent,
// for any instance to claim at once; it starts no more vacuums, and waits
// for one in progress (it ends with Start's ctx).
func (q *postgresQueue) stop() {
	q.releaseHanded(q.handoff.stop())
	q.mu.Lock()
	q.runCtx = nil
	q.mu.Unlock()
	q.vacuums.Wait()
}

// releaseHanded releases the leases of handoffs this process will not
// send, each only if it is still the lease given at insert (if it ran
// out, another instance may hold the delivery now), and NOTIFYs every
// instance of their webhooks. A failure is logged: the leases then run
// out by themselves.
func (q *postgresQueue) releaseHanded(ds []store.Handed) {
	if len(ds) == 0 {
		return
	}
	ids, untils := make([]int64, len(ds)), make([]int64, len(ds))
	for i, d := range ds {
		ids[i], untils[i] = d.ID, micros(d.LeaseUntil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := q.db.UpdateQueueEach(ctx, func(tx *store.Tx) error {
		// Other instances hear which webhooks have deliveries to claim.
		_, err := tx.Exec(ctx, `WITH r AS (
				UPDATE deliveries d SET lease_until = 0 FROM unnest($1::bigint[], $2::bigint[]) AS h(id, until)
				WHERE d.id = h.id AND d.lease_until = h.until AND d.state IN ('pending', 'retrying')
				RETURNING d.webhook_id
			)
			SELECT pg_notify('`+store.NotifyChannel+`', `+store.NotifyIDs("string_agg(DISTINCT webhook_id::text, ',')")+`)
			FROM r HAVING count(*) > 0`, ids, untils)
		return err
	})
	if err != nil {
		q.log.Warn("release the leases of deliveries not sent; they run out by themselves", "deliveries", len(ds), "err", err)
	}
}

func (q *postgresQueue) claim(ctx context.Context, req Request, plan func([]herald.Webhook) []share) ([]Claimed, error) {
	if q.handoff.idle(req, q.db.Now()) {
		return nil, nil // nothing to find: no statement (pghandoff.go)
	}
	// The claim commits by itself: cut short by ctx (a shutdown), its
	// statement could lease rows whose caller never hears of them, and
	// they would wait out their lease (no other instance, or this one
	// restarted, could send them sooner). So it runs to its end, within
	// a lease (by deadline, set before the claim reads its clock), and
	// the caller sends what it returns. Only its statements get the
	// timer: most claims run none.
	ctx = context.WithoutCancel(ctx)
	deadline := time.Now().Add(max(req.Lease, time.Second))
	var out []Claimed
	// At most two statements, each alone (the webhook list, when it may
	// be out of date, and the claim query): in a transaction at READ
	// COMMITTED each would read a snapshot of its own all the same, and
	// BEGIN and COMMIT would be two more round trips. The claim query runs
	// only for the webhooks that may have deliveries this process was not
	// handed (pghandoff.go); a claim that only takes handoffs runs none.
	err := q.db.UpdateQueueEach(ctx, func(tx *store.Tx) error {
		// Every delivery belongs to an existing webhook (deleting one
		// deletes its deliveries), and the table is small: the whole
		// list, read again only when it may be out of date
		// (pgwebhooks.go), hands each claim its webhook.
		takes := q.handoff.listed()
		hooks, exist, version, err := q.webhooks(ctx, tx, takes, tx.Now, deadline)
		if err != nil {
			return err
		}
		// The database first, for its share of each dirty webhook's
		// room, then handoffs (pghandoff.go).
		shares := plan(hooks)
		queries, whole, begin := q.handoff.toQuery(shares, tx.Now)
		if whole && !q.handoff.webhooksAt(version) {
			// Webhooks changed after the list was read (one created
			// may be missing from it): the claim queries what it
			// lists, but does not count as one that looked at every
			// webhook, and the next reads the list again.
			whole = false
		}
		var claimed []Claimed
		if len(queries) > 0 {
			qctx, cancel := context.WithDeadline(ctx, deadline)
			claimed, err = claimAndLease(qctx, tx, req, queries)
			cancel()
			if err != nil {
				return err
			}
		}
		got := map[int64]int{}
		for _, c := range claimed {
			got[c.WebhookID]++
		}
		q.handoff.queried(exist, queries, got, req.Limit, whole, begin, tx.Now)
		handed, stale := q.handoff.take(req, shares, got, req.Limit-len(claimed), exist, takes, tx.Now)
		if len(stale) > 0 {
			// Not sent: in the database again at once, and claimed in
			// order (releaseHanded NOTIFYs this instance too).
			go q.releaseHanded(stale)
		}
		out = append(claimed, handed...)
		q.maybeVacuum(len(claimed), 0)
		return nil
	})
	return out, err
}

// claimLeaseQuery claims and leases in one statement: for each planned
// webhook in turn ($1, with its room $2), the due heads of its queues on
// the per-webhook due index, locked (SKIP LOCKED: rows another instance
// is claiming are passed over), $4 in all; it leases them until $5 and
// returns them with their events, in the plan's order. The outer LIMIT
// stops the nested loop once $4 rows are found, so the webhooks after
// that are not queried, as a query per webhook stopped. Rows a webhook's
// subquery locked beyond the limit are released when the statement ends.
//
// OFFSET 0 keeps the head check (NOT EXISTS) a probe per candidate on
// deliveries_queue by webhook, subject and id: without it PostgreSQL may
// turn it into an anti join that reads every unfinished delivery of the
// webhook for each candidate (seen in a claim of 160 deliveries: 4,485
// of its 7,582 pages). The probe compares (subject, id) as a row, which
// only deliveries_queue can take as its index condition, beside the
// subject: written as p.id < d.id, the probe costed the same on
// deliveries_webhook_due (webhook, next attempt, id) with statistics from
// when the table was small (autovacuum off, a queue that grew since the
// last vacuum), and PostgreSQL took that one, where the id only filters
// what the webhook's range holds: it read every earlier delivery of the
// webhook for each candidate (the scim scenario: 0.2 ms a candidate,
// 2,000 rows read, against 0.003 ms). The rewrite makes that plan cost
// more; it cannot forbid it.
const claimLeaseQuery = `WITH c AS (
		SELECT h.id, w.turn, h.next_attempt_at
		FROM unnest($1::bigint[], $2::int[]) WITH ORDINALITY AS w(id, room, turn)
		CROSS JOIN LATERAL (
			SELECT d.id, d.next_attempt_at FROM deliveries d
			WHERE d.webhook_id = w.id AND d.state IN ('pending', 'retrying')
			AND d.next_attempt_at <= $3 AND d.lease_until <= $3
			AND NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.webhook_id = d.webhook_id AND p.subject = d.subject
				AND p.state IN ('pending', 'retrying') AND (p.subject, p.id) < (d.subject, d.id) OFFSET 0)
			ORDER BY d.next_attempt_at, d.id LIMIT w.room` + lockRows + `) h
		LIMIT $4
	), l AS (
		UPDATE deliveries d SET lease_until = $5 FROM c WHERE d.id = c.id
		RETURNING d.webhook_id, d.id, d.subject, d.attempts, d.round_attempts, d.event_seq, c.turn, c.next_attempt_at
	)
	SELECT l.webhook_id, l.id, l.subject, l.attempts, l.round_attempts, ` + store.EventColumns + `
	FROM l JOIN events e ON e.seq = l.event_seq ORDER BY l.turn, l.next_attempt_at, l.id`

// claimAndLease claims the due heads of the planned webhooks worth a
// query, req.Limit in all, and leases them: one statement
// (claimLeaseQuery), which commits by itself.
func claimAndLease(ctx context.Context, tx *store.Tx, req Request, shares []share) ([]Claimed, error) {
	var ids []int64
	var rooms []int32
	hooks := map[int64]*herald.Webhook{}
	for _, s := range shares {
		if s.query && s.room > 0 {
			ids, rooms = append(ids, s.hook.ID), append(rooms, int32(min(s.room, req.Limit)))
			hooks[s.hook.ID] = s.hook
		}
	}
	if len(ids) == 0 || req.Limit <= 0 {
		return nil, nil
	}
	rows, err := tx.Query(ctx, claimLeaseQuery, ids, rooms, micros(tx.Now), req.Limit, micros(tx.Now.Add(req.Lease)))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Claimed
	for rows.Next() {
		var c Claimed
		var ev herald.Event
		if err := store.ScanEvent(rows, &ev, &c.WebhookID, &c.ID, &c.Subject, &c.Attempts, &c.RoundAttempts); err != nil {
			return nil, err
		}
		c.Webhook = hooks[c.WebhookID]
		c.EventID, c.EventType, c.Payload = ev.ID, ev.Type, ev.Body(c.Webhook.Format)
		out = append(out, c)
	}
	return out, rows.Err()
}

func (q *postgresQueue) record(ctx context.Context, outs []Outcome) error {
	// One statement, which commits by itself and finds its rows by key.
	update := q.db.UpdateQueueByKey
	if disables(outs) {
		// The outcomes, the webhook's disabling and its audit entry, all
		// or nothing. A directory write (the entry is an event, whose
		// number must follow the commit order: the write lock).
		update = q.db.Update
	}
	var finished finishedOutcomes
	err := update(ctx, func(tx *store.Tx) (err error) {
		if finished, err = recordBulk(ctx, tx, outs); err != nil {
			return err
		}
		return disableGone(ctx, tx, outs)
	})
	if err != nil {
		return err
	}
	if err := q.unblocked(ctx, q.handoff.recorded(outs, finished)); err != nil {
		// Recorded all the same; the next look at every webhook
		// (pgRecheck) finds what they unblocked.
		q.log.Warn("find the deliveries that recorded outcomes unblocked", "err", err)
	}
	for _, o := range outs {
		if o.State == herald.DeliveryRetrying {
			q.handoff.retrying(o.NextAttemptAt)
		}
	}
	q.maybeVacuum(0, len(outs))
	return nil
}

// finishedOutcomes are the deliveries an outcome finished (not a retry),
// with their webhooks and subjects, as parallel lists.
type finishedOutcomes struct {
	ids, webhooks []int64
	subjects      []string
}

// unblocked marks dirty the webhooks where a delivery of the same subject
// waits behind one of finished: the head of its queue now. Asked after
// the outcomes committed, not in their statement: a delivery queued while
// they were being written (its fan-out saw its predecessor unfinished, so
// it was not handed off) is either seen here, or committed after this
// query, and then its notification comes later, when the predecessor's
// outcome is visible to the claim it prompts. Most handoffs' outcomes
// need no asking (pgHandoff.recorded, pgsuccessors.go).
//
// The next delivery is looked up in order of deliveries_queue (subject,
// then id, within the webhook), one row: only that index gives it without
// a sort. Written as EXISTS, PostgreSQL took deliveries_webhook_due when
// its statistics made the unfinished deliveries look few, and read every
// unfinished delivery of the webhook after o.id for each outcome: 5.3 ms
// a call, 9.8 s of a scim scenario's run (auto_explain), against none
// over 4 ms since.
func (q *postgresQueue) unblocked(ctx context.Context, f finishedOutcomes) error {
	if len(f.ids) == 0 {
		return nil
	}
	var list string
	err := q.db.QueuePool().QueryRowContext(ctx, `SELECT coalesce(string_agg(DISTINCT o.webhook_id::text, ','), '')
		FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS o(id, webhook_id, subject)
		CROSS JOIN LATERAL (SELECT p.id FROM deliveries p WHERE p.webhook_id = o.webhook_id AND p.subject = o.subject
			AND p.state IN ('pending', 'retrying') AND p.id > o.id ORDER BY p.subject, p.id LIMIT 1) AS next`, f.ids, f.webhooks, f.subjects).Scan(&list)
	if err != nil {
		return err
	}
	ids, _ := parseIDs(list) // the database's own list of ids
	q.handoff.mark(ids)
	return nil
}

// disables reports whether an outcome disables its webhook.
func disables(outs []Outcome) bool {
	for _, o := range outs {
		if o.DisableReason != "" {
			return true
		}
	}
	return false
}

// recordQuery updates the deliveries of a batch of outcomes ($1..$10,
// parallel arrays, one element per outcome), inserts an attempt for each
// row updated, and returns the deliveries it finished. It finds every
// delivery by its key, so it runs on connections that keep one plan
// (store.DB.UpdateQueueByKey).
const recordQuery = `WITH o AS (
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::int[], $4::bigint[], $5::int[], $6::text[], $7::bigint[],
				$8::bigint[], $9::bigint[], $10::text[])
				AS o(id, state, round_attempts, next_attempt_at, status, error, completed_at, started_at, duration_ms, body)
		), u AS (
			UPDATE deliveries d SET state = o.state, attempts = d.attempts + 1, round_attempts = o.round_attempts,
				next_attempt_at = o.next_attempt_at, lease_until = 0, last_status = o.status, last_error = o.error,
				completed_at = o.completed_at
			FROM o WHERE d.id = o.id
			RETURNING d.id, d.attempts, d.webhook_id, d.subject, d.state, o.started_at, o.duration_ms, o.status, o.body, o.error
		), a AS (
			INSERT INTO attempts (delivery_id, n, started_at, duration_ms, status_code, response_body, error)
			SELECT id, attempts, started_at, duration_ms, status, body, error FROM u
		)
		SELECT id, webhook_id, subject FROM u WHERE state NOT IN ('pending', 'retrying')`

// recordBulk writes a batch of outcomes in one statement: a statement per
// row would cost a round trip each. Rows of deliveries deleted meanwhile
// are not updated, so they get no attempt. It returns the deliveries
// whose outcomes finished them.
func recordBulk(ctx context.Context, tx *store.Tx, outs []Outcome) (finishedOutcomes, error) {
	n := len(outs)
	ids, nexts, completed, started, durations := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	states, errs, bodies := make([]string, n), make([]string, n), make([]string, n)
	rounds, statuses := make([]int32, n), make([]int32, n)
	for i, o := range outs {
		ids[i], states[i], rounds[i], nexts[i] = o.DeliveryID, o.State, int32(o.RoundAttempts), micros(o.NextAttemptAt)
		statuses[i], errs[i], completed[i] = int32(o.Attempt.StatusCode), o.Attempt.Error, completedAt(o, tx.Now)
		started[i], durations[i], bodies[i] = micros(o.Attempt.StartedAt), o.Attempt.DurationMS, o.Attempt.ResponseBody
	}
	var f finishedOutcomes
	rows, err := tx.Query(ctx, recordQuery,
		ids, states, rounds, nexts, statuses, errs, completed, started, durations, bodies)
	if err != nil {
		return f, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, webhook int64
		var subject string
		if err := rows.Scan(&id, &webhook, &subject); err != nil {
			return f, err
		}
		f.ids, f.webhooks, f.subjects = append(f.ids, id), append(f.webhooks, webhook), append(f.subjects, subject)
	}
	return f, rows.Err()
}

// nextDue answers from the retries recorded here (pgHandoff.dues),
// without a query. A retry another instance recorded, or one from before
// this process started, is found by the claim that looks at every
// webhook (every pgRecheck, which the engine's wait keeps to). Asking the
// database cost a query each time the engine went idle (a tenth of
// PostgreSQL's time at 500 changes a second) and bought little: woken at
// such a retry's time, a claim did not query its webhook unless it was
// dirty for another reason (pghandoff.go).
func (q *postgresQueue) nextDue(_ context.Context, after time.Time) (time.Time, bool, error) {
	at, ok := q.handoff.nextDue(after)
	return at, ok, nil
}

// recheckEvery: claims query every webhook at least this often
// (pghandoff.go), which also finds the leases of an instance that died.
func (q *postgresQueue) recheckEvery() time.Duration { return pgRecheck }

// releaseLeases drops the handoffs not taken, and makes every webhook
// dirty: what it released is claimable.
func (q *postgresQueue) releaseLeases(ctx context.Context) (int, error) {
	q.handoff.release(nil) // released below in any case: claims take them
	n, err := releaseLeaseRows(ctx, q.db)
	q.handoff.notified("")
	return n, err
}

// When to vacuum the queue. A claim steps over the dead entries that
// finished deliveries leave at the front of the due index until a vacuum
// removes them, so the queue is vacuumed once claims have taken
// vacuumClaimed deliveries, at most every vacuumInterval: every 15 s
// instead of 5 cost a webhook with a deep queue a third of its rate (the
// isolation scenario's healthy webhook alone: 1,028 and 1,226/s against
// 1,666 and 1,718/s, interleaved).
//
// Deliveries handed to the engine at their commit (pghandoff.go) are not
// claimed, and a vacuum costs every change waiting meanwhile: each takes
// about half a second of one core, paced as autovacuum's are
// (vacuum_cost_delay on the queue's connections). At 500 changes/s
// (1,500 handed deliveries/s) a vacuum every 5 s tripled the deliveries
// that took over 25 ms from the request (docs/benchmarks.md). The
// once-a-second claim of each webhook (pgRecheck) steps over the entries
// of handed deliveries too, but after its first pass PostgreSQL marks
// them dead in the index and later passes skip them without reading the
// table. So outcomes of any kind call for a vacuum only after
// vacuumRecorded of them, at most every vacuumIntervalAll, which keeps
// the table from bloating where autovacuum is off.
const (
	vacuumClaimed     = 5000
	vacuumInterval    = 5 * time.Second
	vacuumRecorded    = 100_000
	vacuumIntervalAll = time.Minute
)

// maybeVacuum counts deliveries claimed and outcomes recorded and, while
// the engine runs, starts a vacuum of the queue in the background when
// enough have piled up.
func (q *postgresQueue) maybeVacuum(claimed, recorded int) {
	q.mu.Lock()
	q.claimed += claimed
	q.recorded += recorded
	since := time.Since(q.vacuumedAt)
	due := q.claimed >= vacuumClaimed && since >= vacuumInterval ||
		q.recorded >= vacuumRecorded && since >= vacuumIntervalAll
	if q.runCtx == nil || q.vacuuming || !due {
		q.mu.Unlock()
		return
	}
	q.vacuuming, q.claimed, q.recorded, q.vacuumedAt = true, 0, 0, time.Now()
	runCtx := q.runCtx
	// Started under mu: Stop, which clears runCtx under mu and then
	// waits for vacuums, either finds this one or prevents it.
	defer q.mu.Unlock()
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
