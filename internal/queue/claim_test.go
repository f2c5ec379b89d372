package queue_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/queue"
	"github.com/heraldhq/herald/internal/store"
)

// TestClaimOrderPerSubject: only the oldest unfinished delivery of each
// (webhook, subject) is claimable; a leased one is not claimed again and
// still blocks its successors; success or failure of the head releases the
// next one; an expired lease (PostgreSQL) or a restart (SQLite) makes a
// delivery claimable again (docs/receivers.md, "In order per user" and
// "At least once").
func TestClaimOrderPerSubject(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB, q *queue.Queue) {
		c := useClock(db)
		w1, w2 := newWebhook(t, db, allUser), newWebhook(t, db, allUser)
		a1 := emit(t, db, herald.EventUserCreated, "alice")
		a2 := emit(t, db, herald.EventUserModified, "alice")
		b1 := emit(t, db, herald.EventUserCreated, "bob")
		id := func(w herald.Webhook, e herald.Event) int64 { return deliveryID(t, db, w.ID, e) }

		first := claim(t, q, claimAll)
		wantClaimed(t, "first claim: the head of every (webhook, subject)", first, id(w1, a1), id(w1, b1), id(w2, a1), id(w2, b1))
		got := findClaimed(t, first, id(w1, a1))
		if got.WebhookID != w1.ID || got.Subject != "alice" || got.EventID != a1.ID || got.EventType != herald.EventUserCreated ||
			string(got.Payload) != string(a1.Payload) || got.Attempts != 0 || got.RoundAttempts != 0 {
			t.Errorf("claimed %+v, want the user_created event for alice on webhook %d", got, w1.ID)
		}

		wantClaimed(t, "while everything is leased", claim(t, q, claimAll))
		c.Advance(30 * time.Second)
		wantClaimed(t, "before the lease runs out", claim(t, q, claimAll))

		record(t, q, outcome(findClaimed(t, first, id(w1, a1)), herald.DeliverySucceeded, 200, c.Now()))
		second := claim(t, q, claimAll)
		wantClaimed(t, "after the head succeeded on w1 (w2's head still leased)", second, id(w1, a2))

		record(t, q, outcome(findClaimed(t, first, id(w2, a1)), herald.DeliveryFailed, 500, c.Now()))
		third := claim(t, q, claimAll)
		wantClaimed(t, "after the head failed on w2", third, id(w2, a2))

		// bob's deliveries were claimed at t0 with a one-minute lease
		// (leased at insert for a quarter more, when handed off on
		// PostgreSQL) and never recorded (a crashed engine): they come
		// back after it. The second claims' leases hold until t0+90s.
		c.Advance(46 * time.Second)
		if got, want := q.LeasesExpire(), db.Kind() == store.PostgreSQL; got != want {
			t.Errorf("LeasesExpire() = %v on %v", got, db.Kind())
		}
		if !q.LeasesExpire() {
			// On SQLite the engine is this process: a lease holds until
			// its outcome (a busy writer may take longer than the lease to
			// record it), and a crash ends with the process; the next
			// start begins with ReleaseLeases.
			wantClaimed(t, "SQLite: leases do not run out", claim(t, q, claimAll))
			if _, err := q.ReleaseLeases(ctx); err != nil {
				t.Fatal(err)
			}
		}
		again := claim(t, q, claimAll)
		if q.LeasesExpire() {
			wantClaimed(t, "after the first leases ran out", again, id(w1, b1), id(w2, b1))
		} else {
			wantClaimed(t, "after a restart: everything in flight", again, id(w1, a2), id(w2, a2), id(w1, b1), id(w2, b1))
		}
		if got := findClaimed(t, again, id(w1, b1)); got.EventID != b1.ID || got.Attempts != 0 {
			t.Errorf("reclaimed %+v", got)
		}
	})
}

