package queue

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// Handoff on PostgreSQL (while this process's engine runs). As on SQLite
// (handoff.go), a commit's new deliveries go to the engine in memory, not
// back through a claim query; but several instances share the database,
// so a delivery is handed off only if its fan-out leased it to this
// process at insert (store.HandoffTaker): in the database it is then as
// claimed by this process, and no other instance can take it. The fan-out
// leases a delivery only if it is the head of its queue (nothing
// unfinished of its webhook and subject before it): per-subject order
// holds without any state here. The rest wait unleased in the database,
// and the fan-out NOTIFYs every instance with their webhooks.
//
// The lease at insert runs for a claim's lease (Request.Lease) and a
// quarter (handoffLease): a handoff waits here for a sender up to a
// quarter of a lease, and then holds for a whole one, as a claimed
// delivery does. One that waited longer is not sent here: its lease is
// released, and a claim by any instance takes it from the database. An
// instance that dies holding handoffs leaves them for that long, a
// quarter more than its claims. Once pgHandoffPerWebhook wait for a
// webhook, or pgHandoffTotal in all, new deliveries wait in the database
// (the limits are checked at each fan-out, so a batch's fan-outs may pass
// them by a batch's worth); so do those of a paused webhook.
//
// A claim serves a webhook's handoffs and the deliveries waiting for it in
// the database side by side, at least half of its room each when both
// have some: the database's are older (another instance's, released,
// redelivered) or newer (queued when its handoffs were at their cap), and
// neither may wait for as long as the other keeps coming.
//
// Claims. With its own commits handed off, a claim query mostly finds
// nothing: the engine queries the database for a webhook only when it
// may hold claimable deliveries this process was not handed (dirty):
//
//   - a notification names it (another instance's fan-out, or this
//     one's, left deliveries unleased), or names none (a redelivery, a
//     replay, a test: any webhook);
//   - an outcome recorded here left an unfinished delivery of the same
//     subject behind it (now the head of its queue);
//   - the last claim that queried it found as many as it asked for, or
//     could not query it (no room, paused);
//   - and every webhook, at start, when a retry recorded here falls
//     due, after a notification that webhooks changed (one enabled again
//     may have deliveries waiting), and at least every pgRecheck (others'
//     retries, leases run out): the engine claims that often even when
//     idle (RecheckEvery).
//
// A claim that queried a webhook and found fewer than it asked for cleans
// it, unless it was dirtied again after the claim began.
const (
	pgHandoffPerWebhook = 2048
	pgHandoffTotal      = 16384
	pgRecheck           = time.Second
	pgDues              = 256
)

// due is a retry's time, noted at seq.
type due struct {
	at  time.Time
	seq uint64
}

// pgHandoff is the handoff state of a postgresQueue, under mu.
type pgHandoff struct {
	q  *postgresQueue
	mu sync.Mutex
	// on: between start and stop. lease is the engine's claim lease,
	// zero until its first claim; paused its paused webhooks then.
	on     bool
	runs   uint64 // counts starts
	lease  time.Duration
	paused map[int64]bool
	// waiting are the handoffs not taken yet, per webhook, oldest first;
	// total counts them. takes counts Take's calls, and lastTake is the
	// count at each webhook's last.
	waiting  map[int64][]store.Handed
	total    int
	takes    uint64
	lastTake map[int64]uint64
	// Dirtiness (see above): seq counts dirtyings; dirty[w] is the seq
	// of webhook w's last; all is set, at allSeq, when every webhook is
	// dirty. checkedAt is when a claim last queried every webhook; dues
	// are when retries recorded here fall due, earliest first, at most
	// pgDues of them (later ones wait for a recheck), each with the seq
	// it was noted at.
	seq       uint64
	dirty     map[int64]uint64
	all       bool
	allSeq    uint64
	checkedAt time.Time
	dues      []due
	// What unblocked needs to know (pgsuccessors.go), in counts of the
	// notifications read (notes): the count at the last naming each
	// webhook (noteOf) and every webhook (noteAll); the count at the
	// first Taking since the last Take (taking, if takingSet); and the
	// handoffs whose outcome is not recorded yet, with the count before
	// their change began.
	notes     uint64
	noteOf    map[int64]uint64
	noteAll   uint64
	taking    uint64
	takingSet bool
	sent      map[int64]uint64
	// webhooksVersion counts the notifications that the webhook list
	// may have changed (pgwebhooks.go).
	webhooksVersion uint64
}

