// Package delivery sends webhook requests: it claims due deliveries from
// the store in batches, sends each with a bounded pool and a per-webhook
// cap, records outcomes in batches, schedules retries and disables a
// webhook that answers 410 Gone (CONTRACT 1.3).
package delivery

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/secretbox"
	"github.com/heraldhq/herald/internal/store"
)

// Config tunes the engine. Zero values take the defaults noted.
type Config struct {
	RetrySchedule  []time.Duration // required: delays before attempts 1, 2, ...
	RequestTimeout time.Duration   // whole request; default 15 s
	ConnectTimeout time.Duration   // default 5 s
	DenyPrivate    bool            // egress: also refuse loopback and private
	Proxy          ProxyFunc       // nil: no proxy (see proxy.go)
	PerWebhook     int             // requests in flight per webhook (per instance); default 16
	Workers        int             // requests in flight in all; default 256
	BatchSize      int             // deliveries per claim; default 256
	Retention      time.Duration   // keep attempts and finished deliveries; default 30 days
	SecretsWait    time.Duration   // between tries while the key cannot open a webhook's secrets; default 1 min
	// Unrecorded bounds the deliveries claimed and not yet recorded: in
	// flight, or sent and waiting for their outcome's commit; default 4 x
	// Workers. It is larger than Workers so that sending goes on while a
	// commit is slow: outcomes wait a commit or two (an fsync each), and
	// with Unrecorded = Workers those waiting outcomes held most of the
	// slots, leaving few requests in flight. Claims never exceed the free
	// Workers either, so no claimed delivery waits for a sender. Below
	// Workers it takes the default.
	Unrecorded int
	// ExclusiveDB says this process is the database's only user (SQLite):
	// leases left by a crash are released at start.
	ExclusiveDB bool
	// Registerer receives the engine's metrics; nil for none.
	Registerer prometheus.Registerer
}

// Circuit breaker: after breakerThreshold consecutive failures a webhook is
// paused for a short while, so a dead receiver costs nothing while its
// deliveries wait (they are delayed, not failed). Each pause in a row
// without a success doubles, from breakerBase up to breakerMax.
const (
	breakerThreshold = 10
	breakerBase      = 2 * time.Second
	breakerMax       = time.Minute
)

// Engine delivers webhooks. Create with New, start with Run.
type Engine struct {
	db      *store.DB
	box     *secretbox.Box
	log     *slog.Logger
	cfg     Config
	client  *fasthttp.Client
	metrics *metrics

	outcomes chan store.Outcome
	// wake is signalled when capacity frees up or outcomes unblock work.
	wake chan struct{}

	mu sync.Mutex
	// inflight counts claimed deliveries whose request has not ended,
	// per webhook (its cap); total counts claimed deliveries whose outcome
	// is not yet recorded.
	inflight    map[int64]int
	total       int
	failures    map[int64]int // consecutive, per webhook, since the last pause
	pauses      map[int64]int // pauses in a row without a success, per webhook
	pausedUntil map[int64]time.Time
	opened      map[int64]openedEntry // by webhook id
	// On an exclusive database every retry time is set by this engine, so
	// it keeps the earliest (zero: none) instead of asking the database
	// at every wake-up; nextDueKnown is false until it has asked once, and
	// after a claim passes the time (see nextDueAfter).
	nextDue      time.Time
	nextDueKnown bool
	retries      int // retrying outcomes settled, to spot one during a lookup
	// On a shared database (PostgreSQL): outcomes recorded since the last
	// vacuum of the queue, when that began, and whether one runs now.
	unvacuumed int
	vacuumedAt time.Time
	vacuuming  bool
}

