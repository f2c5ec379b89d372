package queue

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/testdb"
)

// TestPGHandoffDirtiness: which webhooks a PostgreSQL claim queries
// (pghandoff.go), after what happened since the last one.
func TestPGHandoffDirtiness(t *testing.T) {
	t0 := time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)
	hooks := []herald.Webhook{{ID: 1}, {ID: 2}, {ID: 3}}
	listed := map[int64]bool{1: true, 2: true, 3: true}
	shares := func(rooms ...int) []share {
		var out []share
		for i, r := range rooms {
			out = append(out, share{hook: &hooks[i], room: r, query: true})
		}
		return out
	}
	// claimed runs a claim at now that finds got of each webhook queried,
	// with the given rooms and limit.
	claimed := func(h *pgHandoff, now time.Time, rooms []int, limit int, got map[int64]int) {
		queries, whole, begin := h.toQuery(shares(rooms...), now)
		h.queried(listed, queries, got, limit, whole, begin, now)
	}
	for _, tc := range []struct {
		name string
		// then happens after a whole claim at t0 that found nothing of
		// webhooks 1 and 2 (room 4 each) and could not query 3 (no room).
		then func(h *pgHandoff)
		at   time.Duration // after t0, when the next claim is made
		want []int64       // the webhooks it queries (rooms 4, 4, 4)
	}{
		{"nothing new: only the one not queried", func(h *pgHandoff) {}, time.Millisecond, []int64{3}},
		{"a notification names webhook 2", func(h *pgHandoff) { h.notified("2") }, time.Millisecond, []int64{2, 3}},
		{"a notification names none: all", func(h *pgHandoff) { h.notified("") }, time.Millisecond, []int64{1, 2, 3}},
		{"an unreadable notification: all", func(h *pgHandoff) { h.notified("2,x") }, time.Millisecond, []int64{1, 2, 3}},
		{"a requeue of webhook 1", func(h *pgHandoff) { h.notified("r:1") }, time.Millisecond, []int64{1, 3}},
		{"an outcome unblocked webhook 1", func(h *pgHandoff) { h.mark([]int64{1}) }, time.Millisecond, []int64{1, 3}},
		{"a retry falls due: all", func(h *pgHandoff) { h.retrying(t0.Add(time.Millisecond)) }, 2 * time.Millisecond, []int64{1, 2, 3}},
		{"a retry not due yet", func(h *pgHandoff) { h.retrying(t0.Add(time.Minute)) }, 2 * time.Millisecond, []int64{3}},
		{"a requeue of every webhook", func(h *pgHandoff) { h.notified("r:") }, time.Millisecond, []int64{1, 2, 3}},
		{"the recheck: all", func(h *pgHandoff) {}, pgRecheck, []int64{1, 2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newPGHandoff(nil)
			if q, whole, _ := h.toQuery(shares(4, 4, 0), t0); !whole || len(q) != 2 {
				t.Fatalf("first claim: whole %v, %d queries; want every webhook with room", whole, len(q))
			}
			claimed(h, t0, []int{4, 4, 0}, 100, nil)
			tc.then(h)
			queries, _, _ := h.toQuery(shares(4, 4, 4), t0.Add(tc.at))
			var got []int64
			for _, s := range queries {
				got = append(got, s.hook.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("queried %v, want %v", got, tc.want)
			}
		})
	}

	t.Run("a claim that found its room, or its limit, cleans nothing", func(t *testing.T) {
		h := newPGHandoff(nil)
		claimed(h, t0, []int{4, 4, 4}, 100, map[int64]int{1: 4})
		claimed(h, t0.Add(time.Millisecond), []int{4, 4, 4}, 100, nil)
		if q, _, _ := h.toQuery(shares(4, 4, 4), t0.Add(2*time.Millisecond)); len(q) != 0 {
			t.Errorf("after webhook 1 gave fewer than its room: %d queries, want none", len(q))
		}
		h = newPGHandoff(nil)
		claimed(h, t0, []int{4, 4, 4}, 2, map[int64]int{1: 1, 2: 1})
		if q, _, _ := h.toQuery(shares(4, 4, 4), t0.Add(time.Millisecond)); len(q) != 3 {
			t.Errorf("after a claim that reached its limit: %d queries, want 3", len(q))
		}
	})
	t.Run("half the room for handoffs", func(t *testing.T) {
		h := newPGHandoff(nil)
		h.start()
		ev := &herald.Event{ID: "evt_1"}
		h.Take([]store.Handed{{ID: 1, WebhookID: 1, Event: ev}, {ID: 2, WebhookID: 1, Event: ev}, {ID: 3, WebhookID: 2, Event: ev}}, nil)
		queries, _, _ := h.toQuery(shares(8, 8, 8), t0)
		var rooms []int
		for _, s := range queries {
			rooms = append(rooms, s.room)
		}
		if !slices.Equal(rooms, []int{6, 7, 8}) {
			t.Errorf("the query may fill %v of rooms of 8, want 6, 7 and 8 (2, 1 and no handoffs waiting)", rooms)
		}
		for i := range 20 {
			h.Take([]store.Handed{{ID: int64(10 + i), WebhookID: 1, Event: ev}}, nil)
		}
		if queries, _, _ := h.toQuery(shares(8, 8, 8), t0); queries[0].room != 4 {
			t.Errorf("with 22 handoffs waiting the query may fill %d of a room of 8, want 4", queries[0].room)
		}
	})
	t.Run("a retry recorded while a claim ran", func(t *testing.T) {
		// The claim began before the retry's outcome committed: it could
		// not see the delivery, though due by the claim's time.
		h := newPGHandoff(nil)
		queries, whole, begin := h.toQuery(shares(4, 4, 4), t0)
		h.retrying(t0.Add(-time.Millisecond))
		h.queried(listed, queries, nil, 100, whole, begin, t0)
		if _, whole, _ := h.toQuery(shares(4, 4, 4), t0.Add(time.Millisecond)); !whole {
			t.Error("the next claim does not look at every webhook")
		}
	})
	t.Run("the next due time is the earliest retry recorded here", func(t *testing.T) {
		h := newPGHandoff(nil)
		want := func(what string, after, at time.Time) {
			t.Helper()
			if got, ok := h.nextDue(after); ok != !at.IsZero() || !got.Equal(at) {
				t.Errorf("%s: nextDue(%v) = %v, %v; want %v", what, after.Sub(t0), got, ok, at)
			}
		}
		want("none recorded", t0, time.Time{})
		h.retrying(t0.Add(30 * time.Second))
		h.retrying(t0.Add(10 * time.Second))
		want("two recorded", t0, t0.Add(10*time.Second))
		want("the claim at the first one's time saw it", t0.Add(10*time.Second), t0.Add(30*time.Second))
		claimed(h, t0.Add(10*time.Second), []int{4, 4, 4}, 100, nil)
		want("after that claim", t0, t0.Add(30*time.Second))
		want("all due by the last claim", t0.Add(30*time.Second), time.Time{})
	})
	t.Run("idle: a claim would find nothing", func(t *testing.T) {
		h := newPGHandoff(nil)
		h.start()
		req := Request{Lease: time.Minute, PerWebhook: 4}
		// claim is a claim at now that finds nothing in the database.
		claim := func(now time.Time) {
			queries, whole, begin := h.toQuery(shares(4, 4, 4), now)
			h.queried(listed, queries, nil, 100, whole, begin, now)
			h.take(req, shares(4, 4, 4), nil, 100, listed, h.listed(), now)
		}
		want := func(what string, now time.Time, idle bool) {
			t.Helper()
			if got := h.idle(req, now); got != idle {
				t.Errorf("%s: idle = %v, want %v", what, got, idle)
			}
		}
		want("started, before its first claim", t0, false)
		claim(t0)
		want("after a claim that found nothing", t0.Add(time.Millisecond), true)
		h.notified("2")
		want("a notification named a webhook", t0.Add(time.Millisecond), false)
		claim(t0.Add(time.Millisecond))
		want("after claiming it", t0.Add(2*time.Millisecond), true)
		ev := &herald.Event{ID: "evt_1", OccurredAt: t0}
		h.Take([]store.Handed{{ID: 1, WebhookID: 1, Event: ev, LeaseUntil: t0.Add(time.Hour)}}, nil)
		want("a handoff waits", t0.Add(2*time.Millisecond), false)
		req.InFlight = map[int64]int{1: 4}
		want("a handoff waits, its webhook at its cap", t0.Add(2*time.Millisecond), true)
		req.InFlight = map[int64]int{1: 3}
		want("a handoff waits, its webhook's request ended", t0.Add(2*time.Millisecond), false)
		req.InFlight, req.Paused = nil, map[int64]bool{1: true}
		want("a handoff waits, its webhook paused", t0.Add(2*time.Millisecond), true)
		req.Paused = nil
		claim(t0.Add(2 * time.Millisecond))
		want("after taking it", t0.Add(3*time.Millisecond), true)
		h.retrying(t0.Add(10 * time.Millisecond))
		want("a retry recorded, not due", t0.Add(3*time.Millisecond), true)
		want("the retry due", t0.Add(10*time.Millisecond), false)
		claim(t0.Add(10 * time.Millisecond))
		want("after the claim at its time", t0.Add(11*time.Millisecond), true)
		// A webhook paused since the last claim: no handoff of it is
		// taken, though no claim ran.
		req.Paused = map[int64]bool{2: true}
		want("webhook 2 paused", t0.Add(11*time.Millisecond), true)
		if except, _, ok := h.Taking(t0.Add(11 * time.Millisecond)); !ok || !slices.Equal(except, []int64{2}) {
			t.Errorf("after an idle claim with webhook 2 paused, Taking excepts %v (%v), want [2]", except, ok)
		}
		want("the recheck", t0.Add(10*time.Millisecond+pgRecheck), false)
		h.stop()
		want("stopped", t0.Add(11*time.Millisecond), false)
	})
	t.Run("idle: a capped webhook's stale handoff is given up at the recheck", func(t *testing.T) {
		// An idle claim does not take: the handoffs of a webhook at its
		// cap wait in memory. One that waited too long must still go
		// back to the database for any instance to claim, by the next
		// claim that is not idle, a recheck later at most.
		h := newPGHandoff(nil)
		h.start()
		req := Request{Lease: time.Minute, PerWebhook: 4}
		queries, whole, begin := h.toQuery(shares(4, 4, 4), t0)
		h.queried(listed, queries, nil, 100, whole, begin, t0)
		h.take(req, shares(4, 4, 4), nil, 100, listed, h.listed(), t0)
		ev := &herald.Event{ID: "evt_1", OccurredAt: t0}
		// Leased at insert for a lease and a quarter: stale after a quarter.
		h.Take([]store.Handed{{ID: 1, WebhookID: 1, Event: ev, LeaseUntil: t0.Add(75 * time.Second)}}, nil)
		req.InFlight = map[int64]int{1: 4}
		if !h.idle(req, t0.Add(pgRecheck/2)) {
			t.Fatal("its webhook at its cap: want an idle claim")
		}
		at := t0.Add(20 * time.Second)
		if h.idle(req, at) {
			t.Fatal("the recheck is due: want a claim")
		}
		queries, whole, begin = h.toQuery(shares(0, 4, 4), at)
		h.queried(listed, queries, nil, 100, whole, begin, at)
		got, stale := h.take(req, shares(0, 4, 4), nil, 100, listed, h.listed(), at)
		if len(got) != 0 || len(stale) != 1 || stale[0].ID != 1 {
			t.Errorf("the claim at the recheck took %d and gave up %v, want none taken and handoff 1 given up", len(got), stale)
		}
	})
	t.Run("which finished outcomes ask for the deliveries behind them", func(t *testing.T) {
		// Handoffs 1 (webhook 1) and 2 (webhook 2) of one batch, sent;
		// delivery 3 (webhook 1) was claimed from the database.
		setup := func() *pgHandoff {
			h := newPGHandoff(nil)
			h.start()
			h.notified("1") // before the batch: tells nothing about it
			h.notified("")
			h.Taking(t0) // the batch's first fan-out
			ev := &herald.Event{ID: "evt_1", OccurredAt: t0}
			h.Take([]store.Handed{{ID: 1, WebhookID: 1, Event: ev, LeaseUntil: t0.Add(time.Hour)},
				{ID: 2, WebhookID: 2, Event: ev, LeaseUntil: t0.Add(time.Hour)}}, nil)
			room := []share{{hook: &hooks[0], room: 4, query: true}, {hook: &hooks[1], room: 4, query: true}}
			if out, _ := h.take(Request{Lease: time.Minute}, room, nil, 10, listed, h.listed(), t0); len(out) != 2 {
				t.Fatalf("took %d handoffs, want 2", len(out))
			}
			return h
		}
		finished := finishedOutcomes{ids: []int64{1, 2, 3}, webhooks: []int64{1, 2, 1}, subjects: []string{"user:a", "user:b", "user:c"}}
		outs := []Outcome{{DeliveryID: 1, WebhookID: 1}, {DeliveryID: 2, WebhookID: 2}, {DeliveryID: 3, WebhookID: 1}}
		for _, tc := range []struct {
			name string
			then func(h *pgHandoff) // after the batch, before the outcomes
			want []int64            // the deliveries asked about
		}{
			{"no notification since: only the claimed one", func(h *pgHandoff) {}, []int64{3}},
			{"a notification named webhook 1", func(h *pgHandoff) { h.notified("1") }, []int64{1, 3}},
			{"a notification named another webhook", func(h *pgHandoff) { h.notified("3") }, []int64{3}},
			{"a notification named none", func(h *pgHandoff) { h.notified("") }, []int64{1, 2, 3}},
			{"an unreadable notification", func(h *pgHandoff) { h.notified("x") }, []int64{1, 2, 3}},
			{"webhook 2 requeued", func(h *pgHandoff) { h.notified("r:2") }, []int64{2, 3}},
			{"this process requeued webhook 2", func(h *pgHandoff) { h.Take(nil, []int64{2}) }, []int64{2, 3}},
		} {
			h := setup()
			tc.then(h)
			got := h.recorded(outs, finished)
			if !slices.Equal(got.ids, tc.want) {
				t.Errorf("%s: asked about %v, want %v", tc.name, got.ids, tc.want)
			}
			if len(h.sent) != 0 {
				t.Errorf("%s: %d handoffs still noted after their outcomes", tc.name, len(h.sent))
			}
		}

		// A notification read between the batch's first fan-out and its
		// commit may be about a delivery behind one of its handoffs.
		h := newPGHandoff(nil)
		h.start()
		h.Taking(t0)
		h.notified("1")
		h.Taking(t0) // the batch's second fan-out
		ev := &herald.Event{ID: "evt_2", OccurredAt: t0}
		h.Take([]store.Handed{{ID: 4, WebhookID: 1, Event: ev, LeaseUntil: t0.Add(time.Hour)}}, nil)
		f := finishedOutcomes{ids: []int64{4}, webhooks: []int64{1}, subjects: []string{"user:d"}}
		if got := h.recorded([]Outcome{{DeliveryID: 4, WebhookID: 1}}, f); !slices.Equal(got.ids, []int64{4}) {
			t.Errorf("a notification during the batch: asked about %v, want [4]", got.ids)
		}
		// The next batch counts from its own first fan-out.
		h.Taking(t0)
		h.Take([]store.Handed{{ID: 5, WebhookID: 1, Event: ev, LeaseUntil: t0.Add(time.Hour)}}, nil)
		f = finishedOutcomes{ids: []int64{5}, webhooks: []int64{1}, subjects: []string{"user:e"}}
		if got := h.recorded([]Outcome{{DeliveryID: 5, WebhookID: 1}}, f); len(got.ids) != 0 {
			t.Errorf("the next batch: asked about %v, want none", got.ids)
		}
	})
	t.Run("dirtied while the claim ran", func(t *testing.T) {
		h := newPGHandoff(nil)
		queries, whole, begin := h.toQuery(shares(4, 4, 4), t0)
		h.notified("2")
		h.queried(listed, queries, nil, 100, whole, begin, t0)
		if q, _, _ := h.toQuery(shares(4, 4, 4), t0.Add(time.Millisecond)); len(q) != 1 || q[0].hook.ID != 2 {
			t.Errorf("queries %v, want webhook 2's alone", q)
		}
	})
}

