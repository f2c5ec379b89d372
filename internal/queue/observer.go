package queue

import (
	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// observer is the SQLite queue's store.QueueObserver: it reserves
// handoffs as changes queue deliveries, and publishes them when their
// batch commits (handoff.go). The group committer calls it from one
// goroutine, so change and batch need no lock.
type observer struct {
	q *sqliteQueue
	// change is what the running change did; batch what the kept
	// changes of the running batch did.
	change, batch batchNotes
}

// batchNotes are what changes hand to the engine (handoffs), the webhooks
// they created and those they dirtied: published only after the commit,
// dropped if it fails.
type batchNotes struct {
	handoffs        []handedOff
	dirty, created  []int64
	webhooksChanged bool
}

func (o *observer) BeginBatch() { o.q.handoff.beginBatch() }

// Queued lets handoff.reserve decide on each new delivery. Even when no
// webhook is clean: reserve marks the webhooks whose deliveries stay in
// the database, so that no claim cleans one before they are visible.
func (o *observer) Queued(ev *herald.Event, ds []store.QueuedDelivery) {
	fresh := &freshEvent{ev: *ev}
	hs := make([]handedOff, len(ds))
	for i, d := range ds {
		hs[i] = handedOff{id: d.ID, webhook: d.WebhookID, subject: ev.Subject, ev: fresh}
	}
	handed, dirty := o.q.handoff.reserve(hs)
	o.change.handoffs = append(o.change.handoffs, handed...)
	o.change.dirty = append(o.change.dirty, dirty...) // marked already; again after the commit
}

// Requeued: the change leaves deliveries of webhook in the database that
// were not handed off: dirty at once, for the rest of its batch, and
// again after the commit (publish).
func (o *observer) Requeued(webhook int64) {
	o.q.handoff.dirty([]int64{webhook})
	o.change.dirty = append(o.change.dirty, webhook)
}

// WebhookChanged: claims read the webhook list again after the commit; a
// created webhook has no deliveries, so the engine may take its first
// ones straight from their commits.
func (o *observer) WebhookChanged(id int64, created bool) {
	if created {
		o.change.created = append(o.change.created, id)
	}
	o.change.webhooksChanged = true
}

func (o *observer) EndChange(kept bool) {
	if kept {
		o.batch.handoffs = append(o.batch.handoffs, o.change.handoffs...)
		o.batch.dirty = append(o.batch.dirty, o.change.dirty...)
		o.batch.created = append(o.batch.created, o.change.created...)
		o.batch.webhooksChanged = o.batch.webhooksChanged || o.change.webhooksChanged
	} else {
		o.q.handoff.discard(o.change.handoffs)
	}
	o.change = batchNotes{}
}

func (o *observer) EndBatch(committed bool) {
	if committed {
		if o.batch.webhooksChanged {
			o.q.webhooksChanged.Add(1) // before publish: claims of new webhooks' handoffs see them
		}
		o.q.handoff.publish(o.batch.handoffs, o.batch.created, o.batch.dirty)
	} else {
		o.q.handoff.discard(o.batch.handoffs)
	}
	o.q.handoff.endBatch()
	o.batch = batchNotes{}
}

func (o *observer) Leased(id int64) bool { return o.q.leases.leased(id) }
