package password

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
)

// Gate bounds how many hashes and checks run at once. Each takes 19 MiB
// and a core for tens of milliseconds: unbounded, a burst of logins takes
// the machine's memory. Callers beyond the bound wait their turn up to a
// limit, then are told to come back (ETOOMANY).
type Gate struct {
	slots chan struct{}
	wait  time.Duration
	// checks counts the password checks done (Verify), for the metric
	// herald_password_checks_total.
	checks atomic.Int64
}

// NewGate returns a Gate running at most n hashes or checks at once (at
// least 1); a caller waits at most wait for its turn.
func NewGate(n int, wait time.Duration) *Gate {
	return &Gate{slots: make(chan struct{}, max(n, 1)), wait: wait}
}

// enter takes a turn, waiting for it until deadline at most. Returns
// ETOOMANY when none came by then, or ctx's error.
func (g *Gate) enter(ctx context.Context, deadline time.Time) error {
	select {
	case g.slots <- struct{}{}:
		return nil
	default:
	}
	wait := time.Until(deadline)
	if wait <= 0 {
		return herald.TooMany(time.Second, "too many logins at once; try again in a second")
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-timer.C:
		return herald.TooMany(time.Second, "too many logins at once; try again in a second")
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *Gate) leave() { <-g.slots }

// Hash is Hash, in turn. Returns ETOOMANY when no turn came in time.
func (g *Gate) Hash(ctx context.Context, pw string) (string, error) {
	if err := g.enter(ctx, time.Now().Add(g.wait)); err != nil {
		return "", err
	}
	defer g.leave()
	return Hash(pw), nil
}

// Verify is Verify, in turn, counted in Checks. Returns ETOOMANY when no
// turn came in time.
func (g *Gate) Verify(ctx context.Context, hash, pw string) (bool, error) {
	return g.VerifyBy(ctx, time.Now().Add(g.wait), hash, pw)
}

// VerifyBy is Verify for a caller that has waited already: it waits for
// its turn until deadline at most (and no longer than the gate's wait), so
// that all its waits together keep to one budget. Returns ETOOMANY when no
// turn came in time.
func (g *Gate) VerifyBy(ctx context.Context, deadline time.Time, hash, pw string) (bool, error) {
	if limit := time.Now().Add(g.wait); limit.Before(deadline) {
		deadline = limit
	}
	if err := g.enter(ctx, deadline); err != nil {
		return false, err
	}
	defer g.leave()
	g.checks.Add(1)
	return Verify(hash, pw), nil
}

// Checks returns how many passwords Verify has checked.
func (g *Gate) Checks() int64 { return g.checks.Load() }
