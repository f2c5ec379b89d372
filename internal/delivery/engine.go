// Package delivery is the delivery engine: it claims due deliveries from
// the queue (internal/queue) in batches, sends each through a fixed pool
// of senders with a per-webhook cap, records outcomes in batches,
// schedules retries (retry.go), pauses a webhook that keeps failing
// (breaker.go), and disables one that answers 410 Gone (docs/receivers.md).
// Requests are signed (sign.go) and go out through the egress guard
// (egress.go, client.go).
package delivery

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/queue"
	"github.com/heraldhq/herald/internal/scim"
	"github.com/heraldhq/herald/internal/secretbox"
)

// Config tunes the engine. Zero values take the defaults noted.
type Config struct {
	RetrySchedule  []time.Duration // required: delays before attempts 1, 2, ...
	RequestTimeout time.Duration   // whole request; default 15 s
	ConnectTimeout time.Duration   // default 5 s
	DenyPrivate    bool            // egress: also refuse loopback and private
	Proxy          ProxyFunc       // nil: no proxy (see proxy.go)
	PerWebhook     int             // requests in flight per webhook (per instance); default 16
	Senders        int             // requests in flight in all (the senders); default 256
	BatchSize      int             // deliveries per claim; default 256
	Retention      time.Duration   // keep attempts and finished deliveries; default 30 days
	SecretsWait    time.Duration   // between tries while the key cannot open a webhook's secrets; default 1 min
	// Unrecorded bounds the deliveries claimed and not yet recorded: in
	// flight, or sent and waiting for their outcome's commit; default 4 x
	// Senders. It is larger than Senders so that sending goes on while a
	// commit is slow: outcomes wait a commit or two (an fsync each), and
	// with Unrecorded = Senders those waiting outcomes held most of the
	// slots, leaving few requests in flight. Claims never exceed the free
	// senders either, so no claimed delivery waits for a sender. Below
	// Senders it takes the default.
	Unrecorded int
	// Registerer receives the engine's metrics; nil for none.
	Registerer prometheus.Registerer
	// SCIM keeps the ids SCIM targets gave users and groups (the
	// database); without it SCIM deliveries wait, retrying.
	SCIM scim.Store
}

// Engine delivers webhooks. Create with New, start with Run.
type Engine struct {
	q       *queue.Queue
	box     *secretbox.Box
	log     *slog.Logger
	cfg     Config
	client  *fasthttp.Client
	metrics *metrics

	outcomes chan queue.Outcome
	// wake is signalled when capacity frees up or outcomes unblock work.
	wake chan struct{}

	mu sync.Mutex
	// inflight counts claimed deliveries whose request has not ended,
	// per webhook (its cap); sending counts those whose attempt has not
	// ended (the senders busy: a SCIM change frees its slot before its
	// attempt ends); total counts claimed deliveries whose outcome is not
	// yet recorded.
	inflight map[int64]int
	sending  int
	total    int
	breaker  breaker
	opened   map[int64]openedEntry // by webhook id
}

// New returns an engine over q whose webhook secrets open with box.
func New(q *queue.Queue, box *secretbox.Box, cfg Config, log *slog.Logger) *Engine {
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 15 * time.Second
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	if cfg.PerWebhook <= 0 {
		cfg.PerWebhook = 16
	}
	if cfg.Senders <= 0 {
		cfg.Senders = 256
	}
	if cfg.Unrecorded < cfg.Senders {
		cfg.Unrecorded = 4 * cfg.Senders
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 256
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 30 * 24 * time.Hour
	}
	if cfg.SecretsWait <= 0 {
		cfg.SecretsWait = time.Minute
	}
	client := newClient(cfg, Guard{DenyPrivate: cfg.DenyPrivate}, nil)
	return &Engine{
		q: q, box: box, log: log, cfg: cfg, client: client,
		metrics:  newMetrics(cfg.Registerer, q),
		outcomes: make(chan queue.Outcome, cfg.Unrecorded),
		wake:     make(chan struct{}, 1),
		inflight: map[int64]int{},
		breaker:  newBreaker(),
		opened:   map[int64]openedEntry{},
	}
}

