package store

import "sync"

// On SQLite the engine's leases live in memory and claims are reads. One
// process delivers from a SQLite file (engineLock makes sure), so writing
// each claim to the file (a row update and a share of an fsync'd commit,
// through the one writer that directory changes also wait for) would only
// tell this process what it already knows. A restart forgets them, which is
// right: whatever was in flight is due again. On PostgreSQL leases are
// rows, because other instances must see them.
//
// Why a read is enough: ClaimDue copies the running leases before its read
// transaction starts, and RecordOutcomes drops a lease only after its
// outcome has committed. So a delivery is either still in the copy (and
// skipped), or its outcome is visible to the read. Claims are serialised
// (claimMu), so two claims never hand out the same delivery.

// leaseTable maps delivery ids to this process's leases on them.
type leaseTable struct {
	mu    sync.Mutex
	held  map[int64]lease
	count map[int64]int // leases held per webhook, expired ones included
}

type lease struct {
	webhookID int64
	until     int64 // micros
}

// snapshot returns the ids whose lease runs at now, and how many leases
// each webhook holds (expired or not): a claim query must look that many
// rows further to find its room of unleased ones.
func (t *leaseTable) snapshot(now int64) (running map[int64]bool, perWebhook map[int64]int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	running = make(map[int64]bool, len(t.held))
	for id, l := range t.held {
		if l.until > now {
			running[id] = true
		}
	}
	perWebhook = make(map[int64]int, len(t.count))
	for hook, n := range t.count {
		perWebhook[hook] = n
	}
	return running, perWebhook
}

// take leases the claimed deliveries until the given time.
func (t *leaseTable) take(cs []Claimed, until int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.held == nil {
		t.held, t.count = map[int64]lease{}, map[int64]int{}
	}
	for _, c := range cs {
		if _, ok := t.held[c.ID]; !ok {
			t.count[c.WebhookID]++
		}
		t.held[c.ID] = lease{webhookID: c.WebhookID, until: until}
	}
}

// release drops the leases on ids.
func (t *leaseTable) release(ids []int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		l, ok := t.held[id]
		if !ok {
			continue
		}
		delete(t.held, id)
		if t.count[l.webhookID]--; t.count[l.webhookID] <= 0 {
			delete(t.count, l.webhookID)
		}
	}
}

// releaseAll drops every lease and returns how many there were.
func (t *leaseTable) releaseAll() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(t.held)
	t.held, t.count = nil, nil
	return n
}

// running reports whether id has a lease running at now.
func (t *leaseTable) running(id, now int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.held[id]
	return ok && l.until > now
}
