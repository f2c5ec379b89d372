package main

// The backlog scenario, step by step (full size; -quick: 1,000 users;
// -backlog N: N/10 users):
//
//  1. The receiver's port is picked but nobody listens on it: every
//     request Herald makes gets "connection refused".
//  2. A fresh Herald (database of its own) gets 10 webhooks to the receiver.
//  3. 100,000 users are created through the API by 32 clients: 1,000,000
//     deliveries queue up. Herald tries some, fails, and pauses the
//     webhooks (its circuit breaker); the failed ones wait for their retry
//     (5 s later, by the default retry schedule).
//  4. The receiver comes up on the same port. Phase 1 of the drain runs
//     until half of the deliveries have arrived.
//  5. Herald gets SIGTERM (graceful: requests in flight finish and are
//     recorded) and the bench waits for it to exit. The receiver stays up.
//  6. A new "herald serve" starts on the same database.
//     restart_first_delivery_ms = from just before that process was
//     started to the first delivery arriving at the receiver (it includes
//     the process start, opening the database and the first claim).
//  7. Phase 2 of the drain runs until every delivery has arrived.
//
// drain_per_sec = deliveries received in phase 2 / the time from its first
// arrival to its last: a fresh process draining a half-million backlog to
// a healthy receiver. Phase 1's rate is logged on stderr but not reported:
// it includes, for some webhooks, the rest of a circuit-breaker pause begun
// while the receiver was down (up to a minute; also logged).
//
// peak_rss_mib = the highest VmHWM (peak resident set) of the two herald
// processes, polled from /proc/<pid>/status every 200 ms from their start
// to their exit, creation of the backlog included.

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"time"
)

type backlogResult struct {
	Pending                int64   `json:"pending"`
	PeakRSSMiB             float64 `json:"peak_rss_mib"`
	DrainPerSec            float64 `json:"drain_per_sec"`
	RestartFirstDeliveryMS float64 `json:"restart_first_delivery_ms"`
}

func (b *bench) backlog() (*backlogResult, error) {
	const hooks = 10
	users := b.scale(100000, 1000)
	if b.backlogSize > 0 {
		users = max(b.backlogSize/hooks, 2)
	}
	total := int64(users * hooks)

	rcv, err := newReceiver() // down: not listening yet
	if err != nil {
		return nil, err
	}
	defer rcv.down()
	db, err := b.newDatabase("backlog")
	if err != nil {
		return nil, err
	}
	h, err := b.startHerald("backlog", db)
	if err != nil {
		return nil, err
	}
	c, err := newClient(h.url)
	if err != nil {
		return nil, err
	}
	for i := range hooks {
		if err := c.createWebhook(rcv.url(i), fmt.Sprintf("bench receiver %d", i)); err != nil {
			return nil, err
		}
	}

	b.logf("receiver down; creating %d users (x %d webhooks = %d deliveries) with 32 clients", users, hooks, total)
	qStart := time.Now()
	took, err := c.createUsers("q", users, 32, func(n int) {
		b.logf("created %d of %d users (%.0f/s so far); herald RSS peak %.0f MiB",
			n, users, float64(n)/time.Since(qStart).Seconds(), h.peakRSSMiB())
	})
	if err != nil {
		return nil, err
	}
	b.logf("created %d users in %v (%.0f/s); herald reports %s deliveries pending; RSS peak %.0f MiB",
		users, took.Round(time.Millisecond), float64(users)/took.Seconds(), pendingMetric(h.url), h.peakRSSMiB())

	// Phase 1: the receiver comes back; drain half.
	upAt := time.Now()
	if err := rcv.up(); err != nil {
		return nil, err
	}
	b.logf("receiver up; draining half")
	if err := b.waitCount(rcv, total/2, 3*time.Minute, "backlog drain 1", h.exited); err != nil {
		return nil, err
	}
	b.logf("SIGTERM to herald after %d arrivals", rcv.count.Load())
	if err := b.stopHerald(h); err != nil {
		return nil, err
	}
	n1, span1, first1 := rcv.count.Load(), rcv.span(), rcv.firstAt()
	b.logf("phase 1: %d deliveries in %v (%.0f/s); the first arrived %v after the receiver came up",
		n1, span1.Round(time.Millisecond), float64(n1)/span1.Seconds(), first1.Sub(upAt).Round(time.Millisecond))

	// Restart on the same database; phase 2 drains the rest.
	rcv.reset()
	h2, err := b.startHerald("backlog", db)
	if err != nil {
		return nil, err
	}
	b.logf("herald restarted (healthy after %v); draining the rest", time.Since(h2.started).Round(time.Millisecond))
	rest := total - n1
	if err := b.waitCount(rcv, rest*99/100, 3*time.Minute, "backlog drain 2", h2.exited); err != nil {
		return nil, err
	}
	at99 := time.Since(rcv.firstAt())
	if err := b.waitCount(rcv, rest, 3*time.Minute, "backlog drain 2", h2.exited); err != nil {
		return nil, err
	}
	n2, span2 := rcv.count.Load(), rcv.span()
	restart := rcv.firstAt().Sub(h2.started)
	b.logf("phase 2: %d deliveries in %v (%.0f/s; 99%% of them in %v); first delivery %v after the restart",
		n2, span2.Round(time.Millisecond), float64(n2)/span2.Seconds(), at99.Round(time.Millisecond), restart.Round(time.Millisecond))
	if err := b.stopHerald(h2); err != nil {
		return nil, err
	}

	res := &backlogResult{
		Pending:                total,
		PeakRSSMiB:             round(max(h.peakRSSMiB(), h2.peakRSSMiB()), 1),
		DrainPerSec:            perSec(n2, span2),
		RestartFirstDeliveryMS: round(float64(restart)/float64(time.Millisecond), 1),
	}
	b.logf("backlog: %d deliveries, peak RSS %.1f MiB (first process %.1f, second %.1f), drain %.0f/s, restart to first delivery %.1f ms",
		n1+n2, res.PeakRSSMiB, h.peakRSSMiB(), h2.peakRSSMiB(), res.DrainPerSec, res.RestartFirstDeliveryMS)
	return res, nil
}

// pendingMetric reads herald_webhook_deliveries_pending from /metrics, as
// text ("?" when it cannot).
func pendingMetric(base string) string {
	hc := &http.Client{Timeout: 30 * time.Second}
	resp, err := hc.Get(base + "/metrics")
	if err != nil {
		return "?"
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "herald_webhook_deliveries_pending "); ok {
			return v
		}
	}
	return "?"
}