func newPGHandoff(q *postgresQueue) *pgHandoff {
	return &pgHandoff{q: q, waiting: map[int64][]store.Handed{}, lastTake: map[int64]uint64{}, dirty: map[int64]uint64{},
		all: true, allSeq: 1, seq: 1, noteOf: map[int64]uint64{}, sent: map[int64]uint64{}}
}

// start begins taking handoffs (from the engine's first claim, which
// sets the lease); every webhook is dirty.
func (h *pgHandoff) start() (run uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.on, h.lease = true, 0
	h.runs++
	h.markAllLocked()
	return h.runs
}

// stopRun is stop if the engine's run is still run (start's count).
func (h *pgHandoff) stopRun(run uint64) []store.Handed {
	h.mu.Lock()
	same := h.runs == run
	h.mu.Unlock()
	if !same {
		return nil
	}
	return h.stop()
}

// stop takes no more handoffs, and returns those not taken, whose leases
// the caller releases.
func (h *pgHandoff) stop() []store.Handed {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.on = false
	var left []store.Handed
	for _, ds := range h.waiting {
		left = append(left, ds...)
	}
	h.waiting, h.total = map[int64][]store.Handed{}, 0
	return left
}

// Taking says whether this engine takes new deliveries at insert now,
// for which webhooks not, and until when (Lease): not before its first
// claim, nor with pgHandoffTotal waiting; not for a paused webhook, nor
// one with pgHandoffPerWebhook waiting.
func (h *pgHandoff) Taking(now time.Time) (except []int64, until time.Time, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.takingLocked()
	if !h.on || h.lease == 0 || h.total >= pgHandoffTotal {
		return nil, time.Time{}, false
	}
	for w := range h.paused {
		except = append(except, w)
	}
	for w, ds := range h.waiting {
		if len(ds) >= pgHandoffPerWebhook {
			except = append(except, w)
		}
	}
	return except, now.Add(handoffLease(h.lease)), true
}

// Lease is store.HandoffTaker's: Taking's webhooks are leased until its
// until, but only a delivery that is the head of its queue at insert (no
// unfinished delivery of its webhook and subject before it: all that is
// in the table then is before it), which its claim would have been.
// Another instance's change cannot queue one meanwhile: changes take
// turns (store's advisory lock).
func (h *pgHandoff) Lease(now time.Time) (store.LeaseAtInsert, bool) {
	except, until, ok := h.Taking(now)
	if !ok {
		return store.LeaseAtInsert{}, false
	}
	if except == nil {
		except = []int64{} // <> ALL(NULL) would lease nothing
	}
	return store.LeaseAtInsert{Until: until, Column: func(webhookID, subject string, next int) (string, []any) {
		return fmt.Sprintf(`CASE WHEN %[1]s <> ALL(CAST($%[3]d AS BIGINT[])) AND NOT EXISTS (SELECT 1 FROM deliveries p
			WHERE p.webhook_id = %[1]s AND p.subject = %[2]s AND p.state IN ('pending', 'retrying'))
			THEN CAST($%[4]d AS BIGINT) ELSE 0 END`, webhookID, subject, next, next+1), []any{except, micros(until)}
	}}, true
}

// handoffLease is the lease a delivery gets at insert, for a claim lease
// of lease: a quarter more, the time it may wait here for a sender, so
// that it still holds for a whole claim's lease when taken.
func handoffLease(lease time.Duration) time.Duration { return lease + lease/4 }

