package store

import (
	"context"
	"crypto/rand"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
)

// HandoffTaker is this process's delivery engine on PostgreSQL as the
// group committer sees it (internal/queue). A fan-out in a group commit
// batch leases the new deliveries the taker will send to this process
// already at insert, and hands them to it when the batch commits: the
// engine then needs no claim query for them, and no other instance can
// claim them, as if this process had claimed them. Which deliveries it
// leases so is the taker's to say (LeaseAtInsert); the rest wait in the
// database for a claim by any instance, whom the fan-out NOTIFYs.
//
// The group committer calls it from its one goroutine.
type HandoffTaker interface {
	// Lease says whether the taker takes new deliveries now (false: the
	// engine does not run, or holds as many as it will) and, if so, how
	// a fan-out leases them to it.
	Lease(now time.Time) (LeaseAtInsert, bool)
	// Take hands over deliveries leased at insert, once their batch has
	// committed, before any of its callers hears so. requeued are the
	// webhooks the batch made deliveries due again of (Redeliver, Replay):
	// their handoffs, these and earlier ones, may no longer head their
	// queues, so the taker must not send them (OnNotify's "r:" says the
	// same to every instance).
	Take(ds []Handed, requeued []int64)
}

// LeaseAtInsert is how a fan-out leases the deliveries it inserts to this
// process (HandoffTaker.Lease).
type LeaseAtInsert struct {
	// Until is when the leases run out (Handed.LeaseUntil).
	Until time.Time
	// Column returns the SQL expression of a new delivery's lease_until:
	// Until in microseconds for a delivery the taker takes, 0 for the
	// rest. webhookID and subject are the SQL of the delivery's webhook id
	// and subject. It returns the parameters its SQL adds, numbered from
	// next on.
	Column func(webhookID, subject string, next int) (sql string, args []any)
}

// Handed is a delivery leased to this process at insert (HandoffTaker).
type Handed struct {
	ID, WebhookID int64
	// Event is the delivery's event as stored, shared by the deliveries
	// of one fan-out: read it, never change it.
	Event *herald.Event
	// LeaseUntil is when its lease in the database runs out.
	LeaseUntil time.Time
}

// handoffs holds what SetHandoffTaker and OnNotify registered, and the
// payload of this process's notifications that webhooks changed.
type handoffs struct {
	taker    atomic.Pointer[HandoffTaker]
	onNotify atomic.Pointer[func(string)]
	// webhooksPayload is WebhooksChanged and this process's own random
	// suffix: its listener passes over its own, heard at the commit.
	webhooksPayload string
}

// SetHandoffTaker makes the group committer lease new deliveries to t at
// insert and hand them to it after their commit (PostgreSQL; SQLite's
// queue hears of commits through Observe instead).
func (db *DB) SetHandoffTaker(t HandoffTaker) { db.handoffs.taker.Store(&t) }

// handoffTaker returns the registered HandoffTaker, or nil.
func (db *DB) handoffTaker() HandoffTaker {
	if p := db.handoffs.taker.Load(); p != nil {
		return *p
	}
	return nil
}

// OnNotify makes f hear, on PostgreSQL, the payload of every notification
// of queued deliveries this process receives from any instance (this one
// included, at its commit), before Wakeups is signalled: the webhooks
// whose new deliveries wait in the database to be claimed, as decimal ids
// joined by commas; the same after "r:" for webhooks whose deliveries
// were made due again (Redeliver, Replay: a handoff of theirs may no
// longer be the head of its queue), "r:" alone for any webhook;
// WebhooksChanged after a change of webhooks; or "" when any webhook may
// have some (and the webhooks may have changed: this process was not
// listening).
func (db *DB) OnNotify(f func(payload string)) { db.handoffs.onNotify.Store(&f) }

