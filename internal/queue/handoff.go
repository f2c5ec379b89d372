package queue

import (
	"sync"

	"github.com/heraldhq/herald"
)

// Handoff (SQLite, while this process's engine runs). A delivery queued by
// a commit is handed straight to the engine, in memory, instead of being
// claimed back from the database by a query: the commit knows everything
// sending it needs. Under load that query was the engine's largest cost
// outside the HTTP client, and a webhook whose deliveries all come this
// way needs no claim query at all. The group committer tells the handoff
// what each change does through the queue's observer (observer.go).
//
// The rule: a webhook is clean when every unfinished delivery it has in
// the database is one this process handed off (queued here, or taken by
// the engine and leased in memory like a claimed one). Only a clean
// webhook is served from memory, and gets new handoffs; its head check (no
// unfinished delivery of the same subject before the new one) is then
// made in memory, against the subjects of its handed-off deliveries. A
// dirty webhook is claimed from the database, as before.
//
//   - Anything that leaves in the database an unfinished delivery that is
//     not handed off dirties its webhook: a delivery not handed off (its
//     subject has one unfinished, or the caps below are reached), a retry,
//     a redelivery, a replay. So does everything before this engine
//     started: webhooks start dirty, but for those created since.
//   - Dirtying a webhook drops its queue here: those rows were never
//     leased in the database, so claims find them there, oldest first,
//     before anything newer. Taken ones are leased in memory, and claims
//     pass over them.
//   - A dirty webhook turns clean when a claim finds nothing unfinished of
//     it in the database but its taken handoffs, provided nothing dirtied
//     it since that claim began (each webhook counts its marks), and no
//     batch of the group committer that dirtied it, or that began before
//     handoffs (re)started, is still uncommitted: the claim's read cannot
//     see that batch's rows.
//   - Handoffs decided by a change that rolls back (its savepoint or the
//     whole batch) are dropped; the rows never existed. A restart forgets
//     them all: the rows are claimed from the database.
//
// Fairness follows: a webhook with deliveries waiting in the database gets
// no handoffs, so new deliveries queue behind old ones, as before.

// Handed-off deliveries wait here, at most, per webhook, and in bytes in
// all (an event's payload counted once, however many webhooks it goes to;
// handoffEntryBytes for each delivery besides). Beyond that, deliveries
// wait in the database.
const (
	handoffPerWebhook = 1 << 15
	handoffBytes      = 64 << 20
	handoffEntryBytes = 160
)

// freshEvent is the event, shared by its deliveries; held counts those
// reserved or queued here (under handoff.mu).
type freshEvent struct {
	ev   herald.Event
	held int
}

// size is what the event holds in memory, for handoffBytes.
func (e *freshEvent) size() int { return len(e.ev.Payload) + len(e.ev.Previous) }

// handedOff is a delivery handed to the engine, in the epoch (start) that
// reserved it.
type handedOff struct {
	id, webhook int64
	subject     string
	ev          *freshEvent
	epoch       uint64
}

// handoff is the state of handoffs, under mu. on: handoffs are on
// (between start and stop); epoch counts starts, and a reservation made in
// an earlier one is not published.
type handoff struct {
	mu    sync.Mutex
	on    bool
	epoch uint64
	// queues holds each clean webhook's handed-off deliveries not yet
	// taken, oldest first; reserved counts those of changes not yet
	// committed; bytes is the memory both hold (see handoffBytes).
	queues   map[int64][]handedOff
	reserved map[int64]int
	bytes    int
	// taken holds, per webhook, the subjects of handed-off deliveries the
	// engine took, by id, until their outcomes are recorded; subjects
	// counts each webhook's unfinished handed-off deliveries by subject
	// (reserved, queued, taken).
	taken    map[int64]map[int64]handedOff
	subjects map[int64]map[string]int
	// clean marks the webhooks served from memory; dirtied counts the
	// times each was marked dirty, so that a claim that began before a
	// mark cannot clean it, and batchDirty those the group committer's
	// current batch dirtied, so that a claim that cannot see the batch's
	// rows yet cannot clean them (see cleaned).
	clean      map[int64]bool
	dirtied    map[int64]uint64
	batchDirty map[int64]bool
	// resets counts starts, and ends of batches that straddled one: a
	// claim that began before either cannot clean anything. straddle: the
	// committer's current batch began before the last start, so its rows
	// carry no marks (inBatch: a batch is running).
	resets            uint64
	inBatch, straddle bool
}

// marks is what a claim notes when it begins, for cleaned.
type marks struct {
	dirtied map[int64]uint64
	resets  uint64
}

// start turns handoffs on, every webhook dirty: the database may hold anything.
func (h *handoff) start() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.on = true
	h.epoch++
	h.resets++
	h.straddle = h.inBatch
	h.queues, h.reserved, h.bytes = map[int64][]handedOff{}, map[int64]int{}, 0
	h.taken, h.subjects = map[int64]map[int64]handedOff{}, map[int64]map[string]int{}
	h.clean, h.dirtied, h.batchDirty = map[int64]bool{}, map[int64]uint64{}, map[int64]bool{}
}