// TestClaimCaps: PerWebhook counting InFlight, Paused, Limit, and releasing
// claims.
func TestClaimCaps(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB, q *queue.Queue) {
		useClock(db)
		w1, w2 := newWebhook(t, db, allUser), newWebhook(t, db, allUser)
		for i := range 5 {
			emit(t, db, herald.EventUserCreated, fmt.Sprintf("user%d", i))
		}
		release := func() {
			t.Helper()
			if _, err := q.ReleaseLeases(ctx); err != nil {
				t.Fatalf("ReleaseLeases: %v", err)
			}
		}
		for _, tc := range []struct {
			name   string
			req    queue.Request
			w1, w2 int
		}{
			{"cap 2", queue.Request{Limit: 100, Lease: time.Minute, PerWebhook: 2}, 2, 2},
			{"cap 2, w1 has 1 in flight", queue.Request{Limit: 100, Lease: time.Minute, PerWebhook: 2, InFlight: map[int64]int{w1.ID: 1}}, 1, 2},
			{"cap 2, w1 full", queue.Request{Limit: 100, Lease: time.Minute, PerWebhook: 2, InFlight: map[int64]int{w1.ID: 2, w2.ID: 0}}, 0, 2},
			{"MinRoom 2: w1 (1 in flight) waits, w2 (none) is served", queue.Request{Limit: 100, Lease: time.Minute, PerWebhook: 2, MinRoom: 2, InFlight: map[int64]int{w1.ID: 1}}, 0, 2},
			{"w2 paused", queue.Request{Limit: 100, Lease: time.Minute, PerWebhook: 100, Paused: map[int64]bool{w2.ID: true}}, 5, 0},
			{"both paused", queue.Request{Limit: 100, Lease: time.Minute, PerWebhook: 100, Paused: map[int64]bool{w1.ID: true, w2.ID: true}}, 0, 0},
			{"no cap", claimAll, 5, 5},
		} {
			cs := claim(t, q, tc.req)
			if n := perWebhook(cs); n[w1.ID] != tc.w1 || n[w2.ID] != tc.w2 {
				t.Errorf("%s: claimed %d from w1 and %d from w2, want %d and %d", tc.name, n[w1.ID], n[w2.ID], tc.w1, tc.w2)
			}
			release()
		}
		cs := claim(t, q, queue.Request{Limit: 3, Lease: time.Minute, PerWebhook: 100})
		if len(cs) != 3 {
			t.Errorf("Limit 3: claimed %d", len(cs))
		}
		// The rest are still there; ReleaseLeases frees the three again.
		if rest := claim(t, q, claimAll); len(rest) != 7 {
			t.Errorf("after a Limit 3 claim, %d more claimable, want 7", len(rest))
		}
		if n, err := q.ReleaseLeases(ctx); err != nil || n != 10 {
			t.Errorf("ReleaseLeases = %d, %v; want 10", n, err)
		}
		if all := claim(t, q, claimAll); len(all) != 10 {
			t.Errorf("after ReleaseLeases, %d claimable, want 10", len(all))
		}
		if n, err := q.ReleaseLeases(ctx); err != nil || n != 10 {
			t.Errorf("ReleaseLeases = %d, %v; want 10", n, err)
		}
	})
}

// TestClaimNotBeforeNextAttempt: a retrying delivery is not due before its
// next_attempt_at and blocks its successors meanwhile.
func TestClaimNotBeforeNextAttempt(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB, q *queue.Queue) {
		c := useClock(db)
		w := newWebhook(t, db, allUser)
		e1 := emit(t, db, herald.EventUserCreated, "alice")
		e2 := emit(t, db, herald.EventUserModified, "alice")
		d1, d2 := deliveryID(t, db, w.ID, e1), deliveryID(t, db, w.ID, e2)
		cs := claim(t, q, claimAll)
		wantClaimed(t, "first", cs, d1)
		o := outcome(cs[0], herald.DeliveryRetrying, 503, t0)
		o.NextAttemptAt, o.RoundAttempts = t0.Add(10*time.Second), 1
		record(t, q, o)
		wantClaimed(t, "retrying, not yet due", claim(t, q, claimAll))
		c.Advance(10*time.Second - time.Microsecond)
		wantClaimed(t, "a microsecond early", claim(t, q, claimAll))
		c.Advance(time.Microsecond)
		cs = claim(t, q, claimAll)
		wantClaimed(t, "due", cs, d1)
		if cs[0].Attempts != 1 || cs[0].RoundAttempts != 1 {
			t.Errorf("reclaimed with Attempts %d RoundAttempts %d, want 1 and 1", cs[0].Attempts, cs[0].RoundAttempts)
		}
		record(t, q, outcome(cs[0], herald.DeliverySucceeded, 204, c.Now()))
		wantClaimed(t, "successor after success", claim(t, q, claimAll), d2)
	})
}

