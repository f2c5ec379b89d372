package store

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

// This file is how the delivery engine gets its work: claiming due
// deliveries in batches, from the file or, on SQLite, from handoffs
// (handoff.go).

// Claimed is a delivery handed to the engine to send.
type Claimed struct {
	ID            int64
	WebhookID     int64
	Subject       string
	Attempts      int // before this one
	RoundAttempts int // before this one, since last queued
	EventID       string
	EventType     string
	Payload       []byte
	// Webhook is the delivery's webhook as stored (secrets sealed): read
	// in the claim's transaction on PostgreSQL, as of the last webhook
	// change on SQLite (claimWebhooks).
	Webhook herald.Webhook
	// handedOff: it came from a commit's handoff, not a claim query.
	handedOff bool
}

// ClaimRequest says how much work the engine can take.
type ClaimRequest struct {
	Limit      int           // deliveries at most
	Lease      time.Duration // PostgreSQL: how long a claim holds before another instance may retake it (SQLite: until its outcome)
	PerWebhook int           // in-flight cap per webhook
	// MinRoom skips a webhook that has requests in flight but room for
	// fewer than this many more: claiming costs a query per webhook, so a
	// busy webhook is served in bulk once some of its requests finish.
	MinRoom int
	// InFlight is how many requests each webhook already has in flight;
	// Paused lists webhooks to leave alone for now (circuit breaker).
	InFlight map[int64]int
	Paused   map[int64]bool
}

// ClaimDue leases up to req.Limit due deliveries and returns them. Only the
// oldest unfinished delivery of each (webhook, subject) is due, so events
// about one subject reach a webhook in order; a failed delivery no longer
// blocks those after it. On SQLite the first claim takes the engine lock
// (LockEngine) and returns its ECONFLICT if another handle holds it.
func (db *DB) ClaimDue(ctx context.Context, req ClaimRequest) ([]Claimed, error) {
	if db.Kind() == PostgreSQL {
		var out []Claimed
		err := db.updateEngine(ctx, func(tx *Tx) error {
			// Every delivery belongs to an existing webhook (deleting
			// one deletes its deliveries), and the table is small: read
			// it whole, and hand each claim its webhook as of this
			// transaction.
			hooks, err := tx.ListWebhooks(ctx)
			if err != nil {
				return err
			}
			_, fromFile := db.planClaims(req, hooks, false)
			out, _, err = tx.claimFromFile(ctx, req, req.Limit, fromFile, nil, nil, false)
			return err
		})
		return out, err
	}
	if err := db.LockEngine(); err != nil {
		return nil, err
	}
	// Handoffs, in-memory leases and a read (handoff.go, leases.go).
	db.claimMu.Lock()
	defer db.claimMu.Unlock()
	hooks, err := db.claimWebhooks(ctx)
	if err != nil {
		return nil, err
	}
	handing := db.handoff.accepting()
	marks := db.handoff.marks()
	out, fromFile := db.planClaims(req, hooks, handing)
	if len(fromFile) > 0 {
		// Copied only now, before the read (leases.go): a claim served
		// wholly by handoffs needs no copy.
		running, held := db.leases.snapshot()
		var claimed []Claimed
		var drained []int64
		err := db.View(ctx, func(tx *Tx) error {
			var err error
			claimed, drained, err = tx.claimFromFile(ctx, req, req.Limit-len(out), fromFile, running, held, handing)
			return err
		})
		if err != nil {
			db.handoff.untakeAll(out)
			return nil, err
		}
		for _, w := range drained {
			db.handoff.cleaned(w, marks)
		}
		out = append(out, claimed...)
	}
	db.leases.take(out)
	return out, nil
}

