// Package queue is the delivery queue: the engine (internal/delivery)
// claims due deliveries from it and records their outcomes in it. The
// store's outbox inserts the deliveries, in the transaction of the change
// that caused them; from there on their rows (deliveries, attempts) are
// the queue's: claims and leases, outcomes, the next due time, pruning and
// the queue's figures.
//
// What differs between databases is a driver, one per database, behind
// one interface (driver, below), as River keeps one per database:
//
//   - sqliteQueue (sqlite.go): one process owns the database. Leases live
//     in its memory (leases.go); new deliveries are handed to its engine
//     straight from their commits (handoff.go, observer.go); a lock file
//     keeps a second process from claiming (lock.go).
//   - postgresQueue (postgres.go): several processes share the database.
//     Claims lock rows (SKIP LOCKED) and lease them for a while; a
//     commit's new deliveries are leased to this process at insert and
//     handed to its engine (pghandoff.go), so claims query only webhooks
//     the database may hold others of; the queue is vacuumed as outcomes
//     accumulate.
//
// The engine sees only Queue; the one difference it needs to know is
// that on PostgreSQL it must claim once in a while even when nothing is
// due (RecheckEvery): leases run out there (LeasesExpire), and claims
// look at every webhook only so often.
//
// The policy of a claim (which webhooks it serves, in what order, how many
// deliveries of each) is decided once, in Go, for both (plan.go); the SQL
// both share is in sql.go. One conformance suite runs on both
// (queue_test.go and the files it names).
package queue

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// Queue is the delivery queue of one database. It is safe for concurrent
// use. Open it with Open; one per database handle.
type Queue struct {
	db     *store.DB
	driver driver
	// turn rotates which webhook a claim serves first (plan.go).
	turn atomic.Int64
}

// driver is what differs between databases: one implementation each
// (sqlite.go, postgres.go). Queue's methods of the same names describe
// them.
type driver interface {
	lock() error
	close() error
	start(ctx context.Context) (resumed int, err error)
	stop()
	claim(ctx context.Context, req Request, plan func([]herald.Webhook) []share) ([]Claimed, error)
	record(ctx context.Context, outs []Outcome) error
	nextDue(ctx context.Context, after time.Time) (time.Time, bool, error)
	releaseLeases(ctx context.Context) (int, error)
	leasesExpire() bool
	recheckEvery() time.Duration
}

// Open returns the queue of db, with the driver for its kind of database.
// On SQLite it becomes db's QueueObserver: open it before db's first
// write. log receives the queue's own warnings (a failed vacuum); nil
// means slog.Default().
func Open(db *store.DB, log *slog.Logger) *Queue {
	if log == nil {
		log = slog.Default()
	}
	q := &Queue{db: db}
	if db.Kind() == store.PostgreSQL {
		q.driver = newPostgresQueue(db, log)
	} else {
		q.driver = newSQLiteQueue(db)
	}
	return q
}

// Claimed is a delivery handed to the engine to send.
type Claimed struct {
	ID            int64
	WebhookID     int64
	Subject       string
	Attempts      int // before this one
	RoundAttempts int // before this one, since last queued
	EventID       string
	EventType     string
	// Payload is the request body: the event's, in the webhook's format.
	Payload []byte
	// Webhook is the delivery's webhook as stored (secrets sealed), as of
	// the last webhook change this process heard of (sqliteQueue.webhooks,
	// PostgreSQL's pgWebhooks). It points into that list, which a change
	// replaces whole: read it, never change it (a copy per delivery was
	// most of what claims allocated).
	Webhook *herald.Webhook
	// handedOff: it came from a commit's handoff, not a claim query.
	handedOff bool
}

// Request says how much work the engine can take.
type Request struct {
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
	// DisableReason, when set, disables the webhook (a 410 Gone from a
	// webhook that was on when claimed).
	DisableReason string
}

// Stats is what the metrics report about the queue.
type Stats struct {
	Pending          int                     // unfinished deliveries
	PendingByWebhook map[int64]int           // unfinished deliveries per webhook that has any
	OldestPendingAge map[int64]time.Duration // per webhook
	WebhooksDisabled int
}

// Lock reserves the queue for this process's engine. On SQLite one queue
// in one process delivers (leases live in its memory), so it holds an
// exclusive lock on "<database file>.lock" until Close. Returns ECONFLICT
// when another process (or queue) holds it. On PostgreSQL it does nothing:
// instances share the work through leases in the database. Claim takes
// the lock itself; calling Lock at start-up turns a second process into a
// clear error instead of an engine that cannot claim.
func (q *Queue) Lock() error { return q.driver.lock() }

