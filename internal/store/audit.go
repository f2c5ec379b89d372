package store

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/heraldhq/herald"
)

// AppendAudit records e in the audit log, in the caller's transaction (so
// with what it records), and sets its ID and At. It also appends the
// audit_entry event, with e as its body, for webhooks subscribed to
// "audit": the entry and its deliveries exist if and only if it commits.
func (tx *Tx) AppendAudit(ctx context.Context, e *herald.AuditEntry) error {
	if e.Actor.Type == "" {
		e.Actor.Type = herald.ActorSystem
	}
	e.At = fromMicros(micros(tx.Now))
	id, err := tx.insert(ctx, `INSERT INTO audit_log (at, action, actor, actor_keys, client, target, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		micros(e.At), e.Action, herald.MarshalActor(e.Actor), joinEvents(e.Actor.Keys()), e.Client, e.Target, e.Detail)
	if err != nil {
		return err
	}
	e.ID = id
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	// One subject: receivers get the log in its order.
	return tx.AppendEvent(ctx, &herald.Event{Type: herald.EventAuditEntry, Subject: auditSubject, Actor: e.Actor, Payload: body})
}

// auditSubject is the subject of every audit_entry event, and so of its
// deliveries: on PostgreSQL the only ones indexed by their event
// (deliveries_audit_event, migration 0019), for PruneAudit; SQLite keeps
// the index of every delivery's event, for its foreign key.
const auditSubject = "audit"

// ListAudit returns the audit entries f selects (herald.AuditFilter).
func (tx *Tx) ListAudit(ctx context.Context, f herald.AuditFilter) ([]herald.AuditEntry, error) {
	query := `SELECT id, at, action, actor, client, target, detail FROM audit_log WHERE id > $1`
	args := []any{f.After}
	order := ` ORDER BY id`
	if f.NewestFirst {
		before := f.Before
		if before <= 0 {
			before = 1 << 62
		}
		query, args, order = `SELECT id, at, action, actor, client, target, detail FROM audit_log WHERE id < $1`, []any{before}, ` ORDER BY id DESC`
	}
	cond, args, err := tx.auditMatches(f, args)
	if err != nil {
		return nil, err
	}
	query += cond
	args = append(args, f.Limit)
	rows, err := tx.query(ctx, query+order+` LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []herald.AuditEntry{}
	for rows.Next() {
		var e herald.AuditEntry
		var at int64
		var actor string
		if err := rows.Scan(&e.ID, &at, &e.Action, &actor, &e.Client, &e.Target, &e.Detail); err != nil {
			return nil, err
		}
		e.At, e.Actor = fromMicros(at), herald.UnmarshalActor(actor)
		out = append(out, e)
	}
	return out, rows.Err()
}

// CountAudit returns how many audit entries match f's Action, Actor,
// Target and Q, wherever they are in the log (After, Before and Limit do
// not count).
func (tx *Tx) CountAudit(ctx context.Context, f herald.AuditFilter) (int, error) {
	cond, args, err := tx.auditMatches(f, nil)
	if err != nil {
		return 0, err
	}
	var n int
	err = tx.queryRow(ctx, `SELECT count(*) FROM audit_log WHERE true`+cond, args...).Scan(&n)
	return n, err
}

// auditMatches returns f's Action, Actor, Target and Q as conditions to
// append to a WHERE clause (" AND ..."), with args extended by theirs.
// Returns EINVALID (q) for a search too long (searchWords).
func (tx *Tx) auditMatches(f herald.AuditFilter, args []any) (string, []any, error) {
	cond := ""
	next := func(v any) string {
		args = append(args, v)
		return `$` + strconv.Itoa(len(args))
	}
	if f.Action != "" {
		cond += ` AND action = ` + next(f.Action)
	}
	if f.Target != "" {
		cond += ` AND target = ` + next(f.Target)
	}
	if f.Actor == herald.ActorSystem {
		cond += ` AND actor_keys = ','` // the system has no keys
	} else if f.Actor != "" {
		cond += ` AND ` + tx.dialect.strpos + `(actor_keys, ` + next(","+f.Actor+",") + `) > 0`
	}
	// The system has no keys (","): it is found by its name, as the
	// events' search finds it (actorSearch).
	words, args, err := tx.searchWords(`action || ' ' || CASE WHEN actor_keys = ',' THEN 'system' ELSE actor_keys END || ' ' || client || ' ' || target || ' ' || detail`, f.Q, args)
	return cond + words, args, err
}

// PruneAudit deletes audit entries older than cutoff and returns how many.
// Their audit_entry events go too, with their finished deliveries, so a
// pruned entry is gone from every list and replay; an event still being
// delivered stays until a later prune finds it finished.
func (tx *Tx) PruneAudit(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := tx.exec(ctx, `DELETE FROM audit_log WHERE at < $1`, micros(cutoff))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	old := `SELECT seq FROM events WHERE type = '` + herald.EventAuditEntry + `' AND occurred_at < $1`
	// The deliveries' subject names the index (deliveries_audit_event).
	if _, err := tx.exec(ctx, `DELETE FROM deliveries WHERE completed_at > 0 AND subject = '`+auditSubject+`' AND event_seq IN (`+old+`)`, micros(cutoff)); err != nil {
		return 0, err
	}
	_, err = tx.exec(ctx, `DELETE FROM events WHERE seq IN (`+old+`)
		AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.subject = '`+auditSubject+`' AND d.event_seq = events.seq)`, micros(cutoff))
	return n, err
}

// notPrunedAudit is a condition on events: no audit_entry older than the
// oldest audit entry left (or any, with none left), which PruneAudit
// deleted from the log. An audit_entry event has its entry's time.
const notPrunedAudit = `(type <> '` + herald.EventAuditEntry + `' OR occurred_at >= COALESCE((SELECT min(at) FROM audit_log), ` + "9223372036854775807" + `))`