// claimWebhooks returns every webhook for a claim on SQLite: the list is
// read again only after a webhook change commits (webhooksChanged), not at
// every claim; then the handoffs of webhooks deleted meanwhile are
// dropped. Under claimMu.
func (db *DB) claimWebhooks(ctx context.Context) ([]herald.Webhook, error) {
	version := db.webhooksChanged.Load()
	if db.claimHooks != nil && db.claimHooksVersion == version {
		return db.claimHooks, nil
	}
	var hooks []herald.Webhook
	err := db.View(ctx, func(tx *Tx) (err error) {
		hooks, err = tx.ListWebhooks(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	db.claimHooks, db.claimHooksVersion = hooks, version
	exist := make(map[int64]bool, len(hooks))
	for _, h := range hooks {
		exist[h.ID] = true
	}
	db.handoff.drop(exist)
	return hooks, nil
}

// fileClaim is a webhook to claim deliveries of from the file, and how many
// at most (its room under its cap).
type fileClaim struct {
	hook herald.Webhook
	room int
}

// planClaims goes through the webhooks, starting at a different one each
// time so that a small Limit is shared. A webhook at its cap or paused
// costs nothing. While this process's engine takes handoffs (handing), a
// clean webhook's handoffs are taken now, and it needs no query
// (handoff.go); the others are to be claimed from the file, in this order,
// with what is left of the Limit (claimFromFile).
func (db *DB) planClaims(req ClaimRequest, hooks []herald.Webhook, handing bool) (out []Claimed, fromFile []fileClaim) {
	turn := int(db.claimTurn.Add(1))
	for i := range hooks {
		hook := hooks[(i+turn)%len(hooks)]
		if req.Paused[hook.ID] {
			continue
		}
		inFlight := req.InFlight[hook.ID]
		room := req.PerWebhook - inFlight
		if handing && room > 0 {
			taken, clean := db.handoff.take(hook.ID, min(room, req.Limit-len(out)))
			for _, d := range taken {
				out = append(out, d.claimed(hook))
			}
			if clean {
				continue
			}
		}
		if room <= 0 || (inFlight > 0 && room < req.MinRoom) {
			continue
		}
		fromFile = append(fromFile, fileClaim{hook, room})
	}
	return out, fromFile
}

// claimFromFile claims the due heads of the planned webhooks, one small
// query each on the per-webhook due index, limit in all. running and held are the
// in-memory leases on SQLite (all of them, and each webhook's: the query
// skips those); on PostgreSQL claimed rows are leased in the transaction.
// While this process's engine takes handoffs (handing), drained lists the
// webhooks found to have nothing unfinished in the file but handoffs the
// engine took (handoff.go).
func (tx *Tx) claimFromFile(ctx context.Context, req ClaimRequest, limit int, fromFile []fileClaim, running map[int64]bool,
	held map[int64][]int64, handing bool) (out []Claimed, drained []int64, err error) {
	now := micros(tx.Now)
	for _, f := range fromFile {
		room := min(f.room, limit-len(out))
		if room <= 0 {
			break
		}
		claimed, err := tx.claimHeads(ctx, f.hook, now, room, held[f.hook.ID], running)
		if err != nil {
			return nil, nil, err
		}
		if tx.db.Kind() == PostgreSQL && len(claimed) > 0 {
			if _, err := tx.tx.ExecContext(ctx, `UPDATE deliveries SET lease_until = $1 WHERE id IN (`+idList(claimIDs(claimed))+`)`,
				micros(tx.Now.Add(req.Lease))); err != nil {
				return nil, nil, err
			}
		}
		out = append(out, claimed...)
		if handing && len(claimed) < room {
			// Claimed all it could: is anything unfinished left in the
			// file (retries not due, successors, these in flight) but
			// handoffs the engine took?
			var left bool
			if err := tx.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM deliveries WHERE webhook_id = CAST($1 AS BIGINT)
				AND state IN ('pending', 'retrying') AND id NOT IN (SELECT value FROM json_each($2)))`,
				f.hook.ID, "["+idList(tx.db.handoff.takenIDs(f.hook.ID))+"]").Scan(&left); err != nil {
				return nil, nil, err
			}
			if !left {
				drained = append(drained, f.hook.ID)
			}
		}
	}
	return out, drained, nil
}

// claimHeads returns up to room due heads of webhook hook's queues with
// what sending them needs, passing over those with a running lease in
// running; held are the webhook's leased ids among them (SQLite), which
// the query skips before reading their rows (leased deliveries are the
// oldest due, and under load there are several times room of them). The
// webhook id and the limit are cast: SQLite prepares a statement anew
// whenever a bare parameter its plan looked at takes another value (both
// are such; measured: a claim took twice as long when the webhook differed
// from the last one), and does not look into a cast.
func (tx *Tx) claimHeads(ctx context.Context, hook herald.Webhook, now int64, room int, held []int64, running map[int64]bool) ([]Claimed, error) {
	args := []any{hook.ID, now, room}
	skipHeld := ""
	if len(held) > 0 {
		skipHeld = ` AND d.id NOT IN (SELECT value FROM json_each($4))`
		args = append(args, "["+idList(held)+"]")
	}
	rows, err := tx.query(ctx, `SELECT d.id, d.subject, d.attempts, d.round_attempts, e.id, e.type, e.payload
		FROM deliveries d JOIN events e ON e.seq = d.event_seq
		WHERE d.webhook_id = CAST($1 AS BIGINT) AND d.state IN ('pending', 'retrying')
		AND d.next_attempt_at <= $2 AND d.lease_until <= $2`+skipHeld+`
		AND NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.webhook_id = d.webhook_id AND p.subject = d.subject
			AND p.state IN ('pending', 'retrying') AND p.id < d.id)
		ORDER BY d.next_attempt_at, d.id LIMIT CAST($3 AS BIGINT)`+tx.dialect.skipLocked, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Claimed
	for rows.Next() {
		c := Claimed{WebhookID: hook.ID, Webhook: hook}
		var payload string
		if err := rows.Scan(&c.ID, &c.Subject, &c.Attempts, &c.RoundAttempts, &c.EventID, &c.EventType, &payload); err != nil {
			return nil, err
		}
		if running[c.ID] {
			continue
		}
		c.Payload = []byte(payload)
		if out = append(out, c); len(out) == room {
			break
		}
	}
	return out, rows.Err()
}

// idList renders ids for an IN list. They are integers from the database,
// never user input.
func idList(ids []int64) string {
	list := make([]string, len(ids))
	for i, id := range ids {
		list[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(list, ",")
}

func claimIDs(cs []Claimed) []int64 {
	ids := make([]int64, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}