// New returns an engine over db whose webhook secrets open with box.
func New(db *store.DB, box *secretbox.Box, cfg Config, log *slog.Logger) *Engine {
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 15 * time.Second
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	if cfg.PerWebhook <= 0 {
		cfg.PerWebhook = 16
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 256
	}
	if cfg.Unrecorded < cfg.Workers {
		cfg.Unrecorded = 4 * cfg.Workers
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
		db: db, box: box, log: log, cfg: cfg, client: client,
		metrics:     newMetrics(cfg.Registerer, db),
		outcomes:    make(chan store.Outcome, cfg.Unrecorded),
		wake:        make(chan struct{}, 1),
		inflight:    map[int64]int{},
		failures:    map[int64]int{},
		pauses:      map[int64]int{},
		pausedUntil: map[int64]time.Time{},
		opened:      map[int64]openedEntry{},
	}
}

// Run delivers until ctx is done, then stops claiming, lets requests in
// flight finish (each within its timeout) and records their outcomes.
func (e *Engine) Run(ctx context.Context) {
	if e.cfg.ExclusiveDB {
		if n, err := e.db.ReleaseLeases(ctx); err != nil {
			e.log.Error("release leases", "err", err)
		} else if n > 0 {
			e.log.Info("resuming deliveries left in flight by the last run", "deliveries", n)
		}
		// New deliveries come straight from their commits (store
		// handoff) until the engine stops.
		e.db.StartHandoff()
		defer e.db.StopHandoff()
	}
	// A fixed pool of Workers sends: claims never exceed the free
	// senders, so the queue never fills, and the pool's goroutines keep
	// the stacks a request needs instead of growing new ones each time.
	queue := make(chan sendJob, e.cfg.Workers)
	var sends sync.WaitGroup
	for range e.cfg.Workers {
		sends.Go(func() {
			for j := range queue {
				e.deliver(j.claimed, j.hook)
			}
		})
	}
	recorded := make(chan struct{})
	var vacuums sync.WaitGroup
	go func() {
		e.record(ctx, &vacuums)
		close(recorded)
	}()
	go e.prune(ctx)

	backoff := time.Duration(0)
	for ctx.Err() == nil {
		// Read before claiming: whatever falls due after this instant
		// and is not claimed now is found by wait.
		claimedAt := e.db.Now()
		n, err := e.claimAndSend(ctx, queue)
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
	close(queue)
	sends.Wait()
	close(e.outcomes)
	<-recorded
	vacuums.Wait() // cancelled with ctx
}

// sendJob is a claimed delivery queued for the sending pool.
type sendJob struct {
	claimed store.Claimed
	hook    openedHook
}

// claimAndSend claims what the free capacity allows and queues it for the
// sending pool.
func (e *Engine) claimAndSend(ctx context.Context, queue chan<- sendJob) (int, error) {
	e.mu.Lock()
	inflight := make(map[int64]int, len(e.inflight))
	sending := 0
	for id, n := range e.inflight {
		inflight[id] = n
		sending += n
	}
	// Every claimed delivery finds a sender at once (a PostgreSQL lease
	// runs from the claim), and no more wait for their outcome than
	// Unrecorded allows.
	free := min(e.cfg.Unrecorded-e.total, e.cfg.Workers-sending)
	paused := map[int64]bool{}
	now := time.Now()
	for id, until := range e.pausedUntil {
		if now.Before(until) {
			paused[id] = true
		} else {
			delete(e.pausedUntil, id)
		}
	}
	busy := e.total
	e.mu.Unlock()
	// Claiming costs a query: while requests are in flight, wait until a
	// quarter of the capacity is free and claim in bulk. Outcomes wake us.
	if free <= 0 || (busy > 0 && free < min(e.cfg.BatchSize, e.cfg.Workers)/4) {
		return 0, nil
	}
	claimed, err := e.db.ClaimDue(ctx, store.ClaimRequest{
		Limit: min(free, e.cfg.BatchSize), Lease: e.lease(), PerWebhook: e.cfg.PerWebhook,
		MinRoom: max(e.cfg.PerWebhook/4, 1), InFlight: inflight, Paused: paused,
	})
	if err != nil || len(claimed) == 0 {
		return 0, err
	}
	e.mu.Lock()
	for _, c := range claimed {
		e.inflight[c.WebhookID]++
		e.total++
	}
	e.mu.Unlock()
	for _, c := range claimed {
		queue <- sendJob{claimed: c, hook: e.open(c.Webhook)}
	}
	return len(claimed), nil
}

// lease is how long a claim holds: longer than any request can take, plus
// time to record the outcome. When a process dies, another takes over its
// deliveries after this long.
func (e *Engine) lease() time.Duration {
	return e.cfg.ConnectTimeout + e.cfg.RequestTimeout + 10*time.Second
}

// openedHook is a webhook ready to send to (its secrets opened), or the
// reason it is not. Opening costs AES work per secret, and parsing and
// decoding more, so the engine keeps the last opened target of each
// webhook with the stored fields it came from (openedFrom): a changed URL,
// method or secret is opened anew.
type openedHook struct {
	target *target
	err    string
	// unreadable: the key cannot open the token or signing secret.
	unreadable bool
}

type openedFrom struct {
	url, method, token, secret, previous string
	previousUntil                        int64 // Unix microseconds
}

type openedEntry struct {
	from openedFrom
	hook openedHook
}

func (e *Engine) open(w herald.Webhook) openedHook {
	from := openedFrom{w.URL, w.Method, w.Token, w.SigningSecret, w.PreviousSecret, w.PreviousSecretUntil.UnixMicro()}
	e.mu.Lock()
	o, ok := e.opened[w.ID]
	e.mu.Unlock()
	if ok && o.from == from {
		return o.hook
	}
	var hook openedHook
	for _, f := range []struct {
		name  string
		value *string
	}{{"token", &w.Token}, {"signing secret", &w.SigningSecret}} {
		var err error
		if *f.value, err = e.box.Open(*f.value); err != nil {
			hook.err = "cannot decrypt the webhook's secrets: Herald's secret key cannot open its " + f.name + " (sealed under another key)"
			hook.unreadable = true
			break
		}
	}
	if p, err := e.box.Open(w.PreviousSecret); err == nil {
		w.PreviousSecret = p
	} else {
		w.PreviousSecret = "" // it cannot sign: the current secret signs alone
	}
	if hook.err == "" {
		var err error
		if hook.target, err = newTarget(w); err != nil {
			hook.err = "cannot build the request: " + err.Error()
		}
	}
	e.mu.Lock()
	e.opened[w.ID] = openedEntry{from: from, hook: hook}
	e.mu.Unlock()
	return hook
}

// deliver makes one attempt and queues its outcome. A shutdown lets it
// finish (within the request timeout).
func (e *Engine) deliver(c store.Claimed, hook openedHook) {
	var r result
	switch {
	case hook.err != "":
		r.attempt = herald.Attempt{N: c.Attempts + 1, StartedAt: time.Now().UTC(), Error: hook.err}
		if r.unreadable = hook.unreadable; r.unreadable {
			r.attempt.Error += "; the delivery waits, keeping its retries, until the webhook is saved with its token (PUT) " +
				"or its signing secret is rotated, or the key is restored"
		}
	default:
		r = send(e.client, time.Now().Add(e.cfg.RequestTimeout), hook.target, Message{EventID: c.EventID, EventType: c.EventType, Payload: c.Payload}, c.Attempts+1)
		e.metrics.latency.Observe(float64(r.attempt.DurationMS) / 1000)
	}
	// The request is over: the webhook's cap counts requests in flight,
	// so its slot is free now, while the outcome waits to be recorded (the
	// delivery stays leased until then, and its successors wait).
	e.mu.Lock()
	if e.inflight[c.WebhookID]--; e.inflight[c.WebhookID] <= 0 {
		delete(e.inflight, c.WebhookID)
	}
	e.mu.Unlock()
	e.signal()
	e.outcomes <- e.judge(c, r)
}

// judge decides what an attempt means for its delivery (CONTRACT 1.3).
func (e *Engine) judge(c store.Claimed, r result) store.Outcome {
	now := time.Now()
	o := store.Outcome{DeliveryID: c.ID, WebhookID: c.WebhookID, Attempt: r.attempt, RoundAttempts: c.RoundAttempts + 1}
	code := r.attempt.StatusCode
	switch {
	case code >= 200 && code < 300:
		o.State = herald.DeliverySucceeded
		return o
	case code == http.StatusGone:
		o.State = herald.DeliveryFailed
		o.DisableReason = "the receiver answered 410 Gone"
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
	delay, ok := nextDelay(e.cfg.RetrySchedule, o.RoundAttempts)
	if !ok {
		o.State = herald.DeliveryFailed
		return o
	}
	if d, ok := retryAfter(r.retryAfter, now); ok {
		delay = d // only 429 and 503 carry one (send)
	}
	o.State = herald.DeliveryRetrying
	o.NextAttemptAt = now.Add(delay)
	if o.Attempt.Error == "" && code != 0 {
		o.Attempt.Error = "receiver answered " + http.StatusText(code)
	}
	return o
}

// record writes outcomes in batches: whatever has arrived while the last
// batch was being written goes in the next one, so under load many
// attempts share one transaction and one fsync. Outcomes are recorded
// after runCtx ends too (shutdown); vacuums started here end with it.
func (e *Engine) record(runCtx context.Context, vacuums *sync.WaitGroup) {
	ctx := context.Background()
	for first := range e.outcomes {
		batch := []store.Outcome{first}
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
			err := e.db.RecordOutcomes(ctx, batch)
			if err == nil {
				break
			}
			// Never drop an outcome: the delivery would be sent again
			// after its lease, which is allowed, but keep trying first.
			e.log.Error("record delivery outcomes", "err", err, "retry_in", wait)
			time.Sleep(wait)
		}
		e.settle(batch)
		e.maybeVacuum(runCtx, vacuums, len(batch))
	}
}

// Vacuum the queue (PostgreSQL) after this many outcomes, at most this
// often: often enough that claims never step over many dead entries, rarely
// enough that vacuuming costs little.
const (
	vacuumEvery    = 5000
	vacuumInterval = 5 * time.Second
)

// maybeVacuum counts recorded outcomes and, on a shared database, starts a
// vacuum of the queue in the background when enough have piled up. It ends
// with ctx (shutdown); Run waits for it through vacuums.
func (e *Engine) maybeVacuum(ctx context.Context, vacuums *sync.WaitGroup, recorded int) {
	if e.cfg.ExclusiveDB {
		return
	}
	e.mu.Lock()
	e.unvacuumed += recorded
	if e.vacuuming || e.unvacuumed < vacuumEvery || time.Since(e.vacuumedAt) < vacuumInterval {
		e.mu.Unlock()
		return
	}
	e.vacuuming, e.unvacuumed, e.vacuumedAt = true, 0, time.Now()
	e.mu.Unlock()
	vacuums.Go(func() {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := e.db.VacuumQueue(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("vacuum the delivery queue", "err", err)
		}
		e.mu.Lock()
		e.vacuuming = false
		e.mu.Unlock()
	})
}

// settle updates in-memory counters after outcomes are recorded, and wakes
// the claimer: capacity is free and successors may now be due.
func (e *Engine) settle(batch []store.Outcome) {
	now := time.Now()
	e.mu.Lock()
	for _, o := range batch {
		e.total--
		if o.State == herald.DeliveryRetrying {
			e.retries++
			if e.nextDueKnown && (e.nextDue.IsZero() || o.NextAttemptAt.Before(e.nextDue)) {
				e.nextDue = o.NextAttemptAt
			}
		}
		if o.State == herald.DeliverySucceeded {
			delete(e.failures, o.WebhookID)
			delete(e.pauses, o.WebhookID)
			delete(e.pausedUntil, o.WebhookID)
		} else if e.failures[o.WebhookID]++; e.failures[o.WebhookID] >= breakerThreshold {
			pause := min(breakerBase<<min(e.pauses[o.WebhookID], 16), breakerMax)
			e.pausedUntil[o.WebhookID] = now.Add(pause)
			e.pauses[o.WebhookID]++
			e.failures[o.WebhookID] = 0
			e.log.Warn("webhook paused after consecutive failures", "webhook_id", o.WebhookID, "pause", pause)
		}
		// One line per delivery outcome; never the URL or headers, which
		// may carry secrets.
		e.log.Info("delivery", "webhook_id", o.WebhookID, "delivery_id", o.DeliveryID, "outcome", o.State,
			"attempt", o.Attempt.N, "status", o.Attempt.StatusCode, "duration_ms", o.Attempt.DurationMS, "error", o.Attempt.Error)
		if o.DisableReason != "" {
			e.log.Warn("webhook disabled", "webhook_id", o.WebhookID, "reason", o.DisableReason)
		}
		e.metrics.outcomes.WithLabelValues(o.State).Inc()
	}
	e.mu.Unlock()
	e.signal()
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
	case <-e.db.Wakeups():
		return
	default:
	}
	until := time.Now().Add(time.Minute)
	next, ok, err := e.nextDueAfter(ctx, claimedAt)
	switch {
	case err != nil && ctx.Err() == nil:
		e.log.Error("find the next due delivery", "err", err)
		until = time.Now().Add(time.Second)
	case err == nil && ok && next.Before(until):
		until = next
	}
	if !e.cfg.ExclusiveDB {
		// Another instance may die holding leases: look again once they
		// may have run out.
		if recheck := time.Now().Add(e.lease()); recheck.Before(until) {
			until = recheck
		}
	}
	e.mu.Lock()
	for _, p := range e.pausedUntil {
		if p.Before(until) {
			until = p
		}
	}
	e.mu.Unlock()
	t := time.NewTimer(time.Until(until))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-e.db.Wakeups():
	case <-e.wake:
	case <-t.C:
	}
}

