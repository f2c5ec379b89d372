package directory

import (
	"context"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// PruneLoginsEvery is how often a serving Herald forgets login failures
// that have left the window, and keys with no attempt within it.
const PruneLoginsEvery = time.Minute

// PruneLogins forgets the login failures that have left the window, and
// the keys with no attempt within it, in a transaction of its own (so no
// login's outcome can undo it).
func (s *Service) PruneLogins(ctx context.Context) error {
	return s.db.Update(ctx, func(tx *store.Tx) error {
		return tx.PruneLoginAttempts(ctx, tx.Now.Add(-s.limits.LoginWindow))
	})
}

// KeepLoginsPruned runs PruneLogins (and PruneAudit) at once and then
// every interval until ctx ends, whether or not anyone logs in: counts
// left by a burst of failed logins go once their window is over. A failed
// round is logged and tried again after pruneRetry (the database may have
// been restarting as Herald started), not a whole interval later.
func (s *Service) KeepLoginsPruned(ctx context.Context, every time.Duration) {
	for {
		failed := false
		if err := s.PruneLogins(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("prune login throttling counts", "err", err)
			failed = true
		}
		if err := s.PruneAudit(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("prune audit log", "err", err)
			failed = true
		}
		wait := every
		if failed {
			wait = min(every, pruneRetry)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// pruneRetry is how soon a failed prune round is tried again.
const pruneRetry = 2 * time.Second