// Take is store.HandoffTaker's. Handoffs that arrive after stop are not
// sent here: their leases are released for any instance to claim (at
// once: Close may follow). So are those of requeued webhooks, with the
// ones waiting here.
func (h *pgHandoff) Take(ds []store.Handed, requeued []int64) {
	h.mu.Lock()
	if !h.on {
		h.takingSet = false
		h.mu.Unlock()
		h.q.releaseHanded(ds)
		return
	}
	// Queued before the lock is let go, so that a requeue another
	// instance announces meanwhile finds them (notified).
	h.takes++
	for _, d := range ds {
		h.waiting[d.WebhookID] = append(h.waiting[d.WebhookID], d)
		h.lastTake[d.WebhookID] = h.takes
	}
	h.total += len(ds)
	// A requeued webhook's handoffs, these and earlier ones, go back.
	var released []store.Handed
	if len(requeued) > 0 {
		released = h.dropLocked(requeued)
		h.markLocked(requeued)
		h.notedLocked(requeued)
	}
	h.sentLocked(ds)
	h.mu.Unlock()
	// Rare (an admin's redelivery or replay): released before the
	// batch's callers hear of it, so that a claim after it finds them.
	h.q.releaseHanded(released)
}

// listCurrent reports whether a claim at now may use the webhook list
// read at version, holding exist, and returns the version a list read
// now has: no notification since that the list changed, no look at
// every webhook due, and no handoff waiting (of those counted in takes)
// for a webhook the list does not hold.
func (h *pgHandoff) listCurrent(exist map[int64]bool, version, takes uint64, now time.Time) (uint64, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.webhooksVersion != version || h.wholeLocked(now) {
		return h.webhooksVersion, false
	}
	for w := range h.waiting {
		if h.unlistedLocked(w, exist, takes) {
			return h.webhooksVersion, false
		}
	}
	return h.webhooksVersion, true
}

// unlistedLocked reports whether webhook w's handoffs are missing from
// the list exist though counted in takes: take drops them (the webhook
// is gone), and listCurrent reads the list again first. Under mu.
func (h *pgHandoff) unlistedLocked(w int64, exist map[int64]bool, takes uint64) bool {
	return !exist[w] && h.lastTake[w] <= takes
}

// webhooksAt reports whether no notification that webhooks changed has
// come since version (listCurrent's).
func (h *pgHandoff) webhooksAt(version uint64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.webhooksVersion == version
}

// listed returns the count of Take's calls, to read before the webhook
// list a claim passes to take.
func (h *pgHandoff) listed() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.takes
}

// take removes from waiting, for each share in turn, up to its room
// less what a claim query found of it (got), and limit in all, and
// returns them as claimed. A handoff whose lease would run out before a
// claim's would is returned as stale instead, for the caller to release
// its lease: a claim takes it from the database then. The handoffs of
// webhooks that no longer exist are dropped: not in exist, and handed
// nothing since listed returned takes (a webhook created after the list
// was read may have been). exist may be a list kept from before takes
// (pgwebhooks.go), but then listCurrent found every such webhook in it:
// a drop is decided by a list read after takes.
func (h *pgHandoff) take(req Request, shares []share, got map[int64]int, limit int, exist map[int64]bool, takes uint64, now time.Time) (out []Claimed, stale []store.Handed) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lease, h.paused = req.Lease, req.Paused
	for w, ds := range h.waiting {
		if h.unlistedLocked(w, exist, takes) {
			delete(h.waiting, w)
			h.total -= len(ds)
		}
	}
	for w, n := range h.lastTake {
		if _, ok := h.waiting[w]; !ok && n <= takes {
			delete(h.lastTake, w)
		}
	}
	// The stale, oldest first, of every webhook: those of a webhook this
	// claim does not serve (at its cap, paused) too, for another
	// instance to claim.
	for w, ds := range h.waiting {
		n := 0
		for n < len(ds) && ds[n].LeaseUntil.Before(now.Add(req.Lease)) {
			n++
		}
		if n > 0 {
			stale = append(stale, ds[:n]...)
			h.total -= n
			if n == len(ds) {
				delete(h.waiting, w)
			} else {
				h.waiting[w] = ds[n:]
			}
		}
	}
	for _, s := range shares {
		if _, dirty := h.dirty[s.hook.ID]; !s.query && (dirty || h.all) {
			// Not queried (too little room to be worth it), its
			// deliveries in the database would wait for as long as its
			// handoffs fill its room: neither goes until the room is
			// worth a query.
			continue
		}
		ds := h.waiting[s.hook.ID]
		room := s.room - got[s.hook.ID]
		n := 0
		for n < len(ds) && len(out) < limit && room > 0 {
			d := ds[n]
			n++
			if d.LeaseUntil.Before(now.Add(req.Lease)) {
				stale = append(stale, d)
				continue
			}
			out = append(out, Claimed{ID: d.ID, WebhookID: d.WebhookID, Subject: d.Event.Subject, EventID: d.Event.ID,
				EventType: d.Event.Type, Payload: d.Event.Body(s.hook.Format), Webhook: s.hook, handedOff: true})
			room--
		}
		if n == len(ds) {
			delete(h.waiting, s.hook.ID)
		} else if n > 0 {
			h.waiting[s.hook.ID] = ds[n:]
		}
		h.total -= n
	}
	return out, stale
}