// WebhooksChanged begins the payload of the notification sent at the
// commit of a transaction that created, changed or deleted a webhook
// (PostgreSQL): every instance reads the webhook list again, and any
// webhook may have deliveries to claim (one enabled again). What follows
// it tells instances apart.
const WebhooksChanged = "w:"

// newWebhooksPayload returns a process's payload for WebhooksChanged
// (handoffs.webhooksPayload).
func newWebhooksPayload() string { return WebhooksChanged + strings.ToLower(rand.Text()[:12]) }

// notifyWebhooksStmt is the notification that webhooks changed. The
// payload is letters and digits: safe to write into the statement.
func (db *DB) notifyWebhooksStmt() string {
	return `SELECT pg_notify('` + notifyChan + `', '` + db.handoffs.webhooksPayload + `')`
}

// webhooksCommitted tells this process at once that its commit changed
// webhooks (its listener passes over its own notification) and wakes
// the engine, as that notification would. PostgreSQL only.
func (db *DB) webhooksCommitted() {
	db.notified(db.handoffs.webhooksPayload)
	db.Wake()
}

// notify sends, in q (tx's transaction or connection), the notifications
// of what tx queued and changed (PostgreSQL; nothing on SQLite).
func (db *DB) notify(ctx context.Context, q querier, tx *Tx) error {
	if !db.dialect.notifies {
		return nil
	}
	var stmts []string
	if tx.wake {
		stmts = append(stmts, notifyStmt(tx.requeues))
	}
	if tx.webhooksChanged {
		stmts = append(stmts, db.notifyWebhooksStmt())
	}
	for _, s := range stmts {
		if _, err := q.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// committed tells this process of what tx, outside the group committer,
// changed (the webhook list) and, if ok (it committed), queued (the
// engine is woken). A change of webhooks is told even when the commit
// failed, for it may have happened all the same, and this process's
// listener passes over its own notification.
func (db *DB) committed(tx *Tx, ok bool) {
	if tx.webhooksChanged && db.dialect.notifies {
		db.webhooksCommitted()
	}
	if ok && tx.wake {
		db.queuedCommitted(tx.requeues)
	}
}

// notified passes a notification's payload to OnNotify's function, if any.
func (db *DB) notified(payload string) {
	if p := db.handoffs.onNotify.Load(); p != nil {
		(*p)(payload)
	}
}

// NotifyChannel is the channel of PostgreSQL's notifications of queued
// deliveries (OnNotify has their payloads): a queue that releases leases
// tells other instances on it.
const NotifyChannel = notifyChan

// maxNotifyIDs is the longest list of ids a notification names:
// PostgreSQL refuses a payload of 8,000 bytes or more. A longer one is
// sent as none: any webhook.
const maxNotifyIDs = 7900

// NotifyIDs returns the SQL expression of a notification's payload that
// names the webhooks of list, an SQL expression of ids joined by commas:
// list, or "" (any webhook) if it is too long for a payload.
func NotifyIDs(list string) string {
	return `CASE WHEN length(` + list + `) > ` + strconv.Itoa(maxNotifyIDs) + ` THEN '' ELSE ` + list + ` END`
}

// notifyPayload is the payload of a notification after a change that
// queued deliveries other than by a fan-out: "r:" and the webhooks it
// requeued, if any ("r:" alone, for any webhook, if they are too many to
// name), else "" (OnNotify).
func notifyPayload(requeues []int64) string {
	if len(requeues) == 0 {
		return ""
	}
	ids := make([]string, len(requeues))
	for i, id := range requeues {
		ids[i] = strconv.FormatInt(id, 10)
	}
	list := strings.Join(ids, ",")
	if len(list) > maxNotifyIDs {
		list = ""
	}
	return "r:" + list
}

// notifyStmt is the NOTIFY of such a change (PostgreSQL). The payload is
// digits, commas and "r:" only: safe to write into the statement.
func notifyStmt(requeues []int64) string {
	return `SELECT pg_notify('` + notifyChan + `', '` + notifyPayload(requeues) + `')`
}
