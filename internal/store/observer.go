package store

import "github.com/heraldhq/herald"

// QueueObserver hears what changes do to the delivery queue, so that a
// queue that keeps state in memory stays in step with the database: the
// SQLite queue hands new deliveries to this process's engine without a
// query (internal/queue). The store does not know what the observer does
// with it.
//
// Only the group committer calls it, from its one goroutine, in this
// order: BeginBatch; for each change of the batch, any of Queued,
// Requeued and WebhookChanged while the change runs, then EndChange; at
// last EndBatch, when the batch has committed or failed.
type QueueObserver interface {
	// BeginBatch: the group committer begins a batch of changes.
	BeginBatch()
	// Queued: the change's fan-out inserted these deliveries of ev.
	Queued(ev *herald.Event, ds []QueuedDelivery)
	// Requeued: the change made deliveries of webhook due other than by
	// a fan-out (Redeliver, Replay).
	Requeued(webhook int64)
	// WebhookChanged: the change created webhook id (created), or
	// changed or deleted it.
	WebhookChanged(id int64, created bool)
	// EndChange: the change ended, kept in the batch or rolled back.
	EndChange(kept bool)
	// EndBatch: the batch committed, before any of its callers hears so,
	// or it failed and nothing of it was written.
	EndBatch(committed bool)
	// Leased reports whether this process's engine holds delivery id,
	// claimed and not yet recorded: Redeliver refuses it meanwhile.
	Leased(id int64) bool
}

// QueuedDelivery is a delivery a fan-out inserted.
type QueuedDelivery struct {
	ID, WebhookID int64
}

// Observe makes obs hear what changes do to the delivery queue, from the
// group committer's next batch on. Call it before the handle's first
// write, so that obs hears of every batch.
func (db *DB) Observe(obs QueueObserver) { db.observer.Store(&obs) }

// queueObserver returns the observer, or nil.
func (db *DB) queueObserver() QueueObserver {
	if p := db.observer.Load(); p != nil {
		return *p
	}
	return nil
}