// markAllLocked makes every webhook dirty. Under mu.
func (h *pgHandoff) markAllLocked() {
	h.seq++
	h.all, h.allSeq = true, h.seq
}

// mark makes webhooks dirty.
func (h *pgHandoff) mark(webhooks []int64) {
	if len(webhooks) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.markLocked(webhooks)
}

// markLocked is mark, under mu.
func (h *pgHandoff) markLocked(webhooks []int64) {
	h.seq++
	for _, w := range webhooks {
		h.dirty[w] = h.seq
	}
}

// notified marks the webhooks a notification names (store.OnNotify):
// all of them if it names none, or cannot be read. Webhooks it names as
// requeued ("r:" alone: all) lose their handoffs too: a redelivered delivery may now come
// before them in their queues, so they go back to the database, their
// leases released, to be claimed in order.
func (h *pgHandoff) notified(payload string) {
	if payload == "" || strings.HasPrefix(payload, store.WebhooksChanged) {
		// Read as naming no webhook below: all are dirty too.
		h.mu.Lock()
		h.webhooksVersion++
		h.mu.Unlock()
	}
	requeued, ok := strings.CutPrefix(payload, "r:")
	ids, valid := parseIDs(requeued)
	if !valid || len(ids) == 0 {
		h.mu.Lock()
		h.markAllLocked()
		h.notedLocked(nil)
		h.mu.Unlock()
		if ok {
			h.release(nil)
		}
		return
	}
	h.mu.Lock()
	h.markLocked(ids)
	h.notedLocked(ids)
	h.mu.Unlock()
	if ok {
		h.release(ids)
	}
}

// release drops the handoffs of webhooks (all, for nil) and releases
// their leases in the database.
func (h *pgHandoff) release(webhooks []int64) {
	h.mu.Lock()
	ds := h.dropLocked(webhooks)
	h.mu.Unlock()
	h.q.releaseHanded(ds) // rare: a requeue, a release of every lease
}

// dropLocked removes and returns the handoffs of webhooks (all, for nil).
// Under mu.
func (h *pgHandoff) dropLocked(webhooks []int64) []store.Handed {
	var ds []store.Handed
	drop := func(w int64) {
		ds = append(ds, h.waiting[w]...)
		h.total -= len(h.waiting[w])
		delete(h.waiting, w)
	}
	if webhooks == nil {
		for w := range h.waiting {
			drop(w)
		}
	}
	for _, w := range webhooks {
		drop(w)
	}
	return ds
}

// parseIDs reads ids joined by commas; "" is none. ok is false if one is
// not an id.
func parseIDs(list string) (ids []int64, ok bool) {
	if list == "" {
		return nil, true
	}
	for f := range strings.SplitSeq(list, ",") {
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}

// retrying notes when a retry recorded here falls due: every webhook is
// queried then.
func (h *pgHandoff) retrying(at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	i, _ := slices.BinarySearchFunc(h.dues, at, func(d due, at time.Time) int { return d.at.Compare(at) })
	if i < pgDues {
		h.dues = slices.Insert(h.dues, i, due{at: at, seq: h.seq})
		h.dues = h.dues[:min(len(h.dues), pgDues)]
	}
}

// nextDue returns the earliest retry recorded here that falls due after
// after (the start of the engine's last claim, which saw those due by
// then), or false.
func (h *pgHandoff) nextDue(after time.Time) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, d := range h.dues { // earliest first
		if d.at.After(after) {
			return d.at, true
		}
	}
	return time.Time{}, false
}