// TestClaimSeesWebhookChanges: a claim hands each delivery its webhook as
// it is now, right after a change to it commits (SQLite claims keep the
// webhook list between changes).
func TestClaimSeesWebhookChanges(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB, q *queue.Queue) {
		w := newWebhook(t, db, allUser)
		emit(t, db, herald.EventUserCreated, "alice")
		cs := claim(t, q, claimAll)
		if len(cs) != 1 || cs[0].Webhook.URL != w.URL {
			t.Fatalf("claimed %+v, want one delivery to %s", cs, w.URL)
		}
		record(t, q, outcome(cs[0], herald.DeliverySucceeded, 200, t0))

		w.URL = "https://moved.example/hook"
		update(t, db, func(tx *store.Tx) error { return tx.UpdateWebhook(ctx, &w) })
		emit(t, db, herald.EventUserCreated, "bob")
		cs = claim(t, q, claimAll)
		if len(cs) != 1 || cs[0].Webhook.URL != w.URL {
			t.Errorf("after the update: claimed %+v, want one delivery to %s", cs, w.URL)
		}
		record(t, q, outcome(cs[0], herald.DeliverySucceeded, 200, t0))

		later := newWebhook(t, db, allUser)
		emit(t, db, herald.EventUserCreated, "carol")
		cs = claim(t, q, claimAll)
		if got := perWebhook(cs); got[w.ID] != 1 || got[later.ID] != 1 {
			t.Errorf("after a new webhook: claimed %v per webhook, want one each", got)
		}
	})
}

// TestConcurrentClaims: two handles on the same database (two Herald
// processes), each with its queue, with two claiming goroutines each; on
// SQLite, where one queue delivers (the second is refused), four
// goroutines on that one. No
// delivery is handed out twice, no successor while its head is leased, every
// (webhook, subject) queue is delivered in order, and everything is
// delivered exactly once.
func TestConcurrentClaims(t *testing.T) {
	t.Parallel()
	eachBackendDSN(t, func(t *testing.T, dsn string) {
		db1 := openMigrated(t, dsn)
		db2 := open(t, dsn)
		q1, q2 := queueOf(t, db1), queueOf(t, db2)
		hooks := []herald.Webhook{newWebhook(t, db1, allUser), newWebhook(t, db1, allUser)}
		const events, subjects = 100, 50 // 200 deliveries, queues two deep
		update(t, db1, func(tx *store.Tx) error {
			for i := range events {
				ev := herald.Event{Type: herald.EventUserModified, Subject: fmt.Sprintf("user%02d", i%subjects), Actor: herald.Actor{Type: herald.ActorUser, Username: "admin"},
					Payload: fmt.Appendf(nil, `{"n":%d}`, i)}
				if err := tx.AppendEvent(ctx, &ev); err != nil {
					return err
				}
			}
			return nil
		})

		// prev[id] is the delivery before id in its (webhook, subject) queue.
		prev := map[int64]int64{}
		total := 0
		for _, w := range hooks {
			last := map[string]int64{}
			ds := deliveries(t, db1, w.ID)
			slices.Reverse(ds) // oldest first
			for _, d := range ds {
				if p, ok := last[d.Subject]; ok {
					prev[d.ID] = p
				}
				last[d.Subject] = d.ID
				total++
			}
		}
		if total != events*len(hooks) {
			t.Fatalf("%d deliveries queued, want %d", total, events*len(hooks))
		}

		const (
			unclaimed = iota
			leased
			finishing // Record called; its commit may or may not be visible yet
		)
		var (
			mu         sync.Mutex
			state      = map[int64]int{}
			done       int
			violations []string
		)
		deadline := time.Now().Add(15 * time.Second)
		claimer := func(q *queue.Queue, name string) {
			rng := rand.New(rand.NewPCG(uint64(len(name)), uint64(time.Now().UnixNano())))
			for time.Now().Before(deadline) {
				mu.Lock()
				finished := done == total || len(violations) > 20
				mu.Unlock()
				if finished {
					return
				}
				cs, err := q.Claim(ctx, queue.Request{Limit: 1 + rng.IntN(6), Lease: time.Minute, PerWebhook: 1000})
				if err != nil {
					mu.Lock()
					violations = append(violations, fmt.Sprintf("%s: Claim: %v", name, err))
					mu.Unlock()
					return
				}
				if len(cs) == 0 {
					time.Sleep(time.Millisecond)
					continue
				}
				mu.Lock()
				for _, c := range cs {
					if s := state[c.ID]; s != unclaimed {
						violations = append(violations, fmt.Sprintf("%s: delivery %d returned again (state %d)", name, c.ID, s))
					}
					if p, ok := prev[c.ID]; ok && state[p] != finishing {
						violations = append(violations, fmt.Sprintf("%s: delivery %d (%s) returned while its predecessor %d is %s",
							name, c.ID, c.Subject, p, map[int]string{unclaimed: "not yet claimed", leased: "leased"}[state[p]]))
					}
					state[c.ID] = leased
				}
				mu.Unlock()
				// Hold the lease a little so the others try meanwhile.
				time.Sleep(time.Duration(rng.IntN(1500)) * time.Microsecond)
				outs := make([]queue.Outcome, len(cs))
				mu.Lock()
				for i, c := range cs {
					state[c.ID] = finishing
					outs[i] = outcome(c, herald.DeliverySucceeded, 200, time.Now())
				}
				mu.Unlock()
				if err := q.Record(ctx, outs); err != nil {
					mu.Lock()
					violations = append(violations, fmt.Sprintf("%s: Record: %v", name, err))
					mu.Unlock()
					return
				}
				mu.Lock()
				done += len(cs)
				mu.Unlock()
			}
		}
		queues := []*queue.Queue{q1, q1, q2, q2}
		if db1.Kind() == store.SQLite {
			if err := q1.Lock(); err != nil {
				t.Fatalf("Lock: %v", err)
			}
			_, err := q2.Claim(ctx, claimAll)
			wantCode(t, "a second handle claims on SQLite", err, herald.ECONFLICT)
			queues = []*queue.Queue{q1, q1, q1, q1}
		}
		var wg sync.WaitGroup
		for i, q := range queues {
			wg.Go(func() { claimer(q, fmt.Sprintf("handle%d/goroutine%d", i/2+1, i%2+1)) })
		}
		wg.Wait()
		for _, v := range violations {
			t.Error(v)
		}
		if done != total {
			t.Errorf("%d of %d deliveries delivered in time", done, total)
		}
		for _, w := range hooks {
			for _, d := range deliveries(t, db2, w.ID) {
				if d.Status != herald.DeliverySucceeded || d.Attempts != 1 {
					t.Errorf("delivery %d: %s after %d attempts, want succeeded after 1", d.ID, d.Status, d.Attempts)
				}
			}
		}
		if st, err := q2.Stats(ctx); err != nil || st.Pending != 0 {
			t.Errorf("Stats after the run: %+v, %v", st, err)
		}
	})
}