// stop turns handoffs off. What was queued is in the database, unleased.
func (h *handoff) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.on = false
	h.queues, h.reserved, h.bytes, h.taken, h.subjects = nil, nil, 0, nil, nil
	h.clean, h.dirtied, h.batchDirty = nil, nil, nil
}

// accepting reports whether handoffs are on.
func (h *handoff) accepting() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.on
}

// reserve decides, for deliveries just written, which go to the engine:
// those whose webhook is clean, has room, and has no unfinished delivery
// of the subject (the new one heads its queue: the database holds none
// either). It counts them until they are published or discarded. The
// others stay in the database and dirty their webhooks.
func (h *handoff) reserve(ds []handedOff) (handed []handedOff, dirty []int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.on {
		return nil, nil
	}
	for _, d := range ds {
		d.epoch = h.epoch
		cost := handoffEntryBytes
		if d.ev.held == 0 {
			cost += d.ev.size()
		}
		switch {
		case !h.clean[d.webhook]:
			h.batchDirty[d.webhook] = true
			dirty = append(dirty, d.webhook)
		case h.bytes+cost > handoffBytes || len(h.queues[d.webhook])+h.reserved[d.webhook] >= handoffPerWebhook ||
			h.subjects[d.webhook][d.subject] > 0:
			h.dirtyLocked(d.webhook)
			h.batchDirty[d.webhook] = true
			dirty = append(dirty, d.webhook)
		default:
			h.reserved[d.webhook]++
			h.hold(d)
			h.addSubject(d.webhook, d.subject, 1)
			handed = append(handed, d)
		}
	}
	return handed, dirty
}

// hold and release count d's memory while it is reserved or queued.
func (h *handoff) hold(d handedOff) {
	if d.ev.held == 0 {
		h.bytes += d.ev.size()
	}
	d.ev.held++
	h.bytes += handoffEntryBytes
}

func (h *handoff) release(d handedOff) {
	d.ev.held--
	h.bytes -= handoffEntryBytes
	if d.ev.held == 0 {
		h.bytes -= d.ev.size()
	}
}

func (h *handoff) addSubject(webhook int64, subject string, n int) {
	s := h.subjects[webhook]
	if s == nil {
		s = map[string]int{}
		h.subjects[webhook] = s
	}
	if s[subject] += n; s[subject] <= 0 {
		delete(s, subject)
	}
}

// dirty marks webhooks as having, in the group committer's current batch,
// unfinished deliveries in the database that are not handed off.
func (h *handoff) dirty(webhooks []int64) {
	if len(webhooks) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, w := range webhooks {
		h.dirtyLocked(w)
		if h.on {
			h.batchDirty[w] = true
		}
	}
}

// beginBatch and endBatch bracket each batch of the group committer;
// endBatch is called when it has committed (after publish) or failed: its
// rows are visible to claims, or never will be.
func (h *handoff) beginBatch() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.inBatch = true
}

func (h *handoff) endBatch() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.straddle {
		h.resets++
	}
	h.inBatch, h.straddle = false, false
	if h.on && len(h.batchDirty) > 0 {
		clear(h.batchDirty)
	}
}

// dirtyLocked marks webhook dirty and drops its queue: those deliveries
// are claimed from the database now.
func (h *handoff) dirtyLocked(webhook int64) {
	if !h.on {
		return
	}
	delete(h.clean, webhook)
	h.dirtied[webhook]++
	for _, d := range h.queues[webhook] {
		h.addSubject(webhook, d.subject, -1)
		h.release(d)
	}
	delete(h.queues, webhook)
}

// publish queues committed handoffs for the engine (those whose webhook is
// still clean), marks the webhooks the same commits created clean (they
// have no deliveries but these), and marks again those they dirtied: a
// claim that began before the commit may have cleaned one since.
func (h *handoff) publish(ds []handedOff, created, dirty []int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.on {
		return
	}
	for _, w := range created {
		// Unless the batch began before handoffs started: its other
		// deliveries to w carry no marks. A claim will clean w.
		if !h.straddle {
			h.clean[w] = true
		}
	}
	for _, w := range dirty {
		h.dirtyLocked(w)
	}
	for _, d := range ds {
		if d.epoch != h.epoch {
			continue // reserved before a restart of handoffs: in the database
		}
		h.reserved[d.webhook]--
		if h.clean[d.webhook] {
			h.queues[d.webhook] = append(h.queues[d.webhook], d)
		} else {
			h.release(d)
			h.addSubject(d.webhook, d.subject, -1)
		}
	}
}