// TestPGHandoffTaking: what the fan-out may lease to this process.
func TestPGHandoffTaking(t *testing.T) {
	now := time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)
	h := newPGHandoff(nil)
	if _, _, ok := h.Taking(now); ok {
		t.Error("taking before start")
	}
	h.start()
	if _, _, ok := h.Taking(now); ok {
		t.Error("taking before the engine's first claim (no lease known)")
	}
	_, _ = h.take(Request{Lease: time.Minute, Paused: map[int64]bool{7: true}}, nil, nil, 0, nil, 0, now)
	except, until, ok := h.Taking(now)
	if !ok || !slices.Equal(except, []int64{7}) || !until.Equal(now.Add(75*time.Second)) {
		t.Errorf("Taking = %v, %v, %v; want all but the paused webhook 7, for the lease and a quarter", except, until, ok)
	}
	ev := &herald.Event{ID: "evt_1", Type: herald.EventUserCreated, Subject: "alice", Payload: []byte(`{}`)}
	var ds []store.Handed
	for i := range pgHandoffPerWebhook {
		ds = append(ds, store.Handed{ID: int64(i + 1), WebhookID: 1, Event: ev, LeaseUntil: until})
	}
	h.Take(ds, nil)
	if except, _, _ := h.Taking(now); !slices.Contains(except, 1) {
		t.Errorf("Taking excepts %v, want webhook 1 too (%d waiting)", except, pgHandoffPerWebhook)
	}

	// take serves a share's room less what the database gave, skips the
	// stale, and forgets deleted webhooks' handoffs.
	exist := map[int64]bool{1: true}
	got, _ := h.take(Request{Lease: time.Minute}, []share{{hook: &herald.Webhook{ID: 1}, room: 5, query: true}}, map[int64]int{1: 2}, 100, exist, h.listed(), now)
	if len(got) != 3 || got[0].ID != 1 || !got[0].handedOff || got[0].Subject != "alice" {
		t.Errorf("took %+v, want the first 3 handoffs", got)
	}
	got, stale := h.take(Request{Lease: time.Minute}, []share{{hook: &herald.Webhook{ID: 1}, room: 5, query: true}}, nil, 100, exist, h.listed(), now.Add(16*time.Second))
	if len(got) != 0 || len(stale) != pgHandoffPerWebhook-3 {
		t.Errorf("took %d handoffs whose lease would not hold for a claim's, and returned %d as stale; want 0 and %d", len(got), len(stale), pgHandoffPerWebhook-3)
	}
	if h.total != 0 {
		t.Errorf("%d handoffs wait after the stale ones were dropped", h.total)
	}
	// A webhook not in a claim's list: created after the list was read
	// (handed off since), or deleted.
	listed := h.listed()
	h.Take(ds[:1], nil)
	_, _ = h.take(Request{Lease: time.Minute}, nil, nil, 100, map[int64]bool{}, listed, now)
	if h.total != 1 {
		t.Errorf("the handoff of a webhook created after the claim's list was read was dropped")
	}
	_, _ = h.take(Request{Lease: time.Minute}, nil, nil, 100, map[int64]bool{}, h.listed(), now)
	if h.total != 0 || len(h.waiting) != 0 {
		t.Errorf("handoffs of a deleted webhook kept: %v", h.waiting)
	}
	// A dirty webhook with too little room for a query gets no handoffs
	// either: its deliveries in the database would wait behind them.
	h.Take(ds[:2], nil)
	h.mark([]int64{1})
	small := []share{{hook: &herald.Webhook{ID: 1}, room: 2, query: false}}
	if got, _ := h.take(Request{Lease: time.Minute}, small, nil, 100, exist, h.listed(), now); len(got) != 0 {
		t.Errorf("took %d handoffs of a dirty webhook not worth a query", len(got))
	}
	small[0].query = true
	if got, _ := h.take(Request{Lease: time.Minute}, small, nil, 100, exist, h.listed(), now); len(got) != 2 {
		t.Errorf("took %d handoffs of a dirty webhook queried, want 2", len(got))
	}
	if left := h.stop(); len(left) != 0 {
		t.Errorf("stop returned %d", len(left))
	}
	if _, _, ok := h.Taking(now); ok {
		t.Error("taking after stop")
	}
}