// TestLock: on SQLite one queue delivers from a database; a second one
// is refused with a message that says why, until the first closes. On
// PostgreSQL every instance may claim.
func TestLock(t *testing.T) {
	t.Parallel()
	eachBackendDSN(t, func(t *testing.T, dsn string) {
		openMigrated(t, dsn)
		// Closed by the test itself.
		firstDB, err := store.Open(ctx, dsn, nil)
		if err != nil {
			t.Fatal(err)
		}
		first := queue.Open(firstDB, nil)
		closeFirst := func() error { return errors.Join(first.Close(), firstDB.Close()) }
		second := queueOf(t, open(t, dsn))
		if err := first.Lock(); err != nil {
			closeFirst()
			t.Fatalf("first Lock: %v", err)
		}
		if err := first.Lock(); err != nil {
			t.Fatalf("Lock again on the same queue: %v", err)
		}
		err = second.Lock()
		if firstDB.Kind() == store.PostgreSQL {
			closeFirst()
			if err != nil {
				t.Fatalf("PostgreSQL: second Lock: %v", err)
			}
			return
		}
		wantCode(t, "second handle", err, herald.ECONFLICT)
		if err == nil || !strings.Contains(err.Error(), "PostgreSQL") {
			t.Errorf("the refusal should point to PostgreSQL for several instances: %v", err)
		}
		if err := closeFirst(); err != nil {
			t.Fatal(err)
		}
		if err := second.Lock(); err != nil {
			t.Errorf("after the first closed: %v", err)
		}
	})
}

// perWebhook counts claimed deliveries by webhook.
func perWebhook(cs []queue.Claimed) map[int64]int {
	n := map[int64]int{}
	for _, c := range cs {
		n[c.WebhookID]++
	}
	return n
}
