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

// enter takes a turn. Returns ETOOMANY when none came within the wait, or
// ctx's error.
func (g *Gate) enter(ctx context.Context) error {
	select {
	case g.slots <- struct{}{}:
		return nil
	default:
	}
	timer := time.NewTimer(g.wait)
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
	if err := g.enter(ctx); err != nil {
		return "", err
	}
	defer g.leave()
	return Hash(pw), nil
}

// Verify is Verify, in turn, counted in Checks. Returns ETOOMANY when no
// turn came in time.
func (g *Gate) Verify(ctx context.Context, hash, pw string) (bool, error) {
	if err := g.enter(ctx); err != nil {
		return false, err
	}
	defer g.leave()
	g.checks.Add(1)
	return Verify(hash, pw), nil
}

// Checks returns how many passwords Verify has checked.
func (g *Gate) Checks() int64 { return g.checks.Load() }