// wholeLocked reports whether a claim at now looks at every webhook: at
// start, every pgRecheck, and when a retry recorded here falls due. Under
// mu.
func (h *pgHandoff) wholeLocked(now time.Time) bool {
	return h.all || now.Sub(h.checkedAt) >= pgRecheck || (len(h.dues) > 0 && !now.Before(h.dues[0].at))
}

// idle reports whether a claim at now would find nothing, so that it
// need not read the webhook list: no handoff waits that req could take,
// no webhook is dirty, and no look at every webhook is due. The engine
// claims again after every claim that found some, after every record,
// and whenever a request ends, which at a steady load is mostly such a
// claim. Whatever makes it find something later wakes the engine (a
// commit's handoffs, a notification, an outcome, a request's end).
// It keeps req's lease and paused webhooks, as a claim's take does, so
// that Taking leases nothing to this process for a webhook just paused.
func (h *pgHandoff) idle(req Request, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lease == 0 {
		return false // before the engine's first claim
	}
	h.lease, h.paused = req.Lease, req.Paused
	return h.on && len(h.dirty) == 0 && !h.wholeLocked(now) && !h.takeableLocked(req)
}

// takeableLocked reports whether a handoff waits that a claim with req
// could take: its webhook not paused, with room under the cap. Those of a
// webhook at its cap wait for one of its requests to end, which wakes the
// engine; one that waits too long is given up by the next claim that is
// not idle, a recheck (pgRecheck) later at most. Under mu.
func (h *pgHandoff) takeableLocked(req Request) bool {
	for w, ds := range h.waiting {
		if len(ds) > 0 && !req.Paused[w] && req.InFlight[w] < req.PerWebhook {
			return true
		}
	}
	return false
}

// toQuery returns the shares a claim queries the database for at now:
// those with room that are worth a query (share.query) and dirty, or all
// of them when every webhook is due a look (whole), each with the room
// the query may fill. begin is the seq the
// claim began at, for queried.
func (h *pgHandoff) toQuery(shares []share, now time.Time) (queries []share, whole bool, begin uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	whole = h.wholeLocked(now)
	for _, s := range shares {
		if s.query && s.room > 0 {
			if _, dirty := h.dirty[s.hook.ID]; whole || dirty {
				// Up to half its room is kept for its handoffs: neither
				// the database's deliveries nor the handoffs wait while
				// the other keeps coming.
				s.room -= min(len(h.waiting[s.hook.ID]), s.room/2)
				queries = append(queries, s)
			}
		}
	}
	return queries, whole, h.seq
}

// queried updates dirtiness after a claim that began at seq begin and
// time now, and queried the given shares (whole: for every webhook, the
// keys of exist, the webhooks that claim listed) and
// found got of each webhook: a webhook that gave fewer than its room is
// clean, unless dirtied since begin; one that gave its room, or that a
// whole claim did not query, is dirty.
//
// limit is the claim's limit: a claim that found that many may have
// stopped before some webhooks' queries, which stay dirty.
func (h *pgHandoff) queried(exist map[int64]bool, queries []share, got map[int64]int, limit int, whole bool, begin uint64, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	found := 0
	for _, n := range got {
		found += n
	}
	drained := make(map[int64]bool, len(queries))
	for _, s := range queries {
		w := s.hook.ID
		if found < limit && got[w] < min(s.room, limit) {
			drained[w] = true
			if seq, ok := h.dirty[w]; ok && seq <= begin {
				delete(h.dirty, w)
			}
		} else if _, ok := h.dirty[w]; !ok {
			h.dirty[w] = begin
		}
	}
	if !whole {
		return
	}
	for w := range exist {
		if _, ok := h.dirty[w]; !ok && !drained[w] {
			h.dirty[w] = begin
		}
	}
	for w, seq := range h.dirty {
		if !exist[w] && seq <= begin {
			delete(h.dirty, w) // deleted
		}
	}
	if h.all && h.allSeq <= begin {
		h.all = false
	}
	h.checkedAt = now
	// A retry due by now was seen by the claim if it was recorded
	// before the claim began; one recorded meanwhile, maybe not.
	h.dues = slices.DeleteFunc(h.dues, func(d due) bool { return !d.at.After(now) && d.seq <= begin })
}
