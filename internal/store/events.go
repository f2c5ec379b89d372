package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald"
)

// AppendEvent records ev in the transaction and sets its Seq, ID and
// OccurredAt, and queues a delivery for every enabled webhook whose
// trigger matches. In a group commit batch on PostgreSQL the Seq is set
// later, before the commit (appendAndFanOut). Because it runs in the
// caller's transaction, the event and its deliveries exist if and only
// if the change commits.
func (tx *Tx) AppendEvent(ctx context.Context, ev *herald.Event) error {
	args := tx.eventRow(ev)
	// As fanOut decides: a targeted event (herald.Targeted) is never
	// fanned out.
	if tx.batch != nil && tx.observer == nil && !herald.Targeted(ev.Type) {
		return tx.appendAndFanOut(ev, args)
	}
	if err := tx.insertEventRow(ctx, ev, args); err != nil {
		return err
	}
	return tx.fanOut(ctx, ev)
}

// eventRow stamps ev as it is stored (its ID, its OccurredAt to the
// microsecond, the system as actor when it has none) and returns the
// parameters of insertEvent. As stored: an envelope rendered from the
// event now must be the one rendered from the row later.
func (tx *Tx) eventRow(ev *herald.Event) []any {
	ev.ID = newEventID(tx.Now)
	ev.OccurredAt = fromMicros(micros(tx.Now))
	if ev.Actor.Type == "" {
		ev.Actor.Type = herald.ActorSystem
	}
	var previous any // NULL
	if len(ev.Previous) > 0 {
		previous = string(ev.Previous)
	}
	return []any{ev.ID, ev.Type, ev.Subject, herald.MarshalActor(ev.Actor), actorSearch(ev.Actor), string(ev.Payload), micros(ev.OccurredAt), previous}
}

// insertEventRow inserts ev with eventRow's parameters and sets its Seq.
func (tx *Tx) insertEventRow(ctx context.Context, ev *herald.Event, args []any) error {
	seq, err := tx.insertReturning(ctx, "seq", insertEvent, args...)
	if err != nil {
		return err
	}
	ev.Seq = seq
	return nil
}

