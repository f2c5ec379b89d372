package queue

import (
	"fmt"
	"slices"
	"testing"
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