// Run delivers until ctx is done, then stops claiming, lets requests in
// flight finish (each within its timeout) and records their outcomes.
func (e *Engine) Run(ctx context.Context) {
	// On SQLite: leases a crash left are released, and new deliveries
	// come straight from their commits (queue handoff) until the engine
	// stops.
	if n, err := e.q.Start(ctx); err != nil {
		e.log.Error("release leases", "err", err)
	} else if n > 0 {
		e.log.Info("resuming deliveries left in flight by the last run", "deliveries", n)
	}
	defer e.q.Stop()
	// A fixed pool of senders: claims never exceed the free senders, so
	// jobs never fills, and the senders keep the stacks a request needs
	// instead of growing new ones each time.
	jobs := make(chan sendJob, e.cfg.Senders)
	var senders sync.WaitGroup
	for range e.cfg.Senders {
		senders.Go(func() {
			for j := range jobs {
				e.deliver(j.claimed, j.hook)
			}
		})
	}
	recorded := make(chan struct{})
	go func() {
		e.record()
		close(recorded)
	}()
	go e.prune(ctx)

	backoff := time.Duration(0)
	for ctx.Err() == nil {
		// Read before claiming: whatever falls due after this instant
		// and is not claimed now is found by wait.
		claimedAt := time.Now()
		n, err := e.claimAndSend(ctx, jobs)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			backoff = min(max(backoff*2, 100*time.Millisecond), 5*time.Second)
			e.log.Error("claim deliveries", "err", err, "retry_in", backoff)
			sleep(ctx, backoff)
			continue
		}
		backoff = 0
		if n > 0 {
			continue // there may be more due right now
		}
		e.wait(ctx, claimedAt)
	}
	close(jobs)
	senders.Wait()
	close(e.outcomes)
	<-recorded
}

// sendJob is a claimed delivery queued for the senders.
type sendJob struct {
	claimed queue.Claimed
	hook    openedHook
}

// claimAndSend claims what the free capacity allows and queues it for the
// senders.
func (e *Engine) claimAndSend(ctx context.Context, jobs chan<- sendJob) (int, error) {
	req, ok := e.claimRequest(time.Now())
	if !ok {
		return 0, nil
	}
	claimed, err := e.q.Claim(ctx, req)
	if err != nil || len(claimed) == 0 {
		return 0, err
	}
	e.taken(claimed)
	for _, c := range claimed {
		jobs <- sendJob{claimed: c, hook: e.open(*c.Webhook)}
	}
	return len(claimed), nil
}

// taken counts claimed deliveries as in flight under their webhooks'
// caps, their senders busy and their outcomes unrecorded, until release,
// attemptOver and settle say otherwise.
func (e *Engine) taken(claimed []queue.Claimed) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range claimed {
		e.inflight[c.WebhookID]++
		e.sending++
		e.total++
	}
}

// claimRequest is what the engine asks a claim for at now: no more than
// the free capacity, the per-webhook cap counting the requests in flight,
// and no paused webhook. ok is false when a claim is not worth its query
// now.
func (e *Engine) claimRequest(now time.Time) (req queue.Request, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	// Every claimed delivery finds a sender at once (a PostgreSQL lease
	// runs from the claim), and no more wait for their outcome than
	// Unrecorded allows.
	free := min(e.cfg.Unrecorded-e.total, e.cfg.Senders-e.sending)
	// Called at every wake-up: it also forgets pauses that have ended,
	// which wait's timer would otherwise keep firing for.
	paused := e.breaker.paused(now)
	// Claiming costs a query: while requests are in flight, wait until a
	// quarter of the capacity is free and claim in bulk. Outcomes wake us.
	if free <= 0 || (e.total > 0 && free < min(e.cfg.BatchSize, e.cfg.Senders)/4) {
		return queue.Request{}, false
	}
	// The copy a claim reads without the lock, made only for a claim.
	inflight := maps.Clone(e.inflight)
	return queue.Request{
		Limit: min(free, e.cfg.BatchSize), Lease: e.lease(), PerWebhook: e.cfg.PerWebhook,
		MinRoom: max(e.cfg.PerWebhook/4, 1), InFlight: inflight, Paused: paused,
	}, true
}

// lease is how long a claim holds: longer than any request can take, plus
// time to record the outcome. When a process dies, another takes over its
// deliveries after this long.
func (e *Engine) lease() time.Duration {
	return e.cfg.ConnectTimeout + e.cfg.RequestTimeout + 10*time.Second
}

