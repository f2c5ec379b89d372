package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

// webhookMatches is the SQL condition (on table webhooks, with the event
// type as the LIKE pattern in parameter $n) for "this webhook wants events
// of type typ".
func webhookMatches(typ string, n int) (string, any) {
	et, _ := herald.LookupEventType(typ)
	if et.Trigger != "" {
		return et.Trigger, nil // the column is named as the trigger
	}
	if et.Subscription == "" {
		return "FALSE", nil
	}
	return fmt.Sprintf("events LIKE $%d", n), "%," + et.Subscription + ",%"
}

// fanOut queues ev for every enabled webhook that wants it, in the event's
// own transaction: if the change commits, so do its deliveries. The
// webhooks' filters (ignore_actors, only_groups) are decided in the same
// statement: no query per webhook.
func (tx *Tx) fanOut(ctx context.Context, ev *herald.Event) error {
	if herald.Targeted(ev.Type) {
		return nil
	}
	sel, args := tx.fanOutSelect(ev, "CAST($1 AS BIGINT)", []any{ev.Seq}, nil)
	return tx.queueDeliveries(ctx, ev, fanOutInsert+sel, args)
}

// queueDeliveries runs insert, an INSERT of ev's deliveries, and tells
// the queue: its observer which deliveries (SQLite's handoffs), or the
// engine that some were queued (the wake-up after commit).
func (tx *Tx) queueDeliveries(ctx context.Context, ev *herald.Event, insert string, args []any) error {
	if tx.observer != nil {
		return tx.fanOutObserved(ctx, ev, insert+` RETURNING id, webhook_id`, args)
	}
	res, err := tx.exec(ctx, insert, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		tx.wake = true
	}
	return nil
}

// fanOutInsert, followed by fanOutSelect's SELECT, is the fan-out;
// fanOutLeasedInsert is it with a lease (leaseAtInsert).
const (
	fanOutInsert       = `INSERT INTO deliveries (event_seq, webhook_id, subject, state, next_attempt_at, created_at) `
	fanOutLeasedInsert = `INSERT INTO deliveries (event_seq, webhook_id, subject, state, next_attempt_at, created_at, lease_until) `
)

// fanOutSelect returns the SELECT of fanOut's insert, one row for each
// enabled webhook that wants ev, whose seq is seqSQL, and args with the
// parameters it needs appended. With a lease (PostgreSQL's handoff), the
// SELECT has a seventh column, for lease_until (fanOutLeasedInsert).
func (tx *Tx) fanOutSelect(ev *herald.Event, seqSQL string, args []any, lease *LeaseAtInsert) (string, []any) {
	args = append(args, ev.Subject, micros(tx.Now))
	subject, now := len(args)-1, len(args)
	cond, arg := webhookMatches(ev.Type, len(args)+1)
	if arg != nil {
		args = append(args, arg)
	}
	cond, args = tx.filterConditions(ev, cond, args)
	leaseCol := ""
	if lease != nil {
		col, extra := lease.Column("webhooks.id", fmt.Sprintf("CAST($%d AS TEXT)", subject), len(args)+1)
		args = append(args, extra...)
		leaseCol = ", " + col
	}
	return fmt.Sprintf(`SELECT %s, id, CAST($%d AS TEXT), 'pending', CAST($%d AS BIGINT), CAST($%d AS BIGINT)%s
		FROM webhooks WHERE enabled AND `, seqSQL, subject, now, now, leaseCol) + cond, args
}

// replayed returns the seqs of the events query finds that pass w's
// filters (herald.Webhook.Passes).
func (tx *Tx) replayed(ctx context.Context, w herald.Webhook, query string, args []any) ([]string, error) {
	rows, err := tx.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	seqs := []string{}
	for rows.Next() {
		var ev herald.Event
		if err := ScanEvent(rows, &ev); err != nil {
			return nil, err
		}
		if w.Passes(ev) {
			seqs = append(seqs, strconv.FormatInt(ev.Seq, 10))
		}
	}
	return seqs, rows.Err()
}

