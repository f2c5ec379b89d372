package delivery

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBreaker: a webhook is paused after breakerThreshold failures in a
// row; each pause in a row without a success doubles, up to breakerMax; a
// success closes the breaker and starts the count again.
func TestBreaker(t *testing.T) {
	fails := func(n int) string { return strings.Repeat("f", n) }
	s := func(secs ...int) []time.Duration {
		var ds []time.Duration
		for _, n := range secs {
			ds = append(ds, time.Duration(n)*time.Second)
		}
		return ds
	}
	tests := []struct {
		name     string
		outcomes string // of one webhook, in order: f failed or retrying, s succeeded
		pauses   []time.Duration
		paused   bool // after the last outcome
	}{
		{"nine failures", fails(9), nil, false},
		{"ten failures", fails(10), s(2), true},
		{"a success in between", fails(9) + "s" + fails(9), nil, false},
		{"twenty failures: the second pause doubles", fails(20), s(2, 4), true},
		{"a success after a pause closes the breaker", fails(10) + "s", s(2), false},
		{"a success between pauses: no doubling", fails(10) + "s" + fails(10), s(2, 2), true},
		{"up to a minute", fails(80), s(2, 4, 8, 16, 32, 60, 60, 60), true},
	}
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range tests {
		b := newBreaker()
		var pauses []time.Duration
		for _, o := range tt.outcomes {
			if p := b.settle(7, o == 's', now); p > 0 {
				pauses = append(pauses, p)
			}
		}
		if !slices.Equal(pauses, tt.pauses) {
			t.Errorf("%s: pauses %v, want %v", tt.name, pauses, tt.pauses)
		}
		if got := b.paused(now)[7]; got != tt.paused {
			t.Errorf("%s: paused %v, want %v", tt.name, got, tt.paused)
		}
	}
}

// TestBreakerPauseEnds: a pause holds until its end, is forgotten after
// it, and wakes the engine at its end; other webhooks are not paused.
func TestBreakerPauseEnds(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	b := newBreaker()
	for range breakerThreshold {
		b.settle(1, false, now)
	}
	b.settle(2, false, now)
	if got := b.paused(now.Add(breakerBase - time.Nanosecond)); !got[1] || got[2] || len(got) != 1 {
		t.Errorf("just before the pause ends: paused %v, want webhook 1 only", got)
	}
	later := now.Add(time.Hour)
	if got := b.nextEnd(later); !got.Equal(now.Add(breakerBase)) {
		t.Errorf("nextEnd = %v, want the pause's end %v", got, now.Add(breakerBase))
	}
	if got := b.nextEnd(now); !got.Equal(now) {
		t.Errorf("nextEnd before the pause ends = %v, want %v", got, now)
	}
	if got := b.paused(now.Add(breakerBase)); len(got) != 0 {
		t.Errorf("when the pause ends: paused %v, want none", got)
	}
	if got := b.nextEnd(later); !got.Equal(later) {
		t.Errorf("nextEnd after the pause was forgotten = %v, want %v", got, later)
	}
}