// discard forgets handoffs whose change did not commit.
func (h *handoff) discard(ds []handedOff) {
	if len(ds) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.on {
		return
	}
	for _, d := range ds {
		if d.epoch == h.epoch {
			h.reserved[d.webhook]--
			h.release(d)
			h.addSubject(d.webhook, d.subject, -1)
		}
	}
}

// take removes up to n of webhook's queued deliveries, oldest first, if it
// is clean (ok); the caller must lease them in memory before the next
// claim.
func (h *handoff) take(webhook int64, n int) (out []handedOff, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.on || !h.clean[webhook] {
		return nil, false
	}
	q := h.queues[webhook]
	n = min(n, len(q))
	if n == 0 {
		return nil, true
	}
	out = q[:n:n]
	if n == len(q) {
		delete(h.queues, webhook)
	} else {
		h.queues[webhook] = q[n:]
	}
	t := h.taken[webhook]
	if t == nil {
		t = map[int64]handedOff{}
		h.taken[webhook] = t
	}
	for _, d := range out {
		h.release(d)
		t[d.id] = d
	}
	return out, true
}

// untake returns deliveries taken by a claim that failed: to the front of
// their queue if their webhook is still clean; else they are in the database.
func (h *handoff) untake(webhook int64, ids []int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.on {
		return
	}
	var ds []handedOff
	for _, id := range ids {
		if d, ok := h.taken[webhook][id]; ok {
			delete(h.taken[webhook], id)
			ds = append(ds, d)
		}
	}
	for _, d := range ds {
		if h.clean[webhook] {
			h.hold(d)
		} else {
			h.addSubject(webhook, d.subject, -1)
		}
	}
	if h.clean[webhook] {
		h.queues[webhook] = append(ds, h.queues[webhook]...)
	}
}

// finished records committed outcomes: a taken delivery's subject is free
// again, and one to be retried stays in the database as a delivery that is not
// handed off, which dirties its webhook first.
func (h *handoff) finished(outs []Outcome) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.on {
		return
	}
	for _, o := range outs {
		d, ok := h.taken[o.WebhookID][o.DeliveryID]
		if !ok {
			continue
		}
		if o.State != herald.DeliverySucceeded && o.State != herald.DeliveryFailed {
			h.dirtyLocked(o.WebhookID)
		}
		delete(h.taken[o.WebhookID], o.DeliveryID)
		h.addSubject(o.WebhookID, d.subject, -1)
	}
}

// takenIDs returns the ids of webhook's taken handoffs.
func (h *handoff) takenIDs(webhook int64) []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := make([]int64, 0, len(h.taken[webhook]))
	for id := range h.taken[webhook] {
		ids = append(ids, id)
	}
	return ids
}

// drop forgets the webhooks not in keep (deleted: their deliveries went
// with them), but for what their changes and outcomes still in progress
// will settle.
func (h *handoff) drop(keep map[int64]bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.on {
		return
	}
	for w := range h.clean {
		if !keep[w] {
			h.dirtyLocked(w) // drops its queue
		}
	}
	for w := range h.dirtied {
		if !keep[w] {
			delete(h.dirtied, w)
			delete(h.batchDirty, w)
		}
	}
	for w := range h.subjects {
		if !keep[w] && h.reserved[w] == 0 && len(h.taken[w]) == 0 {
			delete(h.reserved, w)
			delete(h.taken, w)
			delete(h.subjects, w)
		}
	}
}

// marks returns what a claim beginning now notes for cleaned.
func (h *handoff) marks() marks {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := marks{dirtied: make(map[int64]uint64, len(h.dirtied)), resets: h.resets}
	for w, n := range h.dirtied {
		m.dirtied[w] = n
	}
	return m
}

// cleaned records that a claim, begun when the marks were before, found
// nothing unfinished of webhook in the database but its taken handoffs: it is
// clean unless something dirtied it since, or the committer's current
// batch did or may have (the claim cannot see that batch's rows).
func (h *handoff) cleaned(webhook int64, before marks) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.on && h.resets == before.resets && !h.straddle && h.dirtied[webhook] == before.dirtied[webhook] && !h.batchDirty[webhook] {
		h.clean[webhook] = true
	}
}

// claimed is d as the engine takes it, with its webhook as stored.
func (d handedOff) claimed(hook *herald.Webhook) Claimed {
	return Claimed{ID: d.id, WebhookID: d.webhook, Subject: d.subject, EventID: d.ev.ev.ID, EventType: d.ev.ev.Type,
		Payload: d.ev.ev.Body(hook.Format), Webhook: hook, handedOff: true}
}

// untakeAll gives back the handoffs among cs (a failed claim's) with
// untake.
func (h *handoff) untakeAll(cs []Claimed) {
	ids := map[int64][]int64{}
	for _, c := range cs {
		if c.handedOff {
			ids[c.WebhookID] = append(ids[c.WebhookID], c.ID)
		}
	}
	for w, ids := range ids {
		h.untake(w, ids)
	}
}
