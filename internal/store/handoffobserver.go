package store

import "github.com/heraldhq/herald"

// handoffObserver is the SQLite queue's QueueObserver: it reserves
// handoffs as changes queue deliveries, and publishes them when their
// batch commits (handoff.go). The group committer calls it from one
// goroutine, so change and batch need no lock.
type handoffObserver struct {
	db *DB
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

func (o *handoffObserver) BeginBatch() { o.db.handoff.beginBatch() }

// Queued lets handoff.reserve decide on each new delivery. Even when no
// webhook is clean: reserve marks the webhooks whose deliveries stay in
// the database, so that no claim cleans one before they are visible.
func (o *handoffObserver) Queued(ev *herald.Event, ds []QueuedDelivery) {
	fresh := &freshEvent{id: ev.ID, typ: ev.Type, payload: ev.Payload}
	hs := make([]handedOff, len(ds))
	for i, d := range ds {
		hs[i] = handedOff{id: d.ID, webhook: d.WebhookID, subject: ev.Subject, ev: fresh}
	}
	handed, dirty := o.db.handoff.reserve(hs)
	o.change.handoffs = append(o.change.handoffs, handed...)
	o.change.dirty = append(o.change.dirty, dirty...) // marked already; again after the commit
}

// Requeued: the change leaves deliveries of webhook in the database that
// were not handed off: dirty at once, for the rest of its batch, and
// again after the commit (publish).
func (o *handoffObserver) Requeued(webhook int64) {
	o.db.handoff.dirty([]int64{webhook})
	o.change.dirty = append(o.change.dirty, webhook)
}

// WebhookChanged: claims read the webhook list again after the commit; a
// created webhook has no deliveries, so the engine may take its first
// ones straight from their commits.
func (o *handoffObserver) WebhookChanged(id int64, created bool) {
	if created {
		o.change.created = append(o.change.created, id)
	}
	o.change.webhooksChanged = true
}

func (o *handoffObserver) EndChange(kept bool) {
	if kept {
		o.batch.handoffs = append(o.batch.handoffs, o.change.handoffs...)
		o.batch.dirty = append(o.batch.dirty, o.change.dirty...)
		o.batch.created = append(o.batch.created, o.change.created...)
		o.batch.webhooksChanged = o.batch.webhooksChanged || o.change.webhooksChanged
	} else {
		o.db.handoff.discard(o.change.handoffs)
	}
	o.change = batchNotes{}
}

func (o *handoffObserver) EndBatch(committed bool) {
	if committed {
		if o.batch.webhooksChanged {
			o.db.webhooksChanged.Add(1) // before publish: claims of new webhooks' handoffs see them
		}
		o.db.handoff.publish(o.batch.handoffs, o.batch.created, o.batch.dirty)
	} else {
		o.db.handoff.discard(o.batch.handoffs)
	}
	o.db.handoff.endBatch()
	o.batch = batchNotes{}
}

func (o *handoffObserver) Leased(id int64) bool { return o.db.leases.leased(id) }
