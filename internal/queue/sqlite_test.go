package queue

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// TestInChunks: chunks cover [0, n) in order, each a power of two of at
// most maxChunk, so that few distinct statements are prepared.
func TestInChunks(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []int // chunk sizes
	}{
		{0, nil},
		{1, []int{1}},
		{3, []int{2, 1}},
		{7, []int{4, 2, 1}},
		{128, []int{128}},
		{300, []int{128, 128, 32, 8, 4}},
	} {
		var sizes []int
		next := 0
		err := inChunks(tc.n, func(lo, hi int) error {
			if lo != next {
				t.Errorf("n=%d: chunk starts at %d, want %d", tc.n, lo, next)
			}
			next = hi
			sizes = append(sizes, hi-lo)
			return nil
		})
		if err != nil || !slices.Equal(sizes, tc.want) || next != tc.n {
			t.Errorf("inChunks(%d) sizes %v (ends at %d), %v; want %v", tc.n, sizes, next, err, tc.want)
		}
	}
	stop := fmt.Errorf("stop")
	calls := 0
	if err := inChunks(300, func(lo, hi int) error { calls++; return stop }); err != stop || calls != 1 {
		t.Errorf("inChunks did not stop at the first error: %v after %d calls", err, calls)
	}
}

func TestValuesList(t *testing.T) {
	for _, tc := range []struct {
		rows, cols int
		want       string
	}{
		{1, 1, "(?)"},
		{1, 3, "(?, ?, ?)"},
		{2, 2, "(?, ?), (?, ?)"},
	} {
		if got := valuesList(tc.rows, tc.cols); got != tc.want {
			t.Errorf("valuesList(%d, %d) = %q, want %q", tc.rows, tc.cols, got, tc.want)
		}
	}
}

// TestNextDueKept: on SQLite every retry time is set by this process's
// outcomes, so the queue keeps the earliest: it asks the database once,
// then merges what it records, and asks again only once a claim has
// passed the time it knows.
func TestNextDueKept(t *testing.T) {
	ctx := context.Background()
	h := newHandoffQueue(t)
	t0 := time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)
	h.db.Now = func() time.Time { return t0 }
	w := createHook(t, h.db)
	appendEvent(t, h.db, userEvent(herald.EventUserCreated, "alice"))
	appendEvent(t, h.db, userEvent(herald.EventUserCreated, "bob"))
	cs := claimEverything(t, h)
	if len(cs) != 2 {
		t.Fatalf("claimed %d, want 2", len(cs))
	}
	retry := func(c Claimed, at time.Time) {
		t.Helper()
		err := h.Record(ctx, []Outcome{{DeliveryID: c.ID, WebhookID: c.WebhookID, State: herald.DeliveryRetrying, NextAttemptAt: at,
			RoundAttempts: 1, Attempt: herald.Attempt{StartedAt: t0, StatusCode: 503}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	want := func(what string, after, due time.Time) {
		t.Helper()
		next, ok, err := h.NextDue(ctx, after)
		if err != nil || ok != !due.IsZero() || !next.Equal(due) {
			t.Errorf("%s: NextDue = %v, %v, %v; want %v", what, next, ok, err, due)
		}
	}
	retry(cs[0], t0.Add(30*time.Second))
	want("asked the database", t0, t0.Add(30*time.Second))
	retry(cs[1], t0.Add(10*time.Second))
	want("merged the outcome", t0, t0.Add(10*time.Second))
	// Deleted behind the queue's back: it still answers what it knows.
	if err := h.db.Update(ctx, func(tx *store.Tx) error { _, err := tx.DeleteWebhook(ctx, w.ID); return err }); err != nil {
		t.Fatal(err)
	}
	want("kept, not asked", t0, t0.Add(10*time.Second))
	want("a claim passed it: asked again", t0.Add(10*time.Second), time.Time{})
	want("none, kept", t0, time.Time{})
}