// nextDueAfter returns when the next delivery falls due after claimedAt
// (see store.NextDue). On an exclusive database the answer is kept and
// merged with the retries this engine schedules (settle), so the database
// is asked only when the known time has passed or is unknown.
func (e *Engine) nextDueAfter(ctx context.Context, claimedAt time.Time) (time.Time, bool, error) {
	if !e.cfg.ExclusiveDB {
		return e.db.NextDue(ctx, claimedAt)
	}
	e.mu.Lock()
	next, known, retries := e.nextDue, e.nextDueKnown, e.retries
	e.mu.Unlock()
	if known && (next.IsZero() || next.After(claimedAt)) {
		return next, !next.IsZero(), nil
	}
	next, ok, err := e.db.NextDue(ctx, claimedAt)
	if err != nil {
		return next, ok, err
	}
	e.mu.Lock()
	// A retry settled during the lookup may be missing from its answer:
	// then ask again next time (its settle has woken the claimer anyway).
	e.nextDueKnown = e.retries == retries
	e.nextDue = time.Time{}
	if ok {
		e.nextDue = next
	}
	e.mu.Unlock()
	return next, ok, nil
}

// prune deletes old attempts and finished deliveries once an hour.
func (e *Engine) prune(ctx context.Context) {
	for {
		a, d, err := e.db.Prune(ctx, time.Now().Add(-e.cfg.Retention))
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

// SendTest sends a webhook_test event to hook (as stored: secrets sealed)
// now and returns the attempt. Nothing is recorded: it checks the
// receiver, not the queue. It ends within the request timeout, or at ctx's
// deadline if sooner; cancelling ctx does not cut it short.
func (e *Engine) SendTest(ctx context.Context, hook herald.Webhook) herald.Attempt {
	body, _ := json.Marshal(struct {
		WebhookID int64  `json:"webhook_id"`
		Message   string `json:"message"`
	}{hook.ID, "test event from Herald"})
	opened := e.open(hook)
	if opened.err != "" {
		return herald.Attempt{N: 1, StartedAt: time.Now().UTC(), Error: opened.err}
	}
	msg := Message{EventID: "evt_" + rand.Text(), EventType: herald.EventWebhookTest, Payload: body}
	deadline := time.Now().Add(e.cfg.RequestTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	return send(e.client, deadline, opened.target, msg, 1).attempt
}
