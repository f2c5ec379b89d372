package queue

import (
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// Successors on PostgreSQL. An outcome that finishes a delivery may make
// the next delivery of its webhook and subject the head of its queue;
// that one waits in the database, and the engine must query its webhook
// to claim it (postgresQueue.unblocked asks which webhooks, after the
// outcome committed). The question is a query, most of whose cost is
// planning it (the queue's connections plan every statement afresh), and
// for a handoff it can usually be answered here:
//
// A delivery waits behind a handoff d only if its change committed after
// d's, and saw d unfinished: its fan-out then left it unleased, and sent a
// notification naming its webhook (the fan-out's NOTIFY, or this
// process's handOver; a redelivery or replay names its webhook as
// requeued, or none). So if no notification has named d's webhook, or
// every webhook, since d's change began (its event's time, which this
// process stamped), nothing waits behind d yet; and one that comes later
// is read after d's outcome committed, so the claim it prompts finds its
// delivery at the head of the queue. Only the other outcomes (of
// deliveries claimed from the database, handed off before a notification
// named their webhook) need the query.
//
// A wall clock stepped back between d's change and a notification could
// hide the notification: the delivery then waits for the next claim that
// looks at every webhook (pgRecheck).

// maxSent bounds sent. The engine holds at most a claim's limit of
// deliveries at once and records each; should some not be recorded (an
// error), the set is cleared rather than kept growing, and the outcomes
// of the deliveries in it then ask the database.
const maxSent = 4 * pgHandoffTotal

// sentLocked notes a handoff given to the engine. Under mu.
func (h *pgHandoff) sentLocked(d store.Handed) {
	if len(h.sent) >= maxSent {
		clear(h.sent)
	}
	h.sent[d.ID] = d.Event.OccurredAt
}

// notifiedLocked notes that a notification read at now named webhooks.
// Under mu.
func (h *pgHandoff) notifiedLocked(webhooks []int64, now time.Time) {
	for _, w := range webhooks {
		h.notifiedAt[w] = now
	}
}

// recorded forgets the handoffs among outs, whose outcomes committed, and
// returns the finished outcomes that may have left a delivery at the head
// of its queue: those of deliveries claimed from the database, and those
// of handoffs whose webhook a notification named since their change.
func (h *pgHandoff) recorded(outs []Outcome, f finishedOutcomes) finishedOutcomes {
	h.mu.Lock()
	defer h.mu.Unlock()
	changedAt := make(map[int64]time.Time, len(f.ids))
	for _, o := range outs {
		if at, ok := h.sent[o.DeliveryID]; ok {
			changedAt[o.DeliveryID] = at
			delete(h.sent, o.DeliveryID)
		}
	}
	var out finishedOutcomes
	for i, id := range f.ids {
		at, handed := changedAt[id]
		if handed && h.notifiedAll.Before(at) && h.notifiedAt[f.webhooks[i]].Before(at) {
			continue
		}
		out.ids, out.webhooks, out.subjects = append(out.ids, id), append(out.webhooks, f.webhooks[i]), append(out.subjects, f.subjects[i])
	}
	return out
}