// deliver makes one attempt and queues its outcome. A shutdown lets it
// finish (within the request timeout).
func (e *Engine) deliver(c queue.Claimed, hook openedHook) {
	var r result
	switch {
	case hook.err != "":
		r.attempt = herald.Attempt{N: c.Attempts + 1, StartedAt: time.Now().UTC(), Error: hook.err}
		if r.unreadable = hook.unreadable; r.unreadable && c.Webhook.Kind == herald.WebhookKindSCIM {
			r.attempt.Error += "; the change waits, keeping its retries, until the SCIM target is saved with a token " +
				"(PUT /api/v1/scim_target/{id}, or Edit on its page), or the key is restored"
		} else if r.unreadable {
			r.attempt.Error += "; the delivery waits, keeping its retries, until the webhook is saved with its token (PUT) " +
				"or its signing secret is rotated, or the key is restored"
		}
	case c.Webhook.Kind == herald.WebhookKindSCIM:
		// Released when its calls are over, which may be before the id
		// the target gave is stored.
		release := sync.OnceFunc(func() { e.release(c) })
		attempt, res := e.applySCIM(c, hook.target, release)
		e.metrics.latency.Observe(float64(attempt.DurationMS) / 1000)
		release()
		e.attemptOver(nil)
		e.outcomes <- e.judgeSCIM(c, attempt, res)
		return
	default:
		r = send(e.client, time.Now().Add(e.cfg.RequestTimeout), hook.target, Message{EventID: c.EventID, EventType: c.EventType, Payload: c.Payload}, c.Attempts+1)
		e.metrics.latency.Observe(float64(r.attempt.DurationMS) / 1000)
	}
	e.attemptOver(&c)
	e.outcomes <- e.judge(c, r)
}

// release frees c's slot under its webhook's cap once its request is
// over, and wakes the claimer.
func (e *Engine) release(c queue.Claimed) {
	e.mu.Lock()
	e.releaseLocked(c)
	e.mu.Unlock()
	e.signal()
}

// releaseLocked frees c's slot. The request is over: the webhook's cap
// counts requests in flight, so its slot is free now, while the outcome
// waits to be recorded (the delivery stays leased until then, and its
// successors wait). Under mu.
func (e *Engine) releaseLocked(c queue.Claimed) {
	if e.inflight[c.WebhookID]--; e.inflight[c.WebhookID] <= 0 {
		delete(e.inflight, c.WebhookID)
	}
}

// attemptOver frees a sender once its attempt has ended, and with it the
// slot of c (nil: released already, as a SCIM change's is when its calls
// end), and wakes the claimer: claims never exceed the free senders. One
// wake-up for both: each is a claim, and an HTTP request's end used to
// make two.
func (e *Engine) attemptOver(c *queue.Claimed) {
	e.mu.Lock()
	if c != nil {
		e.releaseLocked(*c)
	}
	e.sending--
	e.mu.Unlock()
	e.signal()
}

// recordGap is the least time between the starts of two records.
const recordGap = 5 * time.Millisecond

// record writes outcomes in batches: whatever has arrived while the last
// batch was being written goes in the next one, so under load many
// attempts share one transaction and one fsync. Outcomes are recorded
// after Run's ctx ends too (shutdown).
func (e *Engine) record() {
	ctx := context.Background()
	var last time.Time
	for first := range e.outcomes {
		// A record costs the database about the same whatever its size
		// (a statement, a commit and its flush to disk): under a
		// steady trickle, outcomes wait up to recordGap after the last
		// record began, to share the next. Their deliveries were sent;
		// only their successors wait, and the log shows them that much
		// later.
		if wait := recordGap - time.Since(last); wait > 0 {
			time.Sleep(wait)
		}
		last = time.Now()
		batch := []queue.Outcome{first}
	drain:
		for len(batch) < 1024 {
			select {
			case o, ok := <-e.outcomes:
				if !ok {
					break drain
				}
				batch = append(batch, o)
			default:
				break drain
			}
		}
		for wait := 100 * time.Millisecond; ; wait = min(wait*2, 5*time.Second) {
			err := e.q.Record(ctx, batch)
			if err == nil {
				break
			}
			// Never drop an outcome: the delivery would be sent again
			// after its lease, which is allowed, but keep trying first.
			e.log.Error("record delivery outcomes", "err", err, "retry_in", wait)
			time.Sleep(wait)
		}
		e.settle(batch)
	}
}

// settle updates in-memory counters after outcomes are recorded, and wakes
// the claimer: capacity is free and successors may now be due. Then it
// logs them, with the lock released: a line is a write to standard error,
// which senders and claims need not wait for.
func (e *Engine) settle(batch []queue.Outcome) {
	now := time.Now()
	pauses := make([]time.Duration, len(batch))
	e.mu.Lock()
	for i, o := range batch {
		e.total--
		pauses[i] = e.breaker.settle(o.WebhookID, o.State == herald.DeliverySucceeded, now)
		e.metrics.settled(o)
	}
	e.mu.Unlock()
	e.signal()
	for i, o := range batch {
		if pauses[i] > 0 {
			e.log.Warn("webhook paused after consecutive failures", "webhook_id", o.WebhookID, "pause", pauses[i])
		}
		logOutcome(e.log, o)
		if o.DisableReason != "" {
			e.log.Warn("webhook disabled", "webhook_id", o.WebhookID, "reason", o.DisableReason)
		}
	}
}