const insertEvent = `INSERT INTO events (id, type, subject, actor, actor_keys, payload, occurred_at, previous) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

// appendAndFanOut inserts the event and its deliveries (fanOut) in one
// statement, in a group commit batch on PostgreSQL (writebatch.go): each
// statement is a round trip, taken while every other instance's changes
// wait for the turn. Nothing the change does next needs its result, so
// it is deferred to the batch's next round trip, and ev.Seq is set then,
// before the commit. The deliveries this process's engine takes are
// leased to it at insert, and handed to it after the commit
// (HandoffTaker); for the others the statement NOTIFYs every instance
// itself, naming their webhooks.
func (tx *Tx) appendAndFanOut(ev *herald.Event, args []any) error {
	insert, lease := fanOutInsert, (*LeaseAtInsert)(nil)
	if taker := tx.db.handoffTaker(); taker != nil {
		if l, ok := taker.Lease(tx.Now); ok {
			insert, lease = fanOutLeasedInsert, &l
		}
	}
	sel, args := tx.fanOutSelect(ev, "(SELECT seq FROM e)", args, lease)
	// Nothing is sorted: d holds its rows in the order they were
	// inserted, which is the order of their ids, and both lists of the
	// handed deliveries come from one scan of it; a fan-out makes one
	// delivery per webhook, so the webhooks to NOTIFY are distinct. Each
	// ORDER BY or DISTINCT was a sort set up for every change.
	query := `WITH e AS (` + insertEvent + ` RETURNING seq),
		d AS (` + insert + sel + ` RETURNING id, webhook_id, lease_until),
		w AS (SELECT string_agg(webhook_id::text, ',') AS ids FROM d WHERE lease_until = 0),
		n AS (SELECT pg_notify('` + notifyChan + `', ` + NotifyIDs("w.ids") + `) FROM w WHERE w.ids IS NOT NULL)
		SELECT (SELECT seq FROM e), (SELECT count(*) FROM d), (SELECT count(*) FROM n), (SELECT coalesce(max(ids), '') FROM w),
			h.ids, h.hooks
		FROM (SELECT array_agg(id) AS ids, array_agg(webhook_id) AS hooks FROM d WHERE lease_until > 0) AS h`
	wb, change := tx.batch, tx.change
	return tx.deferStmt(query, args, func(row pgx.Row) error {
		var queued, notified int64 // n runs only if read
		var unleased string
		var ids, hooks []int64
		if err := row.Scan(&ev.Seq, &queued, &notified, &unleased, &ids, &hooks); err != nil {
			if tx.dialect.isUniqueViolation(err) {
				return herald.Errorf(herald.ECONFLICT, "already exists")
			}
			return err
		}
		wb.wake = wb.wake || queued > 0
		if unleased != "" {
			wb.unleased[change] = append(wb.unleased[change], unleased)
		}
		if len(ids) > 0 && len(ids) == len(hooks) {
			stored := *ev // as it is now: the caller's may change after the commit
			for i, id := range ids {
				wb.handed[change] = append(wb.handed[change], Handed{ID: id, WebhookID: hooks[i], Event: &stored, LeaseUntil: lease.Until})
			}
		}
		return nil
	})
}

// actorSearch is an event's actor as the events page's search reads it
// (column actor_keys): its keys joined by spaces, "system" for none.
func actorSearch(a herald.Actor) string {
	if keys := a.Keys(); len(keys) > 0 {
		return strings.Join(keys, " ")
	}
	return herald.ActorSystem
}

// newEventID returns "evt_", the time in fixed-width base 36 and 80 random
// bits. Ids of later events sort later, so the unique index on them grows
// at its end instead of touching a random page for every event.
func newEventID(now time.Time) string { return NewEventID(now) }

// NewEventID returns a new event id for an event of time now.
func NewEventID(now time.Time) string {
	t := strings.ToUpper(strconv.FormatInt(now.UnixMicro(), 36))
	return "evt_" + strings.Repeat("0", max(11-len(t), 0)) + t + rand.Text()[:16]
}

// ListEvents returns up to limit events with seq greater than after, in
// commit order. The audit log's events (audit_entry) are left out: the
// feed is the directory's changes, and the log has its own list
// (ListAudit).
func (tx *Tx) ListEvents(ctx context.Context, after int64, limit int) ([]herald.Event, error) {
	rows, err := tx.query(ctx, `SELECT `+eventColumns+` FROM events
		WHERE seq > $1 AND type NOT IN `+hiddenTypes+` ORDER BY seq LIMIT $2`, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanEvents(rows)
}

// hiddenTypes are the event types no event list shows, as an SQL list:
// the audit log's entries (ListAudit lists them) and the events meant for
// one webhook alone (herald.Targeted), which are no change of the
// directory.
const hiddenTypes = `('` + herald.EventAuditEntry + `', '` + herald.EventWebhookTest + `', '` +
	herald.EventSCIMSync + `', '` + herald.EventSCIMRemove + `')`

// eventColumns are what ScanEvent reads, of table events (as e, if the
// query names it so).
const eventColumns = `seq, id, type, subject, actor, payload, occurred_at, previous`

// EventColumns are eventColumns of events e, for the queue's claims.
const EventColumns = `e.seq, e.id, e.type, e.subject, e.actor, e.payload, e.occurred_at, e.previous`

// ScanEvent reads an event's EventColumns, with extra destinations first.
func ScanEvent(row interface{ Scan(...any) error }, ev *herald.Event, extra ...any) error {
	var payload, actor string
	var previous sql.NullString
	var at int64
	if err := row.Scan(append(extra, &ev.Seq, &ev.ID, &ev.Type, &ev.Subject, &actor, &payload, &at, &previous)...); err != nil {
		return err
	}
	ev.Actor = herald.UnmarshalActor(actor)
	ev.Payload, ev.OccurredAt = []byte(payload), fromMicros(at)
	ev.Previous = nil
	if previous.Valid {
		ev.Previous = []byte(previous.String)
	}
	return nil
}

func scanEvents(rows *sql.Rows) ([]herald.Event, error) {
	events := []herald.Event{}
	for rows.Next() {
		var ev herald.Event
		if err := ScanEvent(rows, &ev); err != nil {
			return nil, err
		}
		events = append(events, ev)
	}
	return events, rows.Err()
}

// ListEventsBefore returns up to limit events with seq below before (0 for
// the newest), newest first; like ListEvents, without audit_entry.
func (tx *Tx) ListEventsBefore(ctx context.Context, before int64, limit int) ([]herald.Event, error) {
	if before <= 0 {
		before = 1 << 62
	}
	rows, err := tx.query(ctx, `SELECT `+eventColumns+` FROM events
		WHERE seq < $1 AND type NOT IN `+hiddenTypes+` ORDER BY seq DESC LIMIT $2`, before, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanEvents(rows)
}

// FindEvents returns up to limit events with seq below before (0 for the
// newest), newest first, whose type, subject and actor (its keys, as
// "api_token:7 user:jdoe", or "system") contain every word of q
// (searchWords; all for ""), and how many match in all (before aside). Test sends
// and audit entries are left out, as from every event list. Returns
// EINVALID (q) for a search too long (searchWords).
func (tx *Tx) FindEvents(ctx context.Context, q string, before int64, limit int) ([]herald.Event, int, error) {
	where := ` FROM events WHERE type NOT IN ` + hiddenTypes
	cond, args, err := tx.searchWords(`type || ' ' || subject || ' ' || actor_keys`, q, nil)
	if err != nil {
		return nil, 0, err
	}
	where += cond
	var total int
	if err := tx.queryRow(ctx, `SELECT count(*)`+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	if before > 0 {
		args = append(args, before)
		where += ` AND seq < $` + strconv.Itoa(len(args))
	}
	args = append(args, limit)
	rows, err := tx.query(ctx, `SELECT `+eventColumns+where+` ORDER BY seq DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	events, err := scanEvents(rows)
	return events, total, err
}
