package queue

import "github.com/heraldhq/herald/internal/store"

// Successors on PostgreSQL. An outcome that finishes a delivery may make
// the next delivery of its webhook and subject the head of its queue;
// that one waits in the database, and the engine must query its webhook
// to claim it (postgresQueue.unblocked asks which webhooks, after the
// outcome committed). The question is a query, most of whose cost is
// planning it (the queue's connections plan every statement afresh), and
// for a handoff it can usually be answered here:
//
// A delivery waits behind a handoff d only if its change committed after
// d's, and saw d unfinished: its fan-out then left it unleased, and a
// notification named its webhook (the fan-out's NOTIFY, read by the
// listener, or this process's handOver; a redelivery or replay names its
// webhook as requeued, or none; the listener names none when it
// reconnects). That notification is read after d's change began. So if
// none named d's webhook, or every webhook, since d's change began,
// nothing waits behind d yet; and one that comes later is read after d's
// outcome committed, so the claim it prompts finds its delivery at the
// head of the queue. Only the other outcomes (of deliveries claimed
// from the database, or of handoffs whose webhook a notification named
// since) need the query.
//
// "Since" is counted in notifications, not read on a clock, which could
// be stepped back meanwhile: Taking, which the group committer calls (Lease)
// before a batch's first fan-out inserts anything, notes the count
// (taking), and Take, after the batch committed, gives it to the
// batch's handoffs. A batch that handed nothing leaves the count of its
// Taking to the next one, which is then earlier than need be: more
// notifications count, and more outcomes ask.
//
// While the listener is disconnected, other instances' notifications are
// not read: a delivery queued behind d then waits for the claim that
// looks at every webhook (at the reconnection, which counts as naming
// every webhook, or within pgRecheck), as when the query fails.

// maxSent bounds sent. Each handoff's entry goes when its outcome is
// recorded; those never recorded here (released to the database and
// claimed by another instance) would stay, so the set is cleared when
// it reaches this size, and the outcomes of the handoffs it held then
// ask the database.
const maxSent = 4 * pgHandoffTotal

// takingLocked notes the count of notifications at a batch's first
// Taking. Under mu.
func (h *pgHandoff) takingLocked() {
	if !h.takingSet {
		h.taking, h.takingSet = h.notes, true
	}
}

// sentLocked gives the batch's handoffs ds the count its first Taking
// noted. Under mu.
func (h *pgHandoff) sentLocked(ds []store.Handed) {
	if len(ds) == 0 {
		return
	}
	if len(h.sent)+len(ds) > maxSent {
		clear(h.sent)
	}
	for _, d := range ds {
		h.sent[d.ID] = h.taking
	}
	h.takingSet = false
}

// notedLocked counts a notification read that named webhooks (nil:
// every webhook). Under mu.
func (h *pgHandoff) notedLocked(webhooks []int64) {
	h.notes++
	if webhooks == nil {
		h.noteAll = h.notes
	}
	for _, w := range webhooks {
		h.noteOf[w] = h.notes
	}
}

// recorded forgets the handoffs among outs, whose outcomes committed, and
// returns the finished outcomes that may have left a delivery at the head
// of its queue: those of deliveries not handed off here, and those of
// handoffs whose webhook a notification named since their change began.
func (h *pgHandoff) recorded(outs []Outcome, f finishedOutcomes) finishedOutcomes {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out finishedOutcomes
	for i, id := range f.ids { // finished outcomes are among outs
		n, handed := h.sent[id]
		if handed && h.noteAll <= n && h.noteOf[f.webhooks[i]] <= n {
			continue
		}
		out.ids, out.webhooks, out.subjects = append(out.ids, id), append(out.webhooks, f.webhooks[i]), append(out.subjects, f.subjects[i])
	}
	for _, o := range outs {
		delete(h.sent, o.DeliveryID)
	}
	return out
}
