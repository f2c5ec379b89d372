package delivery

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/queue"
)

// This file is the retry policy: what an attempt means for its delivery
// (judge), and when a failed one is tried again.

// maxRetryAfter bounds how long a receiver's Retry-After may hold a delivery.
const maxRetryAfter = time.Hour

// nextDelay returns the delay before the next attempt after roundAttempts
// attempts (counted since the delivery was last queued) have failed, or
// false when the schedule is exhausted. schedule[0] is the first attempt's
// delay; each delay gets ±20 % jitter so retries from many deliveries do not
// arrive together.
func nextDelay(schedule []time.Duration, roundAttempts int) (time.Duration, bool) {
	if roundAttempts >= len(schedule) {
		return 0, false
	}
	return jitter(schedule[roundAttempts]), true
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// retryAfter reads a Retry-After header's value v (seconds or an HTTP
// date), bounded to [0, maxRetryAfter]; false when empty or unreadable.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.Atoi(v); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return 0, false
	}
	return min(max(d, 0), maxRetryAfter), true
}

// disableReason returns reason (why a 410 from c's receiver disables its
// webhook) if c's webhook was on when claimed, else "": a webhook already off (its queued deliveries are still
// sent, and receivers are told to answer them 410 too) has nothing to
// disable, and its outcomes are recorded as any others are, not as a
// directory write (queue.Record).
func disableReason(c queue.Claimed, reason string) string {
	if !c.Webhook.Enabled {
		return ""
	}
	return reason
}

// judge decides what an attempt means for its delivery (docs/receivers.md,
// Answering).
func (e *Engine) judge(c queue.Claimed, r result) queue.Outcome {
	now := time.Now()
	o := queue.Outcome{DeliveryID: c.ID, WebhookID: c.WebhookID, Attempt: r.attempt, RoundAttempts: c.RoundAttempts + 1}
	code := r.attempt.StatusCode
	switch {
	case herald.Succeeded(code):
		o.State = herald.DeliverySucceeded
		return o
	case code == http.StatusGone:
		o.State = herald.DeliveryFailed
		o.DisableReason = disableReason(c, "the receiver answered 410 Gone")
		return o
	case r.blocked:
		// The egress policy will refuse it every time.
		o.State = herald.DeliveryFailed
		return o
	case r.unreadable:
		// Nothing was sent: the key cannot open the webhook's secrets.
		// Not the receiver's doing, so the delivery keeps its retries and
		// waits until an admin overwrites the secrets (or an instance
		// with the right key sends it).
		o.State = herald.DeliveryRetrying
		o.RoundAttempts = c.RoundAttempts
		o.NextAttemptAt = now.Add(e.cfg.SecretsWait)
		return o
	}
	// Only 429 and 503 carry a Retry-After (send).
	if o = e.retryLater(o, r.retryAfter, now); o.State == herald.DeliveryRetrying && o.Attempt.Error == "" && code != 0 {
		o.Attempt.Error = "receiver answered " + http.StatusText(code)
	}
	return o
}

// retryLater makes o, a failed attempt's outcome, wait for the next step
// of the retry schedule (or retryAfterValue, a Retry-After header, when
// set), or fail when the schedule is over.
func (e *Engine) retryLater(o queue.Outcome, retryAfterValue string, now time.Time) queue.Outcome {
	delay, ok := nextDelay(e.cfg.RetrySchedule, o.RoundAttempts)
	if !ok {
		o.State = herald.DeliveryFailed
		return o
	}
	if d, ok := retryAfter(retryAfterValue, now); ok {
		delay = d
	}
	o.State = herald.DeliveryRetrying
	o.NextAttemptAt = now.Add(delay)
	return o
}
