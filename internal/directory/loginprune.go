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
// round is logged; the next one tries again.
func (s *Service) KeepLoginsPruned(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if err := s.PruneLogins(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("prune login throttling counts", "err", err)
		}
		if err := s.PruneAudit(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("prune audit log", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