// TestPGHandoff runs two instances on one PostgreSQL database: what one
// commits is leased to it at insert and handed to its engine, the other
// cannot claim it; a second event of the same subject waits in the
// database until the first's outcome; a change rolled back hands nothing;
// Stop releases what was not sent.
// pgInstance opens the PostgreSQL database dsn as one instance: its
// queue started, and claimed from once (so it takes handoffs).
func pgInstance(t *testing.T, dsn string) (*store.DB, *Queue, context.CancelFunc) {
	t.Helper()
	ctx := context.Background()
	db := migratedPostgres(t, dsn)
	q := Open(db, nil)
	runCtx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	if _, err := q.Start(runCtx); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Claim(ctx, Request{Lease: time.Minute}); err != nil {
		t.Fatal(err)
	}
	return db, q, stop
}

// TestPGOthersRetry: NextDue knows only the retries this instance
// recorded; another instance's retry is claimed by the claim that looks
// at every webhook, at most pgRecheck after it falls due.
func TestPGOthersRetry(t *testing.T) {
	ctx := context.Background()
	dsn := testdb.Postgres(t)
	dbA, qA, _ := pgInstance(t, dsn)
	dbB, qB, _ := pgInstance(t, dsn)
	t0 := time.Now()
	dbA.Now, dbB.Now = func() time.Time { return t0 }, func() time.Time { return t0 }
	createHook(t, dbA)
	appendEvent(t, dbA, userEvent(herald.EventUserCreated, "alice"))
	req := Request{Limit: 100, Lease: time.Minute, PerWebhook: 100}
	cs, err := qA.Claim(ctx, req)
	if err != nil || len(cs) != 1 {
		t.Fatalf("A claimed %d deliveries (%v), want alice's", len(cs), err)
	}
	due := t0.Add(5 * time.Second)
	if err := qA.Record(ctx, []Outcome{{DeliveryID: cs[0].ID, WebhookID: cs[0].WebhookID, State: herald.DeliveryRetrying,
		NextAttemptAt: due, RoundAttempts: 1, Attempt: herald.Attempt{StartedAt: t0, StatusCode: 503}}}); err != nil {
		t.Fatal(err)
	}
	if next, ok, _ := qA.NextDue(ctx, t0); !ok || !next.Equal(due) {
		t.Errorf("A's NextDue = %v, %v; want its retry at %v", next, ok, due)
	}
	if next, ok, _ := qB.NextDue(ctx, t0); ok {
		t.Errorf("B's NextDue = %v; want none (B did not record the retry)", next)
	}
	if _, err := qB.Claim(ctx, req); err != nil { // a whole claim at t0: nothing due
		t.Fatal(err)
	}
	dbB.Now = func() time.Time { return due.Add(-time.Millisecond) }
	if cs, err := qB.Claim(ctx, req); err != nil || len(cs) != 0 {
		t.Errorf("B's claim before the retry fell due got %d deliveries (%v), want none", len(cs), err)
	}
	dbB.Now = func() time.Time { return due.Add(pgRecheck) }
	if cs, err := qB.Claim(ctx, req); err != nil || len(cs) != 1 || cs[0].ID == 0 {
		t.Errorf("B's claim a recheck after the retry fell due got %d deliveries (%v), want the retry", len(cs), err)
	}
}