// Close releases Lock's lock, if held. It does not close the database.
func (q *Queue) Close() error { return q.driver.close() }

// Start readies the queue for this process's engine, which claims until
// Stop. On SQLite it releases the leases a crash left (see ReleaseLeases)
// and returns how many, and hands new deliveries to the engine from their
// commits from now on (handoff.go), even if the release failed. On
// PostgreSQL it leaves leases alone (other instances' are theirs), and
// vacuums the queue as outcomes are recorded, until ctx ends.
func (q *Queue) Start(ctx context.Context) (resumed int, err error) { return q.driver.start(ctx) }

// Stop ends what Start began: handed-off deliveries not yet sent are in
// the database, as claimable as any other; a vacuum in progress is waited
// for.
func (q *Queue) Stop() { q.driver.stop() }

// Claim leases up to req.Limit due deliveries and returns them. Only the
// oldest unfinished delivery of each (webhook, subject) is due, so events
// about one subject reach a webhook in order; a failed delivery no longer
// blocks those after it. Which webhooks are served, and how many of each,
// is plan's. On SQLite the first claim takes the lock (Lock) and returns
// its ECONFLICT if another queue holds it.
func (q *Queue) Claim(ctx context.Context, req Request) ([]Claimed, error) {
	return q.driver.claim(ctx, req, func(hooks []herald.Webhook) []share {
		return plan(req, hooks, int(q.turn.Add(1)))
	})
}

// Record writes a batch of outcomes in one transaction: one fsync for
// many attempts. Outcomes of deliveries deleted meanwhile (their webhook
// was deleted) are skipped. An outcome with a DisableReason disables its
// webhook if it is still on, and writes that in the audit log
// (store.Tx.DisableWebhook); such a record is a directory write.
func (q *Queue) Record(ctx context.Context, outs []Outcome) error {
	if len(outs) == 0 {
		return nil
	}
	return q.driver.record(ctx, outs)
}

// NextDue returns the earliest time after the given instant at which an
// unfinished delivery falls due, or false if there is none. after is when
// the caller last claimed: deliveries due by then were either claimed,
// held back by a cap (an outcome wakes the engine), or waiting behind an
// earlier delivery of their subject (its outcome wakes the engine), so they
// are not considered. One that fell due since the claim is returned even
// though its time has passed: the caller claims again at once. Leases are
// not considered: on PostgreSQL, where another instance may die holding
// some, the engine claims every RecheckEvery anyway (finding the
// earliest lease would read every pending row). There it knows only the
// retries this process recorded, without a query: the others are found
// by the same claims.
func (q *Queue) NextDue(ctx context.Context, after time.Time) (time.Time, bool, error) {
	return q.driver.nextDue(ctx, after)
}

// Wakeups delivers a signal after commits that queued deliveries (on
// PostgreSQL, any instance's). Signals coalesce.
func (q *Queue) Wakeups() <-chan struct{} { return q.db.Wakeups() }

// LeasesExpire reports whether a lease runs out after Request.Lease, so
// that a delivery whose process died is claimed again (PostgreSQL), rather
// than holding until its outcome is recorded or the process ends (SQLite,
// whose one process releases every lease at Start).
func (q *Queue) LeasesExpire() bool { return q.driver.leasesExpire() }

// RecheckEvery is how often the engine claims even when nothing is due,
// or 0 for never. On PostgreSQL, a second: claims query the database
// only for the webhooks that may need it (those a notification or an
// outcome named), and every webhook at least that often, which finds
// what no notification announces (another instance's leases that ran
// out, its retries).
func (q *Queue) RecheckEvery() time.Duration { return q.driver.recheckEvery() }

// ReleaseLeases frees every lease and returns how many there were. Meant
// for a database that one Herald process uses alone (SQLite, at start):
// after a crash its deliveries resume at once instead of waiting for their
// leases to run out.
func (q *Queue) ReleaseLeases(ctx context.Context) (int, error) { return q.driver.releaseLeases(ctx) }

// Prune deletes attempts that started before cutoff, and finished
// deliveries completed before it, and returns how many of each.
func (q *Queue) Prune(ctx context.Context, cutoff time.Time) (attempts, deliveries int, err error) {
	return prune(ctx, q.db, cutoff)
}

// Stats reads the queue's state for the metrics.
func (q *Queue) Stats(ctx context.Context) (Stats, error) { return stats(ctx, q.db) }
