package queue

import (
	"context"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// The webhook list of PostgreSQL claims. A claim needs every webhook (to
// plan, and to hand each delivery its webhook), and most claims only take
// handoffs from memory: reading the list was their one statement, a round
// trip before a change's first delivery could go. So the list is kept
// and read again only when it may be out of date:
//
//   - a webhook was created, changed or deleted: the commit's
//     notification (store.WebhooksChanged) reaches every instance, and this
//     one hears of its own commits at once, before their handoffs;
//   - a notification names no webhook (among other causes, this process
//     was not listening, and may have missed one);
//   - a handoff waits for a webhook the list does not hold (created by
//     another instance, whose notification has not arrived yet): read
//     after the handoff came, the list decides whether the webhook still
//     exists;
//   - at every claim that looks at every webhook (at least every
//     pgRecheck): a notification lost anyway costs at most that long.
//
// Until another instance's notification arrives (milliseconds; up to a
// second while this process's listener reconnects, or if the change was
// made where none is sent: by hand in SQL, by an older version), a
// delivery may go to a webhook as it was before that instance changed it,
// as it could before between a claim's read of the list and its request.
// A claim that looks at every webhook with a list read before webhooks
// changed does not count as one (postgresQueue.claim): the next reads
// the list again and looks at every webhook with it.
type pgWebhooks struct {
	mu sync.Mutex
	// hooks and exist (their ids) were read at version (pgHandoff's
	// webhooksVersion); exist is nil until the first read.
	hooks   []herald.Webhook
	exist   map[int64]bool
	version uint64
}

// webhooks returns the list for a claim at now (tx's clock), its ids, and
// the version it was read at, read again if it may be out of date (see
// above). takes is the count of handoffs the claim read before
// (pgHandoff.listed). A read is cut short at deadline.
func (q *postgresQueue) webhooks(ctx context.Context, tx *store.Tx, takes uint64, now, deadline time.Time) ([]herald.Webhook, map[int64]bool, uint64, error) {
	w := &q.hooks
	w.mu.Lock()
	defer w.mu.Unlock()
	version, current := q.handoff.listCurrent(w.exist, w.version, takes, now)
	if w.exist != nil && current {
		return w.hooks, w.exist, w.version, nil
	}
	// The version is read before the list: a change committed meanwhile
	// makes the next claim read it again.
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	hooks, err := tx.ListWebhooks(ctx)
	if err != nil {
		return nil, nil, 0, err
	}
	exist := make(map[int64]bool, len(hooks))
	for _, h := range hooks {
		exist[h.ID] = true
	}
	w.hooks, w.exist, w.version = hooks, exist, version
	return hooks, exist, version, nil
}
