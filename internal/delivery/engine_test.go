package delivery

import (
	"log/slog"
	"maps"
	"testing"
	"time"
)

// TestClaimRequest: a claim asks for no more than the free senders (a
// sender storing a SCIM id is busy though its slot is free) and the room
// under Unrecorded, and only when a quarter of the capacity is
// free while requests are in flight; it carries the requests in flight per
// webhook (the cap) and the paused webhooks.
func TestClaimRequest(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name     string
		inflight map[int64]int
		sending  int // attempts not ended
		total    int // claimed and not yet recorded
		paused   map[int64]time.Time
		ok       bool
		limit    int
		pausedIn []int64
	}{
		{name: "idle", ok: true, limit: 8},
		{name: "two in flight", inflight: map[int64]int{7: 2}, sending: 2, total: 2, ok: true, limit: 6},
		{name: "sent, waiting for their outcomes", total: 10, ok: true, limit: 8},
		{name: "less than a quarter free", inflight: map[int64]int{7: 4, 9: 3}, sending: 7, total: 7},
		{name: "every sender busy", inflight: map[int64]int{7: 8}, sending: 8, total: 8},
		{name: "every sender busy, two storing SCIM ids", inflight: map[int64]int{7: 6}, sending: 8, total: 8},
		{name: "three senders free, two storing SCIM ids", inflight: map[int64]int{7: 3}, sending: 5, total: 5, ok: true, limit: 3},
		{name: "Unrecorded reached", total: 32},
		{name: "a paused webhook", paused: map[int64]time.Time{3: now.Add(time.Second), 4: now}, ok: true, limit: 8, pausedIn: []int64{3}},
	}
	for _, tt := range tests {
		e := New(nil, nil, Config{RetrySchedule: []time.Duration{0}, Senders: 8, BatchSize: 8, PerWebhook: 4}, slog.New(slog.DiscardHandler))
		maps.Copy(e.inflight, tt.inflight)
		e.sending, e.total = tt.sending, tt.total
		maps.Copy(e.breaker.pausedUntil, tt.paused)
		req, ok := e.claimRequest(now)
		if ok != tt.ok {
			t.Errorf("%s: claim %v, want %v", tt.name, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		if req.Limit != tt.limit || req.PerWebhook != 4 || req.MinRoom != 1 || req.Lease != e.lease() || !maps.Equal(req.InFlight, tt.inflight) {
			t.Errorf("%s: %+v, want Limit %d, PerWebhook 4, MinRoom 1, the lease, InFlight %v", tt.name, req, tt.limit, tt.inflight)
		}
		if len(req.Paused) != len(tt.pausedIn) {
			t.Errorf("%s: Paused %v, want %v", tt.name, req.Paused, tt.pausedIn)
		}
		for _, id := range tt.pausedIn {
			if !req.Paused[id] {
				t.Errorf("%s: Paused %v, want %v", tt.name, req.Paused, tt.pausedIn)
			}
		}
		// The request holds copies: the engine's own counts go on.
		e.inflight[7]++
		if req.InFlight[7] != tt.inflight[7] {
			t.Errorf("%s: the request's InFlight follows the engine's", tt.name)
		}
	}
}

// TestClaimRequestMinRoom: a busy webhook is served in bulk: MinRoom is a
// quarter of the cap, at least 1.
func TestClaimRequestMinRoom(t *testing.T) {
	for perWebhook, want := range map[int]int{1: 1, 4: 1, 16: 4, 100: 25} {
		e := New(nil, nil, Config{RetrySchedule: []time.Duration{0}, PerWebhook: perWebhook}, slog.New(slog.DiscardHandler))
		if req, ok := e.claimRequest(time.Now()); !ok || req.MinRoom != want {
			t.Errorf("PerWebhook %d: MinRoom %d (claim %v), want %d", perWebhook, req.MinRoom, ok, want)
		}
	}
}

// TestWakeAt: an idle engine looks again within a minute, a second after
// a failed lookup, at the next due time if sooner (at once if it has
// passed), and a lease from now where leases run out.
func TestWakeAt(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(d time.Duration) time.Time { return now.Add(d) }
	tests := []struct {
		name    string
		next    time.Time
		due     bool
		failed  bool
		recheck time.Duration
		want    time.Time
	}{
		{name: "nothing due", want: at(time.Minute)},
		{name: "due in 10 s", next: at(10 * time.Second), due: true, want: at(10 * time.Second)},
		{name: "due in two minutes", next: at(2 * time.Minute), due: true, want: at(time.Minute)},
		{name: "fell due since the claim", next: at(-time.Second), due: true, want: at(-time.Second)},
		{name: "lookup failed", failed: true, want: at(time.Second)},
		{name: "a lease sooner", next: at(45 * time.Second), due: true, recheck: 30 * time.Second, want: at(30 * time.Second)},
		{name: "due before a lease", next: at(10 * time.Second), due: true, recheck: 30 * time.Second, want: at(10 * time.Second)},
		{name: "lookup failed, with a lease", failed: true, recheck: 30 * time.Second, want: at(time.Second)},
		{name: "a time that is not due", next: at(time.Second), want: at(time.Minute)},
	}
	for _, tt := range tests {
		if got := wakeAt(now, tt.next, tt.due, tt.failed, tt.recheck); !got.Equal(tt.want) {
			t.Errorf("%s: wakeAt = %v, want %v", tt.name, got.Sub(now), tt.want.Sub(now))
		}
	}
}
