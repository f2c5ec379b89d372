package queue

import "sync"

// On SQLite the engine's leases live in memory and claims are reads. One
// process serves a SQLite database (Lock makes sure), so writing each
// claim to the database (a row update and a share of an fsync'd commit,
// through the one writer that directory changes also wait for) would only
// tell this process what it already knows. The only engine that could take a claim
// over is this one, so a lease here does not run out: it holds until the
// outcome is recorded, however long a busy writer makes that take. A
// restart forgets them all, which is right: whatever was in flight is due
// again. On PostgreSQL leases are rows with an end, because other
// instances must see them and take over from one that died.
//
// Why a read is enough: a claim copies the leases before its read
// transaction starts, and Record drops a lease only after its outcome has
// committed. So a delivery is either still in the copy (and skipped), or
// its outcome is visible to the read. Claims are serialised (claimMu), so
// two claims never hand out the same delivery.

// leaseTable maps delivery ids to the webhook of this process's lease.
type leaseTable struct {
	mu   sync.Mutex
	held map[int64]int64 // delivery id -> webhook id
}

// snapshot returns the leased ids, and each webhook's: a claim query
// passes over those. Leases are at most the engine's deliveries claimed
// and not yet recorded (its Unrecorded, 1,024 by default), but copying
// them at every claim cost a tenth of Herald's CPU: claims served
// wholly by handoffs skip it.
func (t *leaseTable) snapshot() (leased map[int64]bool, perWebhook map[int64][]int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	leased = make(map[int64]bool, len(t.held))
	perWebhook = map[int64][]int64{}
	for id, hook := range t.held {
		leased[id] = true
		perWebhook[hook] = append(perWebhook[hook], id)
	}
	return leased, perWebhook
}

// take leases the claimed deliveries.
func (t *leaseTable) take(cs []Claimed) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.held == nil {
		t.held = map[int64]int64{}
	}
	for _, c := range cs {
		t.held[c.ID] = c.WebhookID
	}
}

// release drops the leases on ids.
func (t *leaseTable) release(ids []int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		delete(t.held, id)
	}
}

// releaseAll drops every lease and returns how many there were.
func (t *leaseTable) releaseAll() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(t.held)
	t.held = nil
	return n
}

// leased reports whether id is leased.
func (t *leaseTable) leased(id int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.held[id]
	return ok
}
