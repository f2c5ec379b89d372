package queue

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// TestPlanFairness: over as many claims in a row as there are webhooks,
// each webhook is served first once, whatever turn the claims start at,
// so a claim of one delivery at a time still serves them all in turn.
func TestPlanFairness(t *testing.T) {
	for _, n := range []int{1, 2, 5} {
		var hooks []herald.Webhook
		for i := range n {
			hooks = append(hooks, herald.Webhook{ID: int64(i + 1)})
		}
		for _, start := range []int{0, 1, 7, 1 << 40} {
			firsts := map[int64]int{}
			for turn := start; turn < start+n; turn++ {
				shares := plan(Request{PerWebhook: 1, Limit: 1}, hooks, turn)
				if len(shares) != n {
					t.Fatalf("%d webhooks, turn %d: plan of %d", n, turn, len(shares))
				}
				firsts[shares[0].hook.ID]++
			}
			if len(firsts) != n {
				t.Errorf("%d webhooks, %d claims from turn %d: first were %v, want each once", n, n, start, firsts)
			}
		}
	}
}

// TestLeaseTable: SQLite's in-memory leases: what a claim took is leased,
// listed per webhook for the claim queries to skip, until its outcome is
// recorded (release) or the engine starts again (releaseAll).
func TestLeaseTable(t *testing.T) {
	claimed := func(pairs ...int64) []Claimed { // delivery id, webhook id, ...
		var cs []Claimed
		for i := 0; i < len(pairs); i += 2 {
			cs = append(cs, Claimed{ID: pairs[i], WebhookID: pairs[i+1]})
		}
		return cs
	}
	tests := []struct {
		name    string
		take    []Claimed
		release []int64
		all     bool
		want    string // webhook: sorted delivery ids
		dropped int    // by releaseAll
	}{
		{name: "nothing", want: "{}"},
		{name: "one claim", take: claimed(1, 10, 2, 10, 3, 20), want: "{10:[1 2] 20:[3]}"},
		{name: "recorded", take: claimed(1, 10, 2, 10, 3, 20), release: []int64{2, 3}, want: "{10:[1]}"},
		{name: "unknown ids released", take: claimed(1, 10), release: []int64{5, 6}, want: "{10:[1]}"},
		{name: "restart", take: claimed(1, 10, 2, 20), all: true, want: "{}", dropped: 2},
		{name: "released twice", take: claimed(1, 10), release: []int64{1, 1}, want: "{}"},
	}
	for _, tt := range tests {
		var lt leaseTable
		lt.take(tt.take)
		lt.release(tt.release)
		if tt.all {
			if n := lt.releaseAll(); n != tt.dropped {
				t.Errorf("%s: releaseAll dropped %d, want %d", tt.name, n, tt.dropped)
			}
		}
		leased, perWebhook := lt.snapshot()
		for _, ids := range perWebhook {
			slices.Sort(ids)
		}
		got := "{"
		for i, hook := range slices.Sorted(maps.Keys(perWebhook)) {
			if i > 0 {
				got += " "
			}
			got += fmt.Sprintf("%d:%v", hook, perWebhook[hook])
		}
		got += "}"
		if got != tt.want {
			t.Errorf("%s: leases %s, want %s", tt.name, got, tt.want)
		}
		for _, c := range tt.take {
			held := leased[c.ID]
			if lt.leased(c.ID) != held {
				t.Errorf("%s: leased(%d) = %v, but the snapshot says %v", tt.name, c.ID, lt.leased(c.ID), held)
			}
		}
	}
	// A snapshot is a copy: a claim reads it while outcomes are recorded.
	var lt leaseTable
	lt.take(claimed(1, 10))
	leased, perWebhook := lt.snapshot()
	lt.release([]int64{1})
	lt.take(claimed(2, 10))
	if !leased[1] || leased[2] || len(perWebhook[10]) != 1 {
		t.Errorf("the snapshot changed with the table: %v %v", leased, perWebhook)
	}
}

// TestDueTimeRecorded: recorded outcomes keep the earliest retry time
// once the database has been asked (known); before that, or for outcomes
// that are not retries, only the count of retries moves.
func TestDueTimeRecorded(t *testing.T) {
	t0 := time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)
	retry := func(d time.Duration) Outcome {
		return Outcome{State: herald.DeliveryRetrying, NextAttemptAt: t0.Add(d)}
	}
	done := Outcome{State: herald.DeliverySucceeded, NextAttemptAt: t0.Add(-time.Hour)}
	failed := Outcome{State: herald.DeliveryFailed}
	tests := []struct {
		name    string
		known   bool
		next    time.Time // known before
		outs    []Outcome
		want    time.Time
		retries int
	}{
		{"unknown: kept unknown", false, time.Time{}, []Outcome{retry(time.Minute)}, time.Time{}, 1},
		{"known none: the retry", true, time.Time{}, []Outcome{retry(time.Minute)}, t0.Add(time.Minute), 1},
		{"an earlier retry", true, t0.Add(time.Hour), []Outcome{retry(time.Minute), retry(2 * time.Minute)}, t0.Add(time.Minute), 2},
		{"a later retry", true, t0.Add(time.Second), []Outcome{retry(time.Minute)}, t0.Add(time.Second), 1},
		{"finished deliveries", true, t0.Add(time.Hour), []Outcome{done, failed}, t0.Add(time.Hour), 0},
		{"no outcomes", true, t0, nil, t0, 0},
	}
	for _, tt := range tests {
		d := dueTime{known: tt.known, next: tt.next}
		d.recorded(tt.outs)
		if !d.next.Equal(tt.want) || d.retries != tt.retries || d.known != tt.known {
			t.Errorf("%s: next %v, retries %d, known %v; want %v, %d, %v", tt.name, d.next, d.retries, d.known, tt.want, tt.retries, tt.known)
		}
	}
}

// TestCompletedAt: a delivery is complete when it succeeded or failed; a
// retrying one is not.
func TestCompletedAt(t *testing.T) {
	now := time.Date(2030, 3, 4, 5, 6, 7, 123456000, time.UTC)
	for state, want := range map[string]int64{
		herald.DeliverySucceeded: now.UnixMicro(),
		herald.DeliveryFailed:    now.UnixMicro(),
		herald.DeliveryRetrying:  0,
		herald.DeliveryPending:   0,
	} {
		if got := completedAt(Outcome{State: state}, now); got != want {
			t.Errorf("%s: completedAt %d, want %d", state, got, want)
		}
	}
}
