package directory

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// The audit log (herald.AuditEntry): security-relevant actions, each
// written in the transaction of what it records where there is one.

// audit records an action of a on target in tx.
func audit(ctx context.Context, tx *store.Tx, a Actor, action, target, detail string) error {
	return tx.AppendAudit(ctx, &herald.AuditEntry{Action: action, Actor: a.Event(), Client: a.client(), Target: target, Detail: detail})
}

// auditAlone records an action that changes nothing else (a failed or
// throttled login) in a transaction of its own. A failure is logged: the
// caller's answer does not depend on it.
func (s *Service) auditAlone(ctx context.Context, a Actor, action, target, detail string) {
	err := s.db.Update(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		return audit(ctx, tx, a, action, target, detail)
	})
	if err != nil {
		s.log.Error("write audit log", "action", action, "err", err)
	}
}

// throttledAudits limits the audit log's throttled logins to one per
// client address a minute: a client hammering the login would otherwise
// write an entry (and its deliveries) for every refused attempt.
type throttledAudits struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// throttledAuditEvery is how often a throttled client is audited at most.
const throttledAuditEvery = time.Minute

// due reports whether a throttled login from addr is to be audited now,
// and if so notes it.
func (ta *throttledAudits) due(addr string, now time.Time) bool {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	if ta.last == nil || len(ta.last) > 10000 {
		ta.last = map[string]time.Time{} // forgetting only audits some again
	}
	if t, ok := ta.last[addr]; ok && now.Sub(t) < throttledAuditEvery {
		return false
	}
	ta.last[addr] = now
	return true
}

// client is the actor's client address as the audit log records it.
func (a Actor) client() string {
	if !a.Client.IsValid() {
		return ""
	}
	return a.Client.String()
}

func webhookTarget(id int64) string { return herald.AuditTargetOfWebhook(herald.WebhookKindHTTP, id) }

func scimTargetTarget(id int64) string {
	return herald.AuditTargetOfWebhook(herald.WebhookKindSCIM, id)
}

// maxAuditLimit caps a page of the audit log.
const maxAuditLimit = 1000

// ListAudit returns the audit entries f selects. Admins only.
// Returns EINVALID (action, actor).
func (s *Service) ListAudit(ctx context.Context, a Actor, f herald.AuditFilter) ([]herald.AuditEntry, error) {
	entries, _, err := s.findAudit(ctx, a, f, false)
	return entries, err
}

// FindAudit is ListAudit with how many entries match f's Action, Actor,
// Target and Q in the whole log, for a page that shows the total. Admins
// only. Returns EINVALID (action, actor).
func (s *Service) FindAudit(ctx context.Context, a Actor, f herald.AuditFilter) ([]herald.AuditEntry, int, error) {
	return s.findAudit(ctx, a, f, true)
}

func (s *Service) findAudit(ctx context.Context, a Actor, f herald.AuditFilter, count bool) ([]herald.AuditEntry, int, error) {
	if err := RequireAdmin(a); err != nil {
		return nil, 0, err
	}
	if f.Action != "" && !slices.Contains(herald.AuditActions, f.Action) {
		return nil, 0, invalid("action", "must be one of %s", strings.Join(herald.AuditActions, ", "))
	}
	if f.Actor != "" && f.Actor != herald.ActorSystem {
		if err := validateActorKey(f.Actor); err != nil {
			return nil, 0, invalid("actor", "%s", messageOf(err))
		}
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, maxAuditLimit)
	var out []herald.AuditEntry
	total := 0
	err := s.db.View(ctx, func(tx *store.Tx) (err error) {
		if out, err = tx.ListAudit(ctx, f); err != nil || !count {
			return err
		}
		total, err = tx.CountAudit(ctx, f)
		return err
	})
	return out, total, err
}

// PruneAudit deletes audit entries older than the audit retention.
func (s *Service) PruneAudit(ctx context.Context) error {
	var n int64
	err := s.db.Update(ctx, func(tx *store.Tx) (err error) {
		n, err = tx.PruneAudit(ctx, tx.Now.Add(-s.limits.AuditRetention))
		return err
	})
	if n > 0 {
		s.log.Info("pruned audit log", "entries", n, "older_than", s.limits.AuditRetention.String())
	}
	return err
}

// DefaultAuditRetention is how long the audit log is kept unless told.
const DefaultAuditRetention = 30 * 24 * time.Hour
