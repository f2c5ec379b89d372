package delivery

import "time"

// Circuit breaker: after breakerThreshold consecutive failures a webhook is
// paused for a short while, so a dead receiver costs nothing while its
// deliveries wait (they are delayed, not failed). Each pause in a row
// without a success doubles, from breakerBase up to breakerMax.
const (
	breakerThreshold = 10
	breakerBase      = 2 * time.Second
	breakerMax       = time.Minute
)

// breaker is the circuit breaker's state, per webhook. Not safe for
// concurrent use: the engine holds its lock.
type breaker struct {
	failures    map[int64]int // consecutive, since the last pause
	pauses      map[int64]int // pauses in a row without a success
	pausedUntil map[int64]time.Time
}

func newBreaker() breaker {
	return breaker{failures: map[int64]int{}, pauses: map[int64]int{}, pausedUntil: map[int64]time.Time{}}
}

// settle notes a recorded outcome of webhook at now: a success closes the
// breaker, and the breakerThreshold-th failure in a row pauses the webhook.
// It returns the pause that began, or 0.
func (b *breaker) settle(webhook int64, succeeded bool, now time.Time) time.Duration {
	if succeeded {
		delete(b.failures, webhook)
		delete(b.pauses, webhook)
		delete(b.pausedUntil, webhook)
		return 0
	}
	if b.failures[webhook]++; b.failures[webhook] < breakerThreshold {
		return 0
	}
	pause := min(breakerBase<<min(b.pauses[webhook], 16), breakerMax)
	b.pausedUntil[webhook] = now.Add(pause)
	b.pauses[webhook]++
	b.failures[webhook] = 0
	return pause
}

// paused returns the webhooks paused at now, and forgets pauses that have
// ended.
func (b *breaker) paused(now time.Time) map[int64]bool {
	paused := map[int64]bool{}
	for id, until := range b.pausedUntil {
		if now.Before(until) {
			paused[id] = true
		} else {
			delete(b.pausedUntil, id)
		}
	}
	return paused
}

// nextEnd returns the end of the pause that ends first if it is before
// until, else until.
func (b *breaker) nextEnd(until time.Time) time.Time {
	for _, p := range b.pausedUntil {
		if p.Before(until) {
			until = p
		}
	}
	return until
}