func TestPGHandoff(t *testing.T) {
	ctx := context.Background()
	dsn := testdb.Postgres(t)
	dbA, qA, _ := pgInstance(t, dsn)
	dbB, qB, endB := pgInstance(t, dsn)
	w := createHook(t, dbA)
	req := Request{Limit: 100, Lease: time.Minute, PerWebhook: 100}
	claim := func(q *Queue, what string) []Claimed {
		t.Helper()
		cs, err := q.Claim(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return cs
	}
	leased := func(ev *herald.Event) bool {
		t.Helper()
		var until int64
		if err := dbA.QueuePool().QueryRowContext(ctx, `SELECT d.lease_until FROM deliveries d JOIN events e ON e.seq = d.event_seq
			WHERE e.id = $1 AND d.webhook_id = $2`, ev.ID, w.ID).Scan(&until); err != nil {
			t.Fatal(err)
		}
		return until > 0
	}

	created := userEvent(herald.EventUserCreated, "alice")
	appendEvent(t, dbA, created)
	if !leased(created) {
		t.Fatal("a new head of its queue is not leased at insert")
	}
	pb := qB.driver.(*postgresQueue)
	pb.handoff.notified("") // B queries every webhook
	if cs := claim(qB, "B"); len(cs) != 0 {
		t.Errorf("the other instance claimed %d deliveries leased to A", len(cs))
	}
	first := claim(qA, "A")
	if len(first) != 1 || !first[0].handedOff || first[0].EventID != created.ID || string(first[0].Payload) != string(created.Payload) {
		t.Fatalf("A claimed %+v, want alice's user_created handed off", first)
	}
	// Vacuums count what claims take from the database, and outcomes
	// (maybeVacuum): a handoff is neither.
	pa := qA.driver.(*postgresQueue)
	counts := func() (claimed, recorded int) {
		pa.mu.Lock()
		defer pa.mu.Unlock()
		return pa.claimed, pa.recorded
	}
	if c, r := counts(); c != 0 || r != 0 {
		t.Errorf("after a handoff the vacuum counts %d claimed and %d recorded, want 0 and 0", c, r)
	}

	modified := userEvent(herald.EventUserModified, "alice")
	appendEvent(t, dbA, modified)
	if leased(modified) {
		t.Error("a delivery behind one in flight of the same subject is leased at insert")
	}
	pb.handoff.notified("")
	if cs, cb := claim(qA, "A"), claim(qB, "B"); len(cs)+len(cb) != 0 {
		t.Errorf("claimed %d and %d while the head is in flight", len(cs), len(cb))
	}
	if err := qA.Record(ctx, []Outcome{{DeliveryID: first[0].ID, WebhookID: w.ID, State: herald.DeliverySucceeded,
		Attempt: herald.Attempt{StatusCode: 200, StartedAt: time.Now()}}}); err != nil {
		t.Fatal(err)
	}
	if next := claim(qA, "A after the outcome"); len(next) != 1 || next[0].handedOff || next[0].EventID != modified.ID {
		t.Errorf("after the head's outcome A claimed %+v, want alice's user_modified from the database", next)
	}
	if c, r := counts(); c != 1 || r != 1 {
		t.Errorf("after an outcome and a claim from the database the vacuum counts %d claimed and %d recorded, want 1 and 1", c, r)
	}

	// A change rolled back after its event was sent hands nothing over.
	err := dbA.Update(ctx, func(tx *store.Tx) error {
		if err := tx.AppendEvent(ctx, userEvent(herald.EventUserCreated, "carol")); err != nil {
			return err
		}
		if _, err := tx.ListWebhooks(ctx); err != nil { // sends the deferred event first
			return err
		}
		return errors.New("changed its mind")
	})
	if err == nil {
		t.Fatal("the failing change committed")
	}
	if pa.handoff.total != 0 {
		t.Errorf("%d handoffs after a change that rolled back", pa.handoff.total)
	}

	bob := userEvent(herald.EventUserCreated, "bob")
	appendEvent(t, dbA, bob)
	if pa.handoff.total != 1 || !leased(bob) {
		t.Fatalf("bob's delivery: %d handoffs, leased %v", pa.handoff.total, leased(bob))
	}
	qA.Stop()
	if leased(bob) {
		t.Error("Stop left the lease of a handoff it did not send")
	}
	// B hears of it (a notification), or finds it at its next look
	// (pgRecheck) at the latest.
	var cs []Claimed
	for deadline := time.Now().Add(3 * pgRecheck); len(cs) == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		cs = claim(qB, "B after A stopped")
	}
	if len(cs) != 1 || cs[0].EventID != bob.ID {
		t.Errorf("B claimed %+v after A stopped, want bob's delivery", cs)
	}

	// An engine whose run ends (SIGTERM) gives back what it was handed
	// as it stops claiming, before Stop, which waits for its requests.
	dave := userEvent(herald.EventUserCreated, "dave")
	appendEvent(t, dbB, dave)
	if !leased(dave) {
		t.Fatal("dave's delivery is not leased to B at insert")
	}
	endB()
	for deadline := time.Now().Add(2 * time.Second); leased(dave); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("B's run ended, and the lease of a handoff it did not send holds")
		}
	}
}