// logOutcome writes one line per delivery outcome; never the URL or
// headers, which may carry secrets. A success is logged at debug level:
// the delivery log keeps every attempt, and at thousands of deliveries a
// second a line each would be most of the log, and use up the budget of
// lines a log collector takes from one service (journald's default is
// 10,000 every 30 seconds) before a failure is logged. Retries and
// failures are logged at info.
func logOutcome(log *slog.Logger, o queue.Outcome) {
	level := slog.LevelInfo
	if o.State == herald.DeliverySucceeded {
		level = slog.LevelDebug
	}
	if !log.Enabled(context.Background(), level) {
		return // without building the line's attributes
	}
	log.Log(context.Background(), level, "delivery", "webhook_id", o.WebhookID, "delivery_id", o.DeliveryID, "outcome", o.State,
		"attempt", o.Attempt.N, "status", o.Attempt.StatusCode, "duration_ms", o.Attempt.DurationMS, "error", o.Attempt.Error)
}

// signal wakes the claimer if it waits.
func (e *Engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// wait sleeps until new work may be due: a commit queued deliveries, an
// outcome freed capacity or unblocked a subject, a retry or pause falls
// due, or ctx ends. claimedAt is when the last claim began: a retry that
// fell due after it (a slow claim on a busy machine) is due now, and the
// timer fires at once.
func (e *Engine) wait(ctx context.Context, claimedAt time.Time) {
	// Under load a wake-up is usually waiting already: claim again at
	// once, without asking the database when the next retry falls due.
	select {
	case <-e.wake:
		return
	case <-e.q.Wakeups():
		return
	default:
	}
	next, ok, err := e.q.NextDue(ctx, claimedAt)
	failed := err != nil && ctx.Err() == nil
	if failed {
		e.log.Error("find the next due delivery", "err", err)
	}
	// On PostgreSQL another instance may die holding leases, and claims
	// look at every webhook only so often: look again then.
	recheck := e.q.RecheckEvery()
	e.mu.Lock()
	until := e.breaker.nextEnd(wakeAt(time.Now(), next, err == nil && ok, failed, recheck))
	e.mu.Unlock()
	t := time.NewTimer(time.Until(until))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-e.q.Wakeups():
	case <-e.wake:
	case <-t.C:
	}
}

// wakeAt is when wait looks for work again at the latest, from now: in a
// minute, or a second after a failed lookup of the next due time; sooner
// when the next delivery falls due (next, if due), or a recheck from now
// (0: none). A pause that ends sooner is the breaker's (nextEnd).
func wakeAt(now, next time.Time, due, failed bool, recheck time.Duration) time.Time {
	until := now.Add(time.Minute)
	switch {
	case failed:
		until = now.Add(time.Second)
	case due && next.Before(until):
		until = next
	}
	if recheck > 0 && now.Add(recheck).Before(until) {
		until = now.Add(recheck)
	}
	return until
}

// prune deletes old attempts and finished deliveries once an hour.
func (e *Engine) prune(ctx context.Context) {
	for {
		a, d, err := e.q.Prune(ctx, time.Now().Add(-e.cfg.Retention))
		if err != nil && ctx.Err() == nil {
			e.log.Error("prune delivery log", "err", err)
		} else if a+d > 0 {
			e.log.Info("pruned delivery log", "attempts", a, "deliveries", d, "older_than", e.cfg.Retention)
		}
		if !sleep(ctx, time.Hour) {
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// SendTest sends ev, a webhook_test event, to hook (as stored: secrets
// sealed) now and returns the attempt. It records nothing itself (the
// directory logs it as a delivery); it checks the receiver, not the queue.
// It ends within the request timeout, or at ctx's deadline if sooner;
// cancelling ctx does not cut it short.
func (e *Engine) SendTest(ctx context.Context, hook herald.Webhook, ev herald.Event) herald.Attempt {
	opened := e.open(hook)
	if opened.err != "" {
		return herald.Attempt{N: 1, StartedAt: time.Now().UTC(), Error: opened.err}
	}
	// The body in the webhook's format (an envelope carries the actor).
	msg := Message{EventID: ev.ID, EventType: herald.EventWebhookTest, Payload: ev.Body(hook.Format)}
	deadline := time.Now().Add(e.cfg.RequestTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	return send(e.client, deadline, opened.target, msg, 1).attempt
}