// filterConditions adds to cond (on table webhooks) that the event's actor
// is not among a webhook's ignore_actors and, for user and group events,
// that one of the event's groups is among its only_groups, if it has any.
// Actors and group names are stored as ",a,b," (joinEvents): looking for
// ",a," cannot match a part of a name.
func (tx *Tx) filterConditions(ev *herald.Event, cond string, args []any) (string, []any) {
	strpos := tx.dialect.strpos
	for _, key := range ev.Actor.Keys() {
		args = append(args, ","+key+",")
		cond += fmt.Sprintf(" AND %s(ignore_actors, CAST($%d AS TEXT)) = 0", strpos, len(args))
	}
	if groups := ev.FilterGroups(); groups != nil {
		list, _ := json.Marshal(groups) // strings: cannot fail
		args = append(args, string(list))
		cond += fmt.Sprintf(" AND (only_groups = ',' OR EXISTS (SELECT 1 FROM %s WHERE %s(only_groups, ',' || value || ',') > 0))",
			fmt.Sprintf(tx.dialect.jsonTexts, fmt.Sprintf("$%d", len(args))), strpos)
	}
	return cond, args
}

// fanOutObserved runs fanOut's insert when a queue observer listens, and
// tells it which deliveries the insert made.
func (tx *Tx) fanOutObserved(ctx context.Context, ev *herald.Event, insert string, args []any) error {
	rows, err := tx.query(ctx, insert, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var ds []QueuedDelivery
	for rows.Next() {
		var d QueuedDelivery
		if err := rows.Scan(&d.ID, &d.WebhookID); err != nil {
			return err
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil || len(ds) == 0 {
		return err
	}
	tx.wake = true
	tx.observer.Queued(ev, ds)
	return nil
}

// requeued tells the queue observer, if any, that the transaction made
// deliveries of webhook due other than by a fan-out.
func (tx *Tx) requeued(webhook int64) {
	tx.requeues = append(tx.requeues, webhook)
	if tx.observer != nil {
		tx.observer.Requeued(webhook)
	}
}

const deliveryColumns = `d.id, e.type, e.id, d.subject, d.state, d.attempts, d.next_attempt_at, d.last_status, d.last_error, d.created_at, d.completed_at`

func scanDelivery(row interface{ Scan(...any) error }, extra ...any) (herald.Delivery, error) {
	var d herald.Delivery
	var next, created, completed int64
	dest := append([]any{&d.ID, &d.Event, &d.EventID, &d.Subject, &d.Status, &d.Attempts, &next, &d.LastStatusCode, &d.LastError, &created, &completed}, extra...)
	err := row.Scan(dest...)
	d.CreatedAt = fromMicros(created)
	if d.Status == herald.DeliveryPending || d.Status == herald.DeliveryRetrying {
		t := fromMicros(next)
		d.NextAttemptAt = &t
	}
	if completed > 0 {
		t := fromMicros(completed)
		d.CompletedAt = &t
	}
	return d, err
}

// ListDeliveries returns a webhook's deliveries, newest first: at most
// limit, with id below before (0 for no bound), in the given status ("" for
// any).
func (tx *Tx) ListDeliveries(ctx context.Context, webhookID int64, status string, before int64, limit int) ([]herald.Delivery, error) {
	query := `SELECT ` + deliveryColumns + ` FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.webhook_id = $1`
	args := []any{webhookID}
	if before > 0 {
		args = append(args, before)
		query += ` AND d.id < $` + strconv.Itoa(len(args))
	}
	if status != "" {
		args = append(args, status)
		query += ` AND d.state = $` + strconv.Itoa(len(args))
	}
	args = append(args, limit)
	query += ` ORDER BY d.id DESC LIMIT $` + strconv.Itoa(len(args))
	rows, err := tx.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []herald.Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeliveryByID returns one delivery of a webhook with the event's payload.
// Returns ENOTFOUND if the webhook has no such delivery.
func (tx *Tx) DeliveryByID(ctx context.Context, webhookID, id int64) (herald.Delivery, herald.Event, error) {
	var ev herald.Event
	var d herald.Delivery
	err := ScanEvent(rowFunc(func(dest ...any) error {
		var err error
		d, err = scanDelivery(tx.queryRow(ctx, `SELECT `+deliveryColumns+`, `+EventColumns+` FROM deliveries d JOIN events e ON e.seq = d.event_seq
			WHERE d.webhook_id = $1 AND d.id = $2`, webhookID, id), dest...)
		return err
	}), &ev)
	if errors.Is(err, sql.ErrNoRows) {
		return d, ev, herald.Errorf(herald.ENOTFOUND, "webhook %d has no delivery %d", webhookID, id)
	}
	return d, ev, err
}

// rowFunc is a Scan method.
type rowFunc func(dest ...any) error

func (f rowFunc) Scan(dest ...any) error { return f(dest...) }

// Attempts returns every attempt of a delivery, first first.
func (tx *Tx) Attempts(ctx context.Context, deliveryID int64) ([]herald.Attempt, error) {
	rows, err := tx.query(ctx, `SELECT n, started_at, duration_ms, status_code, response_body, error
		FROM attempts WHERE delivery_id = $1 ORDER BY n`, deliveryID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []herald.Attempt{}
	for rows.Next() {
		var a herald.Attempt
		var started int64
		if err := rows.Scan(&a.N, &started, &a.DurationMS, &a.StatusCode, &a.ResponseBody, &a.Error); err != nil {
			return nil, err
		}
		a.StartedAt = fromMicros(started)
		out = append(out, a)
	}
	return out, rows.Err()
}

// Redeliver queues a delivery again, now, with a fresh retry schedule.
// Returns ENOTFOUND, or ECONFLICT while it is being sent.
func (tx *Tx) Redeliver(ctx context.Context, webhookID, id int64) error {
	var lease int64
	err := tx.queryRow(ctx, `SELECT lease_until FROM deliveries WHERE webhook_id = $1 AND id = $2`, webhookID, id).Scan(&lease)
	if errors.Is(err, sql.ErrNoRows) {
		return herald.Errorf(herald.ENOTFOUND, "webhook %d has no delivery %d", webhookID, id)
	}
	if err != nil {
		return err
	}
	if lease > micros(tx.Now) || (tx.observer != nil && tx.observer.Leased(id)) {
		return herald.Errorf(herald.ECONFLICT, "delivery %d is being sent right now; try again when it finishes", id)
	}
	_, err = tx.exec(ctx, `UPDATE deliveries SET state = 'pending', round_attempts = 0, next_attempt_at = $1, completed_at = 0
		WHERE id = $2`, micros(tx.Now), id)
	tx.wake = true
	tx.requeued(webhookID)
	return err
}

// Replay queues, for one webhook, a new delivery of every event since
// since that the webhook's triggers match now, in event order, and returns
// how many. Audit entries the log has pruned are not sent again.
func (tx *Tx) Replay(ctx context.Context, webhookID int64, since time.Time) (int, error) {
	w, err := tx.WebhookByID(ctx, webhookID)
	if err != nil {
		return 0, err
	}
	var types []string
	for _, et := range herald.EventTypes {
		if w.Wants(et.Name) {
			types = append(types, et.Name)
		}
	}
	if len(types) == 0 {
		return 0, nil
	}
	args := []any{webhookID, micros(tx.Now), micros(since)}
	var marks []string
	for _, t := range types {
		args = append(args, t)
		marks = append(marks, "$"+strconv.Itoa(len(args)))
	}
	where := `occurred_at >= $3 AND type IN (` + strings.Join(marks, ", ") + `)`
	if len(w.IgnoreActors) > 0 || len(w.OnlyGroups) > 0 {
		// The filters, as fan-out applied them, decided here event by
		// event: a replay is rare, and reads the events once.
		var own []string // the same condition, numbered for the select's own parameters
		for i := range types {
			own = append(own, "$"+strconv.Itoa(i+2))
		}
		seqs, err := tx.replayed(ctx, w, `SELECT `+eventColumns+` FROM events WHERE occurred_at >= $1 AND type IN (`+
			strings.Join(own, ", ")+`) ORDER BY seq`, args[2:])
		if err != nil {
			return 0, err
		}
		list, _ := json.Marshal(seqs)
		args = []any{webhookID, micros(tx.Now), string(list)}
		where = `seq IN (SELECT CAST(value AS BIGINT) FROM ` + fmt.Sprintf(tx.dialect.jsonTexts, "$3") + `)`
	}
	res, err := tx.exec(ctx, `INSERT INTO deliveries (event_seq, webhook_id, subject, state, next_attempt_at, created_at)
		SELECT seq, CAST($1 AS BIGINT), subject, 'pending', CAST($2 AS BIGINT), CAST($2 AS BIGINT)
		FROM events WHERE `+where+` AND `+notPrunedAudit+` ORDER BY seq`, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if n > 0 {
		tx.wake = true
		tx.requeued(webhookID)
	}
	return int(n), err
}

// RecordTestSend logs a test send to a webhook: ev (a webhook_test event,
// with its ID set; no webhook is sent it again) and a completed delivery of
// it with its one attempt, succeeded for a 2xx answer and failed otherwise.
// Returns ENOTFOUND if the webhook is gone.
func (tx *Tx) RecordTestSend(ctx context.Context, webhookID int64, ev herald.Event, a herald.Attempt) error {
	if _, err := tx.WebhookByID(ctx, webhookID); err != nil {
		return err
	}
	seq, err := tx.insertReturning(ctx, "seq", `INSERT INTO events (id, type, subject, actor, payload, occurred_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		ev.ID, herald.EventWebhookTest, ev.Subject, herald.MarshalActor(ev.Actor), string(ev.Payload), micros(a.StartedAt))
	if err != nil {
		return err
	}
	state := herald.DeliveryFailed
	if herald.Succeeded(a.StatusCode) {
		state = herald.DeliverySucceeded
	}
	done := a.StartedAt.Add(time.Duration(a.DurationMS) * time.Millisecond)
	id, err := tx.insertReturning(ctx, "id", `INSERT INTO deliveries (event_seq, webhook_id, subject, state, attempts, round_attempts,
		next_attempt_at, last_status, last_error, created_at, completed_at) VALUES ($1, $2, $3, $4, 1, 1, 0, $5, $6, $7, $8)`,
		seq, webhookID, ev.Subject, state, a.StatusCode, a.Error, micros(a.StartedAt), micros(done))
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, `INSERT INTO attempts (delivery_id, n, started_at, duration_ms, status_code, response_body, error)
		VALUES ($1, 1, $2, $3, $4, $5, $6)`, id, micros(a.StartedAt), a.DurationMS, a.StatusCode, a.ResponseBody, a.Error)
	return err
}

// DeliveryFilter picks deliveries of one webhook for FindDeliveries.
type DeliveryFilter struct {
	Status string // "" for any
	Event  string // the event type, "" for any
	// Q is words that must all appear in the delivery's subject or event
	// id, without regard to case ("" for any).
	Q      string
	Before int64 // ids below this one (0: from the newest)
	Limit  int
}

// FindDeliveries returns a webhook's deliveries that pass f, newest first,
// and how many pass it in all (Before aside). Returns EINVALID (q) for a
// search too long (searchWords).
func (tx *Tx) FindDeliveries(ctx context.Context, webhookID int64, f DeliveryFilter) ([]herald.Delivery, int, error) {
	where := ` FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.webhook_id = $1`
	args := []any{webhookID}
	if f.Status != "" {
		args = append(args, f.Status)
		where += ` AND d.state = $` + strconv.Itoa(len(args))
	}
	if f.Event != "" {
		args = append(args, f.Event)
		where += ` AND e.type = $` + strconv.Itoa(len(args))
	}
	cond, args, err := tx.searchWords(`d.subject || ' ' || e.id`, f.Q, args)
	if err != nil {
		return nil, 0, err
	}
	where += cond
	var total int
	if err := tx.queryRow(ctx, `SELECT count(*)`+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	if f.Before > 0 {
		args = append(args, f.Before)
		where += ` AND d.id < $` + strconv.Itoa(len(args))
	}
	args = append(args, f.Limit)
	rows, err := tx.query(ctx, `SELECT `+deliveryColumns+where+` ORDER BY d.id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []herald.Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, d)
	}
	return out, total, rows.Err()
}
